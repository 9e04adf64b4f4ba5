// A bulk action over every job a filter selects (issue 18): terminate the
// queued and running ones, or resubmit the ended ones. Preview (count, first
// rows, the limit), confirm, then progress from the `actions` part of the
// deltas (with Cancel), and at the end the count per outcome, each opening
// the list of its jobs. Loaded on first use (the default export, for lazy()).
import { useEffect, useId, useRef, useState } from 'react';
import { useDashboard, useSocket } from '../core/context';
import { BULK_MAX } from '../core/protocol';
import type { BulkActionName, BulkOutcomeItem, JobFilter } from '../core/protocol';
import { useCommands, useQuery } from '../core/useCommands';
import { jobPath } from '../lib/paths';
import { Link } from '../router';

/** Rows per page of an outcome's list. */
export const OUTCOME_ROWS = 100;

const count = (n: number) => n.toLocaleString('en-US');

/** What each outcome of a bulk action is called (golden.test.ts checks it names every one the server has). */
export const OUTCOME_TEXT: Record<string, string> = {
  terminated: 'terminated',
  already_finished: 'already finished',
  not_found: 'not found',
  failed: 'failed',
  resubmitted: 'resubmitted',
  not_kept: 'arguments not kept',
  failed_to_submit: 'failed to submit',
  cancelled: 'not done (cancelled)',
};
const outcomeText = (o: string) => OUTCOME_TEXT[o] ?? o.replace(/_/g, ' ');

const WHAT: Record<BulkActionName, { verb: string; eligible: string }> = {
  terminate: { verb: 'Terminate', eligible: 'queued or running' },
  resubmit: { verb: 'Resubmit', eligible: 'ended' },
};

/** One outcome's jobs, a page at a time. */
function OutcomeList({ actionId, outcome }: { actionId: number; outcome: string }) {
  const [offset, setOffset] = useState(0);
  const page = useQuery('bulk_outcomes', { action_id: actionId, outcome, offset, limit: OUTCOME_ROWS });
  const total = page.value?.total ?? null;
  const items: BulkOutcomeItem[] = page.value?.items ?? [];
  return (
    <div className="bulk-outcomes">
      {page.error !== null && (
        <p className="field-error" role="alert">
          {page.error}
        </p>
      )}
      <ul aria-label={`Jobs ${outcomeText(outcome)}`} className="dialog-list">
        {items.map((item) => (
          <li key={`${item.cluster}\u0000${item.key}`}>
            <Link to={jobPath(item.cluster, item.id, item.key)}>{item.id}</Link>
            {item.new_key !== null && (
              <>
                {' → '}
                <Link to={jobPath(item.cluster, String(item.new_key), item.new_key)}>job #{item.new_key}</Link>
              </>
            )}
            {item.reason && <span className="muted">: {item.reason}</span>}
          </li>
        ))}
      </ul>
      {total !== null && total > OUTCOME_ROWS && (
        <nav className="history-pager" aria-label="Pages of this outcome">
          <button type="button" disabled={offset === 0} onClick={() => setOffset((o) => Math.max(0, o - OUTCOME_ROWS))}>
            Previous
          </button>
          <span className="history-note">
            {offset + 1}–{Math.min(offset + OUTCOME_ROWS, total)} of {count(total)}
          </span>
          <button type="button" disabled={offset + OUTCOME_ROWS >= total} onClick={() => setOffset((o) => o + OUTCOME_ROWS)}>
            Next
          </button>
        </nav>
      )}
    </div>
  );
}

/** The preview: what the action would act on. */
function Preview({ action, filter, onStart, busy }: { action: BulkActionName; filter: JobFilter; onStart(expect: number): void; busy: boolean }) {
  const preview = useQuery('bulk_preview', { action, filter });
  const p = preview.value;
  if (preview.error !== null) {
    return (
      <p className="field-error" role="alert">
        Could not preview: {preview.error}
      </p>
    );
  }
  if (p === null) return <p className="loading">Counting…</p>;
  const what = WHAT[action];
  return (
    <>
      <p role="status">
        {count(p.count)} {p.count === 1 ? 'job matches' : 'jobs match'} the filter; {count(p.eligible)} {p.eligible === 1 ? 'is' : 'are'}{' '}
        {what.eligible}.
        {action === 'resubmit' && p.not_kept > 0 && ` ${count(p.not_kept)} of them cannot be resubmitted: their arguments are not kept.`}
      </p>
      {p.over_limit && (
        <p className="field-error" role="alert">
          That is more than one action may take ({count(BULK_MAX)} jobs): narrow the filter.
        </p>
      )}
      {p.eligible === 0 && <p className="muted">Nothing to {what.verb.toLowerCase()}.</p>}
      {p.first.length > 0 && (
        <ul className="dialog-list" aria-label="First matching jobs">
          {p.first.map((row) => (
            <li key={`${row.cluster}\u0000${row.key}`}>
              {row.id} <span className="muted">({row.state}{row.node ? ` on ${row.node}` : ''})</span>
            </li>
          ))}
          {p.eligible > p.first.length && <li className="muted">… and {count(p.eligible - p.first.length)} more</li>}
        </ul>
      )}
      <div className="dialog-buttons">
        <button type="button" className="danger" disabled={busy || p.over_limit || p.eligible === 0} onClick={() => onStart(p.eligible)}>
          {what.verb} {count(p.eligible)} {p.eligible === 1 ? 'job' : 'jobs'}
        </button>
      </div>
    </>
  );
}

/** The running or ended action, from the store's `actions`. */
function Progress({ actionId }: { actionId: number }) {
  const action = useDashboard((s) => s.actions.find((a) => a.id === actionId) ?? null);
  const socket = useSocket();
  const { run, isPending } = useCommands();
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const running = action === null || action.state === 'running' || action.state === 'cancelling';

  // While it runs, ask for what changed once a second: a paused browser
  // (interval ≤ 0) sees the progress too (the commander's own request).
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => socket.flush(), 1000);
    return () => clearInterval(timer);
  }, [running, socket]);

  const cancel = async () => {
    setError(null);
    const outcome = await run('cancel', 'bulk_cancel', { action_id: actionId });
    if (!outcome.ok) setError(outcome.message);
  };

  if (action === null) return <p className="loading">Started; waiting for its progress…</p>;
  const outcomes = Object.entries(action.counts).filter(([, n]) => n > 0);
  return (
    <>
      <div className="bulk-progress">
        <label>
          {action.state === 'done' ? 'Done' : action.state === 'cancelled' ? 'Cancelled' : action.state === 'cancelling' ? 'Cancelling' : 'Running'}:{' '}
          {count(action.done)} of {count(action.total)}
          <progress max={Math.max(1, action.total)} value={action.done} />
        </label>
        {running && (
          <button type="button" disabled={action.state === 'cancelling' || isPending('cancel')} onClick={() => void cancel()}>
            Cancel
          </button>
        )}
      </div>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      {outcomes.length > 0 && (
        <ul className="bulk-counts" aria-label="Outcomes">
          {outcomes.map(([outcome, n]) => (
            <li key={outcome}>
              <button type="button" aria-expanded={open === outcome} disabled={running} onClick={() => setOpen(open === outcome ? null : outcome)}>
                {count(n)} {outcomeText(outcome)}
              </button>
            </li>
          ))}
        </ul>
      )}
      {!running && open !== null && <OutcomeList key={open} actionId={actionId} outcome={open} />}
    </>
  );
}

interface BulkDialogProps {
  action: BulkActionName;
  filter: JobFilter;
  onClose(): void;
}

export default function BulkDialog({ action, filter, onClose }: BulkDialogProps) {
  const headingId = useId();
  const ref = useRef<HTMLDialogElement>(null);
  const { run, isPending } = useCommands();
  const [actionId, setActionId] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      if (dialog?.open) dialog.close();
    };
  }, []);

  const start = async (expect: number) => {
    setError(null);
    const outcome = await run('start', 'bulk_start', { action, filter, expect });
    if (outcome.ok) setActionId(outcome.value.action_id);
    else setError(outcome.message);
  };

  return (
    <dialog ref={ref} className="confirm-dialog bulk-dialog" aria-labelledby={headingId} onClose={onClose}>
      <h3 id={headingId}>{WHAT[action].verb} the jobs of this filter</h3>
      {actionId === null ? (
        <Preview action={action} filter={filter} onStart={(n) => void start(n)} busy={isPending('start')} />
      ) : (
        <Progress actionId={actionId} />
      )}
      {error && (
        <p className="field-error" role="alert">
          Not started: {error}
        </p>
      )}
      <div className="dialog-buttons">
        {/* closing leaves a running action running: its progress stays in the audit log */}
        <button type="button" onClick={() => ref.current?.close()}>
          Close
        </button>
      </div>
    </dialog>
  );
}
