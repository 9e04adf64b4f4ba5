// Pure helpers for a node's resources over time (the Node page's chart and
// the nodes table's sparklines): what is drawn and what is said, tested
// without a canvas. The series are the `node_resources` query's answers.
import type { NodeResources, ResourceSpan } from '../core/protocol';
import { formatBytes, formatPercent } from '../lib/format';

export interface SpanInfo {
  span: ResourceSpan;
  step: 1 | 60;
  /** the window's length in seconds (the server's rings: features/resources.py) */
  seconds: number;
  /** how far back, in words */
  words: string;
  /** the text alternative's rows: seconds per row, and the row header */
  group: number;
  groupName: 'Minute' | 'Hour';
}

export function spanInfo(span: ResourceSpan): SpanInfo {
  return span === '10m'
    ? { span, step: 1, seconds: 600, words: '10 minutes', group: 60, groupName: 'Minute' }
    : { span, step: 60, seconds: 86_400, words: '24 hours', group: 3600, groupName: 'Hour' };
}

/** The answer is a node's series (not the sparklines' map). */
export function isNodeResources(value: unknown): value is NodeResources {
  return typeof value === 'object' && value !== null && 'times' in value && 'node' in value;
}

/** What the plot draws: x (pulse times), CPU % free, swap % free, memory bytes free, disk bytes free. */
export type ResourcePlotData = [number[], (number | null)[], (number | null)[], (number | null)[], (number | null)[]];

export function plotData(r: NodeResources): ResourcePlotData {
  return [r.times, r.cpu, r.swap, r.memory, r.disk];
}

/** The x axis spans the whole window (a node that began pulsing a minute ago is a minute at the right). */
export function xRange(r: NodeResources, info: SpanInfo = spanInfo(r.span)): [number, number] {
  return [r.end + r.step - info.seconds, r.end + r.step];
}

export interface Latest {
  time: number;
  cpu: number | null;
  memory: number | null;
  disk: number | null;
  swap: number | null;
}

export function latest(r: NodeResources): Latest | null {
  const i = r.times.length - 1;
  if (i < 0) return null;
  return { time: r.times[i]!, cpu: r.cpu[i] ?? null, memory: r.memory[i] ?? null, disk: r.disk[i] ?? null, swap: r.swap[i] ?? null };
}

const orDash = (v: number | null, f: (n: number) => string) => (v === null ? '—' : f(v));

/** The chart's aria-label: the latest pulse and how many the window holds. */
export function resourceLabel(r: NodeResources | null, info: SpanInfo): string {
  const what = `CPU, memory, disk and swap free, last ${info.words}`;
  if (r === null) return `${what}: loading`;
  const l = latest(r);
  if (!l) return `${what}: ${r.note ?? 'no pulses yet'}`;
  const unit = info.step === 1 ? 'pulses' : 'minutes with pulses';
  return (
    `${what}: ${r.times.length} ${unit}; latest CPU ${orDash(l.cpu, formatPercent)}, memory ${orDash(l.memory, formatBytes)}, ` +
    `disk ${orDash(l.disk, formatBytes)}, swap ${orDash(l.swap, formatPercent)}`
  );
}

export interface ResourceRow {
  /** Unix time at which the row's minute or hour starts */
  start: number;
  /** seconds (or minutes) with a pulse in it */
  points: number;
  cpu: number | null;
  memory: number | null;
  disk: number | null;
  swap: number | null;
}

function mean(values: (number | null)[]): number | null {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (v !== null) {
      sum += v;
      n++;
    }
  }
  return n ? sum / n : null;
}

/** The text alternative: the points grouped per `size` seconds (a minute, an hour), each value the mean. */
export function perGroup(r: NodeResources, size: number): ResourceRow[] {
  const rows: ResourceRow[] = [];
  let i = 0;
  while (i < r.times.length) {
    const start = Math.floor(r.times[i]! / size) * size;
    let j = i;
    while (j < r.times.length && Math.floor(r.times[j]! / size) * size === start) j++;
    rows.push({
      start,
      points: j - i,
      cpu: mean(r.cpu.slice(i, j)),
      memory: mean(r.memory.slice(i, j)),
      disk: mean(r.disk.slice(i, j)),
      swap: mean(r.swap.slice(i, j)),
    });
    i = j;
  }
  return rows;
}
