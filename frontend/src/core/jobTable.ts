// The running jobs of the watched node, by uid: an immutable map that a
// change copies only in part. A Node page may hold 100,000 jobs while a
// delta brings a few dozen: copying a Map of them all on every delta, then
// walking it again to find what changed, took tens of milliseconds (long
// tasks while scrolling, docs/benchmarks.md section 7). Here the jobs are
// spread over fixed buckets; a change copies the buckets it touches and
// shares the rest, so the previous table stays intact (pure reducers), and
// two tables compare bucket by bucket: what differs is found in the few
// buckets that are not the same object.
import type { Job } from './protocol';

const BUCKET_BITS = 10;
const BUCKETS = 1 << BUCKET_BITS;
const TWO_32 = 2 ** 32;

/**
 * A uid's bucket. dispy's uids are object addresses (aligned: their low bits
 * are alike), so every bit is mixed in (Fibonacci hashing) before the top
 * ones are taken.
 */
export function bucketOf(uid: number): number {
  const mixed = (uid | 0) ^ (Math.floor(uid / TWO_32) | 0);
  return Math.imul(mixed, 0x9e3779b1) >>> (32 - BUCKET_BITS);
}

type Bucket = ReadonlyMap<number, Job>;

export class JobTable implements ReadonlyMap<number, Job> {
  static readonly empty = new JobTable(new Array<Bucket | undefined>(BUCKETS).fill(undefined), 0);

  private constructor(
    /** never modified once the table is made: tables share them */
    private readonly buckets: readonly (Bucket | undefined)[],
    readonly size: number,
  ) {}

  /** A table of these jobs (a later record of the same uid wins). */
  static of(jobs: Iterable<Job>): JobTable {
    const buckets = new Array<Map<number, Job> | undefined>(BUCKETS).fill(undefined);
    let size = 0;
    for (const job of jobs) {
      const b = bucketOf(job.uid);
      const bucket = (buckets[b] ??= new Map());
      if (!bucket.has(job.uid)) size++;
      bucket.set(job.uid, job);
    }
    return size === 0 ? JobTable.empty : new JobTable(buckets, size);
  }

  get(uid: number): Job | undefined {
    return this.buckets[bucketOf(uid)]?.get(uid);
  }

  has(uid: number): boolean {
    return this.get(uid) !== undefined;
  }

  /**
   * A new table with the jobs that started or were sent again (Job) and
   * without those that left (null), keyed by uid as on the wire. This table
   * is left as it was; with nothing to change, it is returned itself.
   */
  with(changes: Record<string, Job | null>): JobTable {
    let buckets: (Bucket | undefined)[] | null = null;
    const copied = new Set<number>();
    let size = this.size;
    for (const [key, job] of Object.entries(changes)) {
      const uid = job ? job.uid : Number(key);
      const b = bucketOf(uid);
      const current = (buckets ?? this.buckets)[b];
      const old = current?.get(uid);
      if (job === null ? old === undefined : old === job) continue;
      buckets ??= this.buckets.slice();
      let bucket = current as Map<number, Job> | undefined;
      if (!copied.has(b)) {
        bucket = buckets[b] = new Map(current);
        copied.add(b);
      }
      if (job === null) {
        bucket!.delete(uid);
        size--;
      } else {
        bucket!.set(uid, job);
        if (old === undefined) size++;
      }
    }
    return buckets === null ? this : new JobTable(buckets, size);
  }

  *entries(): MapIterator<[number, Job]> {
    for (const bucket of this.buckets) if (bucket) yield* bucket.entries();
  }

  *keys(): MapIterator<number> {
    for (const bucket of this.buckets) if (bucket) yield* bucket.keys();
  }

  *values(): MapIterator<Job> {
    for (const bucket of this.buckets) if (bucket) yield* bucket.values();
  }

  [Symbol.iterator](): MapIterator<[number, Job]> {
    return this.entries();
  }

  forEach(callback: (job: Job, uid: number, table: ReadonlyMap<number, Job>) => void): void {
    for (const [uid, job] of this.entries()) callback(job, uid, this);
  }

  /**
   * What differs from `older` to this table: the records that left or were
   * replaced (as `older` had them) and those that came or replaced them (as
   * this table has them). Costs the buckets that are not shared, not the
   * whole table.
   */
  since(older: JobTable): JobChanges {
    const left: Job[] = [];
    const came: Job[] = [];
    if (older === this) return { left, came };
    for (let b = 0; b < BUCKETS; b++) {
      const before = older.buckets[b];
      const now = this.buckets[b];
      if (before === now) continue;
      if (before) for (const [uid, job] of before) if (now?.get(uid) !== job) left.push(job);
      if (now) for (const [uid, job] of now) if (before?.get(uid) !== job) came.push(job);
    }
    return { left, came };
  }
}

/** A job sent again (its arguments shown again, say) is in both lists. */
export interface JobChanges {
  left: Job[];
  came: Job[];
}
