// The Monitor table's order kept across deltas (ordered): the same rows a full
// sort gives, at the cost of the nodes a delta changed.
import { describe, expect, it } from 'vitest';
import type { Node, NodeDelta } from '../../core/protocol';
import { CHAIN_STEPS, applyDelta, applySnapshot, changedSince, emptyData, nodeChanges } from '../../core/state';
import type { ServerData } from '../../core/state';
import { cluster, delta, node, snapshot } from '../../test/fixtures';
import { ordered, sortNodes } from './NodesTable';
import type { Order, Sort } from './NodesTable';

/** A small deterministic generator (mulberry32): the same deltas every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const address = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

function start(count: number, make: (i: number) => Node = (i) => node(address(i), { jobs_done: i % 7 })): ServerData {
  const nodes = Array.from({ length: count }, (_, i) => make(i));
  return applySnapshot(emptyData, snapshot(1, { c: cluster('c', nodes) }));
}

const nodesOf = (state: ServerData) => state.clusters.c!.nodes;
const fullSort = (nodes: Record<string, Node>, sort: Sort) => sortNodes(Object.values(nodes), sort).map((n) => n.ip_addr);

describe('ordered', () => {
  it.each<Sort>([
    { column: 'jobs_done', desc: true },
    { column: 'ip_addr', desc: true },
    { column: 'name', desc: false },
    { column: 'avail_cpu', desc: false },
    { column: 'status', desc: true },
  ])('follows deltas to the order a full sort gives (%o)', (sort) => {
    const next = random(21);
    let state = start(2000);
    let order: Order | null = ordered(null, nodesOf(state), sort);
    let added = 2000;
    for (let d = 0; d < 150; d++) {
      // few changes (moved one by one) or many (merged in one pass)
      const size = next() < 0.7 ? 1 + Math.floor(next() * 10) : 60 + Math.floor(next() * 400);
      const changes: Record<string, NodeDelta | null> = {};
      const ips = Object.keys(nodesOf(state));
      for (let k = 0; k < size; k++) {
        const ip = ips[Math.floor(next() * ips.length)]!;
        const r = next();
        if (r < 0.1) changes[ip] = null;
        else if (r < 0.2) {
          const fresh = address(added++);
          changes[fresh] = node(fresh, { jobs_done: Math.floor(next() * 9) });
        }
        else if (r < 0.3) changes[ip] = { busy: 1 }; // its sort value unchanged (unless sorted by busy)
        else if (r < 0.5) changes[ip] = { avail_info: next() < 0.3 ? null : { cpu: Math.floor(next() * 4), memory: 1, disk: 1, swap: 0 } };
        else if (r < 0.6) changes[ip] = { name: `n${Math.floor(next() * 50)}`, status: next() < 0.5 ? 'closed' : 'initialized' };
        else changes[ip] = { jobs_done: Math.floor(next() * 9) };
      }
      const { state: after, gap } = applyDelta(state, delta(state.seq! + 1, { c: { nodes: changes } }));
      expect(gap).toBe(false);
      state = after;
      // a render may take several deltas at once
      if (next() < 0.6) {
        order = ordered(order, nodesOf(state), sort);
        expect(order.ips).toEqual(fullSort(nodesOf(state), sort));
      }
    }
  });

  it("reads only the changed nodes' sort values on a delta, not every node's", () => {
    // Each node of the snapshot counts the reads of its Jobs done (the sort column).
    let reads = 0;
    const counting = (i: number): Node => {
      const n = node(address(i));
      const value = i % 13;
      Object.defineProperty(n, 'jobs_done', { enumerable: true, get: () => (reads++, value) });
      return n;
    };
    const sort: Sort = { column: 'jobs_done', desc: true };
    const state = start(10_000, counting);
    const before = ordered(null, nodesOf(state), sort);
    expect(reads).toBeGreaterThanOrEqual(10_000);
    // five nodes change (replaced whole: the new records do not count), one of them moves
    const changes: Record<string, NodeDelta> = {};
    for (const i of [3, 50, 700, 4000, 9999]) changes[address(i)] = node(address(i), { jobs_done: i === 50 ? 99 : i % 13 });
    const after = applyDelta(state, delta(2, { c: { nodes: changes } })).state;
    reads = 0;
    const order = ordered(before, nodesOf(after), sort);
    expect(reads).toBe(0);
    expect(order.ips[0]).toBe(address(50));
    reads = 0;
    expect(order.ips).toEqual(fullSort(nodesOf(after), sort));
  });

  it('keeps the same row order (no copy) when a delta moves no row', () => {
    const sort: Sort = { column: 'ip_addr', desc: true };
    const state = start(500);
    const before = ordered(null, nodesOf(state), sort);
    const after = applyDelta(state, delta(2, { c: { nodes: { [address(7)]: { jobs_done: 40, busy: 2 } } } })).state;
    const order = ordered(before, nodesOf(after), sort);
    expect(order.ips).toBe(before.ips);
    expect(order.source).toBe(nodesOf(after));
  });

  it('sorts afresh for a snapshot, another sort, or a record that does not descend from the last', () => {
    const sort: Sort = { column: 'jobs_done', desc: false };
    const first = start(300);
    const before = ordered(null, nodesOf(first), sort);
    // a snapshot: not a delta's record
    const fresh = applySnapshot(first, snapshot(9, { c: cluster('c', [node('10.9.9.9', { jobs_done: -1 }), node('10.9.9.8')]) }));
    expect(ordered(before, nodesOf(fresh), sort).ips).toEqual(['10.9.9.9', '10.9.9.8']);
    const other: Sort = { column: 'jobs_done', desc: true };
    expect(ordered(before, nodesOf(first), other).ips).toEqual(fullSort(nodesOf(first), other));
  });

  it('keeps no more than CHAIN_STEPS records behind the newest (each link holds the one before)', () => {
    let state = start(50);
    const records = [nodesOf(state)];
    for (let d = 0; d < CHAIN_STEPS + 3; d++) {
      state = applyDelta(state, delta(state.seq! + 1, { c: { nodes: { [address(d)]: { busy: d + 1 } } } })).state;
      records.push(nodesOf(state));
    }
    const newest = records[records.length - 1]!;
    const last = records.length - 1;
    expect(changedSince(records[last - CHAIN_STEPS]!, newest)).toEqual(
      Array.from({ length: CHAIN_STEPS }, (_, i) => address(last - 1 - i)),
    );
    // the chain ends there: nothing links to an older record any more
    expect(changedSince(records[last - CHAIN_STEPS - 1]!, newest)).toBeNull();
    expect(nodeChanges.has(records[last - CHAIN_STEPS]!)).toBe(false);
    for (const old of records.slice(0, last - CHAIN_STEPS)) expect(nodeChanges.has(old)).toBe(false);
  });
});
