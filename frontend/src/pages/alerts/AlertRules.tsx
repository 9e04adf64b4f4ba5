import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { useDashboard, useReadOnly } from '../../core/context';
import type { AlertParams, AlertRule, CommandArgs } from '../../core/protocol';
import { clusterNames } from '../../core/selectors';
import { useCommands } from '../../core/useCommands';
import { paramLabel, paramsText } from './alertText';

/** A form's values: numbers as typed (text), switches as booleans. */
type Draft = Record<string, string | boolean>;

const toDraft = (params: AlertParams): Draft =>
  Object.fromEntries(Object.entries(params).map(([k, v]) => [k, typeof v === 'boolean' ? v : String(v)]));

/** The params a form's values stand for, typed as the rule's own; or what is wrong with them. */
export function parseParams(draft: Draft, like: AlertParams): { params: AlertParams } | { error: string } {
  const params: AlertParams = {};
  for (const [name, was] of Object.entries(like)) {
    const value = draft[name];
    if (typeof was === 'boolean') {
      params[name] = value === true;
      continue;
    }
    const text = typeof value === 'string' ? value.trim() : '';
    const n = Number(text);
    if (text === '' || !Number.isFinite(n)) return { error: `${paramLabel(name)}: a number is needed` };
    params[name] = n;
  }
  return { params };
}

/** The inputs of a rule's params (or a cluster's override of them). */
function ParamFields({ draft, onChange, idPrefix }: { draft: Draft; onChange: (name: string, value: string | boolean) => void; idPrefix: string }) {
  return (
    <>
      {Object.entries(draft).map(([name, value]) =>
        typeof value === 'boolean' ? (
          <label key={name} className="alerts-check">
            <input type="checkbox" checked={value} onChange={(e) => onChange(name, e.target.checked)} /> {paramLabel(name)}
          </label>
        ) : (
          <div key={name} className="field">
            <label htmlFor={`${idPrefix}-${name}`}>{paramLabel(name)}</label>
            <input
              id={`${idPrefix}-${name}`}
              type="text"
              inputMode="decimal"
              autoComplete="off"
              value={value}
              onChange={(e) => onChange(name, e.target.value)}
            />
          </div>
        ),
      )}
    </>
  );
}

type Answer = { ok: true; text: string } | { ok: false; text: string } | null;

/** The server's answer to the last Save of a form: a status line when saved, an alert when not. */
function AnswerLine({ answer }: { answer: Answer }) {
  return (
    <>
      <p className="alerts-note" role="status">
        {answer?.ok ? answer.text : ''}
      </p>
      {answer && !answer.ok && (
        <p className="notice alerts-error" role="alert">
          {answer.text}
        </p>
      )}
    </>
  );
}

/**
 * Sends `set_alert_rule` with a form's values and words the server's answer;
 * the form keeps the user's values until the server took them.
 */
function useSave(key: string) {
  const { run, isPending } = useCommands();
  const [answer, setAnswer] = useState<Answer>(null);
  const save = async (args: CommandArgs<'set_alert_rule'>, onSaved: () => void) => {
    setAnswer(null);
    const out = await run(key, 'set_alert_rule', args);
    if (!out.ok) {
      setAnswer({ ok: false, text: `Not saved: ${out.message}` });
      return;
    }
    const rule = out.value.rule;
    const own = args.cluster !== undefined ? rule.clusters[args.cluster] : undefined;
    const what =
      args.cluster === undefined
        ? `${rule.enabled ? 'on' : 'off'}; ${paramsText(rule.params)}`
        : own
          ? `for cluster ${args.cluster}: ${paramsText(own)}`
          : `no settings of its own for cluster ${args.cluster}`;
    setAnswer({ ok: true, text: `Saved. The server now has ${what}.` });
    onSaved();
  };
  return { save, answer, setAnswer, pending: isPending(key) };
}

/** A cluster's own settings of a rule (e.g. a shorter limit for long_job in one cluster). */
function ClusterForm({
  rule,
  cluster,
  params,
  onClose,
  onRemoved,
}: {
  rule: AlertRule;
  cluster: string;
  params: AlertParams;
  /** a new cluster's form: closed by Cancel, and once saved */
  onClose?: () => void;
  /** an existing one's was removed (this form goes with the next update: its parent says so) */
  onRemoved?: (text: string) => void;
}) {
  const [draft, setDraft] = useState<Draft | null>(null);
  const { save, answer, setAnswer, pending } = useSave(`${rule.name}\u0000${cluster}`);
  const shown = draft ?? toDraft(params);
  const id = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseParams(shown, params);
    if ('error' in parsed) return setAnswer({ ok: false, text: parsed.error });
    void save({ rule: rule.name, cluster, params: parsed.params }, () => {
      setDraft(null);
      onClose?.();
    });
  };
  return (
    <form className="alerts-cluster-form" aria-labelledby={id} onSubmit={submit}>
      <h5 id={id}>
        {rule.title}, cluster {cluster}
      </h5>
      <div className="toolbar">
        <ParamFields draft={shown} idPrefix={id} onChange={(k, v) => setDraft({ ...shown, [k]: v })} />
        <button type="submit" disabled={pending}>
          Save
        </button>
        {(draft !== null || onClose) && (
          <button
            type="button"
            onClick={() => {
              setDraft(null);
              setAnswer(null);
              onClose?.();
            }}
          >
            Cancel
          </button>
        )}
        {!onClose && (
          <button type="button" disabled={pending} onClick={() =>
              void save({ rule: rule.name, cluster, params: {} }, () => {
                setDraft(null);
                onRemoved?.(`Removed: cluster ${cluster} follows the rule's own settings again.`);
              })
            }>
            Remove
          </button>
        )}
      </div>
      <AnswerLine answer={answer} />
    </form>
  );
}

/** Adds a cluster's own settings of a rule: pick a cluster, then its form (starting from the rule's settings). */
function AddCluster({ rule }: { rule: AlertRule }) {
  const clusters = useDashboard((s) => s.clusters);
  const free = clusterNames(clusters).filter((name) => !(name in rule.clusters));
  const [picked, setPicked] = useState<string | null>(null);
  const [choice, setChoice] = useState('');
  const id = useId();
  if (picked !== null) return <ClusterForm rule={rule} cluster={picked} params={rule.params} onClose={() => setPicked(null)} />;
  if (free.length === 0) return null;
  const cluster = free.includes(choice) ? choice : free[0]!;
  return (
    <div className="toolbar">
      <div className="field">
        <label htmlFor={id}>Settings of their own for cluster</label>
        <select id={id} value={cluster} onChange={(e) => setChoice(e.target.value)}>
          {free.map((name) => (
            <option key={name}>{name}</option>
          ))}
        </select>
      </div>
      <button type="button" onClick={() => setPicked(cluster)}>
        Add
      </button>
    </div>
  );
}

/** One rule's form: on or off, its settings, and each cluster's own settings. */
function RuleForm({ rule }: { rule: AlertRule }) {
  const [draft, setDraft] = useState<{ enabled: boolean; params: Draft } | null>(null);
  const { save, answer, setAnswer, pending } = useSave(rule.name);
  const shown = draft ?? { enabled: rule.enabled, params: toDraft(rule.params) };
  const id = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseParams(shown.params, rule.params);
    if ('error' in parsed) return setAnswer({ ok: false, text: parsed.error });
    const args: CommandArgs<'set_alert_rule'> = { rule: rule.name, enabled: shown.enabled };
    if (Object.keys(parsed.params).length > 0) args.params = parsed.params;
    void save(args, () => setDraft(null));
  };
  const hasParams = Object.keys(rule.params).length > 0;
  return (
    <div className="alerts-rule">
      <form aria-labelledby={id} onSubmit={submit}>
        <h4 id={id}>
          {rule.title} <code className="muted">{rule.name}</code>
        </h4>
        <div className="toolbar">
          <label className="alerts-check">
            <input type="checkbox" checked={shown.enabled} onChange={(e) => setDraft({ ...shown, enabled: e.target.checked })} /> Enabled
          </label>
          <ParamFields draft={shown.params} idPrefix={id} onChange={(k, v) => setDraft({ ...shown, params: { ...shown.params, [k]: v } })} />
          <button type="submit" disabled={pending}>
            Save
          </button>
          {draft !== null && (
            <button
              type="button"
              onClick={() => {
                setDraft(null);
                setAnswer(null);
              }}
            >
              Undo changes
            </button>
          )}
        </div>
        <AnswerLine answer={answer} />
      </form>
      {Object.entries(rule.clusters).map(([cluster, params]) => (
        <ClusterForm key={cluster} rule={rule} cluster={cluster} params={params} onRemoved={(text) => setAnswer({ ok: true, text })} />
      ))}
      {hasParams && <AddCluster rule={rule} />}
    </div>
  );
}

/** The rules as a viewer sees them: read-only. */
function RulesTable({ rules, labelledBy }: { rules: readonly AlertRule[]; labelledBy: string }) {
  return (
    <div className="table-scroll">
      <table aria-labelledby={labelledBy} className="alerts-table">
        <thead>
          <tr>
            <th scope="col" className="plain">Rule</th>
            <th scope="col" className="plain">On</th>
            <th scope="col" className="plain">Settings</th>
            <th scope="col" className="plain">Per cluster</th>
          </tr>
        </thead>
        <tbody>
          {rules.map((rule) => (
            <tr key={rule.name}>
              <td>
                {rule.title} <code className="muted">{rule.name}</code>
              </td>
              <td>{rule.enabled ? 'yes' : 'no'}</td>
              <td>{paramsText(rule.params)}</td>
              <td>
                {Object.entries(rule.clusters)
                  .map(([cluster, params]) => `${cluster}: ${paramsText(params)}`)
                  .join('; ')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Every rule: a form each for an operator (the change is live and audited), a table for a viewer. */
export function AlertRules({ rules }: { rules: readonly AlertRule[] }) {
  const readOnly = useReadOnly();
  const id = useId();
  return (
    <section aria-labelledby={id}>
      <h3 id={id}>Rules</h3>
      {rules.length === 0 ? (
        <p className="alerts-note">None: this server evaluates no alert rules.</p>
      ) : readOnly ? (
        <>
          <p className="alerts-note">Read-only: an operator may change the rules.</p>
          <RulesTable rules={rules} labelledBy={id} />
        </>
      ) : (
        <>
          <p className="alerts-note">
            Changes apply at once to this server (until it restarts: <code>--alerts FILE</code> sets them at start) and are audited.
          </p>
          {rules.map((rule) => (
            <RuleForm key={rule.name} rule={rule} />
          ))}
        </>
      )}
    </section>
  );
}
