import { useId, useMemo, useState } from 'react';
import {
  createColumnHelper,
  flexRender,
  getCoreRowModel,
  getSortedRowModel,
  useReactTable,
} from '@tanstack/react-table';
import type { SortingFn, SortingState } from '@tanstack/react-table';
import { useDashboard } from '../context';
import { DASH, formatClock, formatSeconds, secPerJob } from '../format';
import type { Node } from '../protocol';
import { compareIp, selectCluster } from '../state';

const EMPTY: Record<string, Node> = {};

const byIp: SortingFn<Node> = (a, b, id) => compareIp(a.getValue<string>(id), b.getValue<string>(id));

// "No jobs yet" (null) sorts below every real average.
const byNullableNumber: SortingFn<Node> = (a, b, id) =>
  (a.getValue<number | null>(id) ?? -1) - (b.getValue<number | null>(id) ?? -1);

const col = createColumnHelper<Node>();

// Column titles are the header buttons' accessible names (tests use them).
const columns = [
  col.accessor('ip_addr', { header: 'IP address', sortingFn: byIp }),
  col.accessor('name', { header: 'Name', sortingFn: 'alphanumeric' }),
  col.accessor('cpus', { header: 'CPUs', sortingFn: 'basic' }),
  col.accessor('busy', { header: 'Busy', sortingFn: 'basic' }),
  col.accessor('jobs_done', { header: 'Jobs done', sortingFn: 'basic' }),
  col.accessor('cpu_time', {
    header: 'CPU time (s)',
    sortingFn: 'basic',
    cell: (c) => formatSeconds(c.getValue()),
  }),
  col.accessor((n) => secPerJob(n.cpu_time, n.jobs_done), {
    id: 'sec_per_job',
    header: 'Sec/job',
    sortingFn: byNullableNumber,
    cell: (c) => {
      const v = c.getValue();
      return v === null ? DASH : formatSeconds(v);
    },
  }),
  col.accessor('update_time', {
    header: 'Last update',
    sortingFn: 'basic',
    cell: (c) => formatClock(c.getValue()),
  }),
  col.accessor('status', {
    header: 'Status',
    sortingFn: 'text',
    cell: (c) => (c.getValue() === 'closed' ? 'Closed' : 'Initialized'),
  }),
];

const NUMERIC = new Set(['cpus', 'busy', 'jobs_done', 'cpu_time', 'sec_per_job']);

const ARIA_SORT = { asc: 'ascending', desc: 'descending' } as const;

export function NodesTable() {
  const headingId = useId();
  const nodes = useDashboard((s) => selectCluster(s, s.selectedCluster)?.nodes ?? EMPTY);
  const data = useMemo(() => Object.values(nodes), [nodes]);
  // dispy.httpd's default: IP address, descending.
  const [sorting, setSorting] = useState<SortingState>([{ id: 'ip_addr', desc: true }]);

  const table = useReactTable({
    data,
    columns,
    state: { sorting },
    onSortingChange: setSorting,
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
    // Stable row identity across deltas.
    getRowId: (n) => n.ip_addr,
    // A click toggles ascending/descending; first click on a new column is
    // ascending; one column at a time. Predictable for people and tests.
    enableSortingRemoval: false,
    enableMultiSort: false,
    sortDescFirst: false,
  });

  const rows = table.getRowModel().rows;

  return (
    <section className="nodes" aria-labelledby={headingId}>
      <h3 id={headingId}>Nodes</h3>
      {/* The table scrolls inside its own box on narrow screens; focusable so
          keyboard users can scroll it too. */}
      <div className="table-scroll" tabIndex={0} role="group" aria-labelledby={headingId}>
        <table aria-label="Nodes">
          <thead>
            {table.getHeaderGroups().map((group) => (
              <tr key={group.id}>
                {group.headers.map((header) => {
                  const dir = header.column.getIsSorted();
                  return (
                    <th
                      key={header.id}
                      scope="col"
                      aria-sort={dir ? ARIA_SORT[dir] : 'none'}
                      className={NUMERIC.has(header.column.id) ? 'num' : undefined}
                    >
                      <button type="button" onClick={header.column.getToggleSortingHandler()}>
                        {flexRender(header.column.columnDef.header, header.getContext())}
                        <span className="sort-mark" aria-hidden="true">
                          {dir === 'asc' ? '▲' : dir === 'desc' ? '▼' : ''}
                        </span>
                      </button>
                    </th>
                  );
                })}
              </tr>
            ))}
          </thead>
          <tbody>
            {rows.length === 0 ? (
              <tr>
                <td className="empty" colSpan={columns.length}>
                  No nodes yet
                </td>
              </tr>
            ) : (
              rows.map((row) => (
                <tr key={row.id} className={row.original.status === 'closed' ? 'node-closed' : undefined}>
                  {row.getVisibleCells().map((cell) => (
                    <td key={cell.id} className={NUMERIC.has(cell.column.id) ? 'num' : undefined}>
                      {flexRender(cell.column.columnDef.cell, cell.getContext())}
                    </td>
                  ))}
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
