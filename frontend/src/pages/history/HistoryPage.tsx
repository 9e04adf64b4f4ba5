import { Suspense, lazy, useCallback, useEffect, useId, useState } from 'react';
import { ClusterSelect } from '../../components/ClusterSelect';
import { ExportButton } from '../../components/ExportButton';
import { useReadOnly } from '../../core/context';
import { jobPath, jobsPath } from '../../lib/paths';
import { Link } from '../../router';
import { DASH, dashIfNull, formatDateTime, formatSeconds } from '../../lib/format';
import { JOB_OUTCOMES } from '../../core/protocol';
import type { CommandArgs, HistoryJob, HistoryStore, JobFilter, JobOutcome } from '../../core/protocol';
import { clusterArg, useClusterChoice } from '../../core/selectors';
import { useQuery } from '../../core/useCommands';
import type { Query } from '../../core/useCommands';
import '../pages.css';
import './HistoryPage.css';

// the dialog loads on the first click of "Resubmit these…"
const BulkDialog = lazy(() => import('../../components/BulkDialog'));

/** Rows per page; the server's default, well under its 1000 cap. */
export const PAGE_SIZE = 100;

function exceptionText(job: HistoryJob): string {
  if (!job.exception_type) return '';
  return job.exception_message ? `${job.exception_type}: ${job.exception_message}` : job.exception_type;
}

interface Filters {
  outcome: JobOutcome | '';
  node: string;
  text: string;
}

/** The `history` arguments: empty filters and '* Combined' are left out, as the protocol wants. */
export function historyArgs(filters: Filters, cluster: string | null, offset: number): CommandArgs<'history'> {
  const args: CommandArgs<'history'> = { limit: PAGE_SIZE, offset };
  if (filters.outcome) args.outcome = filters.outcome;
  const node = filters.node.trim();
  if (node) args.node = node;
  const text = filters.text.trim();
  if (text) args.text = text;
  return { ...args, ...clusterArg(cluster) };
}

/** The page's filters without paging: the CSV route's parameters. */
function filterArgs(filters: Filters, cluster: string | null): Omit<CommandArgs<'history'>, 'limit' | 'offset'> {
  const args = historyArgs(filters, cluster, 0);
  delete args.limit;
  delete args.offset;
  return args;
}

/** The same filters as a JobFilter (bulk resubmit): the outcome is a state. */
export function historyFilter(filters: Filters, cluster: string | null): JobFilter {
  const args = filterArgs(filters, cluster);
  const { outcome, ...rest } = args;
  return outcome ? { ...rest, states: [outcome] } : rest;
}

function exportParams(filters: Filters, cluster: string | null): URLSearchParams {
  return new URLSearchParams(filterArgs(filters, cluster) as Record<string, string>);
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** What the page says about the history database: nothing while all is well. */
export function StoreNotice({ store }: { store: HistoryStore | null | undefined }) {
  if (!store) return null;
  const lost = store.dropped > 0 ? `${plural(store.dropped, 'row', 'rows')} never reached it. ` : '';
  if (!store.healthy) {
    return (
      <p className="notice history-error" role="alert">
        The history database is not being written: {store.last_error ?? 'unknown error'} (
        {plural(store.errors, 'failed attempt', 'failed attempts')}). New jobs wait in memory and writing is retried;
        beyond a bound the oldest are dropped. {lost}
      </p>
    );
  }
  if (store.dropped === 0 && store.reopened === 0) return null;
  return (
    <p className="notice history-store" role="status">
      The history database {store.reopened > 0 ? `was deleted or replaced ${plural(store.reopened, 'time', 'times')} and made again: it lacks the jobs written before. ` : 'is written again. '}
      {lost}
    </p>
  );
}

type Loaded<T> = { state: 'loading' } | { state: 'ok'; value: T } | { state: 'error'; message: string };

/** A query's state as the page shows it: its error until an answer replaces it. */
function loaded<T>({ value, error }: Query<T>): Loaded<T> {
  if (error !== null) return { state: 'error', message: error };
  return value === null ? { state: 'loading' } : { state: 'ok', value };
}

/** Finished jobs (the server's history), filterable and paged, and failures by exception type. */
export default function HistoryPage() {
  useEffect(() => {
    document.title = 'History · dispymon';
  }, []);
  const { name: cluster } = useClusterChoice();

  const [filters, setFilters] = useState<Filters>({ outcome: '', node: '', text: '' });
  const [offset, setOffset] = useState(0);
  const [resubmitting, setResubmitting] = useState(false);
  const readOnly = useReadOnly();
  const history = useQuery('history', historyArgs(filters, cluster, offset));
  const historySummary = useQuery('history_summary', {});
  const jobs = loaded(history);
  const summary = loaded(historySummary);
  const refresh = () => {
    history.reload();
    historySummary.reload();
  };

  // a new filter shows its newest jobs first
  const changeFilter = useCallback((change: Partial<Filters>) => {
    setFilters((f) => ({ ...f, ...change }));
    setOffset(0);
  }, []);

  const outcomeId = useId();
  const nodeId = useId();
  const textId = useId();
  const tableId = useId();
  const failuresId = useId();

  const total = jobs.state === 'ok' ? jobs.value.total : null;
  const rows = jobs.state === 'ok' ? jobs.value.jobs : [];

  return (
    <>
      <h2>History</h2>
      <div className="toolbar history-filters">
        <ClusterSelect />
        <div className="field">
          <label htmlFor={outcomeId}>Outcome</label>
          <select
            id={outcomeId}
            value={filters.outcome}
            onChange={(e) => changeFilter({ outcome: e.target.value as JobOutcome | '' })}
          >
            <option value="">All</option>
            {JOB_OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={nodeId}>Node</label>
          <input
            id={nodeId}
            type="text"
            inputMode="decimal"
            placeholder="IP address"
            autoComplete="off"
            spellCheck={false}
            value={filters.node}
            onChange={(e) => changeFilter({ node: e.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor={textId}>Job ID contains</label>
          <input
            id={textId}
            type="search"
            autoComplete="off"
            spellCheck={false}
            value={filters.text}
            onChange={(e) => changeFilter({ text: e.target.value })}
          />
        </div>
        <button type="button" onClick={refresh}>
          Refresh
        </button>
        <ExportButton kind="history" params={exportParams(filters, cluster)} />
        {!readOnly && (
          <button type="button" onClick={() => setResubmitting(true)}>
            Resubmit these…
          </button>
        )}
      </div>
      {resubmitting && (
        <Suspense fallback={null}>
          <BulkDialog action="resubmit" filter={historyFilter(filters, cluster)} onClose={() => setResubmitting(false)} />
        </Suspense>
      )}

      {summary.state === 'ok' && <StoreNotice store={summary.value.store} />}

      <section aria-labelledby={tableId}>
        <div className="section-head">
          <h3 id={tableId}>Finished jobs</h3>
          <p className="history-count" role="status">
            {total === null ? '' : `${total} ${total === 1 ? 'job' : 'jobs'}`}
          </p>
        </div>
        {jobs.state === 'error' && (
          <p className="notice history-error" role="alert">
            Could not load the history: {jobs.message}
          </p>
        )}
        {jobs.state === 'loading' && <p className="loading">Loading…</p>}
        {jobs.state === 'ok' && rows.length === 0 && (
          <p className="notice">{offset === 0 && !filters.outcome && !filters.node.trim() && !filters.text.trim() ? 'No finished jobs yet' : 'No jobs match these filters'}</p>
        )}
        {rows.length > 0 && (
          <div className="table-scroll">
            <table aria-labelledby={tableId} className="history-table">
              <thead>
                <tr>
                  <th scope="col" className="plain">Job ID</th>
                  <th scope="col" className="plain">Cluster</th>
                  <th scope="col" className="plain">Node</th>
                  <th scope="col" className="plain">Outcome</th>
                  <th scope="col" className="plain">Exception</th>
                  <th scope="col" className="plain">Start</th>
                  <th scope="col" className="plain">End</th>
                  <th scope="col" className="plain num">
                    Duration (s)
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((job) => (
                  <tr key={`${job.cluster}\u0000${job.uid}`} className={`history-${job.outcome}`}>
                    <td className="history-id">
                      <Link to={jobPath(job.cluster, job.id, job.key ?? undefined)}>{job.id}</Link>
                    </td>
                    <td>{job.cluster}</td>
                    <td>{job.node || DASH}</td>
                    <td>
                      <span className={`history-outcome outcome-${job.outcome}`}>{job.outcome}</span>
                    </td>
                    <td className="history-exception">{exceptionText(job)}</td>
                    <td>{formatDateTime(job.start_time)}</td>
                    <td>{formatDateTime(job.end_time)}</td>
                    <td className="num">{dashIfNull(job.duration, formatSeconds)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <nav className="history-pager" aria-label="Pages">
          <button type="button" disabled={offset === 0} onClick={() => setOffset((o) => Math.max(0, o - PAGE_SIZE))}>
            Newer
          </button>
          {total !== null && total > 0 && (
            <span className="history-note">
              {offset + 1}–{Math.min(offset + PAGE_SIZE, total)} of {total}
            </span>
          )}
          <button
            type="button"
            disabled={total === null || offset + PAGE_SIZE >= total}
            onClick={() => setOffset((o) => o + PAGE_SIZE)}
          >
            Older
          </button>
        </nav>
      </section>

      <section aria-labelledby={failuresId}>
        <h3 id={failuresId}>Failures by exception type</h3>
        {summary.state === 'error' && (
          <p className="notice history-error" role="alert">
            Could not load the failures: {summary.message}
          </p>
        )}
        {summary.state === 'ok' && summary.value.failures.length === 0 && <p className="history-note">No failed jobs in the history.</p>}
        {summary.state === 'ok' && summary.value.failures.length > 0 && (
          <div className="table-scroll">
            <table aria-labelledby={failuresId}>
              <thead>
                <tr>
                  <th scope="col" className="plain">Type</th>
                  <th scope="col" className="plain num">
                    Count
                  </th>
                  <th scope="col" className="plain">Last message</th>
                  <th scope="col" className="plain">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {summary.value.failures.map((f) => (
                  <tr key={f.type}>
                    <td className="history-exception">
                      <Link to={jobsPath({ states: 'failed', exception: f.type })} aria-label={`Failed jobs with ${f.type}`}>
                        {f.type}
                      </Link>
                    </td>
                    <td className="num">{f.count}</td>
                    <td className="history-exception">
                      {f.last_key === null ? (
                        f.last_message
                      ) : (
                        <Link to={jobPath(f.last_cluster, String(f.last_key), f.last_key)} aria-label={`The last job that failed with ${f.type}: ${f.last_message}`}>
                          {f.last_message || f.type}
                        </Link>
                      )}
                    </td>
                    <td>
                      {formatDateTime(f.last_time)}
                      {f.last_node ? ` on ${f.last_node}` : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {summary.state === 'ok' && (
          <p className="history-note">
            The history holds the last {summary.value.jobs} of at most {summary.value.size} finished jobs.
          </p>
        )}
      </section>
    </>
  );
}
