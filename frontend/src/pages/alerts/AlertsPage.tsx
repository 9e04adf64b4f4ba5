import { useEffect, useId } from 'react';
import { useDashboard } from '../../core/context';
import type { Alert, AlertRule, AlertsPart, WebhookStatus } from '../../core/protocol';
import { formatDateTime, formatElapsed } from '../../lib/format';
import { useNow } from '../../lib/clock';
import { AlertHistory } from './AlertHistory';
import { AlertRules } from './AlertRules';
import { NotifySettings } from './NotifySettings';
import { AlertWhere, Severity, ruleTitle } from './alertText';
import '../pages.css';

function Since({ started }: { started: number }) {
  const now = useNow();
  return (
    <>
      {formatDateTime(started)} <span className="muted">({formatElapsed(now - started)})</span>
    </>
  );
}

/** The alerts firing now, oldest first. */
export function FiringNow({ firing, total, rules }: { firing: readonly Alert[]; total: number; rules: readonly AlertRule[] }) {
  const id = useId();
  return (
    <section aria-labelledby={id}>
      <div className="section-head">
        <h3 id={id}>Firing now</h3>
        <p className="alerts-count">{total === 0 ? 'nothing' : total === 1 ? '1 alert' : `${total} alerts`}</p>
      </div>
      {firing.length === 0 ? (
        <p className="alerts-note">Nothing is firing.</p>
      ) : (
        <div className="table-scroll">
          <table aria-labelledby={id} className="alerts-table">
            <thead>
              <tr>
                <th scope="col" className="plain">Severity</th>
                <th scope="col" className="plain">Alert</th>
                <th scope="col" className="plain">Rule</th>
                <th scope="col" className="plain">Where</th>
                <th scope="col" className="plain">Since</th>
                <th scope="col" className="plain">Action</th>
              </tr>
            </thead>
            <tbody>
              {firing.map((a) => (
                <tr key={a.id}>
                  <td>
                    <Severity severity={a.severity} />
                  </td>
                  <td className="alerts-summary">{a.summary}</td>
                  <td>{ruleTitle(rules, a.rule)}</td>
                  <td className="alerts-where">
                    <AlertWhere alert={a} />
                  </td>
                  <td>
                    <Since started={a.started} />
                  </td>
                  <td>{a.action ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {total > firing.length && (
        <p className="notice">
          {total - firing.length} more firing are not listed: the server sends the oldest {firing.length}.
        </p>
      )}
    </section>
  );
}

/** How the webhooks (`--alerts FILE`) are delivered, and their last failure. */
export function Webhooks({ status }: { status: WebhookStatus }) {
  const id = useId();
  return (
    <section aria-labelledby={id}>
      <h3 id={id}>Webhooks</h3>
      {status.targets === 0 ? (
        <p className="alerts-note">
          No webhook: the server was started without one (<code>--alerts FILE</code> names them).
        </p>
      ) : (
        <>
          <dl className="alerts-figures">
            {(
              [
                ['Targets', status.targets],
                ['Delivered', status.delivered],
                ['Failed', status.failed],
                ['Dropped (too many waiting)', status.dropped],
                ['Waiting', status.queued],
              ] as const
            ).map(([label, value]) => (
              <div key={label} className="figure">
                <dt>{label}</dt>
                <dd>{value}</dd>
              </div>
            ))}
          </dl>
          {status.last_error !== null && (
            <p className="notice alerts-error">
              Last delivery failure{status.last_error_at !== null ? ` at ${formatDateTime(status.last_error_at)}` : ''}:{' '}
              {status.last_error}
            </p>
          )}
        </>
      )}
    </section>
  );
}

function AlertsSections({ alerts }: { alerts: AlertsPart }) {
  return (
    <>
      <FiringNow firing={alerts.firing} total={alerts.firing_total} rules={alerts.rules} />
      <NotifySettings />
      <AlertHistory firing={alerts.firing} rules={alerts.rules} />
      <Webhooks status={alerts.webhooks} />
      <AlertRules rules={alerts.rules} />
    </>
  );
}

/** What fires now, the history of alerts, notifications in this browser, webhooks and the rules. */
export default function AlertsPage() {
  useEffect(() => {
    document.title = 'Alerts · dispymon';
  }, []);
  const alerts = useDashboard((s) => s.alerts);
  const loaded = useDashboard((s) => s.seq !== null);
  return (
    <>
      <h2>Alerts</h2>
      {alerts !== null ? (
        <AlertsSections alerts={alerts} />
      ) : loaded ? (
        <p className="notice">This server sends no alerts (a dispymon older than its alerts).</p>
      ) : (
        <p className="loading">Loading…</p>
      )}
    </>
  );
}
