import { useId, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { useDashboard, useReadOnly } from '../../core/context';
import { statusText } from '../../lib/format';
import type { Node } from '../../core/protocol';
import { nodePath } from '../../lib/paths';
import { Link } from '../../router';
import { selectCluster } from '../../core/selectors';
import { compareIp } from '../../lib/ipOrder';
import { useCommands } from '../../core/useCommands';
import { parseCpus } from './AddNodeForm';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { isShared } from './manage';
import type { Report, Target } from './manage';
import { EmptyRow } from '../../components/EmptyRow';

interface Row {
  node: Node;
  /** CPUs are the scheduler's business: every cluster that has the node is a SharedJobCluster */
  shared: boolean;
  /**
   * The CPUs to start the editor with. For '* Combined' the node's CPUs are
   * added across clusters, but set_node_cpus sets each cluster to the value
   * given: show the largest per-cluster value, not the sum.
   */
  cpus: number;
}

function rowsFor(target: Target, nodes: Record<string, Node>): Row[] {
  return Object.values(nodes)
    .sort((a, b) => compareIp(a.ip_addr, b.ip_addr))
    .map((node) => {
      const having = target.clusters.filter((c) => c.nodes[node.ip_addr]);
      return {
        node,
        shared: having.length > 0 && having.every(isShared),
        cpus: Math.max(...having.map((c) => c.nodes[node.ip_addr]?.cpus ?? 0), 0),
      };
    });
}

/** "1" when every cluster got the same CPUs, else "alpha: 2, beta: 1". */
function describeCpus(cpus: Record<string, number>, requested: number): string {
  const values = Object.values(cpus);
  if (values.length === 0) return String(requested);
  if (new Set(values).size === 1) return String(values[0]);
  return Object.entries(cpus)
    .map(([cluster, n]) => `${cluster}: ${n}`)
    .join(', ');
}

type CommandRunner = ReturnType<typeof useCommands>;

/**
 * Text for assistive technology only: the buttons read "Set CPUs for <ip>",
 * "Close <ip>" etc. while showing a short word. Content rather than
 * aria-label, so a search by label ("CPUs for <ip>") finds the input alone.
 */
function Hidden({ children }: { children: ReactNode }) {
  return <span className="visually-hidden">{children}</span>;
}

interface NodeRowProps {
  row: Row;
  target: Target;
  commands: CommandRunner;
  onReport: Report;
  onClose(ip: string): void;
}

function NodeRow({ row, target, commands, onReport, onClose }: NodeRowProps) {
  const { node, shared } = row;
  const ip = node.ip_addr;
  const noteId = useId();
  // The user's text while editing; otherwise the node's current value.
  const [draft, setDraft] = useState<string | null>(null);
  const text = draft ?? String(row.cpus);
  const cpus = parseCpus(text);
  const { run, isPending } = commands;
  const closed = node.status === 'closed';

  const setCpus = async () => {
    if (cpus === null) return;
    const busy = node.busy;
    const outcome = await run(`cpus:${ip}`, 'set_node_cpus', { ip, cpus, ...target.arg });
    if (!outcome.ok) {
      onReport({ text: outcome.message, error: true });
      return;
    }
    setDraft(null);
    const applied = outcome.value.cpus;
    const values = Object.values(applied);
    // Busy and CPUs of a combined node are both added across clusters.
    const total = values.length > 0 ? values.reduce((a, b) => a + b, 0) : cpus;
    onReport({
      text: `Set CPUs of ${ip} to ${describeCpus(applied, cpus)}`,
      error: false,
      ...(total < busy && {
        busyWarning: {
          ip,
          text: `${ip} runs ${busy} jobs on ${total} CPUs: running jobs continue, no new job starts there until fewer run.`,
        },
      }),
    });
  };

  const allocation = async (allocate: boolean) => {
    const outcome = allocate
      ? await run(`alloc:${ip}`, 'allocate_node', { ip, ...target.arg })
      : await run(`alloc:${ip}`, 'deallocate_node', { ip, ...target.arg });
    onReport(
      outcome.ok
        ? { text: `${allocate ? 'Allocated' : 'Deallocated'} ${ip}`, error: false }
        : { text: outcome.message, error: true },
    );
  };

  const cpusPending = isPending(`cpus:${ip}`);
  return (
    <tr className={closed ? 'node-closed' : node.status === 'deallocated' ? 'node-deallocated' : undefined}>
      <td>
        <Link to={nodePath(ip)}>{ip}</Link>
      </td>
      <td>{node.name}</td>
      <td className="status">{statusText(node.status)}</td>
      <td className="num">{node.busy}</td>
      <td>
        <form
          className="cpus-editor"
          onSubmit={(e) => {
            e.preventDefault();
            void setCpus();
          }}
        >
          <input
            type="number"
            min={0}
            step={1}
            inputMode="numeric"
            aria-label={`CPUs for ${ip}`}
            aria-invalid={cpus === null || undefined}
            aria-describedby={shared ? noteId : undefined}
            disabled={shared || closed}
            value={text}
            onChange={(e) => setDraft(e.target.value)}
          />
          <button type="submit" disabled={shared || closed || cpus === null || cpusPending}>
            Set <Hidden>CPUs for {ip}</Hidden>
          </button>
          {shared && (
            <span id={noteId} className="muted">
              CPUs managed by the scheduler
            </span>
          )}
        </form>
      </td>
      <td>
        <div className="row-actions">
          {/* A closed node is never re-allocated: dispy would cancel every job sent to it. */}
          {node.status === 'initialized' && (
            <button
              type="button"
              disabled={isPending(`alloc:${ip}`)}
              onClick={() => void allocation(false)}
            >
              Deallocate{' '}
              <Hidden>{ip}</Hidden>
            </button>
          )}
          {node.status === 'deallocated' && (
            <button
              type="button"
              disabled={isPending(`alloc:${ip}`)}
              onClick={() => void allocation(true)}
            >
              Allocate{' '}
              <Hidden>{ip}</Hidden>
            </button>
          )}
          {!closed && (
            <button
              type="button"
              className="danger"
              disabled={isPending(`close:${ip}`)}
              onClick={() => onClose(ip)}
            >
              Close{' '}
              <Hidden>{ip}</Hidden>
            </button>
          )}
        </div>
      </td>
    </tr>
  );
}

/** A viewer's row: the figures, no editor or actions (it may not command). */
function ReadOnlyNodeRow({ row }: { row: Row }) {
  const { node } = row;
  return (
    <tr className={node.status === 'closed' ? 'node-closed' : node.status === 'deallocated' ? 'node-deallocated' : undefined}>
      <td>
        <Link to={nodePath(node.ip_addr)}>{node.ip_addr}</Link>
      </td>
      <td>{node.name}</td>
      <td className="status">{statusText(node.status)}</td>
      <td className="num">{node.busy}</td>
      <td className="num">{row.cpus}</td>
    </tr>
  );
}

const EMPTY: Record<string, Node> = {};

/** The nodes of the chosen cluster(s), each with its CPUs editor and actions. */
export function ManageNodes({ target, onReport }: { target: Target; onReport: Report }) {
  const headingId = useId();
  const terminateId = useId();
  const nodes = useDashboard((s) => selectCluster(s, s.selectedCluster)?.nodes ?? EMPTY);
  const rows = useMemo(() => rowsFor(target, nodes), [target, nodes]);
  const commands = useCommands();
  const readOnly = useReadOnly();
  const columns = ['IP address', 'Name', 'Status', 'Busy', 'CPUs', ...(readOnly ? [] : ['Actions'])];
  const [closing, setClosing] = useState<string | null>(null);
  const [terminatePending, setTerminatePending] = useState(false);

  const close = async (ip: string) => {
    setClosing(null);
    const outcome = await commands.run(`close:${ip}`, 'close_node', {
      ip,
      ...target.arg,
      ...(terminatePending && { terminate_pending: true }),
    });
    onReport(outcome.ok ? { text: `Closed ${ip}`, error: false } : { text: outcome.message, error: true });
  };

  return (
    <section aria-labelledby={headingId}>
      <h3 id={headingId}>Nodes</h3>
      <div className="table-scroll" tabIndex={0} role="group" aria-labelledby={headingId}>
        <table aria-label="Manage nodes" className="manage-table">
          <thead>
            <tr>
              {columns.map((h) => (
                <th key={h} scope="col" className={h === 'Busy' ? 'plain num' : 'plain'}>
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 ? (
              <EmptyRow columns={columns.length}>No nodes yet</EmptyRow>
            ) : (
              rows.map((row) =>
                readOnly ? (
                  <ReadOnlyNodeRow key={row.node.ip_addr} row={row} />
                ) : (
                <NodeRow
                  key={row.node.ip_addr}
                  row={row}
                  target={target}
                  commands={commands}
                  onReport={onReport}
                  onClose={(ip) => {
                    setTerminatePending(false);
                    setClosing(ip);
                  }}
                />
                ),
              )
            )}
          </tbody>
        </table>
      </div>
      <ConfirmDialog
        open={closing !== null}
        title={`Close node ${closing ?? ''}?`}
        confirmLabel="Close node"
        onConfirm={() => closing !== null && void close(closing)}
        onCancel={() => setClosing(null)}
      >
        <p>
          dispy sends no more jobs to a closed node. It stays closed while this program runs: it cannot be
          allocated or added again, and adding other nodes does not bring it back (should dispy take it back
          all the same, the audit log says so).
          {target.arg.cluster === undefined && target.clusters.length > 1 ? ' This closes it in every cluster.' : ''}
        </p>
        <div className="checkbox-field">
          <input
            id={terminateId}
            type="checkbox"
            checked={terminatePending}
            onChange={(e) => setTerminatePending(e.target.checked)}
          />
          <label htmlFor={terminateId}>Also terminate the jobs running there</label>
        </div>
      </ConfirmDialog>
    </section>
  );
}
