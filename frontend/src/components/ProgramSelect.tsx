import { useId } from 'react';
import { useDashboard } from '../core/context';
import { COMBINED } from '../core/protocol';
import type { Fleet } from '../core/protocol';
import { useClusterChoice } from '../core/selectors';
import { formatClock } from '../lib/format';
import './ProgramSelect.css';

const ALL = '';

/** "offline since 14:02" / "stopped at 14:02" for a program that went silent. */
function silence(p: NonNullable<Fleet['programs']>[string]): string | null {
  if (p.online) return null;
  const when = p.offline_since ?? p.last_seen;
  return p.stopped ? `stopped at ${formatClock(when)}` : `offline since ${formatClock(when)}`;
}

/**
 * A fleet central's program chooser (docs/fleet.md), above the pages' cluster
 * chooser: a program shows its first cluster, "All programs" the combined view.
 * Beside it, what the page must say about the fleet: the broker unreachable, a
 * program offline, a resync from a snapshot. On a publishing program: where it
 * publishes and what it dropped. Nothing without a broker.
 */
export function ProgramSelect() {
  const id = useId();
  const fleet = useDashboard((s) => s.fleet);
  const clusters = useDashboard((s) => s.clusters);
  const selectCluster = useDashboard((s) => s.selectCluster);
  const { name } = useClusterChoice();
  if (fleet === null) return null;

  const brokerDown = fleet.reachable ? null : (
    <span role="alert" className="fleet-alert">
      Broker {fleet.broker} unreachable since {formatClock(fleet.since)}
    </span>
  );
  if (fleet.role === 'program') {
    return (
      <div className="fleet" aria-label="Fleet">
        <span className="muted">
          Publishing as <strong>{fleet.program}</strong> to {fleet.broker}
          {fleet.dropped ? `; ${fleet.dropped} events dropped while it was slow or down` : ''}
        </span>
        {brokerDown}
      </div>
    );
  }
  const programs = fleet.programs ?? {};
  const names = Object.keys(programs).sort();
  const current = name !== null && name !== COMBINED ? (clusters[name]?.program ?? ALL) : ALL;
  const notes: string[] = [];
  for (const p of names) {
    const info = programs[p]!;
    const quiet = silence(info);
    if (quiet) notes.push(`${p} ${quiet}`);
    if (info.resynced !== null) notes.push(`${p} resynced from a snapshot at ${formatClock(info.resynced)}`);
  }
  return (
    <div className="fleet field" aria-label="Fleet">
      <label htmlFor={id}>Program</label>
      <select
        id={id}
        value={current}
        onChange={(e) => {
          const chosen = e.target.value;
          const first = chosen === ALL ? undefined : programs[chosen]?.clusters.slice().sort()[0];
          selectCluster(first ?? COMBINED);
        }}
      >
        <option value={ALL}>All programs ({names.length})</option>
        {names.map((p) => {
          const quiet = silence(programs[p]!);
          return (
            <option key={p} value={p}>
              {quiet ? `${p} (${quiet})` : p}
            </option>
          );
        })}
      </select>
      {brokerDown}
      {notes.length > 0 && (
        <span role="status" aria-label="Programs" className="muted fleet-notes">
          {notes.join('; ')}
        </span>
      )}
    </div>
  );
}
