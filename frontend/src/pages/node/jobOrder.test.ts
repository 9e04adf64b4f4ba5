import { describe, expect, it, vi } from 'vitest';
import { isListed, orderJobs } from './jobOrder';
import { JobTable } from '../../core/jobTable';
import type { Job } from '../../core/protocol';

const job = (uid: number, start: number | null, cluster = 'a'): Job => ({
  uid, key: uid + 1000, cluster, id: `job-${uid}`, args: null, kwargs: null, start_time: start, ip_addr: '10.0.0.1',
});

const sorted = (jobs: Iterable<Job>) =>
  [...jobs].sort((x, y) => ((x.start_time ?? Infinity) === (y.start_time ?? Infinity) ? x.uid - y.uid : (x.start_time ?? Infinity) - (y.start_time ?? Infinity)));

const changes = (jobs: Job[], gone: number[] = []) =>
  Object.fromEntries([...jobs.map((j) => [String(j.uid), j]), ...gone.map((uid) => [String(uid), null])]);

describe('orderJobs (the Node page keeps its order across deltas)', () => {
  it('gives what a full sort gives after any sequence of jobs coming, going and sent again', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    let table = JobTable.empty;
    let order = null as ReturnType<typeof orderJobs> | null;
    let uid = 1;
    for (let step = 0; step < 300; step++) {
      const change: Record<string, Job | null> = {};
      for (const j of table.values()) {
        const r = random();
        if (r < 0.1) change[String(j.uid)] = null;
        // sent again: the same start time (arguments shown again), or once in a while another
        else if (r < 0.13) change[String(j.uid)] = { ...j, args: `again ${step}`, start_time: r < 0.12 ? j.start_time : 99 - j.uid };
      }
      const adds = Math.floor(random() * 8);
      for (let i = 0; i < adds; i++) {
        const j = job(uid++, random() < 0.1 ? null : Math.floor(random() * 50), random() < 0.5 ? 'a' : 'b');
        change[String(j.uid)] = j;
      }
      // deltas pile up unseen now and then (a render skipped): one order over several tables
      table = table.with(change);
      if (step % 7 === 3) continue;
      const only = step % 100 < 50 ? null : 'b';
      order = orderJobs(order, table, only);
      expect(order.list).toEqual(sorted([...table.values()].filter((j) => only === null || j.cluster === only)));
    }
  });

  it('merges a delta without walking the whole table', () => {
    const many = Array.from({ length: 5000 }, (_, i) => job(i + 1, i % 300));
    const first = orderJobs(null, JobTable.of(many), null);
    const next = JobTable.of(many).with(changes([job(9000, 7), job(9001, null)], [10, 20, 4999]));
    const walk = vi.spyOn(JobTable.prototype, 'values');
    const second = orderJobs(first, next, null);
    expect(walk).not.toHaveBeenCalled();
    expect(second.list).toEqual(sorted(next.values()));
    expect(second.list).toHaveLength(5000 - 3 + 2);
    // the previous order is left as it was
    expect(first.list).toHaveLength(5000);
    expect(first.list[0]?.uid).toBe(1);
  });

  it('returns the same order for the same table, and starts over for another cluster', () => {
    const table = JobTable.of([job(1, 5, 'a'), job(2, 3, 'b'), job(3, 4, 'a')]);
    const all = orderJobs(null, table, null);
    expect(orderJobs(all, table, null)).toBe(all);
    expect(all.list.map((j) => j.uid)).toEqual([2, 3, 1]);
    const b = orderJobs(all, table, 'b');
    expect(b.list.map((j) => j.uid)).toEqual([2]);
    expect(isListed(b, 2)).toBe(true);
    expect(isListed(b, 1)).toBe(false); // another cluster's
    expect(isListed(all, 1)).toBe(true);
    expect(isListed(all, 4)).toBe(false);
  });

  it('takes records sent again, and moves a job whose start time moved', () => {
    const first = orderJobs(null, JobTable.of([job(1, 5), job(2, 3)]), null);
    const again = orderJobs(first, first.source.with(changes([{ ...job(1, 5), args: 'x' }])), null);
    expect(again.list.map((j) => j.args)).toEqual([null, 'x']);
    const moved = orderJobs(again, again.source.with(changes([job(1, 1)])), null);
    expect(moved.list.map((j) => j.uid)).toEqual([1, 2]);
  });
});
