import { useId, useMemo } from 'react';
import { useDashboard } from '../../core/context';
import { DASH, formatClock } from '../../lib/format';
import { EmptyRow } from '../../components/EmptyRow';

/** The log's action names (the commands', and the server's own) in plain words. */
const ACTIONS: Record<string, string> = {
  add_node: 'Add node',
  set_node_cpus: 'Set CPUs',
  allocate_node: 'Allocate node',
  deallocate_node: 'Deallocate node',
  close_node: 'Close node',
  terminate_jobs: 'Terminate jobs',
  set_show_job_args: 'Show job arguments',
  node_reopened: 'Closed node back in use',
};

/** An action's words; an unknown name (a newer server) readable all the same. */
export function actionText(action: string): string {
  const known = ACTIONS[action];
  if (known) return known;
  const words = action.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Every management action, whoever did it: newest first. */
export function AuditLog() {
  const headingId = useId();
  const audit = useDashboard((s) => s.audit);
  // The server keeps it newest last.
  const entries = useMemo(() => [...audit].reverse(), [audit]);
  return (
    <section className="audit" aria-labelledby={headingId}>
      <h3 id={headingId}>Audit log</h3>
      <div className="table-scroll" tabIndex={0} role="group" aria-labelledby={headingId}>
        <table aria-label="Audit log">
          <thead>
            <tr>
              {['Time', 'Action', 'Target', 'Cluster', 'Result', 'Message', 'Who'].map((h) => (
                <th key={h} scope="col" className="plain">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {entries.length === 0 ? (
              <EmptyRow columns={7}>Nothing done yet</EmptyRow>
            ) : (
              entries.map((e) => (
                <tr key={e.id}>
                  <td>{formatClock(e.time)}</td>
                  <td>{actionText(e.action)}</td>
                  <td>{e.target}</td>
                  {/* no cluster: the action applied to every cluster */}
                  <td>{e.cluster ?? 'all'}</td>
                  <td className={`audit-${e.state}`}>{e.state}</td>
                  <td className="wrap">{e.message}</td>
                  <td>{e.who ?? DASH}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
