// The Jobs view (issue 18): every job of the cluster(s), queued (dispy's
// pending ones), running and ended, filtered by state, node, exception type,
// id text and time range; virtualised over the whole selection. Loaded on
// first visit.
import { Suspense, lazy, useEffect, useId, useMemo, useState } from 'react';
import { ExportButton } from '../../components/ExportButton';
import { useReadOnly } from '../../core/context';
import { JOB_STATES } from '../../core/protocol';
import type { BulkActionName, JobFilter } from '../../core/protocol';
import { useClusterChoice } from '../../core/selectors';
import { filterFromSearch, searchFromFilter } from '../../lib/jobFilter';
import { replaceSearch, useSearch } from '../../router';
import { JobsFilters } from './JobsFilters';
import { JobsTable } from './JobsTable';
import { useJobPages } from './useJobPages';
import '../pages.css';
import '../job/job.css';

// the dialog (and its queries) loads on the first click of Terminate… or Resubmit…
const BulkDialog = lazy(() => import('../../components/BulkDialog'));

const count = (n: number) => n.toLocaleString('en-US');

export default function JobsPage() {
  useEffect(() => {
    document.title = 'Jobs · dispymon';
  }, []);
  const search = useSearch();
  const filter = useMemo(() => filterFromSearch(search), [search]);
  const { names } = useClusterChoice();
  const { pager, view } = useJobPages(filter);
  const readOnly = useReadOnly();
  const [bulk, setBulk] = useState<BulkActionName | null>(null);
  const headingId = useId();

  const change = (next: JobFilter) => replaceSearch(searchFromFilter(next));
  const counts = JOB_STATES.filter((s) => (view.counts[s] ?? 0) > 0).map((s) => `${count(view.counts[s] ?? 0)} ${s}`);

  return (
    <>
      <h2>Jobs</h2>
      <JobsFilters filter={filter} clusters={names} onChange={change} />
      <div className="toolbar">
        <button type="button" onClick={() => pager.refresh(0)}>
          Refresh
        </button>
        <ExportButton kind="jobs" params={searchFromFilter(filter)} />
        {!readOnly && (
          <>
            <button type="button" className="danger" onClick={() => setBulk('terminate')}>
              Terminate…
            </button>
            <button type="button" onClick={() => setBulk('resubmit')}>
              Resubmit…
            </button>
          </>
        )}
      </div>
      <section aria-labelledby={headingId}>
        <div className="section-head">
          <h3 id={headingId}>Matching jobs</h3>
          <p className="history-count" role="status">
            {view.total === null ? '' : `${count(view.total)} ${view.total === 1 ? 'job' : 'jobs'}${counts.length > 0 ? `: ${counts.join(', ')}` : ''}`}
          </p>
        </div>
        {view.unlisted > 0 && (
          <p className="notice">
            {`${count(view.unlisted)} queued ${view.unlisted === 1 ? 'job' : 'jobs'} not listed`} (dispy counts them; the
            server lists at most 1,000,000 queued jobs a cluster, and none queued before it attached to a shared cluster)
          </p>
        )}
        {view.error !== null && (
          <p className="notice history-error" role="alert">
            Could not load the jobs: {view.error}
          </p>
        )}
        {view.total === null ? (
          view.error === null && <p className="loading">Loading…</p>
        ) : (
          <JobsTable pager={pager} total={view.total} version={view.version} label="Matching jobs" />
        )}
      </section>
      {bulk !== null && (
        <Suspense fallback={null}>
          <BulkDialog action={bulk} filter={filter} onClose={() => setBulk(null)} />
        </Suspense>
      )}
    </>
  );
}
