import { describe, expect, it } from 'vitest';
import type { TimelineAnswer, TimelineOutcome } from '../../core/protocol';
import { merge } from './data';
import { pack } from './model';
import { Packer, barId, barKey, fromWire, show, toWire, transferables } from './packer';
import type { Shown } from './packer';

const OUTCOMES: TimelineOutcome[] = ['finished', 'failed', 'cancelled', 'terminated', 'abandoned', 'running'];
const RUNNING = 5;
type Bar = [id: string, node: string, start: number, end: number | null, outcome: number, key: number | null];

function answer(start: number, end: number, bars: Bar[], clusters = ['c']): TimelineAnswer {
  const nodes = [...new Set(bars.map((b) => b[1]))];
  const sorted = [...bars].sort((a, b) => a[2] - b[2]);
  return {
    start,
    end,
    now: end,
    outcomes: OUTCOMES,
    clusters,
    nodes: nodes.map((ip) => ({ ip, cpus: 2 })),
    bars: {
      start: sorted.map((b) => b[2]),
      end: sorted.map((b) => b[3]),
      cluster: sorted.map((b) => (b[0].startsWith('x') ? clusters.length - 1 : 0)),
      node: sorted.map((b) => nodes.indexOf(b[1])),
      outcome: sorted.map((b) => b[4]),
      key: sorted.map((b) => b[5]),
      id: sorted.map((b) => b[0]),
    },
    total: bars.length,
    more: false,
    unplaced: 0,
    queued: { count: 0, created: [], cluster: [] },
  };
}

/** Each drawn bar as "id key cluster node slot start end", in packed order, read the way the page reads it. */
function drawn(s: Shown): string[] {
  const p = s.packed;
  return Array.from({ length: p.count }, (_, at) => {
    const lane = p.lane[at]!;
    return `${barId(s, at)} ${barKey(s, at) ?? '-'} ${s.meta.clusters[s.cluster[at]!]} ${p.nodes[p.laneNode[lane]!]!.ip} ${p.laneSlot[lane]} ${p.start[at]} ${p.end[at]}`;
  });
}

/** The same from the answer itself and the main thread's pack (what the page did before the worker). */
function expected(a: TimelineAnswer, extra: { ip: string; cpus: number }[] = []): string[] {
  const p = pack(a, extra);
  return Array.from({ length: p.count }, (_, at) => {
    const i = p.source[at]!;
    const lane = p.lane[at]!;
    return `${a.bars.id[i]} ${a.bars.key[i] ?? '-'} ${a.clusters[a.bars.cluster[i]!]} ${p.nodes[p.laneNode[lane]!]!.ip} ${p.laneSlot[lane]} ${p.start[at]} ${p.end[at]}`;
  });
}

const base = answer(0, 100, [
  ['old', '10.0.0.1', 10, 20, 0, 7],
  ['x-other', '10.0.0.2', 15, 40, 1, null],
  ['long-name-42', '10.0.0.1', 12, 30, 0, 9],
  ['run', '10.0.0.1', 50, null, RUNNING, 11],
], ['c', 'x']);
const fresh = answer(90, 130, [
  ['run', '10.0.0.1', 50, 120, 0, 11],
  ['new', '10.0.0.3', 110, null, RUNNING, 12],
], ['c', 'x']);

describe('Packer: the merge and the packing the worker does', () => {
  it('packs a full answer, each bar named by its packed position', () => {
    const reply = new Packer().handle({ kind: 'full', seq: 1, answer: base, known: '' });
    expect(reply.seq).toBe(1);
    expect(drawn(reply.shown!)).toEqual(expected(base));
    expect(reply.meta).toMatchObject({ start: 0, end: 100, held: 4, clusters: ['c', 'x'] });
  });

  it('merges a fresh answer into the bars it holds and packs them all', () => {
    const packer = new Packer();
    packer.handle({ kind: 'full', seq: 1, answer: base, known: '' });
    const reply = packer.handle({ kind: 'fresh', seq: 2, fresh, since: 90, keepFrom: 0, known: '' });
    expect(drawn(reply.shown!)).toEqual(expected(merge(base, fresh, 90, 0)));
    expect(drawn(reply.shown!).some((r) => r.startsWith('run 11 c 10.0.0.1 0 50 120'))).toBe(true);
    expect(reply.meta).toMatchObject({ end: 130, held: 5 });
  });

  it('sends nothing to draw for a refresh that changes nothing, but the fresh clock', () => {
    const packer = new Packer();
    packer.handle({ kind: 'full', seq: 1, answer: base, known: '' });
    const same = { ...answer(90, 110, [['run', '10.0.0.1', 50, null, RUNNING, 11]], ['c', 'x']), now: 109 };
    const reply = packer.handle({ kind: 'fresh', seq: 2, fresh: same, since: 90, keepFrom: 0, known: '' });
    expect(reply.shown).toBeNull();
    expect(reply.meta).toMatchObject({ now: 109, end: 110, held: 4 });
  });

  it('packs again when other nodes become known (idle ones get lanes)', () => {
    const packer = new Packer();
    packer.handle({ kind: 'full', seq: 1, answer: base, known: '' });
    expect(packer.handle({ kind: 'nodes', seq: 2, known: '' }).shown).toBeNull();
    const reply = packer.handle({ kind: 'nodes', seq: 3, known: '10.0.0.9 4,10.0.0.1 8' });
    const p = reply.shown!.packed;
    expect(p.nodes.map((n) => `${n.ip} ${n.slots}`)).toEqual(['10.0.0.1 8', '10.0.0.2 2', '10.0.0.9 4']);
    expect(drawn(reply.shown!)).toEqual(expected(base, [{ ip: '10.0.0.9', cpus: 4 }, { ip: '10.0.0.1', cpus: 8 }]));
  });

  it('moves every typed array it sends (distinct buffers, none kept for the next packing)', () => {
    const shown = show(base, '');
    const buffers = transferables(shown);
    expect(new Set(buffers).size).toBe(buffers.length);
    expect(buffers.length).toBe(12);
  });
});

describe('toWire / fromWire: an answer on its way to the worker', () => {
  it('comes back as it was (running bars, bars without a key, ids of any length)', () => {
    const a = answer(0, 100, [
      ['old', '10.0.0.1', 10, 20, 0, 7],
      ['', '10.0.0.2', 15, 40, 1, null],
      ['ü-long-name-42', '10.0.0.1', 12, 30, 0, 9],
      ['run', '10.0.0.1', 50, null, RUNNING, 11],
    ]);
    const { wire, transfer } = toWire(a);
    // what structuredClone (postMessage) makes of it, the buffers moved
    const received = structuredClone(wire, { transfer });
    expect(fromWire(received)).toEqual(a);
    expect(wire.start.length).toBe(0); // moved away: nothing of it stays with the page
  });

  it('is packed by the Packer as the answer itself is', () => {
    const packer = new Packer();
    const reply = packer.handle({ kind: 'full', seq: 1, answer: toWire(base).wire, known: '' });
    expect(drawn(reply.shown!)).toEqual(expected(base));
    const merged = packer.handle({ kind: 'fresh', seq: 2, fresh: toWire(fresh).wire, since: 90, keepFrom: 0, known: '' });
    expect(drawn(merged.shown!)).toEqual(expected(merge(base, fresh, 90, 0)));
  });

  it('moves seven distinct buffers', () => {
    const { transfer } = toWire(base);
    expect(new Set(transfer).size).toBe(7);
  });
});
