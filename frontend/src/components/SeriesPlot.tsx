// The uPlot canvas of JobsChart, in its own chunk (loaded on first chart).
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import type { AlignedData, Options } from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Series } from '../core/protocol';
import { THEME_EVENT } from '../lib/theme';
import { plotData } from './jobsSeries';

const HEIGHT = 200;

function data(series: Series, buckets: number): AlignedData {
  return plotData(series, buckets);
}

/** uPlot draws on a canvas: colours come from the page's CSS variables, read when the chart is built. */
function options(width: number, el: HTMLElement, step: number): Options {
  const perMinute = step === 60;
  const css = getComputedStyle(el);
  const color = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const text = color('--muted', '#5b6470');
  const grid = color('--border', '#d5dae1');
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  return {
    width,
    height: HEIGHT,
    // the numbers are in the section's label and hidden table; the legend names the lines
    cursor: { drag: { x: false, y: false } },
    // the legend names the lines; live values would read "--" until hovered
    legend: { live: false },
    scales: { x: { time: true }, done: { range: (_u, _min, max) => [0, Math.max(1, max)] }, busy: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    axes: [
      // hours and minutes: a tick every minute or two over 10 minutes, every hour or so over a day
      { ...axis, space: 70, values: '{HH}:{mm}' },
      { ...axis, scale: 'done', label: perMinute ? 'jobs/min' : 'jobs/s', size: 50 },
      { ...axis, scale: 'busy', side: 1, label: 'CPUs', size: 50, grid: { show: false } },
    ],
    series: [
      {},
      { label: perMinute ? 'Jobs done per minute' : 'Jobs done per second', scale: 'done', stroke: color('--accent', '#1f6feb'), width: 1.5, fill: 'transparent' },
      { label: 'Busy CPUs', scale: 'busy', stroke: color('--warn', '#9a6700'), width: 2 },
    ],
  };
}

/** `buckets`: the window's length; the buckets before the series' data are drawn blank. */
export default function SeriesPlot({ series, buckets }: { series: Series; buckets: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // what a rebuild draws (theme change): the newest props, kept by the effect below
  const latest = useRef({ series, buckets });

  // Built once per mount (and again on a theme change, for its colours);
  // new data goes through setData below.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const build = () => {
      plot.current?.destroy();
      const { series: shown, buckets: length } = latest.current;
      plot.current = new uPlot(options(Math.max(200, el.clientWidth), el, shown.step), data(shown, length), el);
    };
    build();
    const resized = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resized.observe(el);
    const media = window.matchMedia('(prefers-color-scheme: dark)');
    window.addEventListener(THEME_EVENT, build);
    media.addEventListener('change', build);
    return () => {
      resized.disconnect();
      window.removeEventListener(THEME_EVENT, build);
      media.removeEventListener('change', build);
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    latest.current = { series, buckets };
    plot.current?.setData(data(series, buckets));
  }, [series, buckets]);

  // decorative: the enclosing role="img" carries the label
  return <div ref={box} aria-hidden="true" />;
}

// uPlot for the Node page's resources chart (ResourcesPlot.tsx): taken from
// this module, it stays in this chunk (a chunk of its own would be one more
// file for the first page to list).
export { uPlot };
