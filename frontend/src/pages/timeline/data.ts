// Keeping the timeline's answer fresh without asking for every bar again.
//
// The page asks for a window once (a "full" answer), then, at the update
// interval, only for what can have changed: the bars that overlap [since, end]
// (every bar that ended since a little before the last answer, and every bar
// running now). `merge` puts the two together: the full answer's bars that
// ended before `since`, and the fresh ones. Bars older than `keepFrom` go, so
// a page left following "now" for hours holds what its window shows, no more.
import type { TimelineAnswer } from '../../core/protocol';

/** Index of `name` in `table` (added at its end if new). */
function indexIn(table: string[], where: Map<string, number>, name: string): number {
  let k = where.get(name);
  if (k === undefined) {
    k = table.length;
    table.push(name);
    where.set(name, k);
  }
  return k;
}

/**
 * `base` (an answer for a window) brought up to date by `fresh` (the answer for
 * [since, fresh.end]): a window [max(base.start, keepFrom), fresh.end].
 */
export function merge(base: TimelineAnswer, fresh: TimelineAnswer, since: number, keepFrom: number): TimelineAnswer {
  const clusters = [...base.clusters];
  const clusterAt = new Map(clusters.map((c, k) => [c, k]));
  const nodeIps = base.nodes.map((n) => n.ip);
  const nodeAt = new Map(nodeIps.map((ip, k) => [ip, k]));
  const cpus = base.nodes.map((n) => n.cpus);
  const freshCluster = fresh.clusters.map((c) => indexIn(clusters, clusterAt, c));
  const freshNode = fresh.nodes.map((n) => {
    const k = indexIn(nodeIps, nodeAt, n.ip);
    cpus[k] = n.cpus; // what the node offers now
    return k;
  });

  const b = base.bars;
  const f = fresh.bars;
  const out: TimelineAnswer['bars'] = { start: [], end: [], cluster: [], node: [], outcome: [], key: [], id: [] };
  const take = (i: number) => {
    out.start.push(b.start[i]!);
    out.end.push(b.end[i]!);
    out.cluster.push(b.cluster[i]!);
    out.node.push(b.node[i]!);
    out.outcome.push(b.outcome[i]!);
    out.key.push(b.key[i]!);
    out.id.push(b.id[i]!);
  };
  const takeFresh = (j: number) => {
    out.start.push(f.start[j]!);
    out.end.push(f.end[j]!);
    out.cluster.push(freshCluster[f.cluster[j]!]!);
    out.node.push(freshNode[f.node[j]!]!);
    out.outcome.push(f.outcome[j]!);
    out.key.push(f.key[j]!);
    out.id.push(f.id[j]!);
  };
  // both lists are in start order: merge them in it
  const kept = (i: number) => {
    const end = b.end[i];
    return end !== null && end !== undefined && end < since && end >= keepFrom;
  };
  let i = 0;
  let j = 0;
  let keptCount = 0;
  const n = b.start.length;
  const m = f.start.length;
  while (i < n || j < m) {
    if (i < n && !kept(i)) {
      i++;
      continue;
    }
    if (j >= m || (i < n && b.start[i]! <= f.start[j]!)) {
      take(i++);
      keptCount++;
    } else takeFresh(j++);
  }

  // Queued jobs leave the queue oldest first (dispy sends them in order): the older marks kept
  // are the newest of those the full answer had, as many as are still queued beyond the fresh ones.
  const older = base.queued.created
    .map((t, k) => [t, base.queued.cluster[k]!] as const)
    .filter(([t]) => t < since && t >= keepFrom)
    .sort((x, y) => x[0] - y[0]);
  const room = Math.max(0, fresh.queued.count - fresh.queued.created.length);
  const marks = [...older.slice(Math.max(0, older.length - room)), ...fresh.queued.created.map((t, k) => [t, freshCluster[fresh.queued.cluster[k]!]!] as const)];

  return {
    start: Math.max(base.start, keepFrom),
    end: Math.max(base.end, fresh.end),
    now: fresh.now,
    outcomes: fresh.outcomes,
    clusters,
    nodes: nodeIps.map((ip, k) => ({ ip, cpus: cpus[k]! })),
    bars: out,
    total: keptCount + fresh.total,
    more: base.more || fresh.more,
    // jobs that never reached a node have no time to merge by: the full answer's count stands
    unplaced: base.unplaced,
    queued: { count: fresh.queued.count, created: marks.map(([t]) => t), cluster: marks.map(([, c]) => c) },
  };
}

/**
 * Where a refresh's merge starts keeping bars (merge's `keepFrom`): never after the view's own
 * window (`wantStart`), and otherwise two full windows (`heldSpan`, the last full answer's length)
 * back from the refresh's `end`. A page following now for hours holds two windows, no more; a view
 * zoomed in, or panned later, keeps what the full answer had, so zooming out or panning back asks
 * for no full answer again (50,000 bars decoded, sent to the worker and packed: the live cluster's
 * long tasks, docs/benchmarks.md "Timeline"). Keeping only the view's window did that on each zoom.
 */
export function keepFrom(wantStart: number, end: number, heldSpan: number): number {
  return Math.min(wantStart, end - 2 * heldSpan);
}

/**
 * Whether `fresh` (the answer for [since, …]) says nothing `base` does not: the same bars
 * from `since` on (each with its end and outcome), the same queue. A refresh of a quiet
 * window then costs a comparison, not a merge, a packing and a render.
 */
export function unchanged(base: TimelineAnswer, fresh: TimelineAnswer, since: number): boolean {
  if (fresh.queued.count !== base.queued.count || fresh.queued.created.length > base.queued.created.length) return false;
  if (fresh.more) return false; // (a window that reaches further with no bar there is no change: the caller widens it)
  const b = base.bars;
  const f = fresh.bars;
  let j = 0;
  for (let i = 0; i < b.start.length; i++) {
    const end = b.end[i] ?? null;
    if (end !== null && end < since) continue;
    if (j >= f.start.length || f.key[j] !== b.key[i] || (f.end[j] ?? null) !== end || f.outcome[j] !== b.outcome[i] || f.start[j] !== b.start[i]) return false;
    j++;
  }
  return j === f.start.length;
}
