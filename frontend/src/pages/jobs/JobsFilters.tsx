// The Jobs view's filters. They live in the address (replaceSearch): a link
// or a reload shows the same jobs. Choices apply at once; typed text applies
// on Enter or on leaving the field, so typing an id does not make the server
// freeze a new selection at every key.
import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { JOB_STATES } from '../../core/protocol';
import type { JobFilter, JobState } from '../../core/protocol';

const pad2 = (n: number) => String(n).padStart(2, '0');

/** A Unix time as a datetime-local input's value (local time, minutes). */
export function toLocalInput(unix: number | undefined): string {
  if (unix === undefined) return '';
  const d = new Date(unix * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** A datetime-local input's value as Unix seconds; undefined when empty or invalid. */
export function fromLocalInput(value: string): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

type TextField = 'node' | 'exception' | 'text';

interface JobsFiltersProps {
  filter: JobFilter;
  clusters: string[];
  onChange(filter: JobFilter): void;
}

export function JobsFilters({ filter, clusters, onChange }: JobsFiltersProps) {
  const ids = { cluster: useId(), node: useId(), exception: useId(), text: useId(), since: useId(), until: useId() };
  const legendId = useId();
  // typed text not applied yet, per field
  const [drafts, setDrafts] = useState<Partial<Record<TextField, string>>>({});
  const states = new Set(filter.states ?? []);

  // undefined (or empty) removes a field
  type Change = { [K in keyof JobFilter]?: JobFilter[K] | undefined };
  const set = (change: Change) => {
    const merged: Change = { ...filter, ...change };
    for (const k of Object.keys(merged) as (keyof JobFilter)[]) {
      const v = merged[k];
      if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) delete merged[k];
    }
    onChange(merged as JobFilter);
  };
  const apply = () => {
    const change: Change = {};
    for (const [k, v] of Object.entries(drafts) as [TextField, string][]) change[k] = v.trim() || undefined;
    setDrafts({});
    if (Object.keys(change).length > 0) set(change);
  };
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    apply();
  };
  const toggle = (state: JobState, on: boolean) => {
    const next = JOB_STATES.filter((s) => (s === state ? on : states.has(s)));
    set({ states: next });
  };
  const textInput = (field: TextField, label: string, placeholder?: string) => (
    <div className="field">
      <label htmlFor={ids[field]}>{label}</label>
      <input
        id={ids[field]}
        type="search"
        autoComplete="off"
        spellCheck={false}
        placeholder={placeholder}
        value={drafts[field] ?? filter[field] ?? ''}
        onChange={(e) => setDrafts((d) => ({ ...d, [field]: e.target.value }))}
        onBlur={apply}
      />
    </div>
  );

  return (
    <form className="toolbar jobs-filters" onSubmit={onSubmit} aria-label="Filters">
      {clusters.length > 1 && (
        <div className="field">
          <label htmlFor={ids.cluster}>Cluster</label>
          <select id={ids.cluster} value={filter.cluster ?? ''} onChange={(e) => set({ cluster: e.target.value || undefined })}>
            <option value="">All clusters</option>
            {clusters.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </div>
      )}
      <fieldset className="jobs-states" aria-labelledby={legendId}>
        <legend id={legendId}>State</legend>
        {JOB_STATES.map((s) => (
          <label key={s} className="checkbox-field">
            <input type="checkbox" checked={states.has(s)} onChange={(e) => toggle(s, e.target.checked)} />
            {s}
          </label>
        ))}
      </fieldset>
      {textInput('node', 'Node', 'IP address')}
      {textInput('exception', 'Exception type')}
      {textInput('text', 'Job ID contains')}
      <div className="field">
        <label htmlFor={ids.since}>From</label>
        <input
          id={ids.since}
          type="datetime-local"
          value={toLocalInput(filter.since)}
          onChange={(e) => set({ since: fromLocalInput(e.target.value) })}
        />
      </div>
      <div className="field">
        <label htmlFor={ids.until}>To</label>
        <input
          id={ids.until}
          type="datetime-local"
          value={toLocalInput(filter.until)}
          onChange={(e) => set({ until: fromLocalInput(e.target.value) })}
        />
      </div>
      {/* Enter in a text field submits; a visible button for touch and for people who look for one */}
      <button type="submit">Apply</button>
    </form>
  );
}
