// Drawing the timeline on a canvas: one frame from the packed bars and the view.
// Called from requestAnimationFrame only when something changed (TimelineCanvas).
//
// 50,000 bars in view cost a few milliseconds: a lane's bars in view are found
// by binary search (model.laneRange) and written as pixels (see `draw`).
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

// -- pixels -----------------------------------------------------------------------

let image: ImageData | null = null; // reused while the plot keeps its size

function imageFor(ctx: CanvasRenderingContext2D, width: number, height: number): ImageData {
  if (image === null || image.width !== width || image.height !== height) image = ctx.createImageData(width, height);
  return image;
}

const rgbaCache = new Map<string, [number, number, number, number]>();
let probe: CanvasRenderingContext2D | null = null;

/** Any CSS colour as [r, g, b, a] (0–255), read back from a 1×1 canvas. */
export function rgba(colour: string): [number, number, number, number] {
  let found = rgbaCache.get(colour);
  if (found) return found;
  probe ??= document.createElement('canvas').getContext('2d', { willReadFrequently: true });
  if (probe === null) return [128, 128, 128, 255];
  probe.clearRect(0, 0, 1, 1);
  probe.fillStyle = '#000';
  probe.fillStyle = colour;
  probe.fillRect(0, 0, 1, 1);
  const d = probe.getImageData(0, 0, 1, 1).data;
  found = [d[0]!, d[1]!, d[2]!, d[3]!];
  if (rgbaCache.size > 64) rgbaCache.clear();
  rgbaCache.set(colour, found);
  return found;
}

/** A pixel of an ImageData's Uint32 view (little-endian: ABGR). */
function pack32([r, g, b, a]: [number, number, number, number]): number {
  return ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

function packColour(colour: string): number {
  const [r, g, b, a] = rgba(colour);
  return pack32([r, g, b, a === 0 ? 0 : 255]);
}

/** `fill` at `alpha` over `bg`, opaque. */
function blend(fill: string, bg: string, alpha: number): number {
  const f = rgba(fill);
  const b = rgba(bg);
  const mix = (i: number) => Math.round(f[i]! * alpha + b[i]! * (1 - alpha));
  return pack32([mix(0), mix(1), mix(2), 255]);
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
  /** the rows of the plot on screen (CSS px from its top): the bars are drawn there only */
  visible: [number, number];
  /**
   * The canvas is only as tall as the window (a plot of 800 lanes is 1,638 px: a canvas that tall
   * cost its whole bitmap on every frame, profiled: docs/benchmarks.md "Timeline"), and stays in
   * view as the page scrolls: it shows the plot's rows [offset, offset + canvasHeight] (CSS px).
   */
  offset: number;
  canvasHeight: number;
}

export function draw(ctx: CanvasRenderingContext2D, layout: Layout, frame: Frame, palette: Palette, dpr: number): void {
  const { width, height, gutter, laneHeight } = layout;
  const { packed: p, view, now } = frame;
  const plotW = Math.max(1, width - gutter);
  const top = plotTop(layout);
  // drawn in the plot's coordinates, moved up by the rows above the canvas
  const shift = Math.round(frame.offset * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, -shift);
  ctx.clearRect(0, frame.offset, width, frame.canvasHeight);
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

  // The bars, written as pixels into an ImageData (device pixels) and put at once: each frame
  // costs about the plot's area on screen whatever the number of bars (50,000 rects in a Path2D
  // took several times longer, profiled: docs/benchmarks.md, "Timeline").
  const px = Math.max(1, Math.round(plotW * dpr));
  const plotH = Math.max(1, Math.min(height - top, p.lanes * laneHeight));
  const py = Math.max(1, Math.round(plotH * dpr));
  const topRow = Math.round(top * dpr);
  const canvasRows = Math.max(1, Math.round(frame.canvasHeight * dpr));
  // only the plot's rows (device px from its top) on screen and on the canvas: the rest when scrolled to
  const rowFrom = Math.max(0, Math.floor(frame.visible[0] * dpr) - topRow, shift - topRow);
  const rowTo = Math.min(py, Math.ceil(frame.visible[1] * dpr) - topRow, shift - topRow + canvasRows);
  const image = imageFor(ctx, px, canvasRows); // row y of the plot is the image's row y - rowFrom
  const pixels = new Uint32Array(image.data.buffer);
  const colours = palette.fills.map((fill, c) => blend(fill, palette.bg, palette.alphas[c] ?? 1));
  if (rowTo > rowFrom) pixels.fill(packColour(palette.bg), 0, (rowTo - rowFrom) * px);
  const laneRows = laneHeight * dpr;
  const gap = laneHeight >= 6 ? dpr : 0;
  const scale = px / (view.end - view.start);
  const perPx = (view.end - view.start) / plotW;
  const t0 = view.start - perPx;
  const t1 = view.end + perPx;
  const firstLane = Math.max(0, Math.floor(rowFrom / laneRows));
  for (let l = firstLane; l < p.lanes; l++) {
    const y0 = Math.max(rowFrom, Math.round(l * laneRows + gap / 2));
    const y1 = Math.min(rowTo, Math.max(y0 + 1, Math.round((l + 1) * laneRows - gap / 2)));
    if (y0 >= rowTo) break;
    const [from, to] = laneRange(p, l, t0, t1);
    for (let at = from; at < to; at++) {
      let x0 = Math.floor((p.start[at]! - view.start) * scale);
      let x1 = Math.ceil((Math.min(p.end[at]!, now) - view.start) * scale);
      if (x1 <= x0) x1 = x0 + 1; // every bar at least a pixel wide
      if (x0 < 0) x0 = 0;
      if (x1 > px) x1 = px;
      if (x1 <= x0) continue;
      const colour = colours[p.outcome[at]!]!;
      for (let y = y0 - rowFrom; y < y1 - rowFrom; y++) {
        let o = y * px + x0;
        const stop = y * px + x1;
        if (stop - o > 32) pixels.fill(colour, o, stop);
        else for (; o < stop; o++) pixels[o] = colour; // a short run: cheaper than a call
      }
    }
  }
  // (putImageData ignores the transform: device pixels of the canvas)
  if (rowTo > rowFrom) ctx.putImageData(image, Math.round(gutter * dpr), topRow + rowFrom - shift, 0, 0, px, rowTo - rowFrom);
  ctx.save();
  ctx.beginPath();
  ctx.rect(gutter, top, plotW, height - top);
  ctx.clip();
  // the ticks' lines over the bars, faint
  ctx.globalAlpha = 0.35;
  ctx.strokeStyle = palette.border;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (const t of times) {
    const x = Math.round(gutter + timeToX(t, view, plotW)) + 0.5;
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + plotH);
  }
  for (const node of p.nodes) {
    const y = Math.round(top + node.firstLane * laneHeight) + 0.5;
    ctx.moveTo(gutter, y);
    ctx.lineTo(width, y);
  }
  ctx.stroke();
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
