// The uPlot canvas of the Node page's resources chart, in the uPlot chunk (loaded with the chart).
import { useEffect, useRef } from 'react';
import type uPlot from 'uplot';
import type { AlignedData, Options } from 'uplot';
import { uPlot as UPlot } from '../../components/SeriesPlot';
import { formatBytes } from '../../lib/format';
import { THEME_EVENT } from '../../lib/theme';
// types only: a value imported from the Node page's chunk would make that chunk export it
import type { ResourcePlotData } from '../../components/resourceSeries';

const HEIGHT = 220;

/** Colours from the page's CSS variables, read when the chart is built (and again on a theme change). */
function options(width: number, el: HTMLElement, latest: { current: Props }): Options {
  const css = getComputedStyle(el);
  const color = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const text = color('--muted', '#5b6470');
  const grid = color('--border', '#d5dae1');
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const bytes = (_u: uPlot, values: number[]) => values.map((v) => formatBytes(v));
  return {
    width,
    height: HEIGHT,
    cursor: { drag: { x: false, y: false } },
    // the figures are in the summary and the hidden table; the legend names the lines
    legend: { live: false },
    scales: {
      // the whole window, read from the newest answer (setData keeps the options)
      x: { time: true, range: () => latest.current.range },
      pct: { range: () => [0, 100] },
      bytes: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.05] },
    },
    axes: [
      { ...axis, space: 70, values: '{HH}:{mm}' },
      { ...axis, scale: 'pct', label: '% free', size: 50 },
      { ...axis, scale: 'bytes', side: 1, label: 'bytes free', size: 70, values: bytes, grid: { show: false } },
    ],
    series: [
      {},
      { label: 'CPU free %', scale: 'pct', stroke: color('--accent', '#1f6feb'), width: 1.5, spanGaps: true },
      { label: 'Swap free %', scale: 'pct', stroke: color('--muted', '#5b6470'), width: 1, dash: [4, 3], spanGaps: true },
      { label: 'Memory free', scale: 'bytes', stroke: color('--warn', '#9a6700'), width: 1.5, spanGaps: true },
      { label: 'Disk free', scale: 'bytes', stroke: color('--live', '#1a7f37'), width: 1, spanGaps: true },
    ],
  };
}

interface Props {
  /** resourceSeries.plotData */
  data: ResourcePlotData;
  /** the x axis: the whole window (resourceSeries.xRange) */
  range: [number, number];
}

export default function ResourcesPlot({ data, range }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef<Props>({ data, range });

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const build = () => {
      plot.current?.destroy();
      plot.current = new UPlot(options(Math.max(200, el.clientWidth), el, latest), latest.current.data as AlignedData, el);
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
    latest.current = { data, range };
    plot.current?.setData(data as AlignedData);
  }, [data, range]);

  // decorative: the enclosing role="img" carries the label
  return <div ref={box} aria-hidden="true" />;
}
