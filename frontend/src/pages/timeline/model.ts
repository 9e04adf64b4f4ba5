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
  // Typed arrays and counting sorts: 50,000 bars pack in a few milliseconds (a comparison
  // sort and an array per node took ~45 ms, a long task at every refresh).
  const { bars } = answer;
  const n = bars.start.length;
  const S = bars.start;
  const E = bars.end;
  // the nodes: the answer's, then the others known (idle), in IP order
  const ips = answer.nodes.map((node) => node.ip);
  const cpus = answer.nodes.map((node) => node.cpus);
  const known = new Map(ips.map((ip, k) => [ip, k]));
  for (const node of extraNodes) {
    const k = known.get(node.ip);
    if (k !== undefined) cpus[k] = Math.max(cpus[k]!, node.cpus);
    else {
      known.set(node.ip, ips.length);
      ips.push(node.ip);
      cpus.push(node.cpus);
    }
  }
  const nodeCount = ips.length;
  const rankToNode = Array.from({ length: nodeCount }, (_, k) => k).sort((a, b) => compareIpKeys(ipKey(ips[a]!), ipKey(ips[b]!)));

  // the bars in start order (the server sends them so: checked, sorted only if not)
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (S[i]! < S[i - 1]!) sorted = false;
  let byStart: Int32Array | null = null;
  if (!sorted) byStart = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => S[a]! - S[b]!);
  // counting sort by node, keeping start order
  const nodeFrom = new Int32Array(nodeCount + 1);
  for (let i = 0; i < n; i++) nodeFrom[bars.node[i]! + 1]!++;
  for (let k = 0; k < nodeCount; k++) nodeFrom[k + 1]! += nodeFrom[k]!;
  const fill = nodeFrom.slice(0, nodeCount);
  const byNode = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const i = byStart === null ? j : byStart[j]!;
    byNode[fill[bars.node[i]!]!++] = i;
  }

  const slotOf = new Int32Array(n);
  const endOf = new Float64Array(n);
  for (let i = 0; i < n; i++) endOf[i] = E[i] ?? Infinity;
  const laid: NodeLanes[] = [];
  const firstLaneOfNode = new Int32Array(nodeCount);
  let lanes = 0;
  let free = new Float64Array(MAX_SLOTS);
  for (const k of rankToNode) {
    const limit = Math.max(cpus[k]!, MAX_SLOTS);
    if (free.length < limit) free = new Float64Array(limit);
    let used = 0; // slots in use so far; free[s]: when slot s's last bar ends
    for (let j = nodeFrom[k]!; j < nodeFrom[k + 1]!; j++) {
      const i = byNode[j]!;
      const s = S[i]!;
      let slot = -1;
      for (let t = 0; t < used; t++) {
        if (free[t]! <= s) {
          slot = t;
          break;
        }
      }
      if (slot < 0) {
        if (used < limit) slot = used++;
        else {
          slot = 0; // every slot busy: the one that frees first
          for (let t = 1; t < used; t++) if (free[t]! < free[slot]!) slot = t;
        }
      }
      free[slot] = endOf[i]!;
      slotOf[i] = slot;
    }
    const slots = Math.max(cpus[k]!, used, 1);
    firstLaneOfNode[k] = lanes;
    laid.push({ ip: ips[k]!, cpus: cpus[k]!, firstLane: lanes, slots });
    lanes += slots;
  }

  const laneNode = new Int32Array(lanes);
  const laneSlot = new Int32Array(lanes);
  laid.forEach((node, r) => {
    for (let s = 0; s < node.slots; s++) {
      laneNode[node.firstLane + s] = r;
      laneSlot[node.firstLane + s] = s;
    }
  });
  // counting sort by lane; within a lane the start order of byNode holds
  const laneFrom = new Int32Array(lanes + 1);
  const laneOfBar = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = firstLaneOfNode[bars.node[i]!]! + slotOf[i]!;
    laneOfBar[i] = l;
    laneFrom[l + 1]!++;
  }
  for (let l = 0; l < lanes; l++) laneFrom[l + 1]! += laneFrom[l]!;
  const next = laneFrom.slice(0, lanes);
  const start = new Float64Array(n);
  const end = new Float64Array(n);
  const lane = new Int32Array(n);
  const outcome = new Uint8Array(n);
  const source = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const i = byNode[j]!;
    const l = laneOfBar[i]!;
    const at = next[l]!++;
    start[at] = S[i]!;
    end[at] = endOf[i]!;
    lane[at] = l;
    outcome[at] = bars.outcome[i]!;
    source[at] = i;
  }
  const reach = new Float64Array(n);
  for (let l = 0; l < lanes; l++) {
    let most = -Infinity;
    for (let at = laneFrom[l]!; at < laneFrom[l + 1]!; at++) {
      if (end[at]! > most) most = end[at]!;
      reach[at] = most;
    }
  }
  return { count: n, start, end, lane, outcome, source, reach, laneFrom, lanes, nodes: laid, laneNode, laneSlot, outcomes: answer.outcomes };
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
