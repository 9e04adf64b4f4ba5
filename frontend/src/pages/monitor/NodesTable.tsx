import { Suspense, lazy, memo, useId, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { useDashboard } from '../../core/context';
import { dashIfNull, formatBytes, formatClock, formatPercent, formatSeconds, healthFlags, secPerJob } from '../../lib/format';
import { NodeStatus } from '../../components/NodeStatus';
import type { Node } from '../../core/protocol';
import { clusterNames, programsByNode, resolveClusterName, selectCluster } from '../../core/selectors';
import { COMBINED } from '../../core/protocol';
import { changedSince } from '../../core/state';
import { compareIpKeys, ipKey } from '../../lib/ipOrder';
import type { IpKey } from '../../lib/ipOrder';
import { Link, replaceSearch, useSearch } from '../../router';
import { nodePath } from '../../lib/paths';
import { useVirtualRows } from '../../components/useVirtualRows';
import { useScrollEdges } from '../../components/useScrollEdges';
import { useIncremental } from '../../components/useIncremental';
import { EmptyRow } from '../../components/EmptyRow';
import type { SparkAnswer } from '../../components/Sparkline';

// Sorting is a few lines here rather than TanStack Table: this page is what
// loads first, and the table library alone is ~12 KB gzip of it.

/**
 * Up to this many nodes every row is in the DOM (find in page, printing, and
 * the end-to-end tests read them all); above it, only the rows in view and a
 * few either side, so 10,000 nodes cost what 40 do.
 */
export const FULL_TABLE_ROWS = 100;

/** Row height (px) of the virtualised table: matches `.nodes-table.virtual td` in styles.css. */
const ROW_HEIGHT = 36;

/**
 * Rows shown plainly while the virtualiser's module loads (useVirtualRows:
 * it and @tanstack/react-virtual, ~10 KB gzip, are fetched only for a table
 * above FULL_TABLE_ROWS): more than the scroll box (at most 40rem, ~18 rows)
 * shows, and fewer than FULL_TABLE_ROWS, so the table is never empty and
 * never a full 10,000 rows meanwhile.
 */
export const LOADING_ROWS = 30;

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

interface Keyed {
  node: Node;
  value: SortValue;
  ip: IpKey;
}

/**
 * Sorted copy. Ties fall back to the IP address (ascending whatever the
 * direction), so equal rows keep their places across updates. Each node's
 * sort value is read once, not once per comparison.
 */
export function sortNodes(nodes: readonly Node[], sort: Sort): Node[] {
  const column = COLUMNS.find((c) => c.id === sort.column) ?? COLUMNS[0]!;
  const sign = sort.desc ? -1 : 1;
  const byIp = column.id === 'ip_addr';
  const keyed: Keyed[] = nodes.map((node) => ({ node, value: byIp ? null : column.value(node), ip: ipKey(node.ip_addr) }));
  keyed.sort(
    (a, b) => sign * (byIp ? compareIpKeys(a.ip, b.ip) : compareValues(a.value, b.value)) || compareIpKeys(a.ip, b.ip),
  );
  return keyed.map((k) => k.node);
}

/** A row's place in the order: its sort value (null when sorted by address) and its address's key. */
interface Key {
  value: SortValue;
  ip: IpKey;
}

/**
 * The table's order: addresses, not nodes (a row reads its node from the
 * record, so a delta that moves no row leaves this as it was), and each
 * one's key as last sorted.
 */
export interface Order {
  sort: Sort;
  /** the node record this order is of */
  source: Record<string, Node>;
  ips: string[];
  /** every address in `ips`, with the key it is sorted by there */
  keys: Map<string, Key>;
}

/** Above this many rows to move, one pass over the order merges them in; below it, each is moved by itself. */
const MOVE_ONE_BY_ONE = 64;

function comparer(sort: Sort): { column: Column; byIp: boolean; compare: (a: Key, b: Key) => number } {
  const column = COLUMNS.find((c) => c.id === sort.column) ?? COLUMNS[0]!;
  const sign = sort.desc ? -1 : 1;
  const byIp = column.id === 'ip_addr';
  const compare = byIp
    ? (a: Key, b: Key) => sign * compareIpKeys(a.ip, b.ip)
    : (a: Key, b: Key) => sign * compareValues(a.value, b.value) || compareIpKeys(a.ip, b.ip);
  return { column, byIp, compare };
}

/** The first index in `ips` whose key does not sort before `key`. */
function lowerBound(ips: readonly string[], keys: Map<string, Key>, key: Key, compare: (a: Key, b: Key) => number): number {
  let lo = 0;
  let hi = ips.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(keys.get(ips[mid]!)!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The sorted rows. A delta (found through the state's change chain,
 * `changedSince`) costs what its changed nodes cost: each one whose sort value
 * changed is taken out and put back where it now belongs (a binary search),
 * and one that kept its value moves nothing. A full sort only for a new sort
 * column or direction, a snapshot, or a record that does not descend from the
 * last one (another cluster, the combined view).
 */
export function ordered(previous: Order | null, nodes: Record<string, Node>, sort: Sort): Order {
  const { column, byIp, compare } = comparer(sort);
  const sameSort = previous !== null && previous.sort.column === sort.column && previous.sort.desc === sort.desc;
  if (sameSort && previous.source === nodes) return previous;
  const changed = sameSort ? changedSince(previous.source, nodes) : null;
  if (!sameSort || changed === null) {
    const keys = new Map<string, Key>();
    const entries: [string, Key][] = [];
    for (const ip in nodes) {
      const key = { value: byIp ? null : column.value(nodes[ip]!), ip: ipKey(ip) };
      keys.set(ip, key);
      entries.push([ip, key]);
    }
    entries.sort((a, b) => compare(a[1], b[1]));
    return { sort, source: nodes, ips: entries.map((e) => e[0]), keys };
  }
  // The rows whose place may change: added, removed, or with a new sort value.
  const keys = previous.keys; // updated in place: only an order computed from it reads it
  const moved = new Map<string, Key | null>();
  for (const ip of changed) {
    if (moved.has(ip)) continue;
    const node = nodes[ip];
    const old = keys.get(ip);
    if (node === undefined) {
      if (old !== undefined) moved.set(ip, null);
      continue;
    }
    const value = byIp ? null : column.value(node);
    if (old === undefined || old.value !== value) moved.set(ip, { value, ip: old?.ip ?? ipKey(ip) });
  }
  if (moved.size === 0) return { sort, source: nodes, ips: previous.ips, keys };
  let ips: string[];
  if (moved.size <= MOVE_ONE_BY_ONE) {
    ips = previous.ips.slice();
    for (const [ip, key] of moved) {
      const old = keys.get(ip);
      if (old !== undefined) {
        let at = lowerBound(ips, keys, old, compare);
        if (ips[at] !== ip) at = ips.indexOf(ip); // values that do not order (NaN): look it up
        if (at >= 0) ips.splice(at, 1);
        keys.delete(ip);
      }
      if (key !== null) {
        ips.splice(lowerBound(ips, keys, key, compare), 0, ip);
        keys.set(ip, key);
      }
    }
  } else {
    const rest = previous.ips.filter((ip) => !moved.has(ip));
    const adding: string[] = [];
    for (const [ip, key] of moved) {
      if (key === null) keys.delete(ip);
      else {
        keys.set(ip, key);
        adding.push(ip);
      }
    }
    adding.sort((a, b) => compare(keys.get(a)!, keys.get(b)!));
    ips = new Array<string>(rest.length + adding.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < rest.length && j < adding.length) {
      ips[k++] = compare(keys.get(rest[i]!)!, keys.get(adding[j]!)!) <= 0 ? rest[i++]! : adding[j++]!;
    }
    while (i < rest.length) ips[k++] = rest[i++]!;
    while (j < adding.length) ips[k++] = adding[j++]!;
  }
  return { sort, source: nodes, ips, keys };
}

const EMPTY: Record<string, Node> = {};

const rowClass = (n: Node) =>
  n.status === 'closed' ? 'node-closed' : n.status === 'deallocated' ? 'node-deallocated' : undefined;


/** The sparkline column is off above this many nodes in the table (the server answers at most 300). */
export const SPARK_MAX_NODES = 300;

// The sparklines and the query that feeds them load once the column is on
// (the Monitor page's first load stays within its budget); the fetcher hands
// the table each answer with the line's component, so rows need no Suspense.
const SparkFetcher = lazy(() => import('../../components/Sparkline'));

/** The column that follows the Programs column, when it is shown. */
const PROGRAMS_AFTER = 'name';

interface NodeRowProps {
  node: Node;
  rowIndex: number;
  spark: SparkAnswer | null;
  /** the programs using the node, as shown ('* Combined' on a fleet central); undefined: no column */
  programs?: string | undefined;
}

// A delta replaces only the nodes that changed: the other rows skip rendering.
// `spark`: the sparklines' latest answer, with the line's component (null until its module answered).
const NodeRow = memo(function NodeRow({ node, rowIndex, spark, programs }: NodeRowProps) {
  return (
    <tr className={rowClass(node)} aria-rowindex={rowIndex}>
      {COLUMNS.map((c) => [
        <td key={c.id} className={c.numeric ? 'num' : c.id === 'status' ? 'status' : undefined}>
          {c.render(node)}
        </td>,
        programs !== undefined && c.id === PROGRAMS_AFTER ? <td key="programs">{programs}</td> : null,
      ])}
      <td>{spark && <spark.Line values={spark.nodes[node.ip_addr]} />}</td>
    </tr>
  );
});

export function NodesTable() {
  const headingId = useId();
  const hintId = useId();
  const nodes = useDashboard((s) => selectCluster(s, s.selectedCluster)?.nodes ?? EMPTY);
  // '* Combined' on a fleet central shows a node several programs use once: this column says
  // whose it is (null: no column; one cluster's view is one program's)
  const programs = useDashboard((s) =>
    s.fleet?.role === 'central' && resolveClusterName(clusterNames(s.clusters), s.selectedCluster) === COMBINED
      ? programsByNode(s.clusters)
      : null,
  );
  const extraColumns = programs ? 2 : 1; // the sparklines' (not sortable), and the programs'
  // The sort lives in the URL: it survives updates, reloads, the cluster
  // closing and this component being remounted.
  const search = useSearch();
  const sort = useMemo(() => parseSort(search), [search]);
  const rows = useIncremental<Order>((previous) => ordered(previous, nodes, sort), [nodes, sort]).ips;
  // The CPU sparklines: off above SPARK_MAX_NODES nodes (the header says so), so a big table stays fast.
  const sparkOn = rows.length <= SPARK_MAX_NODES;
  const [sparks, setSparks] = useState<SparkAnswer | null>(null);

  // Many nodes: only the rows in view (and a few either side) are in the DOM.
  const virtual = rows.length > FULL_TABLE_ROWS;
  const VirtualRows = useVirtualRows(virtual);
  const [scrollBox, setScrollBox] = useState<HTMLDivElement | null>(null);
  // Thirteen columns are wider than a 1280 px screen: say so, and which way.
  const edges = useScrollEdges(scrollBox);
  const cut = edges.left || edges.right;
  const row = (index: number) => {
    const ip = rows[index];
    const n = ip === undefined ? undefined : nodes[ip];
    if (!n) return null;
    const shown = programs ? (programs.get(n.ip_addr)?.join(', ') ?? '') : undefined;
    return <NodeRow key={n.ip_addr} node={n} rowIndex={index + 2} spark={sparks} programs={shown} />;
  };

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
      {sparkOn && (
        <Suspense>
          <SparkFetcher nodes={nodes} onSparks={setSparks} />
        </Suspense>
      )}
      <div className="table-head">
        <h3 id={headingId}>Nodes</h3>
        {cut && (
          <p id={hintId} className="scroll-hint" data-testid="nodes-scroll-hint">
            <span aria-hidden="true">{edges.left ? '← ' : ''}</span>
            More columns: scroll the table sideways
            <span aria-hidden="true">{edges.right ? ' →' : ''}</span>
          </p>
        )}
      </div>
      {/* The table scrolls inside its own box when it is wider than the
          screen; focusable so keyboard users can scroll it too (arrow keys),
          and shaded at the edge that hides columns. */}
      <div className="scroll-frame" data-more-left={edges.left || undefined} data-more-right={edges.right || undefined}>
        <div
          ref={setScrollBox}
          className={virtual ? 'table-scroll virtual-scroll' : 'table-scroll'}
          tabIndex={0}
          role="group"
          aria-labelledby={headingId}
          aria-describedby={cut ? hintId : undefined}
        >
          <table aria-label="Nodes" aria-rowcount={rows.length + 1} className={virtual ? 'nodes-table virtual' : 'nodes-table'}>
            <thead>
              <tr aria-rowindex={1}>
                {COLUMNS.map((c) => {
                  const active = c.id === sort.column;
                  return [
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
                    </th>,
                    programs && c.id === PROGRAMS_AFTER ? (
                      <th key="programs" scope="col">
                        Programs
                      </th>
                    ) : null,
                  ];
                })}
                <th scope="col">
                  {sparkOn ? 'CPU free, 10 min' : `CPU free, 10 min (off above ${SPARK_MAX_NODES} nodes)`}
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 ? (
                <EmptyRow columns={COLUMNS.length + extraColumns}>No nodes yet</EmptyRow>
              ) : virtual && VirtualRows ? (
                // VirtualRows is the lazily loaded module's component, held in state: the same function on every render
                // eslint-disable-next-line react-hooks/static-components
                <VirtualRows count={rows.length} scrollElement={scrollBox} rowHeight={ROW_HEIGHT} columns={COLUMNS.length + extraColumns} row={row} />
              ) : virtual ? (
                rows.slice(0, LOADING_ROWS).map((_, i) => row(i))
              ) : (
                rows.map((_, i) => row(i))
              )}
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}
