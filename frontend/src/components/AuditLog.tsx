import { useId, useMemo } from 'react';
import { useDashboard } from '../context';
import { DASH, formatClock } from '../format';

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
              <tr>
                <td className="empty" colSpan={7}>
                  Nothing done yet
                </td>
              </tr>
            ) : (
              entries.map((e) => (
                <tr key={e.id}>
                  <td>{formatClock(e.time)}</td>
                  <td>{e.action}</td>
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
