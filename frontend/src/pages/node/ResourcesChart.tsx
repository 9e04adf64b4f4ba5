import { Suspense, lazy, useEffect, useId, useMemo, useRef, useState } from 'react';
import { useDashboard } from '../../core/context';
import type { NodeResources, ResourceSpan } from '../../core/protocol';
import { useQuery } from '../../core/useCommands';
import { refreshPeriodMs } from '../../components/JobsChart';
import { isNodeResources, latest, perGroup, plotData, resourceLabel, spanInfo, xRange } from '../../components/resourceSeries';
import { DASH, dashIfNull, formatBytes, formatClock, formatPercent } from '../../lib/format';
import '../../components/JobsChart.css';

// uPlot comes with the chart, in its own chunk (shared with the activity chart's).
const ResourcesPlot = lazy(() => import('./ResourcesPlot'));

const ISO = (unix: number) => new Date(unix * 1000).toISOString();

// inline: a stylesheet of this page's own would be one more file for the first page to list
const LATEST_STYLE = { display: 'flex', flexWrap: 'wrap', gap: '0.25rem 1.25rem', margin: '0.5rem 0 0' } as const;

/**
 * The node's CPU, memory, disk and swap as dispynode reports them with its
 * pulses (features/resources.py): the last 10 minutes by second, or the last
 * day by minute. Asked on mount, at the page's update interval and on
 * Update, like the activity chart. Said in words too: the latest pulse, and a
 * hidden table per minute (or hour).
 */
export function ResourcesChart({ ip }: { ip: string }) {
  const [span, setSpan] = useState<ResourceSpan>('10m');
  const info = spanInfo(span);
  const headingId = useId();
  const rangeId = useId();
  const period = refreshPeriodMs(useDashboard((s) => s.interval), info.step);
  const updateRequests = useDashboard((s) => s.updateRequests);
  const { value, error, reload } = useQuery('node_resources', { node: ip, span });

  useEffect(() => {
    if (period === null) return;
    const timer = window.setInterval(reload, period);
    return () => window.clearInterval(timer);
  }, [period, reload]);

  const seenUpdates = useRef(updateRequests);
  useEffect(() => {
    if (updateRequests === seenUpdates.current) return;
    seenUpdates.current = updateRequests;
    reload();
  }, [updateRequests, reload]);

  // an answer for the other span must not be drawn with this one's words
  const shown: NodeResources | null = isNodeResources(value) && value.span === span ? value : null;
  const last = shown ? latest(shown) : null;
  // new arrays only with a new answer: the plot redraws then, not at every render
  const plot = useMemo(() => (shown && shown.kept ? { data: plotData(shown), range: xRange(shown) } : null), [shown]);
  return (
    <section className="jobs-chart resources-chart" aria-labelledby={headingId}>
      <div className="jobs-chart-head">
        <h3 id={headingId}>Resources, last {info.words}</h3>
        <label htmlFor={rangeId}>Resources range</label>
        <select id={rangeId} value={span} onChange={(e) => setSpan(e.target.value as ResourceSpan)}>
          <option value="10m">Last 10 minutes, each pulse</option>
          <option value="day">Last 24 hours, by minute (kept across restarts)</option>
        </select>
      </div>
      {error !== null && (
        <p className="notice jobs-chart-error" role="alert">
          Could not load the resources: {error}
        </p>
      )}
      {shown !== null && !shown.kept && shown.note !== null && (
        <p className="notice" role="note" data-testid="resources-note">
          Resource history: {shown.note}
        </p>
      )}
      <div className="jobs-chart-plot" role="img" aria-label={resourceLabel(shown, info)} data-testid="resources-chart">
        {shown !== null && plot !== null && (
          <Suspense fallback={null}>
            <ResourcesPlot key={shown.step} data={plot.data} range={plot.range} />
          </Suspense>
        )}
      </div>
      {shown !== null && (
        <dl className="resources-latest" style={LATEST_STYLE} aria-label="Latest pulse">
          <div>
            <dt>{info.step === 1 ? 'Pulses shown' : 'Minutes shown'}</dt>
            <dd data-testid="resources-points">{shown.times.length}</dd>
          </div>
          <div>
            <dt>{info.step === 1 ? 'Latest pulse' : 'Latest minute'}</dt>
            <dd data-testid="resources-latest-time">{last ? <time dateTime={ISO(last.time)}>{formatClock(last.time)}</time> : DASH}</dd>
          </div>
          <div>
            <dt>CPU free</dt>
            <dd data-testid="resources-latest-cpu">{dashIfNull(last?.cpu, formatPercent)}</dd>
          </div>
          <div>
            <dt>Memory free</dt>
            <dd data-testid="resources-latest-memory">{dashIfNull(last?.memory, formatBytes)}</dd>
          </div>
          <div>
            <dt>Disk free</dt>
            <dd data-testid="resources-latest-disk">{dashIfNull(last?.disk, formatBytes)}</dd>
          </div>
          <div>
            <dt>Swap free</dt>
            <dd data-testid="resources-latest-swap">{dashIfNull(last?.swap, formatPercent)}</dd>
          </div>
        </dl>
      )}
      {shown !== null && shown.times.length > 0 && (
        // in a hidden box, not a hidden table: a table is never narrower than its
        // content, and this one widened the whole page on a phone
        <div className="visually-hidden">
          <table>
            <caption>
              CPU, memory, disk and swap free per {info.groupName.toLowerCase()} (means), last {info.words}
            </caption>
            <thead>
              <tr>
                <th scope="col">{info.groupName}</th>
                <th scope="col">{info.step === 1 ? 'Pulses' : 'Minutes'}</th>
                <th scope="col">CPU free</th>
                <th scope="col">Memory free</th>
                <th scope="col">Disk free</th>
                <th scope="col">Swap free</th>
              </tr>
            </thead>
            <tbody>
              {perGroup(shown, info.group).map((row) => (
                <tr key={row.start}>
                  <td>{formatClock(row.start)}</td>
                  <td>{row.points}</td>
                  <td>{dashIfNull(row.cpu, formatPercent)}</td>
                  <td>{dashIfNull(row.memory, formatBytes)}</td>
                  <td>{dashIfNull(row.disk, formatBytes)}</td>
                  <td>{dashIfNull(row.swap, formatPercent)}</td>
                </tr>
              ))}
            </tbody>
  </table>
        </div>
      )}
    </section>
  );
}
