import { memo, useId, useMemo } from 'react';
import type { ReactNode } from 'react';
import { useDashboard } from '../context';
import { DASH, formatBytes, formatClock, formatPercent, formatSeconds, healthFlags, secPerJob } from '../format';
import { NodeStatus } from './NodeStatus';
import type { Node } from '../protocol';
import { compareIp, selectCluster } from '../state';
import { Link, replaceSearch, useSearch } from '../router';
import { nodePath } from '../paths';

// Sorting is a few lines here rather than TanStack Table: this page is what
// loads first, and the table library alone is ~12 KB gzip of it.

type SortValue = number | string | null;

interface Column {
  /** also the `sort` query parameter */
  id: string;
  /** the header button's accessible name (tests use it) */
  title: string;
  numeric: boolean;
  value(n: Node): SortValue;
  render(n: Node): ReactNode;
}

const dashIfNull = (v: number | null | undefined, fmt: (v: number) => string) => (v == null ? DASH : fmt(v));

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

export const COLUMNS: readonly Column[] = [
  {
    id: 'ip_addr',
    title: 'IP address',
    numeric: false,
    value: (n) => n.ip_addr,
    render: (n) => <Link to={nodePath(n.ip_addr)}>{n.ip_addr}</Link>,
  },
  { id: 'name', title: 'Name', numeric: false, value: (n) => n.name, render: (n) => n.name },
  { id: 'cpus', title: 'CPUs', numeric: true, value: (n) => n.cpus, render: (n) => n.cpus },
  { id: 'busy', title: 'Busy', numeric: true, value: (n) => n.busy, render: (n) => n.busy },
  { id: 'jobs_done', title: 'Jobs done', numeric: true, value: (n) => n.jobs_done, render: (n) => n.jobs_done },
  {
    id: 'cpu_time',
    title: 'CPU time (s)',
    numeric: true,
    value: (n) => n.cpu_time,
    render: (n) => formatSeconds(n.cpu_time),
  },
  {
    id: 'sec_per_job',
    title: 'Sec/job',
    numeric: true,
    value: (n) => secPerJob(n.cpu_time, n.jobs_done),
    render: (n) => dashIfNull(secPerJob(n.cpu_time, n.jobs_done), formatSeconds),
  },
  {
    id: 'update_time',
    title: 'Last update',
    numeric: false,
    value: (n) => n.update_time,
    render: (n) => formatClock(n.update_time),
  },
  { id: 'status', title: 'Status', numeric: false, value: (n) => `${n.status} ${healthFlags(n).join(' ')}`, render: (n) => <NodeStatus node={n} /> },
  {
    id: 'avail_cpu',
    title: 'CPU free',
    numeric: true,
    value: (n) => n.avail_info?.cpu ?? null,
    render: (n) => dashIfNull(n.avail_info?.cpu, formatPercent),
  },
  {
    id: 'avail_memory',
    title: 'Memory free',
    numeric: true,
    value: (n) => n.avail_info?.memory ?? null,
    render: (n) => dashIfNull(n.avail_info?.memory, formatBytes),
  },
  {
    id: 'avail_disk',
    title: 'Disk free',
    numeric: true,
    value: (n) => n.avail_info?.disk ?? null,
    render: (n) => dashIfNull(n.avail_info?.disk, formatBytes),
  },
  {
    id: 'avail_swap',
    title: 'Swap free',
    numeric: true,
    value: (n) => n.avail_info?.swap ?? null,
    render: (n) => dashIfNull(n.avail_info?.swap, formatPercent),
  },
];

export interface Sort {
  column: string;
  desc: boolean;
}

/** dispy.httpd's default: IP address, descending. */
export const DEFAULT_SORT: Sort = { column: 'ip_addr', desc: true };

/** The sort kept in the page's query (`?sort=busy&dir=asc`); anything unknown means the default. */
export function parseSort(search: string): Sort {
  const params = new URLSearchParams(search);
  const column = params.get('sort');
  const dir = params.get('dir');
  if (!column || !COLUMNS.some((c) => c.id === column)) return DEFAULT_SORT;
  return { column, desc: dir === 'desc' };
}

function compareValues(a: SortValue, b: SortValue): number {
  // "Nothing reported" (null) sorts below every real value.
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return collator.compare(String(a), String(b));
}

/**
 * Sorted copy. Ties fall back to the IP address (ascending whatever the
 * direction), so equal rows keep their places across updates.
 */
export function sortNodes(nodes: readonly Node[], sort: Sort): Node[] {
  const column = COLUMNS.find((c) => c.id === sort.column) ?? COLUMNS[0]!;
  const sign = sort.desc ? -1 : 1;
  const primary =
    column.id === 'ip_addr'
      ? (a: Node, b: Node) => compareIp(a.ip_addr, b.ip_addr)
      : (a: Node, b: Node) => compareValues(column.value(a), column.value(b));
  return [...nodes].sort((a, b) => sign * primary(a, b) || compareIp(a.ip_addr, b.ip_addr));
}

const EMPTY: Record<string, Node> = {};

const rowClass = (n: Node) =>
  n.status === 'closed' ? 'node-closed' : n.status === 'deallocated' ? 'node-deallocated' : undefined;

// A delta replaces only the nodes that changed: the other rows skip rendering.
const NodeRow = memo(function NodeRow({ node }: { node: Node }) {
  return (
    <tr className={rowClass(node)}>
      {COLUMNS.map((c) => (
        <td key={c.id} className={c.numeric ? 'num' : c.id === 'status' ? 'status' : undefined}>
          {c.render(node)}
        </td>
      ))}
    </tr>
  );
});

export function NodesTable() {
  const headingId = useId();
  const nodes = useDashboard((s) => selectCluster(s, s.selectedCluster)?.nodes ?? EMPTY);
  // The sort lives in the URL: it survives updates, reloads, the cluster
  // closing and this component being remounted.
  const search = useSearch();
  const sort = useMemo(() => parseSort(search), [search]);
  const rows = useMemo(() => sortNodes(Object.values(nodes), sort), [nodes, sort]);

  const toggle = (column: string) => {
    // A click toggles ascending/descending; the first click on another
    // column sorts ascending.
    const desc = column === sort.column ? !sort.desc : false;
    const params = new URLSearchParams(location.search);
    params.set('sort', column);
    params.set('dir', desc ? 'desc' : 'asc');
    replaceSearch(params);
  };

  return (
    <section className="nodes" aria-labelledby={headingId}>
      <h3 id={headingId}>Nodes</h3>
      {/* The table scrolls inside its own box on narrow screens; focusable so
          keyboard users can scroll it too. */}
      <div className="table-scroll" tabIndex={0} role="group" aria-labelledby={headingId}>
        <table aria-label="Nodes">
          <thead>
            <tr>
              {COLUMNS.map((c) => {
                const active = c.id === sort.column;
                return (
                  <th
                    key={c.id}
                    scope="col"
                    aria-sort={active ? (sort.desc ? 'descending' : 'ascending') : 'none'}
                    className={c.numeric ? 'num' : undefined}
                  >
                    <button type="button" onClick={() => toggle(c.id)}>
                      {c.title}
                      <span className="sort-mark" aria-hidden="true">
                        {active ? (sort.desc ? '▼' : '▲') : ''}
                      </span>
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 ? (
              <tr>
                <td className="empty" colSpan={COLUMNS.length}>
                  No nodes yet
                </td>
              </tr>
            ) : (
              rows.map((n) => <NodeRow key={n.ip_addr} node={n} />)
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
