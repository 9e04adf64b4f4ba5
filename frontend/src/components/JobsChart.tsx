import { Suspense, lazy, useEffect, useId, useRef, useState } from 'react';
import { useDashboard } from '../core/context';
import { formatClock } from '../lib/format';
import type { CommandArgs } from '../core/protocol';
import { clusterArg, useClusterChoice } from '../core/selectors';
import { useQuery } from '../core/useCommands';
import { chartLabel, perGroup, rangeInfo, round1 } from './jobsSeries';
import type { Range } from './jobsSeries';
import './JobsChart.css';

// uPlot (~20 KB gzip) loads only when a chart shows, so the Monitor page's
// first load stays within its budget; the label and the table below need
// nothing from it.
const SeriesPlot = lazy(() => import('./SeriesPlot'));

/** The chart refreshes no more often than this: its buckets are one-second samples. */
export const MIN_REFRESH_MS = 1000;
/** The same over the kept minutes, which change once a minute. */
export const MIN_REFRESH_MINUTES_MS = 30_000;

/**
 * How often the chart asks for the series again: at the browser's update
 * interval, like the rest of the page (not faster than its data changes), and
 * never while updates are stopped (interval ≤ 0; Update refreshes it then).
 */
export function refreshPeriodMs(interval: number | null, step: 1 | 60): number | null {
  if (interval === null || interval <= 0) return null;
  return Math.max(interval * 1000, step === 1 ? MIN_REFRESH_MS : MIN_REFRESH_MINUTES_MS);
}

interface Props {
  /** a node's chart instead of the selected cluster's */
  node?: string;
}

/**
 * "Jobs done per second" and "Busy CPUs" over the last 10 minutes. The whole
 * window is fetched on mount (a browser opened now still sees the recent
 * past), then again at the page's update interval (refreshPeriodMs) and on
 * Update: 600 numbers, simpler and always right compared to appending (no
 * gaps after a sleep or a lost answer).
 */
export function JobsChart({ node }: Props) {
  // the page's cluster choice ('* Combined': every cluster added up), so
  // mounting the chart takes one line
  const { name: cluster } = useClusterChoice();
  const [range, setRange] = useState<Range>('recent');
  const info = rangeInfo(range, node !== undefined);
  const headingId = useId();
  const rangeId = useId();
  const period = refreshPeriodMs(useDashboard((s) => s.interval), info.step);
  const updateRequests = useDashboard((s) => s.updateRequests);
  const args: CommandArgs<'series'> = { ...clusterArg(cluster) };
  if (node !== undefined) args.node = node;
  if (info.step !== 1) args.step = info.step;
  const { value: series, error, reload } = useQuery('series', args);

  useEffect(() => {
    if (period === null) return;
    const timer = window.setInterval(reload, period);
    return () => window.clearInterval(timer);
  }, [period, reload]);

  // Update: the chart too (not on mount: the question's effect loads then)
  const seenUpdates = useRef(updateRequests);
  useEffect(() => {
    if (updateRequests === seenUpdates.current) return;
    seenUpdates.current = updateRequests;
    reload();
  }, [updateRequests, reload]);

  // an answer for the other range must not be drawn with this one's words
  const shown = series !== null && series.step === info.step ? series : null;
  const label = chartLabel(shown, info);
  return (
    <section className="jobs-chart" aria-labelledby={headingId}>
      <div className="jobs-chart-head">
        <h3 id={headingId}>Activity, last {info.span}</h3>
        <label htmlFor={rangeId}>Range</label>
        <select id={rangeId} value={range} onChange={(e) => setRange(e.target.value as Range)}>
          <option value="recent">Last 10 minutes, by second</option>
          <option value="minutes">Last {rangeInfo('minutes', node !== undefined).span}, by minute (kept across restarts)</option>
        </select>
      </div>
      {error !== null && (
        <p className="notice jobs-chart-error" role="alert">
          Could not load the chart: {error}
        </p>
      )}
      <div className="jobs-chart-plot" role="img" aria-label={label} data-testid="jobs-chart">
        {shown !== null && (
          <Suspense fallback={null}>
            <SeriesPlot key={shown.step} series={shown} buckets={info.buckets} />
          </Suspense>
        )}
      </div>
      {shown !== null && (
        // in a hidden box, not a hidden table: a table is never narrower than its
        // content, and this one widened the whole page on a phone
        <div className="visually-hidden">
          <table>
            <caption>
              Jobs done and busy CPUs per {info.groupName.toLowerCase()}, last {info.span}
            </caption>
            <thead>
              <tr>
                <th scope="col">{info.groupName}</th>
                <th scope="col">Jobs done</th>
                <th scope="col">Mean busy CPUs</th>
              </tr>
            </thead>
            <tbody>
              {perGroup(shown, info.group).map((row) => (
                <tr key={row.start}>
                  <td>{formatClock(row.start)}</td>
                  <td>{row.done}</td>
                  <td>{round1(row.busy)}</td>
                </tr>
              ))}
            </tbody>
  </table>
        </div>
      )}
    </section>
  );
}
