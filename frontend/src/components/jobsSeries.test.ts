import { describe, expect, it } from 'vitest';
import type { Series } from '../core/protocol';
import { perMinute, plotData, rangeInfo } from './jobsSeries';

// The server sends only the buckets it has data for (series.py query): here
// a server 30 seconds old. The plot keeps the whole window on its x axis.
const END = 1_700_000_039;
const young: Series = { step: 1, end: END, done: Array<number>(30).fill(2), busy: Array<number>(30).fill(1.5) };

describe('chart data', () => {
  it('draws nothing (null), not zeros, for the window before the server has data', () => {
    const { buckets } = rangeInfo('recent', false);
    const [x, done, busy] = plotData(young, buckets);
    expect(x).toHaveLength(600);
    expect(x[599]).toBe(END);
    expect(x[0]).toBe(END - 599);
    expect(x.every((t, i) => i === 0 || t - x[i - 1]! === 1)).toBe(true);
    // the 570 seconds before the server started: blank
    expect(done.slice(0, 570).every((v) => v === null)).toBe(true);
    expect(busy.slice(0, 570).every((v) => v === null)).toBe(true);
    expect(done.slice(570)).toEqual(young.done);
    expect(busy.slice(570)).toEqual(young.busy);
    expect(done.filter((v) => v === 0)).toEqual([]);
  });

  it('spans the kept minutes of a node or a cluster, and a full window is drawn as it is', () => {
    const minutes: Series = { step: 60, end: 6000 * 60, done: [4, 0, 1], busy: [1, 0, 0.5] };
    const [x, done] = plotData(minutes, rangeInfo('minutes', true).buckets);
    expect(x).toHaveLength(180);
    expect(x[0]).toBe(minutes.end - 179 * 60);
    expect(done.filter((v) => v !== null)).toEqual([4, 0, 1]);
    expect(plotData(minutes, rangeInfo('minutes', false).buckets)[0]).toHaveLength(1440);

    const full: Series = { step: 1, end: END, done: Array<number>(600).fill(0), busy: Array<number>(600).fill(0) };
    const [, fullDone] = plotData(full, 600);
    expect(fullDone).toEqual(full.done); // known idle seconds stay zeros
  });

  it('has nothing to draw before any data, and the text table lists only known minutes', () => {
    const [x, done, busy] = plotData({ step: 1, end: END, done: [], busy: [] }, 600);
    expect(x).toHaveLength(600);
    expect(done.every((v) => v === null) && busy.every((v) => v === null)).toBe(true);
    // 30 seconds within one minute: one row, not ten rows of zeros
    expect(perMinute(young)).toEqual([{ start: END - 59, done: 60, busy: 1.5 }]);
  });
});
