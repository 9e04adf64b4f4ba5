import type { ReactNode } from 'react';
import { useEffect, useMemo, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { ClusterSelect } from '../components/ClusterSelect';
import { JobsChart } from '../components/JobsChart';
import { RunningJobs } from '../components/RunningJobs';
import { UpdateControls } from '../components/UpdateControls';
import { useDashboard, useSocket } from '../context';
import { DASH, formatBytes, formatClock, formatPercent, formatSeconds } from '../format';
import { NodeStatus } from '../components/NodeStatus';
import { COMBINED } from '../protocol';
import type { Job, Node } from '../protocol';
import { Link } from '../router';
import { clusterNames, resolveClusterName, selectCluster } from '../state';

const dashIfNull = (v: number | null | undefined, fmt: (v: number) => string) => (v == null ? DASH : fmt(v));

// [data-testid suffix, label, value]: the test ids are the page's contract.
function summary(node: Node): [string, string, ReactNode][] {
  const a = node.avail_info;
  return [
    ['name', 'Name', node.name || DASH],
    ['status', 'Status', <NodeStatus key="status" node={node} />],
    ['cpus-available', 'CPUs available', node.avail_cpus],
    ['cpus-dispy', 'CPUs used by dispy', node.cpus],
    ['busy', 'Busy', node.busy],
    ['jobs-done', 'Jobs done', node.jobs_done],
    ['cpu-time', 'CPU time (s)', formatSeconds(node.cpu_time)],
    ['last-update', 'Last update', formatClock(node.update_time)],
    ['avail-cpu', 'CPU free', dashIfNull(a?.cpu, formatPercent)],
    ['avail-memory', 'Memory free', dashIfNull(a?.memory, formatBytes)],
    ['avail-disk', 'Disk free', dashIfNull(a?.disk, formatBytes)],
    ['avail-swap', 'Swap free', dashIfNull(a?.swap, formatPercent)],
  ];
}

const NO_JOBS: Job[] = [];

/** Start time order (oldest first, unknown last), then uid: a stable order across updates. */
function byStart(a: Job, b: Job): number {
  const sa = a.start_time ?? Infinity;
  const sb = b.start_time ?? Infinity;
  return sa === sb ? a.uid - b.uid : sa - sb;
}

interface JobOrder {
  source: ReadonlyMap<number, Job>;
  only: string | null;
  list: Job[];
}

/**
 * The node's jobs (of cluster `only`, or all) in byStart order. A delta adds
 * and removes a few of what may be 100,000 jobs: keep the previous order,
 * drop the jobs that left, and merge in the new ones sorted among
 * themselves — two passes instead of a sort of everything (~80 ms for
 * 100,000 jobs, measured in benchmarks/: a long task on every delta).
 */
export function orderJobs(previous: JobOrder | null, source: ReadonlyMap<number, Job>, only: string | null): JobOrder {
  const keep = (job: Job) => only === null || job.cluster === only;
  const full = (): JobOrder => {
    const list: Job[] = [];
    for (const job of source.values()) if (keep(job)) list.push(job);
    return { source, only, list: list.sort(byStart) };
  };
  if (previous === null || previous.only !== only) return full();
  const survivors: Job[] = [];
  for (const old of previous.list) {
    const job = source.get(old.uid);
    if (job === undefined) continue;
    // a job sent again (arguments shown again, say) keeps its start time; if not, start over
    if (job.start_time !== old.start_time) return full();
    survivors.push(job);
  }
  const added: Job[] = [];
  for (const job of source.values()) if (keep(job) && !previous.source.has(job.uid)) added.push(job);
  if (added.length === 0) return { source, only, list: survivors };
  added.sort(byStart);
  const list: Job[] = new Array(survivors.length + added.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < survivors.length && j < added.length) list[k++] = byStart(survivors[i]!, added[j]!) <= 0 ? survivors[i++]! : added[j++]!;
  while (i < survivors.length) list[k++] = survivors[i++]!;
  while (j < added.length) list[k++] = added[j++]!;
  return { source, only, list };
}

/** Node details and its running jobs (seed 5.3.2). Loaded on first visit. */
export default function NodePage({ ip }: { ip: string }) {
  const socket = useSocket();
  useEffect(() => {
    document.title = `Node ${ip} · dispymon`;
    // Ask the server for this node's running jobs while the page is open.
    socket.setWatchedNode(ip);
    return () => socket.setWatchedNode(null);
  }, [socket, ip]);

  const names = useDashboard(useShallow((s) => clusterNames(s.clusters)));
  const selected = useDashboard((s) => s.selectedCluster);
  const cluster = resolveClusterName(names, selected);
  const loaded = useDashboard((s) => s.seq !== null);
  const node = useDashboard((s) => selectCluster(s, s.selectedCluster)?.nodes[ip] ?? null);
  const showArgs = useDashboard((s) => s.settings?.show_job_args ?? false);
  // Until the server's snapshot for this node arrives, jobs of a node watched
  // before are not this node's.
  const nodeJobs = useDashboard((s) => (s.nodeJobs?.ip_addr === ip ? s.nodeJobs.jobs : null));

  const order = useRef<JobOrder | null>(null);
  const jobs = useMemo(() => {
    if (!nodeJobs) {
      order.current = null;
      return NO_JOBS;
    }
    const only = cluster !== null && cluster !== COMBINED ? cluster : null;
    order.current = orderJobs(order.current, nodeJobs, only);
    return order.current.list;
  }, [nodeJobs, cluster]);

  return (
    <>
      <h2>Node {ip}</h2>
      <div className="toolbar">
        <ClusterSelect />
        <UpdateControls />
      </div>
      {!loaded ? (
        <p className="loading">Connecting…</p>
      ) : node === null ? (
        <p className="notice" role="status">
          No node {ip} in this cluster. <Link to="/">Back to Monitor</Link>
        </p>
      ) : (
        <>
          <section className="node-summary" aria-label="Summary">
            <dl>
              {summary(node).map(([key, label, value]) => (
                <div key={key} className={`figure figure-${key}`}>
                  <dt>{label}</dt>
                  <dd data-testid={`node-${key}`}>{value}</dd>
                </div>
              ))}
            </dl>
          </section>
          <JobsChart node={ip} />
          <RunningJobs jobs={jobs} showArgs={showArgs} showCluster={names.length > 1} />
        </>
      )}
    </>
  );
}
