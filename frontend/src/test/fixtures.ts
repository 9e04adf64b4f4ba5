// Builders for protocol records in tests: full records with overridable fields.
import type { Cluster, Hello, Jobs, Node, Role } from '../core/protocol';
import { zeroJobs } from '../core/state';

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
