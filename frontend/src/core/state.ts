// Pure state transitions for the cluster data: no React, no socket.
// Every function returns new objects for what changed and keeps the identity
// of what did not, so selectors (and table rows) only re-render on change.
import { JobTable } from './jobTable';
import type {
  AlertsPart,
  AuditEntry,
  BulkAction,
  Cluster,
  ClusterDelta,
  Delta,
  Fleet,
  JobDetail,
  Jobs,
  Node,
  NodeDelta,
  NodeJobs,
  Settings,
  Snapshot,
} from './protocol';

/** NodeJobs as held by the client: removals applied, keyed by uid. */
export interface WatchedJobs {
  ip_addr: string;
  /** a new table on every change, sharing what did not change with the last */
  jobs: JobTable;
}

/** Everything the server tells this browser, as of `seq`. */
export interface ServerData {
  /** seq of the last snapshot/delta applied; null before the first snapshot */
  seq: number | null;
  /** null before the first snapshot */
  settings: Settings | null;
  clusters: Record<string, Cluster>;
  /** newest last */
  audit: AuditEntry[];
  /** the running jobs of the node this view watches; null when it watches none */
  nodeJobs: WatchedJobs | null;
  /** the job this view follows, as last sent; null when it follows none (or the server does not know it) */
  job: JobDetail | null;
  /** the last bulk actions, oldest first */
  actions: BulkAction[];
  /** what fires, the alert rules and the webhooks; null until a server sends the part */
  alerts: AlertsPart | null;
  /** the fleet part (docs/fleet.md); null on a dashboard with no broker */
  fleet: Fleet | null;
}

const NO_ACTIONS: BulkAction[] = [];

export const emptyData: ServerData = { seq: null, settings: null, clusters: {}, audit: [], nodeJobs: null, job: null, actions: NO_ACTIONS, alerts: null, fleet: null };

export const zeroJobs: Jobs = {
  submitted: 0,
  queued: 0,
  running: 0,
  done: 0,
  finished: 0,
  failed: 0,
  cancelled: 0,
  terminated: 0,
  abandoned: 0,
};

/** A snapshot is the whole state: nothing from before survives. */
export function applySnapshot(_state: ServerData, snap: Snapshot): ServerData {
  return {
    seq: snap.seq,
    settings: snap.settings,
    clusters: snap.clusters,
    audit: snap.audit,
    nodeJobs: snap.node_jobs ? { ip_addr: snap.node_jobs.ip_addr, jobs: JobTable.empty.with(snap.node_jobs.jobs) } : null,
    job: snap.job ?? null,
    actions: snap.actions ?? NO_ACTIONS,
    alerts: snap.alerts ?? null,
    fleet: snap.fleet ?? null,
  };
}

/**
 * Applies a delta only if it is the next one in sequence. Anything else is a
 * gap (lost, duplicated or reordered frame), and so is a delta this state
 * cannot take (changed fields of a node or cluster it does not have): the
 * state is returned unchanged and the caller must resync.
 */
export function applyDelta(state: ServerData, delta: Delta): { state: ServerData; gap: boolean } {
  if (state.seq === null || delta.seq !== state.seq + 1) {
    return { state, gap: true };
  }
  let clusters = state.clusters;
  if (delta.clusters) {
    clusters = { ...state.clusters };
    for (const [name, change] of Object.entries(delta.clusters)) {
      if (change === null) {
        delete clusters[name];
        continue;
      }
      const cluster = applyClusterDelta(clusters[name], change);
      if (cluster === null) return { state, gap: true };
      clusters[name] = cluster;
    }
  }
  return {
    state: {
      seq: delta.seq,
      settings: delta.settings ?? state.settings,
      clusters,
      audit: delta.audit ?? state.audit,
      nodeJobs: delta.node_jobs ? mergeNodeJobs(state.nodeJobs, delta.node_jobs) : state.nodeJobs,
      // both parts come whole: absent = unchanged; a job of null = no longer known
      job: delta.job !== undefined ? delta.job : state.job,
      actions: delta.actions ?? state.actions,
      // whole when it changed
      alerts: delta.alerts ?? state.alerts,
      fleet: delta.fleet ?? state.fleet,
    },
    gap: false,
  };
}

/**
 * Merges the jobs that started (Job) or left (null) into the watched node's
 * set. A change for another node is stale (it was in flight when this view
 * switched nodes; the snapshot for the new node follows) and is ignored, as
 * is any change while no node is watched.
 */
export function mergeNodeJobs(current: WatchedJobs | null, change: NodeJobs): WatchedJobs | null {
  if (current === null || change.ip_addr !== current.ip_addr) return current;
  const jobs = current.jobs.with(change.jobs);
  return jobs === current.jobs ? current : { ip_addr: current.ip_addr, jobs };
}

/**
 * A node after a delta's entry for it: a complete record (it has `ip_addr`,
 * which a partial one never carries) replaces the old one; changed fields
 * are merged into it. Changed fields of a node this client does not have
 * cannot make a whole node: null.
 */
export function mergeNode(old: Node | undefined, change: NodeDelta): Node | null {
  if (change.ip_addr !== undefined) return change as Node;
  return old ? { ...old, ...change } : null;
}

/** How a cluster's node record came from the one before it (see nodeChanges). */
export interface NodeChange {
  from: Record<string, Node>;
  /** the addresses a delta changed, added or removed */
  ips: string[];
}

/**
 * For each node record a delta made, the record it came from and which
 * addresses changed: a view derived from the nodes (the Monitor page's sorted
 * table) follows the few that changed instead of walking 100,000 nodes per
 * delta. Weak: a record no one holds any more is forgotten with its entry.
 */
export const nodeChanges = new WeakMap<Record<string, Node>, NodeChange>();

/**
 * Deltas a chain reaches back. Each link holds the record before it, so an
 * unbounded chain would keep every record ever made (100,000 nodes: a few MB
 * each, ten a second); a view further behind than this sorts afresh.
 */
export const CHAIN_STEPS = 4;

function linkNodes(nodes: Record<string, Node>, from: Record<string, Node>, ips: string[]): void {
  nodeChanges.set(nodes, { from, ips });
  // cut the link CHAIN_STEPS back: the records before it are free to go
  let current = from;
  for (let step = 1; step < CHAIN_STEPS; step++) {
    const link = nodeChanges.get(current);
    if (!link) return;
    current = link.from;
  }
  nodeChanges.delete(current);
}

/**
 * The addresses changed between `older` and `newer` (two node records, the
 * second made from the first by up to `maxSteps` deltas), or null when
 * `newer` does not descend from `older` that closely (a snapshot, another
 * cluster, too many deltas apart): then only a full comparison tells.
 */
export function changedSince(
  older: Record<string, Node>,
  newer: Record<string, Node>,
  maxSteps = CHAIN_STEPS,
): string[] | null {
  const ips: string[] = [];
  let current = newer;
  for (let step = 0; current !== older; step++) {
    const link = nodeChanges.get(current);
    if (!link || step >= maxSteps) return null;
    for (const ip of link.ips) ips.push(ip);
    current = link.from;
  }
  return ips;
}

/**
 * A cluster after a delta's entry for it, or null when the entry does not fit
 * this state (see applyDelta). A cluster that arrives whole (`name` and
 * `kind`: new to this client, or removed and added again since its previous
 * message) replaces what was held, and its nodes are complete.
 */
function applyClusterDelta(old: Cluster | undefined, change: ClusterDelta): Cluster | null {
  const whole = change.name !== undefined && change.kind !== undefined;
  let base: Cluster;
  if (whole) {
    base = { name: change.name!, kind: change.kind!, jobs: change.jobs ?? zeroJobs, nodes: {} };
    if (change.program !== undefined) base.program = change.program; // a fleet central's (docs/fleet.md)
  } else if (old) base = old;
  else return null;
  let nodes = base.nodes;
  if (change.nodes) {
    nodes = { ...base.nodes };
    const ips = Object.keys(change.nodes);
    for (const ip of ips) {
      const entry = change.nodes[ip];
      if (!entry) {
        delete nodes[ip];
        continue;
      }
      const node = mergeNode(nodes[ip], entry);
      if (node === null) return null;
      nodes[ip] = node;
    }
    linkNodes(nodes, base.nodes, ips);
  }
  const cluster: Cluster = { name: base.name, kind: base.kind, jobs: change.jobs ?? base.jobs, nodes };
  if (base.program !== undefined) cluster.program = base.program; // a fleet central's (docs/fleet.md)
  return cluster;
}
