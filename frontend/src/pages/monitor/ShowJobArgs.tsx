import { useId, useState } from 'react';
import { useDashboard, useReadOnly } from '../../core/context';
import { useCommands } from '../../core/useCommands';

/**
 * The server-wide 'Show job arguments' flag (seed 5.3.1): whether the Node
 * page may show job arguments. Every browser sees a change through the delta.
 * A viewer is told the setting, with no switch (it may not change it).
 */
export function ShowJobArgs() {
  const readOnly = useReadOnly();
  const settings = useDashboard((s) => s.settings);
  if (readOnly) {
    return settings === null ? null : (
      <p className="muted">Job arguments {settings.show_job_args ? 'shown' : 'hidden'} (an operator's setting)</p>
    );
  }
  return <ShowJobArgsSwitch />;
}

function ShowJobArgsSwitch() {
  const id = useId();
  const errorId = useId();
  const settings = useDashboard((s) => s.settings);
  const confirmSettings = useDashboard((s) => s.confirmSettings);
  const { run, isPending } = useCommands();
  const [error, setError] = useState<string | null>(null);
  const pending = isPending('show');

  const toggle = async (value: boolean) => {
    setError(null);
    const outcome = await run('show', 'set_show_job_args', { value });
    if (outcome.ok) confirmSettings({ show_job_args: outcome.value.show_job_args });
    else setError(outcome.message);
  };

  return (
    <div className="checkbox-field">
      <input
        id={id}
        type="checkbox"
        // Unknown until the first snapshot: not checkable before.
        checked={settings?.show_job_args ?? false}
        disabled={settings === null || pending}
        aria-describedby={error ? errorId : undefined}
        onChange={(e) => void toggle(e.target.checked)}
      />
      <label htmlFor={id}>Show job arguments</label>
      {error && (
        <p id={errorId} className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
