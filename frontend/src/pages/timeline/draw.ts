// Drawing the timeline on a canvas: one frame from the packed bars and the view.
// Called from requestAnimationFrame only when something changed (TimelineCanvas).
//
// 50,000 bars in view cost a few milliseconds: a lane's bars in view are found
// by binary search (model.laneRange), neighbours of one colour that meet within
// a pixel are merged into one rectangle (a zoomed-out lane of thousands of bars
// becomes a few hundred rectangles), and each colour is one path, filled once.
import type { Packed, View } from './model';
import { laneRange, tickLabel, ticks, timeToX } from './model';

export interface Palette {
  /** one fill per outcome index (TIMELINE_OUTCOMES order) */
  fills: string[];
  /** their opacity (the lighter shade tells cancelled from terminated, abandoned from failed) */
  alphas: number[];
  text: string;
  muted: string;
  border: string;
  bg: string;
  accent: string;
}

// finished, failed, cancelled, terminated, abandoned, running: the History page's colours
// (failed and abandoned in the error colour, cancelled and terminated in the warning
// colour), finished in the "live" green, running in the accent blue.
const VARS = ['--live', '--error', '--warn', '--warn', '--error', '--accent'];
export const ALPHAS = [1, 1, 0.55, 1, 0.55, 1];

/** The palette of the page's theme now (CSS variables of theme.css / styles.css). */
export function readPalette(el: Element): Palette {
  const css = getComputedStyle(el);
  const get = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    fills: VARS.map((v) => get(v, '#888')),
    alphas: ALPHAS,
    text: get('--text', '#1b1f24'),
    muted: get('--muted', '#5b6470'),
    border: get('--border', '#d5dae1'),
    bg: get('--surface', '#ffffff'),
    accent: get('--accent', '#1f6feb'),
  };
}

export interface Layout {
  /** CSS pixels */
  width: number;
  height: number;
  /** left column of node names */
  gutter: number;
  /** the time axis at the top, and the queued strip under it */
  axis: number;
  queuedStrip: number;
  laneHeight: number;
}

export function plotTop(layout: Layout): number {
  return layout.axis + layout.queuedStrip;
}

export interface Frame {
  packed: Packed | null;
  view: View;
  now: number;
  /** submit times of queued jobs to mark */
  queued: readonly number[];
  /** position of the bar under the pointer, or -1 */
  hover: number;
}

export function draw(ctx: CanvasRenderingContext2D, layout: Layout, frame: Frame, palette: Palette, dpr: number): void {
  const { width, height, gutter, laneHeight } = layout;
  const { packed: p, view, now } = frame;
  const plotW = Math.max(1, width - gutter);
  const top = plotTop(layout);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';

  // the axis: ticks and their labels
  const { step, times } = ticks(view, plotW);
  ctx.fillStyle = palette.muted;
  ctx.strokeStyle = palette.border;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (const t of times) {
    const x = Math.round(gutter + timeToX(t, view, plotW)) + 0.5;
    ctx.moveTo(x, layout.axis - 4);
    ctx.lineTo(x, height);
  }
  ctx.stroke();
  ctx.textAlign = 'center';
  for (const t of times) ctx.fillText(tickLabel(t, step), gutter + timeToX(t, view, plotW), layout.axis / 2);

  // queued jobs: a mark at each submit time
  if (layout.queuedStrip > 0) {
    ctx.textAlign = 'left';
    ctx.fillStyle = palette.muted;
    ctx.fillText('queued', 4, layout.axis + layout.queuedStrip / 2);
    ctx.fillStyle = palette.accent;
    for (const t of frame.queued) {
      const x = gutter + timeToX(t, view, plotW);
      if (x >= gutter && x <= width) ctx.fillRect(x - 0.5, layout.axis + 2, 1.5, layout.queuedStrip - 4);
    }
  }
  if (p === null) return;

  // node names and the lines between nodes
  ctx.textAlign = 'left';
  ctx.fillStyle = palette.text;
  ctx.strokeStyle = palette.border;
  ctx.beginPath();
  for (const node of p.nodes) {
    const y = top + node.firstLane * laneHeight;
    ctx.moveTo(0, Math.round(y) + 0.5);
    ctx.lineTo(width, Math.round(y) + 0.5);
    const h = node.slots * laneHeight;
    if (h >= 10) ctx.fillText(node.ip, 4, y + Math.min(h, 18) / 2, gutter - 8);
  }
  ctx.stroke();

  // the bars: per colour one path of merged rectangles
  const colours = palette.fills.length;
  const paths = Array.from({ length: colours }, () => new Path2D());
  const runFrom = new Float64Array(colours);
  const runTo = new Float64Array(colours).fill(-Infinity);
  const gap = laneHeight >= 6 ? 1 : 0;
  const barH = Math.max(1, laneHeight - gap);
  const perPx = (view.end - view.start) / plotW;
  const t0 = view.start - perPx;
  const t1 = view.end + perPx;
  const scale = plotW / (view.end - view.start);
  for (let l = 0; l < p.lanes; l++) {
    const y = top + l * laneHeight + gap / 2;
    if (y > height) break;
    const [from, to] = laneRange(p, l, t0, t1);
    for (let at = from; at < to; at++) {
      const c = p.outcome[at]!;
      let x0 = (p.start[at]! - view.start) * scale;
      let x1 = (Math.min(p.end[at]!, now) - view.start) * scale;
      if (x0 < -1) x0 = -1;
      if (x1 > plotW + 1) x1 = plotW + 1;
      if (x1 - x0 < 1) x1 = x0 + 1; // every bar at least a pixel wide
      if (x0 <= runTo[c]! + 0.5) {
        if (x1 > runTo[c]!) runTo[c] = x1;
      } else {
        if (runTo[c]! > -Infinity) paths[c]!.rect(gutter + runFrom[c]!, y, runTo[c]! - runFrom[c]!, barH);
        runFrom[c] = x0;
        runTo[c] = x1;
      }
    }
    for (let c = 0; c < colours; c++) {
      if (runTo[c]! > -Infinity) paths[c]!.rect(gutter + runFrom[c]!, y, runTo[c]! - runFrom[c]!, barH);
      runTo[c] = -Infinity;
    }
  }
  ctx.save();
  ctx.beginPath();
  ctx.rect(gutter, top, plotW, height - top);
  ctx.clip();
  for (let c = 0; c < colours; c++) {
    ctx.globalAlpha = palette.alphas[c] ?? 1;
    ctx.fillStyle = palette.fills[c]!;
    ctx.fill(paths[c]!);
  }
  ctx.globalAlpha = 1;

  // now, and the bar under the pointer
  const xNow = gutter + timeToX(now, view, plotW);
  if (xNow >= gutter && xNow <= width) {
    ctx.fillStyle = palette.accent;
    ctx.fillRect(Math.round(xNow) - 1, top, 2, height - top);
  }
  if (frame.hover >= 0 && frame.hover < p.count) {
    const at = frame.hover;
    const x0 = Math.max(gutter + timeToX(p.start[at]!, view, plotW), gutter - 2);
    const x1 = Math.min(gutter + timeToX(Math.min(p.end[at]!, now), view, plotW), width + 2);
    ctx.strokeStyle = palette.text;
    ctx.lineWidth = 2;
    ctx.strokeRect(x0 - 1, top + p.lane[at]! * laneHeight, Math.max(x1 - x0, 1) + 2, laneHeight);
  }
  ctx.restore();
}
