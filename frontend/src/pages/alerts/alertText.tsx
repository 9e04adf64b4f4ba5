// How the Alerts page words and links an alert, shared by its tables.
import { Fragment } from 'react';
import type { Alert, AlertRule } from '../../core/protocol';
import { jobPath, nodePath } from '../../lib/paths';
import { DASH } from '../../lib/format';
import { Link } from '../../router';

/** A rule's title by its name; the name itself for a rule the server no longer lists. */
export function ruleTitle(rules: readonly AlertRule[], name: string): string {
  return rules.find((r) => r.name === name)?.title ?? name;
}

/** Where an alert is: its cluster, node (linked to its page) and job (linked to its page). */
export function AlertWhere({ alert }: { alert: Alert }) {
  const parts = [];
  if (alert.cluster !== null) parts.push(<span key="c">cluster {alert.cluster}</span>);
  if (alert.node !== null) {
    parts.push(
      <span key="n">
        node <Link to={nodePath(alert.node)}>{alert.node}</Link>
      </span>,
    );
  }
  if (alert.job !== null) {
    parts.push(
      <span key="j">
        job{' '}
        {alert.cluster !== null ? <Link to={jobPath(alert.cluster, alert.job.id, alert.job.key)}>{alert.job.id}</Link> : alert.job.id}
      </span>,
    );
  }
  if (parts.length === 0) return <>{DASH}</>;
  return (
    <>
      {parts.map((p, i) => (
        <Fragment key={i}>
          {i > 0 && ', '}
          {p}
        </Fragment>
      ))}
    </>
  );
}

/** A severity as a word with its colour (not colour alone). */
export function Severity({ severity }: { severity: Alert['severity'] }) {
  return <span className={`alert-severity severity-${severity}`}>{severity}</span>;
}

/** A rule's parameter as a person reads it. */
const PARAM_TEXT: Record<string, string> = {
  percent: 'Failed (%)',
  min_jobs: 'Of at least (jobs)',
  minutes: 'In the last (minutes)',
  seconds: 'After (seconds)',
  terminate: 'Terminate the job',
};

export function paramLabel(name: string): string {
  return PARAM_TEXT[name] ?? name.replace(/_/g, ' ');
}

/** A rule's settings in one line: "percent 20, min jobs 10, terminate no". */
export function paramsText(params: Record<string, number | boolean>): string {
  const entries = Object.entries(params);
  if (entries.length === 0) return 'no settings';
  return entries.map(([k, v]) => `${k.replace(/_/g, ' ')} ${typeof v === 'boolean' ? (v ? 'yes' : 'no') : v}`).join(', ');
}
