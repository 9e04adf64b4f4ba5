import { Suspense, lazy, useEffect, useId, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useDashboard, useSocket } from '../context';
import { formatClock } from '../format';
import { COMBINED } from '../protocol';
import type { Series } from '../protocol';
import { clusterNames, resolveClusterName } from '../state';
import { errorMessage } from '../useCommands';
import { chartLabel, perMinute, round1 } from './jobsSeries';
import './JobsChart.css';

// uPlot (~20 KB gzip) loads only when a chart shows, so the Monitor page's
// first load stays within its budget; the label and the table below need
// nothing from it.
const SeriesPlot = lazy(() => import('./SeriesPlot'));

/** How often the chart asks for the series again (seconds of new data at step 1). */
export const REFRESH_MS = 5000;

interface Props {
  /** a node's chart instead of the selected cluster's */
  node?: string;
}

/**
 * "Jobs done per second" and "Busy CPUs" over the last 10 minutes. The whole
 * window is fetched on mount (a browser opened now still sees the recent
 * past) and again every REFRESH_MS: 600 numbers, simpler and always right
 * compared to appending (no gaps after a sleep or a lost answer).
 */
export function JobsChart({ node }: Props) {
  const socket = useSocket();
  // the page's cluster choice ('* Combined': every cluster added up), so
  // mounting the chart takes one line
  const names = useDashboard(useShallow((s) => clusterNames(s.clusters)));
  const cluster = resolveClusterName(names, useDashboard((s) => s.selectedCluster));
  const [series, setSeries] = useState<Series | null>(null);
  const [error, setError] = useState<string | null>(null);
  const headingId = useId();

  useEffect(() => {
    let current = true;
    const args: { cluster?: string; node?: string } = {};
    if (cluster !== null && cluster !== COMBINED) args.cluster = cluster;
    if (node !== undefined) args.node = node;
    const load = () =>
      socket.command('series', args).then(
        (value) => {
          if (!current) return;
          setSeries(value);
          setError(null);
        },
        (err: unknown) => current && setError(errorMessage(err)),
      );
    void load();
    const timer = window.setInterval(() => void load(), REFRESH_MS);
    return () => {
      current = false;
      window.clearInterval(timer);
    };
  }, [socket, cluster, node]);

  const label = chartLabel(series);
  return (
    <section className="jobs-chart" aria-labelledby={headingId}>
      <h3 id={headingId}>Activity, last 10 minutes</h3>
      {error !== null && (
        <p className="notice jobs-chart-error" role="alert">
          Could not load the chart: {error}
        </p>
      )}
      <div className="jobs-chart-plot" role="img" aria-label={label} data-testid="jobs-chart">
        {series !== null && (
          <Suspense fallback={null}>
            <SeriesPlot series={series} />
          </Suspense>
        )}
      </div>
      {series !== null && (
        <table className="visually-hidden">
          <caption>Jobs done and busy CPUs per minute, last 10 minutes</caption>
          <thead>
            <tr>
              <th scope="col">Minute</th>
              <th scope="col">Jobs done</th>
              <th scope="col">Mean busy CPUs</th>
            </tr>
          </thead>
          <tbody>
            {perMinute(series).map((row) => (
              <tr key={row.start}>
                <td>{formatClock(row.start)}</td>
                <td>{row.done}</td>
                <td>{round1(row.busy)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
