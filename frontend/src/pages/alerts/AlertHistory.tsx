import { useEffect, useId, useRef, useState } from 'react';
import type { Alert, AlertRule, CommandArgs } from '../../core/protocol';
import { useQuery } from '../../core/useCommands';
import { formatDateTime, formatElapsed } from '../../lib/format';
import { AlertWhere, Severity, ruleTitle } from './alertText';

/** Alerts per page of the history (the server's default; it allows up to 500). */
export const HISTORY_PAGE = 100;

/** The `alerts_history` arguments of a page: the newest, or those before an alert id. */
export function historyArgs(before: number | undefined): CommandArgs<'alerts_history'> {
  return before === undefined ? { limit: HISTORY_PAGE } : { before, limit: HISTORY_PAGE };
}

/**
 * The alerts that fired, newest first, resolved or not (the `alerts_history`
 * query, paged by alert id). The newest page is asked again whenever what
 * fires changes, so a firing or a resolving shows here too.
 */
export function AlertHistory({ firing, rules }: { firing: readonly Alert[]; rules: readonly AlertRule[] }) {
  const id = useId();
  // the ids each older page starts before; empty on the newest page
  const [pages, setPages] = useState<number[]>([]);
  const before = pages.at(-1);
  const history = useQuery('alerts_history', historyArgs(before));
  const rows = history.value?.alerts ?? [];

  const firingKey = firing.map((a) => a.id).join(',');
  const seenKey = useRef(firingKey);
  const { reload } = history;
  useEffect(() => {
    if (seenKey.current === firingKey) return; // the query asked already on mount
    seenKey.current = firingKey;
    if (before === undefined) reload();
  }, [firingKey, before, reload]);

  const last = rows.at(-1);
  return (
    <section aria-labelledby={id}>
      <div className="section-head">
        <h3 id={id}>History</h3>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      {history.error !== null && (
        <p className="notice alerts-error" role="alert">
          Could not load the history of alerts: {history.error}
        </p>
      )}
      {history.value === null && history.error === null && <p className="loading">Loading…</p>}
      {history.value !== null && rows.length === 0 && <p className="alerts-note">No alert has fired{before === undefined ? ' yet' : ' before these'}.</p>}
      {rows.length > 0 && (
        <div className="table-scroll">
          <table aria-labelledby={id} className="alerts-table">
            <thead>
              <tr>
                <th scope="col" className="plain">Started</th>
                <th scope="col" className="plain">Resolved</th>
                <th scope="col" className="plain">Lasted</th>
                <th scope="col" className="plain">Severity</th>
                <th scope="col" className="plain">Alert</th>
                <th scope="col" className="plain">Rule</th>
                <th scope="col" className="plain">Where</th>
                <th scope="col" className="plain">Action</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.id} className={a.resolved === null ? 'alerts-firing' : undefined}>
                  <td>{formatDateTime(a.started)}</td>
                  <td>{a.resolved === null ? <strong>firing</strong> : formatDateTime(a.resolved)}</td>
                  <td>{a.resolved === null ? '' : formatElapsed(a.resolved - a.started)}</td>
                  <td>
                    <Severity severity={a.severity} />
                  </td>
                  <td className="alerts-summary">{a.summary}</td>
                  <td>{ruleTitle(rules, a.rule)}</td>
                  <td className="alerts-where">
                    <AlertWhere alert={a} />
                  </td>
                  <td>{a.action ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav className="alerts-pager" aria-label="Pages of the history of alerts">
        <button type="button" disabled={pages.length === 0} onClick={() => setPages((p) => p.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={!history.value?.more || last === undefined} onClick={() => last && setPages((p) => (p.at(-1) === last.id ? p : [...p, last.id]))}>
          Older
        </button>
      </nav>
    </section>
  );
}
