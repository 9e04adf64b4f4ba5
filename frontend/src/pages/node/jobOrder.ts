// The Node page's running jobs in display order, kept across deltas. A delta
// adds and removes a few of what may be 100,000 jobs: sorting them all again
// (~80 ms), or even walking a Map of them all, is a long task on every delta
// (docs/benchmarks.md section 7). The previous order is kept; the table says
// which records left and came (JobTable.since), the ones that left are found
// by binary search and the new ones merged in at theirs.
import type { JobTable } from '../../core/jobTable';
import type { Job } from '../../core/protocol';

/** Start time order (oldest first, unknown last), then uid: a total, stable order across updates. */
function byStart(a: Job, b: Job): number {
  const sa = a.start_time ?? Infinity;
  const sb = b.start_time ?? Infinity;
  return sa === sb ? a.uid - b.uid : sa - sb;
}

export interface JobOrder {
  /** the table `list` was made from */
  source: JobTable;
  /** the cluster whose jobs are listed; null: every cluster's */
  only: string | null;
  /** in byStart order */
  list: Job[];
}

/** The index of the first job in `list` (byStart order) not before `job`. */
function lowerBound(list: readonly Job[], job: Job): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byStart(list[mid]!, job) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The jobs of `source` (of cluster `only`, or all) in byStart order, from the previous order when there is one. */
export function orderJobs(previous: JobOrder | null, source: JobTable, only: string | null): JobOrder {
  const keep = (job: Job) => only === null || job.cluster === only;
  const full = (): JobOrder => {
    const list: Job[] = [];
    for (const job of source.values()) if (keep(job)) list.push(job);
    return { source, only, list: list.sort(byStart) };
  };
  if (previous === null || previous.only !== only) return full();
  if (previous.source === source) return previous;
  const { left, came } = source.since(previous.source);
  const old = previous.list;
  const drop: number[] = [];
  for (const job of left) {
    if (!keep(job)) continue;
    const at = lowerBound(old, job);
    // not where the order says: the list does not match its table (cannot
    // happen unless a bug put it there), start over rather than show it
    if (old[at] !== job) return full();
    drop.push(at);
  }
  const added = came.filter(keep).sort(byStart);
  if (drop.length === 0 && added.length === 0) return { source, only, list: old };
  drop.sort((x, y) => x - y);
  // positions in the old list before which each new job goes (non-decreasing, as `added` is sorted)
  const before = added.map((job) => lowerBound(old, job));
  const list: Job[] = new Array(old.length - drop.length + added.length);
  let k = 0;
  let d = 0;
  let a = 0;
  for (let i = 0; i < old.length; i++) {
    while (a < added.length && before[a] === i) list[k++] = added[a++]!;
    if (d < drop.length && drop[d] === i) d++;
    else list[k++] = old[i]!;
  }
  while (a < added.length) list[k++] = added[a++]!;
  return { source, only, list };
}

/** Whether a job of this uid is in the order's list (O(1): the list may hold 100,000). */
export function isListed(order: JobOrder, uid: number): boolean {
  const job = order.source.get(uid);
  return job !== undefined && (order.only === null || job.cluster === order.only);
}
