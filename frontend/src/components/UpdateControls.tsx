import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { useDashboard, useSocket } from '../core/context';
import { parseInterval } from '../lib/format';

/**
 * The shortest interval the server keeps ("live": 20 updates a second, the
 * hello's `min_interval`); a smaller positive value counts as this.
 */
export const LIVE_INTERVAL = 0.05;

/** This browser's update interval, "Live", and "Update" to get changes right now. */
export function UpdateControls() {
  const inputId = useId();
  const errorId = useId();
  const socket = useSocket();
  const interval = useDashboard((s) => s.interval);
  // While the user edits, show their text (possibly invalid or half-typed);
  // otherwise show the store's value, which a hello may set.
  const [draft, setDraft] = useState<string | null>(null);
  const text = draft ?? (interval === null ? '' : String(interval));
  const invalid = draft !== null && parseInterval(draft) === null;

  const commit = (value: string): boolean => {
    const asked = parseInterval(value);
    if (asked === null) return false;
    const seconds = asked > 0 && asked < LIVE_INTERVAL ? LIVE_INTERVAL : asked;
    if (seconds !== interval) socket.setViewInterval(seconds);
    return true;
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (draft !== null && commit(draft)) setDraft(null);
  };

  return (
    <form className="update-controls" onSubmit={onSubmit}>
      <div className="field">
        <label htmlFor={inputId}>Update interval (seconds)</label>
        <input
          id={inputId}
          type="number"
          step="any"
          min="0"
          inputMode="decimal"
          value={text}
          aria-invalid={invalid || undefined}
          aria-describedby={invalid ? errorId : undefined}
          onChange={(e) => {
            setDraft(e.target.value);
            commit(e.target.value);
          }}
          onBlur={() => {
            // Back to the canonical value, unless the text is invalid and
            // the user still has to see (and fix) it.
            if (draft !== null && parseInterval(draft) !== null) setDraft(null);
          }}
        />
      </div>
      <button
        type="button"
        aria-pressed={interval === LIVE_INTERVAL}
        title={`Update ${1 / LIVE_INTERVAL} times a second`}
        onClick={() => {
          setDraft(null);
          if (interval !== LIVE_INTERVAL) socket.setViewInterval(LIVE_INTERVAL);
        }}
      >
        Live
      </button>
      <button type="button" onClick={() => socket.flush()}>
        Update
      </button>
      {invalid ? (
        <p id={errorId} className="field-error" role="alert">
          Enter a number of seconds (0 or less stops automatic updates).
        </p>
      ) : draft !== null && (parseInterval(draft) ?? 0) > 0 && (parseInterval(draft) ?? 0) < LIVE_INTERVAL ? (
        <p className="hint">Below {LIVE_INTERVAL} s counts as {LIVE_INTERVAL} s, the live minimum.</p>
      ) : interval !== null && interval <= 0 ? (
        <p className="hint">Automatic updates stopped: press Update to refresh.</p>
      ) : null}
    </form>
  );
}
