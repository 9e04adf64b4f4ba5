// Pure helpers for the jobs chart: what the accessible label and the text
// alternative say about a `series` answer (tested without a canvas).
import type { Series } from '../core/protocol';

/** The chart's x values: the Unix time at which each bucket starts. */
export function bucketTimes(series: Series): number[] {
  const n = series.done.length;
  return series.done.map((_, i) => series.end - (n - 1 - i) * series.step);
}

const round1 = (v: number) => String(Math.round(v * 10) / 10);

export interface Latest {
  /** jobs done in the last complete second (the current one is still filling) */
  done: number;
  /** busy CPUs at the latest sample */
  busy: number;
  /** jobs done over the whole window */
  total: number;
}

export function latest(series: Series): Latest | null {
  const n = series.done.length;
  if (n === 0) return null;
  return {
    done: series.done[n >= 2 ? n - 2 : n - 1] ?? 0,
    busy: series.busy[series.busy.length - 1] ?? 0,
    total: series.done.reduce((a, b) => a + b, 0),
  };
}

/** What the chart shows: the last 10 minutes by second, or the kept minutes (kept across restarts with --history-db). */
export type Range = 'recent' | 'minutes';

export interface RangeInfo {
  step: 1 | 60;
  /** the window's length in buckets (the server's ring: series.py) */
  buckets: number;
  /** the unit of the jobs-done figures */
  unit: 'second' | 'minute';
  /** how far back, in words */
  span: string;
  /** the text alternative's rows: seconds per row, and the row header */
  group: number;
  groupName: 'Minute' | 'Hour';
}

/** A cluster keeps 24 hours of minutes on the server, a node 3 (series.py). */
export function rangeInfo(range: Range, node: boolean): RangeInfo {
  if (range === 'recent') return { step: 1, buckets: 600, unit: 'second', span: '10 minutes', group: 60, groupName: 'Minute' };
  return { step: 60, buckets: node ? 180 : 1440, unit: 'minute', span: node ? '3 hours' : '24 hours', group: 3600, groupName: 'Hour' };
}

/** What the plot draws: x (bucket start times), jobs done, busy CPUs. */
export type PlotData = [number[], (number | null)[], (number | null)[]];

/**
 * The whole window on the x axis, with null (drawn as nothing) for the
 * buckets before the server's data begins: the server leaves out what it
 * does not know (before it started, before the cluster was attached), and
 * that must read as a blank, not as ten minutes of idle zeros.
 */
export function plotData(series: Series, buckets: number): PlotData {
  const known = series.done.length;
  const missing = Math.max(0, buckets - known);
  const times: number[] = [];
  for (let i = 0; i < missing + known; i++) times.push(series.end - (missing + known - 1 - i) * series.step);
  const blank: null[] = Array<null>(missing).fill(null);
  return [times, [...blank, ...series.done], [...blank, ...series.busy]];
}

const RECENT = rangeInfo('recent', false);

/** The chart's aria-label: what someone who cannot see it needs at a glance. */
export function chartLabel(series: Series | null, info: RangeInfo = RECENT): string {
  const l = series ? latest(series) : null;
  if (!l) return `Jobs done per ${info.unit} and busy CPUs, last ${info.span}: no data yet`;
  return `Jobs done per ${info.unit}, last ${info.span}: latest ${l.done} (${l.total} in all); busy CPUs: latest ${round1(l.busy)}`;
}

export interface MinuteRow {
  /** Unix time at which the minute starts */
  start: number;
  done: number;
  /** mean busy CPUs over the minute's samples */
  busy: number;
}

/** The text alternative: the window summed per minute, oldest first (10 rows instead of 600). */
export function perMinute(series: Series): MinuteRow[] {
  return perGroup(series, 60);
}

/** The window summed per `size` seconds (a minute, an hour), oldest first; busy is the mean. */
export function perGroup(series: Series, size: number): MinuteRow[] {
  const times = bucketTimes(series);
  const rows: MinuteRow[] = [];
  let current: { start: number; done: number; busySum: number; samples: number } | null = null;
  times.forEach((t, i) => {
    const start = Math.floor(t / size) * size;
    if (!current || current.start !== start) {
      if (current) rows.push({ start: current.start, done: current.done, busy: current.busySum / current.samples });
      current = { start, done: 0, busySum: 0, samples: 0 };
    }
    current.done += series.done[i] ?? 0;
    current.busySum += series.busy[i] ?? 0;
    current.samples += 1;
  });
  const last = current as { start: number; done: number; busySum: number; samples: number } | null;
  if (last) rows.push({ start: last.start, done: last.done, busy: last.busySum / last.samples });
  return rows;
}

export { round1 };
