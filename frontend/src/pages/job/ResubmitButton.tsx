// Resubmit one ended job with its original arguments (an operator's action):
// confirm, then link to the new job, or say why it cannot be done.
import { useState } from 'react';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { useReadOnly } from '../../core/context';
import type { JobDetail } from '../../core/protocol';
import { useCommands } from '../../core/useCommands';
import { jobPath } from '../../lib/paths';
import { Link } from '../../router';

type Result = { ok: true; key: number; id: string } | { ok: false; message: string };

export function ResubmitButton({ job }: { job: JobDetail }) {
  const readOnly = useReadOnly();
  const { run, isPending } = useCommands();
  const [confirming, setConfirming] = useState(false);
  const [result, setResult] = useState<Result | null>(null);
  if (readOnly || job.state === 'queued' || job.state === 'running') return null;
  const busy = isPending('resubmit');

  const resubmit = async () => {
    setConfirming(false);
    setResult(null);
    const outcome = await run('resubmit', 'resubmit', { cluster: job.cluster, key: job.key });
    setResult(outcome.ok ? { ok: true, ...outcome.value } : { ok: false, message: outcome.message });
  };

  return (
    <div className="job-resubmit">
      {job.resubmit.possible ? (
        <button type="button" className="primary" disabled={busy} onClick={() => setConfirming(true)}>
          Resubmit
        </button>
      ) : (
        <p className="muted">Cannot be resubmitted: {job.resubmit.reason ?? 'its arguments are not kept'}</p>
      )}
      <div className="action-result" role="status">
        {result?.ok === true && (
          <p>
            Resubmitted as <Link to={jobPath(job.cluster, result.id, result.key)}>{result.id}</Link>
          </p>
        )}
      </div>
      {result?.ok === false && (
        <p className="field-error" role="alert">
          Not resubmitted: {result.message}
        </p>
      )}
      <ConfirmDialog
        open={confirming}
        title={`Resubmit job ${job.id}?`}
        confirmLabel="Resubmit"
        busy={busy}
        onConfirm={() => void resubmit()}
        onCancel={() => setConfirming(false)}
      >
        <p>A new job runs on the cluster with this job's arguments{job.pinned ? `, on node ${job.pinned}` : ''}.</p>
      </ConfirmDialog>
    </div>
  );
}
