import { memo, useEffect, useId, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useNow } from '../../lib/clock';
import { DASH, formatClock, formatElapsed } from '../../lib/format';
import { useReadOnly } from '../../core/context';
import type { Job, TerminateOutcome } from '../../core/protocol';
import { useCommands } from '../../core/useCommands';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import VirtualRows from '../../components/VirtualRows';
import { EmptyRow } from '../../components/EmptyRow';
import { jobPath } from '../../lib/paths';
import { Link } from '../../router';

// Rows are plain data plus a uid Set for the selection, not TanStack Table:
// its row model rebuilds ~30 closures per row on every data change, measured
// here at 1.2–1.9 s per delta for 100,000 jobs. Nothing here walks all the
// jobs on a delta either (a few ms each for 100,000, several per delta: long
// tasks while scrolling): the selection is checked against `isListed`, and
// the selected jobs are listed only when the button is pressed.

/** Fixed row height (px, matches the CSS): lets 100,000 rows scroll with only the visible ones in the DOM. */
const ROW_HEIGHT = 36;

/** terminate_jobs takes at most this many uids per command. */
const MAX_UIDS_PER_COMMAND = 1000;

/** The dialog names at most this many jobs, then counts the rest. */
const LISTED_IN_DIALOG = 100;

/** The results list shows at most this many outcomes (a select-all may end 100,000 jobs). */
const LISTED_RESULTS = 1000;

const OUTCOME_TEXT: Record<TerminateOutcome, string> = {
  terminated: 'terminated',
  already_finished: 'already finished',
  not_found: 'not found',
  failed: 'failed',
  timeout: 'no answer in time: outcome unknown',
};

interface TerminationResult {
  uid: number;
  id: string;
  text: string;
}

function Elapsed({ start }: { start: number | null }) {
  const now = useNow();
  return <>{start === null ? DASH : formatElapsed(now - start)}</>;
}

function SelectAll({ count, total, onChange }: { count: number; total: number; onChange(all: boolean): void }) {
  const ref = useRef<HTMLInputElement>(null);
  const some = count > 0 && count < total;
  useEffect(() => {
    // "Some selected" has no attribute; only the DOM property shows it.
    if (ref.current) ref.current.indeterminate = some;
  }, [some]);
  return (
    <input
      ref={ref}
      type="checkbox"
      aria-label="Select all jobs"
      checked={total > 0 && count === total}
      disabled={total === 0}
      onChange={(e) => onChange(e.target.checked)}
    />
  );
}

const hidden = <span className="muted">hidden</span>;

/** A job's argument text opened in full (ArgsDialog). */
interface ShownArgs {
  /** "Arguments of job x" / "Keyword arguments of job x" */
  title: string;
  text: string;
}

interface JobRowProps {
  job: Job;
  /** 1-based position among all rows, header included (aria-rowindex) */
  rowIndex: number;
  selected: boolean;
  showArgs: boolean;
  showCluster: boolean;
  onToggle(uid: number, selected: boolean): void;
  onShowArgs(shown: ShownArgs): void;
  /** false for a viewer, who may not terminate: no selection column */
  selectable: boolean;
}

interface ArgCellProps {
  text: string | null;
  showArgs: boolean;
  /** what the text is, e.g. "Arguments of job x" */
  title: string;
  onShowArgs(shown: ShownArgs): void;
}

/**
 * An argument cell, cut with an ellipsis in its fixed-width column. When the
 * text is cut, a button opens it in full: the `title` tooltip needs a mouse,
 * so on a phone (or from the keyboard) the rest could not be read at all.
 * Whether it is cut is measured, on mounting and whenever the cell's width
 * changes (only the rows in view are mounted).
 */
function ArgCell({ text, showArgs, title, onShowArgs }: ArgCellProps) {
  const textRef = useRef<HTMLSpanElement>(null);
  const [cut, setCut] = useState(false);
  // The server sends no argument text while the setting is off (null); if the
  // setting was just turned off, text it sent before is not shown either.
  const shown = showArgs && text !== null ? text : null;
  useLayoutEffect(() => {
    const el = textRef.current;
    if (!el) return;
    const measure = () => setCut(el.scrollWidth > el.clientWidth + 1);
    measure();
    if (typeof ResizeObserver === 'undefined') return; // no layout to follow (jsdom)
    const resized = new ResizeObserver(measure);
    resized.observe(el);
    return () => resized.disconnect();
  }, [shown]);
  if (shown === null) return <td>{hidden}</td>;
  return (
    <td>
      <div className="arg-cell">
        <span ref={textRef} className="arg-text" title={shown}>
          {shown}
        </span>
        {cut && (
          <button
            type="button"
            className="arg-more"
            aria-label={`Show all: ${title}`}
            aria-haspopup="dialog"
            onClick={() => onShowArgs({ title, text: shown })}
          >
            <span aria-hidden="true">…</span>
          </button>
        )}
      </div>
    </td>
  );
}

/** A job's argument text in full, wrapped, in a native modal dialog (Escape or Close shut it). */
function ArgsDialog({ shown, onClose }: { shown: ShownArgs | null; onClose(): void }) {
  const headingId = useId();
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (shown && !dialog.open) dialog.showModal();
    else if (!shown && dialog.open) dialog.close();
  }, [shown]);
  return (
    <dialog ref={ref} className="confirm-dialog" aria-labelledby={headingId} onClose={() => shown && onClose()}>
      {shown && (
        <>
          <h3 id={headingId}>{shown.title}</h3>
          <pre className="arg-full" tabIndex={0} aria-labelledby={headingId}>
            {shown.text}
          </pre>
          <div className="dialog-buttons">
            <button type="button" onClick={onClose}>
              Close
            </button>
          </div>
        </>
      )}
    </dialog>
  );
}

// Memoised: a delta or a selection change re-renders only the rows it touches.
const JobRow = memo(function JobRow({ job, rowIndex, selected, showArgs, showCluster, onToggle, onShowArgs, selectable }: JobRowProps) {
  return (
    <tr aria-rowindex={rowIndex} className={selected ? 'selected' : undefined}>
      {selectable && (
        <td>
          <input
            type="checkbox"
            aria-label={`Select job ${job.id}`}
            checked={selected}
            onChange={(e) => onToggle(job.uid, e.target.checked)}
          />
        </td>
      )}
      <td title={job.id}>
        <Link to={jobPath(job.cluster, job.id, job.key)}>{job.id}</Link>
      </td>
      <ArgCell text={job.args} showArgs={showArgs} title={`Arguments of job ${job.id}`} onShowArgs={onShowArgs} />
      <ArgCell text={job.kwargs} showArgs={showArgs} title={`Keyword arguments of job ${job.id}`} onShowArgs={onShowArgs} />
      {showCluster && <td>{job.cluster}</td>}
      <td>{formatClock(job.start_time ?? 0)}</td>
      <td>
        <Elapsed start={job.start_time} />
      </td>
    </tr>
  );
});

const EMPTY_SELECTION: ReadonlySet<number> = new Set();

/** The selection without the uids no longer listed; the same Set when none left. */
function keepListed(selection: ReadonlySet<number>, isListed: (uid: number) => boolean): ReadonlySet<number> {
  let gone: number[] | null = null;
  for (const uid of selection) if (!isListed(uid)) (gone ??= []).push(uid);
  if (gone === null) return selection;
  // a copy, then the few deletions: cheaper than rebuilding a select-all of 100,000
  const kept = new Set(selection);
  for (const uid of gone) kept.delete(uid);
  return kept;
}

/** The jobs a Node page lists. */
export interface RunningJobsList {
  /** in display order */
  jobs: readonly Job[];
  /** whether a job of this uid is in `jobs`, without a walk through them */
  isListed(uid: number): boolean;
}

interface RunningJobsProps {
  running: RunningJobsList;
  showArgs: boolean;
  /** show which cluster each job belongs to */
  showCluster: boolean;
}

/** The running jobs of one node (seed 5.3.2): select some or all and terminate them. */
export function RunningJobs({ running, showArgs, showCluster }: RunningJobsProps) {
  const { jobs, isListed } = running;
  const headingId = useId();
  const [chosen, setChosen] = useState<ReadonlySet<number>>(EMPTY_SELECTION);
  const [confirming, setConfirming] = useState<Job[] | null>(null);
  const [results, setResults] = useState<TerminationResult[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [shownArgs, setShownArgs] = useState<ShownArgs | null>(null);
  const { run, isPending } = useCommands();
  // arguments turned off meanwhile: their text goes from the dialog too
  const shownNow = showArgs ? shownArgs : null;
  const terminating = isPending('terminate');
  const readOnly = useReadOnly();

  // A job that left (finished, terminated, other cluster chosen) leaves the
  // selection at once, so the count and the command only name jobs on
  // screen; and for good (a later job could get its uid back).
  // (Kept during render, React's way to adjust state to new props: no effect, no extra commit.)
  const selection = useMemo(() => keepListed(chosen, isListed), [chosen, isListed]);
  if (selection !== chosen) setChosen(selection);

  // Stable across renders, so memoised rows stay untouched.
  const toggle = useMemo(
    () => (uid: number, on: boolean) =>
      setChosen((current) => {
        const next = new Set(current);
        if (on) next.add(uid);
        else next.delete(uid);
        return next;
      }),
    [],
  );

  const [scrollBox, setScrollBox] = useState<HTMLDivElement | null>(null);
  const columnCount = (showCluster ? 7 : 6) - (readOnly ? 1 : 0);
  const row = (index: number) => {
    const job = jobs[index];
    if (!job) return null;
    return (
      <JobRow
        key={job.uid}
        job={job}
        rowIndex={index + 2}
        selected={selection.has(job.uid)}
        showArgs={showArgs}
        showCluster={showCluster}
        onToggle={toggle}
        onShowArgs={setShownArgs}
        selectable={!readOnly}
      />
    );
  };

  const terminate = async (picked: Job[]) => {
    setConfirming(null);
    setError(null);
    setResults(null);
    const collected: TerminationResult[] = [];
    for (let i = 0; i < picked.length; i += MAX_UIDS_PER_COMMAND) {
      const batch = picked.slice(i, i + MAX_UIDS_PER_COMMAND);
      const outcome = await run('terminate', 'terminate_jobs', { uids: batch.map((j) => j.uid) });
      if (!outcome.ok) {
        setError(outcome.message);
        break;
      }
      for (const job of batch) {
        const result = outcome.value.results[String(job.uid)];
        collected.push({ uid: job.uid, id: job.id, text: result ? OUTCOME_TEXT[result] : 'no answer' });
      }
    }
    if (collected.length > 0) setResults(collected);
  };

  // every selected uid is listed (keepListed)
  const count = selection.size;
  return (
    <section className="running-jobs" aria-labelledby={headingId}>
      <div className="section-head">
        <h3 id={headingId}>Running jobs ({jobs.length})</h3>
        {!readOnly && (
          <button
            type="button"
            className="danger"
            disabled={count === 0 || terminating}
            onClick={() => setConfirming(jobs.filter((j) => selection.has(j.uid)))}
          >
            {/* The name keeps its prefix in every state: people and tests find it by it. */}
            Terminate selected ({count})
          </button>
        )}
      </div>

      <div ref={setScrollBox} className="table-scroll virtual-scroll" tabIndex={0} role="group" aria-labelledby={headingId}>
        <table className="jobs-table" aria-label="Running jobs" aria-rowcount={jobs.length + 1}>
          <colgroup>
            {!readOnly && <col className="col-select" />}
            <col className="col-id" />
            <col className="col-args" />
            <col className="col-args" />
            {showCluster && <col className="col-cluster" />}
            <col className="col-time" />
            <col className="col-elapsed" />
          </colgroup>
          <thead>
            <tr aria-rowindex={1}>
              {!readOnly && (
                <th scope="col">
                  <SelectAll
                    count={count}
                    total={jobs.length}
                    onChange={(all) => setChosen(all ? new Set(jobs.map((j) => j.uid)) : EMPTY_SELECTION)}
                  />
                </th>
              )}
              <th scope="col">Job ID</th>
              <th scope="col">Arguments</th>
              <th scope="col">Keyword arguments</th>
              {showCluster && <th scope="col">Cluster</th>}
              <th scope="col">Start time</th>
              <th scope="col">Elapsed</th>
            </tr>
          </thead>
          <tbody>
            {jobs.length === 0 ? (
              <EmptyRow columns={columnCount}>No jobs running on this node</EmptyRow>
            ) : (
              <VirtualRows count={jobs.length} scrollElement={scrollBox} rowHeight={ROW_HEIGHT} columns={columnCount} row={row} />
            )}
          </tbody>
        </table>
      </div>

      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      {results && (
        <div className="results">
          <h4>Termination results</h4>
          <ul aria-label="Termination results">
            {results.slice(0, LISTED_RESULTS).map((r) => (
              <li key={r.uid} className={`outcome-${r.text.replace(' ', '-')}`}>
                {r.id}: {r.text}
              </li>
            ))}
          </ul>
          {results.length > LISTED_RESULTS && (
            <p className="muted">… and {results.length - LISTED_RESULTS} more</p>
          )}
        </div>
      )}

      <ArgsDialog shown={shownNow} onClose={() => setShownArgs(null)} />

      <ConfirmDialog
        open={confirming !== null}
        title={confirming?.length === 1 ? 'Terminate 1 job?' : `Terminate ${confirming?.length ?? 0} jobs?`}
        confirmLabel="Terminate"
        busy={terminating}
        onConfirm={() => confirming && void terminate(confirming)}
        onCancel={() => setConfirming(null)}
      >
        <p>These jobs are killed on the node; their results are lost.</p>
        <ul className="dialog-list">
          {confirming?.slice(0, LISTED_IN_DIALOG).map((job) => <li key={job.uid}>{job.id}</li>)}
          {confirming && confirming.length > LISTED_IN_DIALOG && (
            <li className="muted">… and {confirming.length - LISTED_IN_DIALOG} more</li>
          )}
        </ul>
      </ConfirmDialog>
    </section>
  );
}
