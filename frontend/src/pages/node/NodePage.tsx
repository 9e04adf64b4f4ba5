import type { ReactNode } from 'react';
import { useEffect, useMemo } from 'react';
import { ClusterSelect } from '../../components/ClusterSelect';
import { JobsChart } from '../../components/JobsChart';
import { ResourcesChart } from './ResourcesChart';
import { RunningJobs } from './RunningJobs';
import { NodePrograms } from './NodePrograms';
import type { RunningJobsList } from './RunningJobs';
import { UpdateControls } from '../../components/UpdateControls';
import { useDashboard, useSocket } from '../../core/context';
import { DASH, dashIfNull, formatBytes, formatClock, formatPercent, formatSeconds } from '../../lib/format';
import { NodeStatus } from '../../components/NodeStatus';
import type { Node } from '../../core/protocol';
import { isListed, orderJobs } from './jobOrder';
import { useIncremental } from '../../components/useIncremental';
import type { JobOrder } from './jobOrder';
import { Link } from '../../router';
import { nodeTimelinePath } from '../../lib/paths';
import { clusterArg, selectCluster, useClusterChoice } from '../../core/selectors';
import '../pages.css';

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

const NO_JOBS: RunningJobsList = { jobs: [], isListed: () => false };

/** Node details and its running jobs (seed 5.3.2). Loaded on first visit. */
export default function NodePage({ ip }: { ip: string }) {
  const socket = useSocket();
  useEffect(() => {
    document.title = `Node ${ip} · dispymon`;
    // Ask the server for this node's running jobs while the page is open.
    socket.setWatchedNode(ip);
    return () => socket.setWatchedNode(null);
  }, [socket, ip]);

  const { names, name: cluster } = useClusterChoice();
  const loaded = useDashboard((s) => s.seq !== null);
  const node = useDashboard((s) => selectCluster(s, s.selectedCluster)?.nodes[ip] ?? null);
  const showArgs = useDashboard((s) => s.settings?.show_job_args ?? false);
  // Until the server's snapshot for this node arrives, jobs of a node watched
  // before are not this node's.
  const nodeJobs = useDashboard((s) => (s.nodeJobs?.ip_addr === ip ? s.nodeJobs.jobs : null));

  const order = useIncremental<JobOrder | null>(
    (previous) => (nodeJobs ? orderJobs(previous, nodeJobs, clusterArg(cluster).cluster ?? null) : null),
    [nodeJobs, cluster],
  );
  const running = useMemo(
    (): RunningJobsList => (order ? { jobs: order.list, isListed: (uid) => isListed(order, uid) } : NO_JOBS),
    [order],
  );

  return (
    <>
      <h2>Node {ip}</h2>
      <div className="toolbar">
        <ClusterSelect />
        <UpdateControls />
        <Link to={nodeTimelinePath(ip)}>Timeline of this node</Link>
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
          <NodePrograms ip={ip} jobs={nodeJobs} />
          <JobsChart node={ip} />
          <ResourcesChart ip={ip} />
          <RunningJobs running={running} showArgs={showArgs} showCluster={names.length > 1} />
        </>
      )}
    </>
  );
}
