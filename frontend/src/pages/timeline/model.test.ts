import { describe, expect, it } from 'vitest';
import type { TimelineAnswer, TimelineOutcome } from '../../core/protocol';

const OUTCOMES: TimelineOutcome[] = ['finished', 'failed', 'cancelled', 'terminated', 'abandoned', 'running'];
import { MAX_SLOTS, MIN_SPAN, barsInView, fetchWindow, hitTest, laneRange, pack, pan, ticks, timeToX, xToTime, zoom } from './model';

type Bar = [node: number, start: number, end: number | null, outcome?: number];

function answer(nodes: { ip: string; cpus: number }[], bars: Bar[]): TimelineAnswer {
  return {
    start: 0,
    end: 1000,
    now: 1000,
    outcomes: OUTCOMES,
    clusters: ['c'],
    nodes,
    bars: {
      start: bars.map((b) => b[1]),
      end: bars.map((b) => b[2]),
      cluster: bars.map(() => 0),
      node: bars.map((b) => b[0]),
      outcome: bars.map((b) => b[3] ?? 0),
      key: bars.map((_, i) => i + 1),
      id: bars.map((_, i) => `job-${i}`),
    },
    total: bars.length,
    more: false,
    unplaced: 0,
    queued: { count: 0, created: [], cluster: [] },
  };
}

/** Each bar's (node ip, slot), by its index in the answer. */
function slots(a: TimelineAnswer): string[] {
  const p = pack(a);
  const out: string[] = [];
  for (let at = 0; at < p.count; at++) {
    const lane = p.lane[at]!;
    out[p.source[at]!] = `${p.nodes[p.laneNode[lane]!]!.ip}#${p.laneSlot[lane]}`;
  }
  return out;
}

describe('pack: each node’s jobs in the lowest CPU slot free at their start', () => {
  it('overlapping jobs take the next slots; a job starting as one ends reuses its slot', () => {
    const a = answer([{ ip: '10.0.0.1', cpus: 2 }], [
      [0, 0, 10],
      [0, 5, 15],
      [0, 10, 20], // slot 0 is free again at 10
      [0, 16, 30], // slot 1 freed at 15
    ]);
    expect(slots(a)).toEqual(['10.0.0.1#0', '10.0.0.1#1', '10.0.0.1#0', '10.0.0.1#1']);
  });

  it('a running job holds its slot for ever; nodes keep their CPUs’ lanes, in IP order', () => {
    const a = answer(
      [
        { ip: '10.0.0.10', cpus: 1 },
        { ip: '10.0.0.9', cpus: 3 },
      ],
      [
        [0, 0, null, 5],
        [0, 100, 110], // overlaps the running job: more slots than CPUs, not drawn over it
        [1, 0, 1],
      ],
    );
    const p = pack(a);
    expect(p.nodes.map((n) => [n.ip, n.firstLane, n.slots])).toEqual([
      ['10.0.0.9', 0, 3],
      ['10.0.0.10', 3, 2],
    ]);
    expect(slots(a)).toEqual(['10.0.0.10#0', '10.0.0.10#1', '10.0.0.9#0']);
    expect(p.lanes).toBe(5);
  });

  it('past MAX_SLOTS overlapping jobs share the slot that frees first', () => {
    const bars: Bar[] = Array.from({ length: MAX_SLOTS + 1 }, (_, i) => [0, i, 1000 + i]);
    const s = slots(answer([{ ip: 'h', cpus: 1 }], bars));
    expect(new Set(s).size).toBe(MAX_SLOTS);
    expect(s[MAX_SLOTS]).toBe('h#0');
  });

  it('nodes the server did not name (idle ones) get lanes too', () => {
    const p = pack(answer([{ ip: '10.0.0.2', cpus: 1 }], [[0, 0, 1]]), [{ ip: '10.0.0.3', cpus: 4 }]);
    expect(p.nodes.map((n) => [n.ip, n.slots])).toEqual([
      ['10.0.0.2', 1],
      ['10.0.0.3', 4],
    ]);
  });
});

describe('the bars of a lane in a window', () => {
  const a = answer([{ ip: 'h', cpus: 1 }], [
    [0, 0, 10],
    [0, 10, 20],
    [0, 20, 30],
    [0, 30, null],
  ]);
  const p = pack(a);
  it('finds those that overlap it by binary search', () => {
    expect(laneRange(p, 0, 12, 18)).toEqual([1, 2]);
    expect(laneRange(p, 0, 10, 20)).toEqual([0, 3]);
    expect(laneRange(p, 0, 500, 600)).toEqual([3, 4]); // the running one reaches any time
    expect(laneRange(p, 0, -10, -5)).toEqual([0, 0]);
  });
  it('lists the jobs in view, lane by lane, up to a bound, and counts them all', () => {
    expect(barsInView(p, { start: 5, end: 25 }, 2)).toEqual({ positions: [0, 1], total: 3 });
  });
  it('names the bar under the pointer, or the nearest within a few pixels, or none', () => {
    const view = { start: 0, end: 100 };
    // 1000 px for 100 s: 10 px a second
    expect(hitTest(p, view, 1000, 10, 150, 5, 1000)).toBe(1);
    expect(hitTest(p, view, 1000, 10, 150, 15, 1000)).toBe(-1); // no lane 1
    const gap = answer([{ ip: 'h', cpus: 1 }], [[0, 0, 10], [0, 50, 60]]);
    const q = pack(gap);
    expect(hitTest(q, view, 1000, 10, 102, 5, 1000)).toBe(0); // 2 px after its end
    expect(hitTest(q, view, 1000, 10, 300, 5, 1000)).toBe(-1);
  });
});

describe('the view', () => {
  it('zooms around an anchor, which stays at the same place', () => {
    const v = { start: 100, end: 200 };
    const z = zoom(v, 0.5, 0.25);
    expect(z).toEqual({ start: 112.5, end: 162.5 });
    expect(xToTime(250, z, 1000)).toBeCloseTo(xToTime(250, v, 1000));
    expect(zoom(v, 1e-9).end - zoom(v, 1e-9).start).toBe(MIN_SPAN);
  });
  it('pans by a fraction of its width; time and pixels convert both ways', () => {
    expect(pan({ start: 0, end: 100 }, -0.25)).toEqual({ start: -25, end: 75 });
    expect(timeToX(25, { start: 0, end: 100 }, 400)).toBe(100);
    expect(xToTime(100, { start: 0, end: 100 }, 400)).toBe(25);
  });
  it('asks for a padded window on a grid, so that small pans ask nothing new', () => {
    const w = fetchWindow({ start: 1000, end: 1600 });
    expect(w.start).toBeLessThanOrEqual(400);
    expect(w.end).toBeGreaterThanOrEqual(2200);
    expect(fetchWindow({ start: 1010, end: 1610 })).toEqual(w);
  });
  it('puts ticks at round steps with room between them', () => {
    const { step, times } = ticks({ start: 0, end: 600 }, 600, 90);
    expect(step).toBe(120);
    expect(times.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(step);
  });
});
