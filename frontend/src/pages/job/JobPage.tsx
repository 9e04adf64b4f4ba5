// One job: its outcome, times, node, arguments, result, outputs and
// traceback (issue 18). Loaded on first visit. A queued or running job is
// followed live through the `job` part of the deltas (view `job`), at this
// browser's update interval: the page never polls.
import { useEffect, useId } from 'react';
import type { ReactNode } from 'react';
import { UpdateControls } from '../../components/UpdateControls';
import { useDashboard, useSocket } from '../../core/context';
import type { CommandArgs, JobDetail, JobRow } from '../../core/protocol';
import { useQuery } from '../../core/useCommands';
import { useNow } from '../../lib/clock';
import { DASH, formatDateTime, formatElapsed, formatSeconds } from '../../lib/format';
import { jobPath, jobsPath, nodePath } from '../../lib/paths';
import { Link, useSearch } from '../../router';
import { JobOutputs } from './JobOutputs';
import { ResubmitButton } from './ResubmitButton';
import '../pages.css';
import './job.css';

const count = (n: number) => n.toLocaleString('en-US');

/** The `job` query's arguments: the exact key when the address has one, else the id. */
export function jobArgs(cluster: string, id: string, search: string): CommandArgs<'job'> {
  const key = new URLSearchParams(search).get('key');
  const n = key === null || key.trim() === '' ? NaN : Number(key);
  return Number.isSafeInteger(n) ? { cluster, key: n } : { cluster, id };
}

/** A link to another job known only by its key. */
const keyLink = (cluster: string, key: number) => (
  <Link to={jobPath(cluster, String(key), key)}>job #{key}</Link>
);

function Elapsed({ start }: { start: number }) {
  const now = useNow();
  return <>{formatElapsed(now - start)} so far</>;
}

function Facts({ job }: { job: JobDetail }) {
  const facts: [string, ReactNode][] = [
    ['State', <span className={`history-outcome outcome-${job.state}`}>{job.state}</span>],
    ['Cluster', job.cluster],
    ['Node', job.node ? <Link to={nodePath(job.node)}>{job.node}</Link> : DASH],
    ['Created', formatDateTime(job.created)],
    ['Started', formatDateTime(job.start_time)],
    ['Ended', formatDateTime(job.end_time)],
    [
      'Duration (s)',
      job.duration !== null ? formatSeconds(job.duration) : job.state === 'running' && job.start_time !== null ? <Elapsed start={job.start_time} /> : DASH,
    ],
  ];
  if (job.pinned) facts.push(['Submitted to node', job.pinned]);
  if (job.exception_type) facts.push(['Exception', `${job.exception_type}${job.exception_message ? `: ${job.exception_message}` : ''}`]);
  if (job.resubmit_of !== null) facts.push(['Resubmits', keyLink(job.cluster, job.resubmit_of)]);
  if (job.resubmitted_as.length > 0) {
    facts.push([
      'Resubmitted as',
      <span className="job-links">
        {job.resubmitted_as.map((k) => (
          <span key={k}>{keyLink(job.cluster, k)}</span>
        ))}
      </span>,
    ]);
  }
  return (
    <section className="node-summary" aria-label="Summary">
      <dl>
        {facts.map(([label, value]) => (
          <div key={label} className="figure">
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function TextBlock({ label, text }: { label: string; text: string }) {
  const id = useId();
  return (
    <div className="job-text">
      <h4 id={id}>{label}</h4>
      {text === '' ? (
        <p className="muted">none</p>
      ) : (
        <pre className="job-pre" tabIndex={0} aria-labelledby={id}>
          {text}
        </pre>
      )}
    </div>
  );
}

function Arguments({ job }: { job: JobDetail }) {
  const show = useDashboard((s) => s.settings?.show_job_args ?? false);
  const headingId = useId();
  return (
    <section aria-labelledby={headingId}>
      <h3 id={headingId}>Arguments</h3>
      {!show ? (
        <p className="muted">Hidden: Show job arguments is off (on the Monitor page).</p>
      ) : job.args === null && job.kwargs === null ? (
        <p className="muted">Not kept for this job.</p>
      ) : (
        <>
          <TextBlock label="Arguments" text={job.args ?? DASH} />
          <TextBlock label="Keyword arguments" text={job.kwargs ?? DASH} />
        </>
      )}
    </section>
  );
}

function Result({ job }: { job: JobDetail }) {
  const headingId = useId();
  if (job.state === 'queued' || job.state === 'running') return null;
  return (
    <section aria-labelledby={headingId}>
      <h3 id={headingId}>Result</h3>
      {job.result === null ? (
        <p className="muted">None</p>
      ) : (
        <>
          {job.result_cut && job.result_len !== null && (
            <p className="muted job-output-cut">
              first {count(job.result.length)} of {count(job.result_len)} characters
            </p>
          )}
          <pre className="job-pre" tabIndex={0} aria-labelledby={headingId}>
            {job.result}
          </pre>
        </>
      )}
    </section>
  );
}

function Kept({ job }: { job: JobDetail }) {
  if (job.kept === 'evicted') return <p className="notice">Outputs no longer kept (--outputs-budget): the record above is all that is left.</p>;
  return null;
}

function Detail({ job }: { job: JobDetail }) {
  return (
    <>
      <Facts job={job} />
      <ResubmitButton job={job} />
      <Kept job={job} />
      <Result job={job} />
      <JobOutputs job={job} />
      <Arguments job={job} />
    </>
  );
}

function Choices({ cluster, id, choices, more }: { cluster: string; id: string; choices: JobRow[]; more: number }) {
  return (
    <section aria-label="Jobs with this ID">
      <p>
        {count(choices.length + more)} jobs in {cluster} have the ID {id}. Which one?
      </p>
      <ul className="job-choices">
        {choices.map((row) => (
          <li key={row.key}>
            <Link to={jobPath(cluster, row.id, row.key)}>
              {row.state}, {row.end_time !== null ? `ended ${formatDateTime(row.end_time)}` : row.start_time !== null ? `started ${formatDateTime(row.start_time)}` : `created ${formatDateTime(row.created)}`}
              {row.node ? ` on ${row.node}` : ''}
            </Link>
          </li>
        ))}
      </ul>
      {more > 0 && (
        <p className="muted">
          … and {count(more)} more: <Link to={jobsPath({ cluster, text: id })}>list them in the Jobs view</Link>
        </p>
      )}
    </section>
  );
}

export default function JobPage({ cluster, id }: { cluster: string; id: string }) {
  const search = useSearch();
  const args = jobArgs(cluster, id, search);
  const answer = useQuery('job', args);
  const socket = useSocket();
  const found = answer.value && 'job' in answer.value ? answer.value.job : null;
  const key = found?.key ?? null;

  useEffect(() => {
    if (key === null) return;
    // follow it: the server sends its detail again whenever it changes
    socket.setWatchedJob({ cluster, key });
    return () => socket.setWatchedJob(null);
  }, [socket, cluster, key]);

  // the live detail, once the server sent it for this job
  const live = useDashboard((s) => (s.job && key !== null && s.job.key === key && s.job.cluster === cluster ? s.job : null));
  const job = live ?? found;

  const title = job ? job.id : 'key' in args ? `#${args.key}` : id;
  useEffect(() => {
    document.title = `Job ${title} · dispymon`;
  }, [title]);

  return (
    <>
      <h2>Job {title}</h2>
      <div className="toolbar">
        <p className="cluster-name">
          Cluster <strong>{cluster}</strong>
        </p>
        {(job?.state === 'queued' || job?.state === 'running') && <UpdateControls />}
      </div>
      {answer.code === 'not_found' ? (
        <p className="notice" role="status">
          No job {'key' in args ? `#${args.key}` : id} in {cluster}.{' '}
          <Link to={jobsPath({ text: 'key' in args ? '' : id })}>Look for it in the Jobs view</Link>
        </p>
      ) : answer.error !== null ? (
        <p className="notice history-error" role="alert">
          Could not load the job: {answer.error}
        </p>
      ) : answer.value === null ? (
        <p className="loading">Loading…</p>
      ) : 'choices' in answer.value ? (
        <Choices cluster={cluster} id={id} choices={answer.value.choices} more={answer.value.more} />
      ) : job ? (
        <Detail job={job} />
      ) : null}
    </>
  );
}
