import { useEffect, useMemo, useState } from 'react';
import { AddNodeForm } from './AddNodeForm';
import { AuditLog } from './AuditLog';
import { ClusterSelect } from '../../components/ClusterSelect';
import { ManageNodes } from './ManageNodes';
import type { ActionReport, Target } from './manage';
import { useDashboard, useReadOnly } from '../../core/context';
import { Link } from '../../router';
import { clusterArg, clustersOf, useClusterChoice } from '../../core/selectors';
import { nodePath } from '../../lib/paths';
import '../pages.css';

/** What the last action did, for the person who did it. */
function ActionResult({ report: reported }: { report: ActionReport | null }) {
  // An action that completes later follows its audit entry: "pending" becomes
  // "ok" or "failed" (with the reason) in the same place.
  const entry = useDashboard((s) =>
    reported?.audit ? (s.audit.find((e) => e.id === reported.audit?.id) ?? null) : null,
  );
  let report = reported;
  if (reported?.audit && entry && entry.state !== 'pending') {
    const text = `${reported.audit.prefix}: ${entry.state}${entry.message ? ` (${entry.message})` : ''}`;
    report = { ...reported, text, error: entry.state === 'failed' };
  }
  return (
    <>
      {/* One live region for every action: present from the start (a region
          added together with its text is often not announced). An error is
          also an alert inside it, so it is announced at once and styled as one. */}
      <div role="status" aria-label="Action result" className={`action-result${report?.error ? ' is-error' : ''}`}>
        {report && (report.error ? <p role="alert">{report.text}</p> : <p>{report.text}</p>)}
      </div>
      {report?.busyWarning && (
        <p className="notice" aria-live="polite">
          {report.busyWarning.text}{' '}
          <Link to={nodePath(report.busyWarning.ip)}>See running jobs on {report.busyWarning.ip}</Link>
        </p>
      )}
    </>
  );
}

/** Add nodes, change their CPUs, allocate, deallocate, close (seed 5.3.3). Loaded on first visit. */
export default function ManagePage() {
  useEffect(() => {
    document.title = 'Manage · dispymon';
  }, []);
  const clusters = useDashboard((s) => s.clusters);
  const { name } = useClusterChoice();
  const [report, setReport] = useState<ActionReport | null>(null);
  const readOnly = useReadOnly();

  // '* Combined' acts on every cluster: the commands then omit `cluster`.
  const target = useMemo<Target | null>(
    () => (name === null ? null : { name, clusters: clustersOf(clusters, name), arg: clusterArg(name) }),
    [clusters, name],
  );

  return (
    <>
      <h2>Manage</h2>
      <div className="toolbar">
        <ClusterSelect />
      </div>
      {readOnly ? (
        <p className="notice">Read-only: managing nodes needs the operator token. The nodes and the audit log are shown.</p>
      ) : (
        <ActionResult report={report} />
      )}
      {target === null ? (
        <p className="loading">No cluster yet.</p>
      ) : (
        <>
          {!readOnly && <AddNodeForm target={target} onReport={setReport} />}
          <ManageNodes target={target} onReport={setReport} />
        </>
      )}
      <AuditLog />
    </>
  );
}
