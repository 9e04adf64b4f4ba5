// A JobFilter (protocol.ts) and its query-string form, written once: the Jobs
// view keeps its filters in the address (a link or a reload shows the same
// jobs), and the CSV export and the REST routes take the same parameters.
import { JOB_STATES } from '../core/protocol';
import type { JobFilter, JobState } from '../core/protocol';

/** The filter a query string names; unknown states and unparsable times are left out. */
export function filterFromSearch(search: string): JobFilter {
  const q = new URLSearchParams(search);
  const filter: JobFilter = {};
  const text = (name: 'cluster' | 'node' | 'exception' | 'text') => {
    const v = q.get(name)?.trim();
    if (v) filter[name] = v;
  };
  text('cluster');
  text('node');
  text('exception');
  text('text');
  const states = (q.get('states') ?? '')
    .split(',')
    .filter((s): s is JobState => (JOB_STATES as readonly string[]).includes(s));
  if (states.length > 0) filter.states = [...new Set(states)];
  for (const name of ['since', 'until'] as const) {
    const v = q.get(name);
    const n = v === null || v === '' ? NaN : Number(v);
    if (Number.isFinite(n)) filter[name] = n;
  }
  return filter;
}

/** The query-string form of a filter (states comma-separated, as the REST routes take them). */
export function searchFromFilter(filter: JobFilter): URLSearchParams {
  const q = new URLSearchParams();
  if (filter.cluster) q.set('cluster', filter.cluster);
  if (filter.states && filter.states.length > 0) q.set('states', filter.states.join(','));
  if (filter.node) q.set('node', filter.node);
  if (filter.exception) q.set('exception', filter.exception);
  if (filter.text) q.set('text', filter.text);
  if (filter.since !== undefined) q.set('since', String(filter.since));
  if (filter.until !== undefined) q.set('until', String(filter.until));
  return q;
}
