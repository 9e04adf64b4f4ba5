// Pure state transitions for the cluster data: no React, no socket.
// Every function returns new objects for what changed and keeps the identity
// of what did not, so selectors (and table rows) only re-render on change.
import { JobTable } from './jobTable';
import { COMBINED } from './protocol';
import type {
  AuditEntry,
  Cluster,
  ClusterDelta,
  Delta,
  Jobs,
  Node,
  NodeDelta,
  NodeJobs,
  NodeStatus,
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
}

export const emptyData: ServerData = { seq: null, settings: null, clusters: {}, audit: [], nodeJobs: null };

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

/**
 * A cluster after a delta's entry for it, or null when the entry does not fit
 * this state (see applyDelta). A cluster that arrives whole (`name` and
 * `kind`: new to this client, or removed and added again since its previous
 * message) replaces what was held, and its nodes are complete.
 */
function applyClusterDelta(old: Cluster | undefined, change: ClusterDelta): Cluster | null {
  const whole = change.name !== undefined && change.kind !== undefined;
  let base: Cluster;
  if (whole) base = { name: change.name!, kind: change.kind!, jobs: change.jobs ?? zeroJobs, nodes: {} };
  else if (old) base = old;
  else return null;
  let nodes = base.nodes;
  if (change.nodes) {
    nodes = { ...base.nodes };
    for (const [ip, entry] of Object.entries(change.nodes)) {
      if (entry === null) {
        delete nodes[ip];
        continue;
      }
      const node = mergeNode(nodes[ip], entry);
      if (node === null) return null;
      nodes[ip] = node;
    }
  }
  return { name: base.name, kind: base.kind, jobs: change.jobs ?? base.jobs, nodes };
}

/** Cluster names in a stable (alphabetical) order. */
export function clusterNames(clusters: Record<string, Cluster>): string[] {
  return Object.keys(clusters).sort();
}

/**
 * Derives the '* Combined' view: job counters added, and per node (by
 * ip_addr) what each cluster does there added (busy, jobs done, CPU time,
 * traffic). A node's CPUs are the node's, not one set per cluster: three
 * clusters sharing a 2-CPU node show 2 (dispy.httpd added them up, showing
 * more CPUs than busy could ever reach).
 */
export function combine(clusters: readonly Cluster[]): Cluster {
  const jobs: Jobs = { ...zeroJobs };
  const nodes: Record<string, Node> = {};
  for (const cluster of clusters) {
    for (const key of Object.keys(jobs) as (keyof Jobs)[]) {
      jobs[key] += cluster.jobs[key] ?? 0;
    }
    for (const node of Object.values(cluster.nodes)) {
      const prev = nodes[node.ip_addr];
      // A node in one cluster only is reused as-is, keeping its identity.
      nodes[node.ip_addr] = prev ? mergeNodes(prev, node) : node;
    }
  }
  const kinds = new Set(clusters.map((c) => c.kind));
  return {
    name: COMBINED,
    kind: kinds.size === 1 && kinds.has('SharedJobCluster') ? 'SharedJobCluster' : 'JobCluster',
    jobs,
    nodes,
  };
}

function mergeNodes(a: Node, b: Node): Node {
  return {
    ip_addr: a.ip_addr,
    name: a.name || b.name,
    // dispy sets a node's CPUs for every cluster using it; the most any
    // cluster has is what the node gives (and what it offers, the same)
    cpus: Math.max(a.cpus, b.cpus),
    avail_cpus: Math.max(a.avail_cpus, b.avail_cpus),
    busy: a.busy + b.busy,
    jobs_done: a.jobs_done + b.jobs_done,
    cpu_time: a.cpu_time + b.cpu_time,
    tx: a.tx + b.tx,
    rx: a.rx + b.rx,
    update_time: Math.max(a.update_time, b.update_time),
    // The same machine reports the same availability to every cluster.
    avail_info: a.avail_info ?? b.avail_info,
    status: mergeStatus(a.status, b.status),
    stuck: Boolean(a.stuck || b.stuck),
    stale: Boolean(a.stale || b.stale),
  };
}

/**
 * A node is as available as its most available cluster says: initialized if
 * any cluster can still send it jobs, closed only when every cluster that
 * knows it has closed it.
 */
function mergeStatus(a: NodeStatus, b: NodeStatus): NodeStatus {
  if (a === 'initialized' || b === 'initialized') return 'initialized';
  if (a === 'deallocated' || b === 'deallocated') return 'deallocated';
  return 'closed';
}

/**
 * The cluster name actually shown for a user choice (null = no choice yet):
 * '* Combined' when there are several clusters, else the only one; a choice
 * that no longer exists falls back to that default.
 */
export function resolveClusterName(names: readonly string[], selected: string | null): string | null {
  if (names.length === 0) return null;
  if (selected === COMBINED && names.length > 1) return COMBINED;
  if (selected !== null && selected !== COMBINED && names.includes(selected)) return selected;
  return names.length > 1 ? COMBINED : (names[0] ?? null);
}

// Combined views cached per clusters record: the record is replaced on every
// change, so a hit means "nothing changed" and selectors get the same object
// back (React's useSyncExternalStore requires that stability).
const combinedCache = new WeakMap<Record<string, Cluster>, Cluster>();

export function selectCluster(
  state: Pick<ServerData, 'clusters'>,
  name: string | null,
): Cluster | null {
  const resolved = resolveClusterName(clusterNames(state.clusters), name);
  if (resolved === null) return null;
  if (resolved !== COMBINED) return state.clusters[resolved] ?? null;
  let combined = combinedCache.get(state.clusters);
  if (!combined) {
    combined = combine(clusterNames(state.clusters).map((n) => state.clusters[n] as Cluster));
    combinedCache.set(state.clusters, combined);
  }
  return combined;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipv4Value(ip: string): number | null {
  const m = IPV4.exec(ip);
  if (!m) return null;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/**
 * Orders addresses numerically (127.0.0.9 < 127.0.0.10), IPv4 addresses
 * before anything else (IPv6, host names), which compare as plain strings.
 */
export function compareIp(a: string, b: string): number {
  const va = ipv4Value(a);
  const vb = ipv4Value(b);
  if (va !== null && vb !== null) return va - vb;
  if (va !== null) return -1;
  if (vb !== null) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
