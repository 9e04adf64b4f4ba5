import { describe, expect, it } from 'vitest';
import { JobTable, bucketOf } from './jobTable';
import type { Job } from './protocol';

const job = (uid: number, fields: Partial<Job> = {}): Job => ({
  uid, key: uid + 1000, cluster: 'a', id: `job-${uid}`, args: null, kwargs: null, start_time: 1, ip_addr: '10.0.0.1', ...fields,
});

const uids = (table: JobTable) => [...table.keys()].sort((a, b) => a - b);

describe('JobTable', () => {
  it('adds, replaces and removes by uid without changing the table it came from', () => {
    const first = JobTable.of([job(1), job(2), job(3)]);
    const replaced = job(2, { args: 'again' });
    const next = first.with({ '1': null, '2': replaced, '4': job(4), '99': null });
    expect(uids(next)).toEqual([2, 3, 4]);
    expect(next.size).toBe(3);
    expect(next.get(2)).toBe(replaced);
    expect(next.has(1)).toBe(false);
    expect(first.size).toBe(3);
    expect(uids(first)).toEqual([1, 2, 3]);
    expect(first.get(2)?.args).toBeNull();
  });

  it('is itself when a change changes nothing', () => {
    const table = JobTable.of([job(1)]);
    expect(table.with({})).toBe(table);
    expect(table.with({ '5': null })).toBe(table);
    expect(table.with({ '1': table.get(1)! })).toBe(table);
    expect(JobTable.of([])).toBe(JobTable.empty);
  });

  it('says which records left and came between two tables', () => {
    const many = Array.from({ length: 3000 }, (_, i) => job(i + 1));
    const a = JobTable.of(many);
    const resent = job(17, { args: 'shown again' });
    const b = a.with({ '5': null, '17': resent, '4000': job(4000) });
    const c = b.with({ '6': null });
    const { left, came } = c.since(a);
    expect(left.map((j) => j.uid).sort((x, y) => x - y)).toEqual([5, 6, 17]);
    expect(left.find((j) => j.uid === 17)).toBe(a.get(17));
    expect(came.map((j) => j.uid).sort((x, y) => x - y)).toEqual([17, 4000]);
    expect(came.find((j) => j.uid === 17)).toBe(resent);
    expect(c.since(c)).toEqual({ left: [], came: [] });
    // and back again
    expect(a.since(c).came.map((j) => j.uid).sort((x, y) => x - y)).toEqual([5, 6, 17]);
  });

  it('spreads object-address uids over the buckets', () => {
    // dispy's uids are id() of Python objects: 16-byte aligned, around 1.4e14
    const used = new Set(Array.from({ length: 4096 }, (_, i) => bucketOf(140_234_567_890_000 + i * 16)));
    expect(used.size).toBeGreaterThan(900);
    expect(Math.max(...used)).toBeLessThan(1024);
    expect(Math.min(...used)).toBeGreaterThanOrEqual(0);
  });
});
