// Builders for protocol records in tests: full records with overridable fields.
import type { Cluster, Delta, Hello, Jobs, Node, Role, Snapshot } from '../core/protocol';
import { applySnapshot, emptyData, zeroJobs } from '../core/state';
import type { ServerData } from '../core/state';

export function node(ip: string, fields: Partial<Node> = {}): Node {
  return {
    ip_addr: ip,
    name: `host-${ip}`,
    cpus: 2,
    avail_cpus: 2,
    busy: 0,
    jobs_done: 0,
    cpu_time: 0,
    tx: 0,
    rx: 0,
    update_time: 0,
    avail_info: null,
    status: 'initialized',
    ...fields,
  };
}

export function jobs(fields: Partial<Jobs> = {}): Jobs {
  return { ...zeroJobs, ...fields };
}

export function cluster(name: string, nodes: Node[] = [], jobFields: Partial<Jobs> = {}): Cluster {
  return {
    name,
    kind: 'JobCluster',
    jobs: jobs(jobFields),
    nodes: Object.fromEntries(nodes.map((n) => [n.ip_addr, n])),
  };
}

export function hello(role: Role = 'operator', fields: Partial<Hello> = {}): Hello {
  return { type: 'hello', protocol: 1, server: 'dispymon 0.1.0', poll_sec: 10, min_interval: 0.05, show_job_args: true, role, ...fields };
}

export function snapshot(seq: number, clusters: Snapshot['clusters'], more: Partial<Snapshot> = {}): Snapshot {
  return { type: 'snapshot', seq, settings: { show_job_args: true }, clusters, audit: [], node_jobs: null, ...more };
}

export function delta(seq: number, clusters: NonNullable<Delta['clusters']>, more: Partial<Delta> = {}): Delta {
  return { type: 'delta', seq, clusters, ...more };
}

/** Two clusters sharing node 127.0.0.2 (a also has 127.0.0.3), as of seq 5. */
export function twoClusters(): ServerData {
  return applySnapshot(
    emptyData,
    snapshot(5, {
      a: cluster('a', [node('127.0.0.2'), node('127.0.0.3')], { submitted: 4, done: 1 }),
      b: cluster('b', [node('127.0.0.2')]),
    }),
  );
}
