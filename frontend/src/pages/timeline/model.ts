// The timeline's data and view math, without React or a canvas (Vitest tests them):
// packing each node's bars into CPU slots, the visible time window (zoom, pan),
// time <-> pixel, finding the bar under the pointer, and the axis' ticks.
//
// Bars live in typed arrays (50,000 bars: a few hundred KB, no object per bar),
// ordered lane by lane and, within a lane, by start, so a frame finds the bars
// of a lane in view by two binary searches.
import { compareIpKeys, ipKey } from '../../lib/ipOrder';
import type { TimelineAnswer, TimelineOutcome } from '../../core/protocol';

/** A node's lanes can grow past its CPUs (overlaps dispy reported, an unknown CPU count) up to this. */
export const MAX_SLOTS = 64;

export interface NodeLanes {
  ip: string;
  /** what the node offers now (0: unknown) */
  cpus: number;
  /** its first lane's index; its lanes are firstLane .. firstLane + slots - 1 */
  firstLane: number;
  slots: number;
}

export interface Packed {
  /** bars, in lane order (lane by lane, each by start) */
  count: number;
  start: Float64Array;
  /** +Infinity while running */
  end: Float64Array;
  lane: Int32Array;
  /** index into `outcomes` */
  outcome: Uint8Array;
  /** index into the answer's columns (id, key, cluster) */
  source: Int32Array;
  /** per bar: the largest end of the bars of its lane up to it (for the first bar that reaches a time) */
  reach: Float64Array;
  /** lane l's bars are [laneFrom[l], laneFrom[l + 1]) */
  laneFrom: Int32Array;
  lanes: number;
  nodes: NodeLanes[];
  /** the lane's node (index into `nodes`) and slot */
  laneNode: Int32Array;
  laneSlot: Int32Array;
  outcomes: readonly TimelineOutcome[];
}

/**
 * Each node's bars in the lowest slot free at their start (dispy does not say
 * which CPU ran a job), up to its CPUs; bars that overlap more than it has
 * CPUs get more slots (up to MAX_SLOTS, then the slot that frees first).
 * Nodes in IP order; a node with no bar still gets its CPUs' lanes.
 */
export function pack(answer: TimelineAnswer, extraNodes: readonly { ip: string; cpus: number }[] = []): Packed {
  const { bars } = answer;
  const n = bars.start.length;
  const byIp = new Map<string, { ip: string; cpus: number; bars: number[] }>();
  const nodeOf: { ip: string; cpus: number; bars: number[] }[] = answer.nodes.map((node) => {
    const entry = { ip: node.ip, cpus: node.cpus, bars: [] as number[] };
    byIp.set(node.ip, entry);
    return entry;
  });
  for (const node of extraNodes) {
    const found = byIp.get(node.ip);
    if (found) found.cpus = Math.max(found.cpus, node.cpus);
    else byIp.set(node.ip, { ip: node.ip, cpus: node.cpus, bars: [] });
  }
  // the server sends bars oldest start first; sort anyway (cheap when sorted) so packing is right
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => bars.start[a]! - bars.start[b]!);
  for (const i of order) nodeOf[bars.node[i]!]?.bars.push(i);

  const nodes = [...byIp.values()].sort((a, b) => compareIpKeys(ipKey(a.ip), ipKey(b.ip)));
  const slotOf = new Int32Array(n);
  const endOf = (i: number) => bars.end[i] ?? Infinity;
  const laid: NodeLanes[] = [];
  let lanes = 0;
  for (const node of nodes) {
    const free: number[] = []; // per slot: when its last bar ends
    for (const i of node.bars) {
      const s = bars.start[i]!;
      let slot = free.findIndex((f) => f <= s);
      if (slot < 0) {
        if (free.length < Math.max(node.cpus, MAX_SLOTS)) slot = free.length;
        else slot = free.indexOf(Math.min(...free));
      }
      free[slot] = endOf(i);
      slotOf[i] = slot;
    }
    const slots = Math.max(node.cpus, free.length, 1);
    laid.push({ ip: node.ip, cpus: node.cpus, firstLane: lanes, slots });
    lanes += slots;
  }

  const laneNode = new Int32Array(lanes);
  const laneSlot = new Int32Array(lanes);
  laid.forEach((node, k) => {
    for (let s = 0; s < node.slots; s++) {
      laneNode[node.firstLane + s] = k;
      laneSlot[node.firstLane + s] = s;
    }
  });
  // counting sort by lane; within a lane the start order of `nodes[].bars` holds
  const laneOfBar = new Int32Array(n);
  const laneFrom = new Int32Array(lanes + 1);
  const firstLaneOf = new Map(laid.map((node) => [node.ip, node.firstLane]));
  for (const node of nodes) {
    const first = firstLaneOf.get(node.ip)!;
    for (const i of node.bars) {
      laneOfBar[i] = first + slotOf[i]!;
      laneFrom[laneOfBar[i]! + 1]!++;
    }
  }
  for (let l = 0; l < lanes; l++) laneFrom[l + 1]! += laneFrom[l]!;
  const next = laneFrom.slice(0, lanes);
  const start = new Float64Array(n);
  const end = new Float64Array(n);
  const lane = new Int32Array(n);
  const outcome = new Uint8Array(n);
  const source = new Int32Array(n);
  for (const node of nodes) {
    for (const i of node.bars) {
      const l = laneOfBar[i]!;
      const at = next[l]!++;
      start[at] = bars.start[i]!;
      end[at] = endOf(i);
      lane[at] = l;
      outcome[at] = bars.outcome[i]!;
      source[at] = i;
    }
  }
  const reach = new Float64Array(n);
  for (let l = 0; l < lanes; l++) {
    let most = -Infinity;
    for (let at = laneFrom[l]!; at < laneFrom[l + 1]!; at++) {
      most = Math.max(most, end[at]!);
      reach[at] = most;
    }
  }
  const counted = laneFrom[lanes] ?? 0;
  return { count: counted, start, end, lane, outcome, source, reach, laneFrom, lanes, nodes: laid, laneNode, laneSlot, outcomes: answer.outcomes };
}

/** Lane `l`'s bars that overlap [t0, t1]: positions [from, to). */
export function laneRange(p: Packed, l: number, t0: number, t1: number): [number, number] {
  let lo = p.laneFrom[l]!;
  let hi = p.laneFrom[l + 1]!;
  const last = hi;
  // first bar whose lane reach (largest end so far) gets to t0
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (p.reach[mid]! < t0) lo = mid + 1;
    else hi = mid;
  }
  const from = lo;
  hi = last;
  // first bar that starts after t1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (p.start[mid]! <= t1) lo = mid + 1;
    else hi = mid;
  }
  return [from, lo];
}

// -- the view -------------------------------------------------------------------

export interface View {
  start: number;
  end: number;
}

/** The narrowest and the widest window (seconds). */
export const MIN_SPAN = 0.5;
export const MAX_SPAN = 30 * 86_400;

/** `view` zoomed by `factor` (< 1: in) keeping the time at `anchor` (0 left edge … 1 right edge) in place. */
export function zoom(view: View, factor: number, anchor = 0.5): View {
  const span = view.end - view.start;
  const next = Math.min(MAX_SPAN, Math.max(MIN_SPAN, span * factor));
  const at = view.start + span * anchor;
  const start = at - next * anchor;
  return { start, end: start + next };
}

/** `view` moved by `fraction` of its width (> 0: later). */
export function pan(view: View, fraction: number): View {
  const shift = (view.end - view.start) * fraction;
  return { start: view.start + shift, end: view.end + shift };
}

/** `view` moved by `seconds`. */
export function shift(view: View, seconds: number): View {
  return { start: view.start + seconds, end: view.end + seconds };
}

export function timeToX(t: number, view: View, width: number): number {
  return ((t - view.start) / (view.end - view.start)) * width;
}

export function xToTime(x: number, view: View, width: number): number {
  return view.start + (x / width) * (view.end - view.start);
}

/**
 * The bar at (x, y) of the plot (x from the plot's left edge, y from its top),
 * or -1: the one under the pointer, else the nearest within `slop` pixels
 * (a bar narrower than a pixel can still be pointed at).
 */
export function hitTest(p: Packed, view: View, width: number, laneHeight: number, x: number, y: number, now: number, slop = 3): number {
  const l = Math.floor(y / laneHeight);
  if (l < 0 || l >= p.lanes || x < 0 || x > width) return -1;
  const perPx = (view.end - view.start) / width;
  const t = xToTime(x, view, width);
  const [from, to] = laneRange(p, l, t - slop * perPx, t + slop * perPx);
  let best = -1;
  let bestDistance = Infinity;
  for (let at = from; at < to; at++) {
    const s = p.start[at]!;
    const e = Math.min(p.end[at]!, now);
    const distance = t < s ? s - t : t > e ? t - e : 0;
    if (distance < bestDistance || (distance === 0 && bestDistance === 0)) {
      best = at;
      bestDistance = distance;
    }
  }
  return bestDistance <= slop * perPx ? best : -1;
}

/** The bars in `view`, lane by lane (node, slot), each by start: at most `max` positions, and how many in all. */
export function barsInView(p: Packed, view: View, max: number): { positions: number[]; total: number } {
  const positions: number[] = [];
  let total = 0;
  for (let l = 0; l < p.lanes; l++) {
    const [from, to] = laneRange(p, l, view.start, view.end);
    total += to - from;
    for (let at = from; at < to && positions.length < max; at++) positions.push(at);
  }
  return { positions, total };
}

const STEPS = [
  0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800,
  604_800,
];

/** Times for the axis' ticks: a round step that leaves about `minPx` pixels between ticks. */
export function ticks(view: View, width: number, minPx = 90): { step: number; times: number[] } {
  const span = view.end - view.start;
  const wanted = (span * minPx) / Math.max(width, 1);
  const step = STEPS.find((s) => s >= wanted) ?? Math.ceil(wanted / 86_400) * 86_400;
  // whole steps of local time (an hour's ticks on the hour where the zone allows)
  const offset = new Date(view.start * 1000).getTimezoneOffset() * 60;
  const first = Math.ceil((view.start - offset) / step) * step + offset;
  const times: number[] = [];
  for (let t = first; t <= view.end && times.length < 200; t += step) times.push(t);
  return { step, times };
}

/** A tick's label: the time of day to the step's precision, with the date on day steps. */
export function tickLabel(t: number, step: number): string {
  const d = new Date(t * 1000);
  const pad = (v: number) => String(v).padStart(2, '0');
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (step >= 86_400) return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (step >= 60) return hm;
  if (step >= 1) return `${hm}:${pad(d.getSeconds())}`;
  return `${hm}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0').slice(0, 1)}`;
}

/** The window to ask the server for: the view with one span on each side, on a grid of a quarter span (small pans ask nothing new). */
export function fetchWindow(view: View): View {
  const span = view.end - view.start;
  const grid = Math.max(span / 4, 1);
  return { start: Math.floor((view.start - span) / grid) * grid, end: Math.ceil((view.end + span) / grid) * grid };
}
