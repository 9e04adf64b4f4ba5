// Derived views of the store, written once: the cluster a page shows for
// the user's choice (one cluster or '* Combined'), and the `cluster`
// argument a command or query takes for that choice.
import { useShallow } from 'zustand/react/shallow';
import { useDashboard } from './context';
import { COMBINED } from './protocol';
import type { Cluster, Jobs, Node, NodeStatus } from './protocol';
import { zeroJobs } from './state';
import type { ServerData } from './state';

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

/**
 * A command's or query's `cluster` argument for a cluster choice: the
 * cluster's name, or nothing for '* Combined' (= every cluster) and for no
 * cluster yet, as the protocol wants.
 */
export function clusterArg(name: string | null): { cluster?: string } {
  return name !== null && name !== COMBINED ? { cluster: name } : {};
}

// The programs per node address, cached per clusters record (as the combined view is).
const programsCache = new WeakMap<Record<string, Cluster>, ReadonlyMap<string, readonly string[]>>();

/**
 * On a fleet central (docs/fleet.md): per node address, the programs whose
 * clusters use that node, sorted. A node several programs share (two programs
 * naming the same machine, or clients of one dispyscheduler that publish) is
 * one row of '* Combined', and this says whose it is. Clusters without a
 * program (a dashboard inside one program) add nothing: the map is empty there.
 */
export function programsByNode(clusters: Record<string, Cluster>): ReadonlyMap<string, readonly string[]> {
  let found = programsCache.get(clusters);
  if (found) return found;
  const sets = new Map<string, Set<string>>();
  for (const cluster of Object.values(clusters)) {
    if (!cluster?.program) continue;
    for (const ip of Object.keys(cluster.nodes)) {
      let set = sets.get(ip);
      if (!set) sets.set(ip, (set = new Set()));
      set.add(cluster.program);
    }
  }
  found = new Map([...sets].map(([ip, set]) => [ip, [...set].sort()]));
  programsCache.set(clusters, found);
  return found;
}

/** The clusters a choice covers: the chosen one, or all for '* Combined'. */
export function clustersOf(clusters: Record<string, Cluster>, name: string): Cluster[] {
  if (name === COMBINED) return Object.values(clusters);
  const one = clusters[name];
  return one ? [one] : [];
}

/**
 * The page's cluster choice: every cluster's name (alphabetical) and the one
 * shown (resolveClusterName; null before any cluster is known).
 */
export function useClusterChoice(): { names: string[]; name: string | null } {
  const names = useDashboard(useShallow((s) => clusterNames(s.clusters)));
  const name = resolveClusterName(names, useDashboard((s) => s.selectedCluster));
  return { names, name };
}
