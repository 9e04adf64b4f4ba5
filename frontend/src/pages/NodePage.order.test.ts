import { describe, expect, it } from 'vitest';
import type { Job } from '../protocol';
import { orderJobs } from './NodePage';

const job = (uid: number, start: number | null, cluster = 'a'): Job => ({
  uid, cluster, id: `job-${uid}`, args: null, kwargs: null, start_time: start, ip_addr: '10.0.0.1',
});

const sorted = (jobs: Job[]) =>
  [...jobs].sort((x, y) => ((x.start_time ?? Infinity) === (y.start_time ?? Infinity) ? x.uid - y.uid : (x.start_time ?? Infinity) - (y.start_time ?? Infinity)));

describe('orderJobs (the Node page keeps its order across deltas)', () => {
  it('gives what a full sort gives after any sequence of jobs coming and going', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    let map = new Map<number, Job>();
    let order = null as ReturnType<typeof orderJobs> | null;
    let uid = 1;
    for (let step = 0; step < 200; step++) {
      map = new Map(map);
      for (const key of [...map.keys()]) if (random() < 0.1) map.delete(key);
      const adds = Math.floor(random() * 8);
      for (let i = 0; i < adds; i++) {
        const j = job(uid++, random() < 0.1 ? null : Math.floor(random() * 50), random() < 0.5 ? 'a' : 'b');
        map.set(j.uid, j);
      }
      const only = step % 50 < 25 ? null : 'b';
      order = orderJobs(order, map, only);
      expect(order.list).toEqual(sorted([...map.values()].filter((j) => only === null || j.cluster === only)));
    }
  });

  it('takes records sent again, and starts over if a start time moved', () => {
    const first = orderJobs(null, new Map([[1, job(1, 5)], [2, job(2, 3)]]), null);
    const again = orderJobs(first, new Map([[1, { ...job(1, 5), args: 'x' }], [2, job(2, 3)]]), null);
    expect(again.list.map((j) => j.args)).toEqual([null, 'x']);
    const moved = orderJobs(again, new Map([[1, job(1, 1)], [2, job(2, 3)]]), null);
    expect(moved.list.map((j) => j.uid)).toEqual([1, 2]);
  });
});
