import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { useCommands } from '../../core/useCommands';
import { isShared } from './manage';
import type { Report, Target } from './manage';

/** The longest DNS name; the server refuses longer ones too. */
const MAX_HOST = 253;

/** A whole number ≥ 0, or null. */
export function parseCpus(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/** Add a node by host name, IP address or wildcard (dispy's `nodes` syntax). */
export function AddNodeForm({ target, onReport }: { target: Target; onReport: Report }) {
  const headingId = useId();
  const hostId = useId();
  const cpusId = useId();
  const noteId = useId();
  const [host, setHost] = useState('');
  const [cpusText, setCpusText] = useState('0');
  const { run, isPending } = useCommands();
  const pending = isPending('add');

  const cpus = parseCpus(cpusText);
  const cpusIgnored = host.includes('*') || target.clusters.some(isShared);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const name = host.trim();
    if (name === '' || name.length > MAX_HOST) {
      onReport({ text: `Enter a host name, IP address or wildcard of at most ${MAX_HOST} characters.`, error: true });
      return;
    }
    if (cpus === null) {
      onReport({ text: 'CPUs must be a whole number, 0 or more (0 = all).', error: true });
      return;
    }
    const outcome = await run('add', 'add_node', { host: name, cpus, ...target.arg });
    if (outcome.ok) {
      // The node joins when dispy reaches it: the audit log shows when (or if).
      onReport({
        text: `Add node ${name}: pending`,
        error: false,
        audit: { id: outcome.value.audit_id, prefix: `Add node ${name}` },
      });
      setHost('');
    } else {
      onReport({ text: outcome.message, error: true });
    }
  };

  return (
    <section aria-labelledby={headingId}>
      <h3 id={headingId}>Add node</h3>
      <form className="add-node" aria-label="Add node" onSubmit={(e) => void submit(e)}>
        <div className="field grow">
          <label htmlFor={hostId}>Host name, IP address or wildcard</label>
          <input
            id={hostId}
            type="text"
            required
            maxLength={MAX_HOST}
            autoComplete="off"
            autoCapitalize="none"
            spellCheck={false}
            placeholder="192.168.1.*"
            value={host}
            onChange={(e) => setHost(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={cpusId}>CPUs</label>
          <input
            id={cpusId}
            type="number"
            min={0}
            step={1}
            inputMode="numeric"
            value={cpusText}
            aria-invalid={cpus === null || undefined}
            aria-describedby={cpusIgnored ? noteId : undefined}
            onChange={(e) => setCpusText(e.target.value)}
          />
        </div>
        <button type="submit" className="primary" disabled={pending}>
          Add node
        </button>
        <p className="hint-muted">0 CPUs means all the node offers.</p>
        {cpusIgnored && (
          <p id={noteId} className="hint">
            CPUs are ignored for wildcards and SharedJobCluster
          </p>
        )}
      </form>
    </section>
  );
}
