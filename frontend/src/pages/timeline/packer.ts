// The timeline's merge and packing, off the main thread (issue 19's benchmark).
//
// With a live cluster every refresh merges the fresh bars into the ones the page
// holds (data.ts `merge`) and packs all of them into lanes again (model.ts `pack`):
// 50,000 bars took 15-80 ms and 20-50 ms on this shared machine, long tasks
// between the frames of a zoom or a pan. A `Packer` holds the page's answer and
// does both; packer.worker.ts runs one in a Web Worker, so the main thread only
// draws. What it sends back is typed arrays (moved, not copied) and, for the few
// bars a tooltip, the table or a click names, their ids as one string.
import type { TimelineAnswer } from '../../core/protocol';
import { merge, unchanged } from './data';
import { pack } from './model';
import type { Packed } from './model';

/** The answer without its bars: what the page's questions and its status line need. */
export type Meta = Omit<TimelineAnswer, 'bars'> & { /** bars held (drawn) */ held: number };

/** What the page draws and names: the packed bars and, by packed position, each bar's job. */
export interface Shown {
  packed: Packed;
  meta: Meta;
  /** bar at's id is ids.slice(idFrom[at], idFrom[at + 1]) */
  ids: string;
  idFrom: Int32Array;
  /** the job page's key; NaN: none */
  key: Float64Array;
  /** index into meta.clusters */
  cluster: Int32Array;
}

/** The chosen clusters' nodes, "ip cpus,…" (idle ones get their lanes too). */
export type Known = string;

export type PackerRequest =
  | { kind: 'full'; seq: number; answer: TimelineAnswer | WireAnswer; known: Known }
  | { kind: 'fresh'; seq: number; fresh: TimelineAnswer | WireAnswer; since: number; keepFrom: number; known: Known }
  | { kind: 'nodes'; seq: number; known: Known };

/**
 * An answer on its way to the worker: its bars as typed arrays and one string. Posting the
 * answer as it came (seven arrays of 50,000 numbers and strings) cost a structured clone of
 * 25-170 ms on the main thread (the live cluster's long tasks, docs/benchmarks.md "Timeline");
 * this is a few milliseconds to build, and its buffers are moved, not copied.
 */
export interface WireAnswer {
  wire: true;
  rest: Omit<TimelineAnswer, 'bars'>;
  start: Float64Array;
  /** NaN: running */
  end: Float64Array;
  cluster: Int32Array;
  node: Int32Array;
  outcome: Int32Array;
  /** NaN: none */
  key: Float64Array;
  /** bar i's id is ids.slice(idFrom[i], idFrom[i + 1]) */
  ids: string;
  idFrom: Int32Array;
}

/** `answer` as a WireAnswer, and the buffers to move with it. */
export function toWire(answer: TimelineAnswer): { wire: WireAnswer; transfer: ArrayBuffer[] } {
  const { bars, ...rest } = answer;
  const n = bars.start.length;
  const wire: WireAnswer = {
    wire: true,
    rest,
    start: Float64Array.from(bars.start),
    end: new Float64Array(n),
    cluster: Int32Array.from(bars.cluster),
    node: Int32Array.from(bars.node),
    outcome: Int32Array.from(bars.outcome),
    key: new Float64Array(n),
    ids: bars.id.join(''),
    idFrom: new Int32Array(n + 1),
  };
  let length = 0;
  for (let i = 0; i < n; i++) {
    wire.end[i] = bars.end[i] ?? NaN;
    wire.key[i] = bars.key[i] ?? NaN;
    length += bars.id[i]!.length;
    wire.idFrom[i + 1] = length;
  }
  const transfer = [wire.start, wire.end, wire.cluster, wire.node, wire.outcome, wire.key, wire.idFrom].map((a) => a.buffer as ArrayBuffer);
  return { wire, transfer };
}

/** The answer a WireAnswer carries (in the worker), as it came from the server. */
export function fromWire(answer: TimelineAnswer | WireAnswer): TimelineAnswer {
  if (!('wire' in answer)) return answer;
  const w = answer;
  const n = w.start.length;
  const end: (number | null)[] = new Array<number | null>(n);
  const key: (number | null)[] = new Array<number | null>(n);
  const id: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const e = w.end[i]!;
    end[i] = Number.isNaN(e) ? null : e;
    const k = w.key[i]!;
    key[i] = Number.isNaN(k) ? null : k;
    id[i] = w.ids.slice(w.idFrom[i]!, w.idFrom[i + 1]!);
  }
  const bars = { start: Array.from(w.start), end, cluster: Array.from(w.cluster), node: Array.from(w.node), outcome: Array.from(w.outcome), key, id };
  return { ...w.rest, bars };
}

/** shown null: nothing to draw anew (the answer held is as it was; meta has the fresh clock) */
export interface PackerReply {
  seq: number;
  shown: Shown | null;
  meta: Meta | null;
  /** the request failed (a bug): what it threw */
  error?: string;
}

function metaOf(answer: TimelineAnswer): Meta {
  const { bars, ...rest } = answer;
  return { ...rest, held: bars.start.length };
}

function parseKnown(known: Known): { ip: string; cpus: number }[] {
  if (!known) return [];
  return known.split(',').map((entry) => {
    const [ip = '', cpus = '0'] = entry.split(' ');
    return { ip, cpus: Number(cpus) };
  });
}

/** `answer` packed, with each packed bar's job (id, key, cluster) by position. */
export function show(answer: TimelineAnswer, known: Known): Shown {
  const packed = pack(answer, parseKnown(known));
  const n = packed.count;
  const { id, key, cluster } = answer.bars;
  const idFrom = new Int32Array(n + 1);
  const keys = new Float64Array(n);
  const clusters = new Int32Array(n);
  const parts: string[] = new Array<string>(n);
  let length = 0;
  for (let at = 0; at < n; at++) {
    const i = packed.source[at]!;
    const name = id[i] ?? '';
    parts[at] = name;
    length += name.length;
    idFrom[at + 1] = length;
    keys[at] = key[i] ?? NaN;
    clusters[at] = cluster[i] ?? 0;
  }
  return { packed, meta: metaOf(answer), ids: parts.join(''), idFrom, key: keys, cluster: clusters };
}

/** The typed arrays of `shown`, to move to the main thread instead of copying them. */
export function transferables(shown: Shown): ArrayBuffer[] {
  const p = shown.packed;
  return [p.start, p.end, p.lane, p.outcome, p.source, p.reach, p.laneFrom, p.laneNode, p.laneSlot, shown.idFrom, shown.key, shown.cluster].map(
    (a) => a.buffer as ArrayBuffer,
  );
}

export function barId(shown: Shown, at: number): string {
  return shown.ids.slice(shown.idFrom[at]!, shown.idFrom[at + 1]!);
}

export function barKey(shown: Shown, at: number): number | undefined {
  const key = shown.key[at]!;
  return Number.isNaN(key) ? undefined : key;
}

/** Holds the page's answer (one cluster or node at a time: a full answer replaces it) and packs it. */
export class Packer {
  private held: TimelineAnswer | null = null;
  private known: Known = '';

  handle(request: PackerRequest): PackerReply {
    const { seq } = request;
    const knownChanged = request.known !== this.known;
    this.known = request.known;
    if (request.kind === 'full') {
      this.held = fromWire(request.answer);
    } else if (request.kind === 'fresh') {
      const { since, keepFrom } = request;
      const fresh = fromWire(request.fresh);
      const base = this.held;
      if (base === null) this.held = fresh;
      else if (unchanged(base, fresh, since)) {
        this.held = { ...base, now: fresh.now, end: Math.max(base.end, fresh.end) };
        if (!knownChanged) return { seq, shown: null, meta: metaOf(this.held) };
      } else this.held = merge(base, fresh, since, keepFrom);
    } else if (this.held === null || !knownChanged) return { seq, shown: null, meta: this.held === null ? null : metaOf(this.held) };
    const shown = show(this.held, this.known);
    return { seq, shown, meta: shown.meta };
  }
}
