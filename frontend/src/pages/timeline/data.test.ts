import { describe, expect, it } from 'vitest';
import type { TimelineAnswer, TimelineOutcome } from '../../core/protocol';
import { keepFrom, merge, unchanged } from './data';
import { fetchWindow } from './model';

const OUTCOMES: TimelineOutcome[] = ['finished', 'failed', 'cancelled', 'terminated', 'abandoned', 'running'];
const RUNNING = 5;

type Bar = [id: string, node: string, start: number, end: number | null, outcome: number];

const keys = new Map<string, number>();
/** One key per job id, the same in every answer. */
const keyOf = (id: string) => keys.get(id) ?? keys.set(id, keys.size + 1).get(id)!;

function answer(start: number, end: number, bars: Bar[], queued: number[] = [], count = queued.length): TimelineAnswer {
  const nodes = [...new Set(bars.map((b) => b[1]))];
  const sorted = [...bars].sort((a, b) => a[2] - b[2]);
  return {
    start,
    end,
    now: end,
    outcomes: OUTCOMES,
    clusters: ['c'],
    nodes: nodes.map((ip) => ({ ip, cpus: 2 })),
    bars: {
      start: sorted.map((b) => b[2]),
      end: sorted.map((b) => b[3]),
      cluster: sorted.map(() => 0),
      node: sorted.map((b) => nodes.indexOf(b[1])),
      outcome: sorted.map((b) => b[4]),
      key: sorted.map((b) => keyOf(b[0])),
      id: sorted.map((b) => b[0]),
    },
    total: bars.length,
    more: false,
    unplaced: 0,
    queued: { count, created: queued, cluster: queued.map(() => 0) },
  };
}

/** "id node start end outcome" per bar, in the answer's order. */
function flat(a: TimelineAnswer): string[] {
  return a.bars.id.map((id, i) => `${id} ${a.nodes[a.bars.node[i]!]!.ip} ${a.bars.start[i]} ${a.bars.end[i]} ${a.outcomes[a.bars.outcome[i]!]}`);
}

describe('merge: a full answer brought up to date by a fresh one', () => {
  const base = answer(0, 100, [
    ['old', 'a', 10, 20, 0],
    ['ended-late', 'b', 30, 95, 1],
    ['was-running', 'a', 50, null, RUNNING],
  ]);
  // the fresh answer for [90, 130]: the running job ended, a new one runs on a new node
  const fresh = answer(90, 130, [
    ['ended-late', 'b', 30, 95, 1],
    ['was-running', 'a', 50, 120, 0],
    ['new', 'c', 110, null, RUNNING],
  ]);
  const merged = merge(base, fresh, 90, 0);

  it('keeps what ended before `since`, takes the rest from the fresh answer, in start order', () => {
    expect(flat(merged)).toEqual(['old a 10 20 finished', 'ended-late b 30 95 failed', 'was-running a 50 120 finished', 'new c 110 null running']);
    expect([merged.start, merged.end, merged.total]).toEqual([0, 130, 4]);
  });

  it('drops what ended before `keepFrom` (the page holds its window, no more)', () => {
    expect(flat(merge(base, fresh, 90, 25)).map((r) => r.split(' ')[0])).toEqual(['ended-late', 'was-running', 'new']);
  });

  it('keeps older queued marks only while as many jobs are still queued', () => {
    const q = answer(0, 100, [], [10, 20, 30], 3);
    // one left the queue (the oldest), one came at 95
    expect(merge(q, answer(90, 130, [], [95], 3), 90, 0).queued.created).toEqual([20, 30, 95]);
    expect(merge(q, answer(90, 130, [], [], 0), 90, 0).queued.created).toEqual([]);
  });
});

describe('unchanged: a refresh that brings nothing new', () => {
  const base = answer(0, 100, [
    ['old', 'a', 10, 20, 0],
    ['run', 'a', 50, null, RUNNING],
  ]);
  it('is told from one with an end, a new bar or a new queued job', () => {
    expect(unchanged(base, answer(90, 100, [['run', 'a', 50, null, RUNNING]]), 90)).toBe(true);
    expect(unchanged(base, answer(90, 100, [['run', 'a', 50, 95, 0]]), 90)).toBe(false);
    expect(unchanged(base, answer(90, 100, [['run', 'a', 50, null, RUNNING], ['new', 'b', 96, null, RUNNING]]), 90)).toBe(false);
    expect(unchanged(base, answer(90, 100, [['run', 'a', 50, null, RUNNING]], [95]), 90)).toBe(false);
  });
});

describe('unchanged, when the window reaches further', () => {
  it('is still unchanged if no bar is there', () => {
    const base = answer(0, 100, [['old', 'a', 10, 20, 0]]);
    expect(unchanged(base, answer(90, 160, []), 90)).toBe(true);
    expect(unchanged(base, answer(90, 160, [['later', 'a', 120, 130, 0]]), 90)).toBe(false);
  });
});

describe('keepFrom: what a refresh keeps of the full answer', () => {
  // a full answer for the view [100, 200]'s window, [0, 300]
  const view = { start: 100, end: 200 };
  const want = fetchWindow(view);
  const full = answer(want.start, want.end, [
    ['early', 'a', 10, 20, 0],
    ['middle', 'a', 150, 160, 0],
    ['run', 'b', 280, null, RUNNING],
  ]);
  const span = want.end - want.start;

  it('keeps the full window while the view is zoomed in: zoomed out again, it asks for nothing new', () => {
    const zoomed = fetchWindow({ start: 145, end: 155 });
    expect(zoomed.start).toBeGreaterThan(20); // the zoomed view's own window no longer has 'early'
    const refresh = answer(290, want.end, [['run', 'b', 280, 295, 0]]);
    const merged = merge(full, refresh, 290, keepFrom(zoomed.start, want.end, span));
    expect(flat(merged).map((r) => r.split(' ')[0])).toEqual(['early', 'middle', 'run']);
    // the page asks for a full answer when the view's window starts before what it holds (TimelinePage `ask`)
    expect(fetchWindow(view).start).toBeGreaterThanOrEqual(merged.start);
  });

  it('drops bars more than two windows older than the refresh (a page following now for hours)', () => {
    const later = 5000;
    const following = fetchWindow({ start: later - 100, end: later });
    const refresh = answer(later - 10, following.end, [['now', 'b', later - 5, null, RUNNING]]);
    const merged = merge(full, refresh, later - 10, keepFrom(following.start, following.end, span));
    expect(merged.start).toBe(following.end - 2 * span);
    expect(flat(merged).map((r) => r.split(' ')[0])).toEqual(['now']);
  });
});
