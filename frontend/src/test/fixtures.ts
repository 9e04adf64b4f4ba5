// Builders for protocol records in tests: full records with overridable fields.
import type { Alert, AlertRule, AlertsPart, BulkAction, Cluster, Delta, Hello, JobDetail, JobRow, Jobs, Node, Role, Snapshot } from '../core/protocol';
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

/** A job's row (the Jobs view), ended finished unless told. */
export function jobRow(key: number, fields: Partial<JobRow> = {}): JobRow {
  return {
    key,
    id: `job-${key}`,
    cluster: 'alpha',
    state: 'finished',
    node: '127.0.0.2',
    exception_type: null,
    created: 1_700_000_000,
    start_time: 1_700_000_001,
    end_time: 1_700_000_003,
    duration: 2,
    resubmit_of: null,
    ...fields,
  };
}

/** A job's detail (the job page), ended finished with nothing kept unless told. */
export function jobDetail(key: number, fields: Partial<JobDetail> = {}): JobDetail {
  return {
    ...jobRow(key),
    exception_message: null,
    args: null,
    kwargs: null,
    result: null,
    result_len: null,
    result_cut: false,
    stdout: null,
    stdout_len: 0,
    stdout_cut: false,
    stderr: null,
    stderr_len: 0,
    stderr_cut: false,
    traceback: null,
    traceback_len: 0,
    kept: 'all',
    pinned: null,
    resubmitted_as: [],
    resubmit: { possible: true, reason: null },
    ...fields,
  };
}

/** A bulk action (the `actions` part), running unless told. */
export function bulkAction(id: number, fields: Partial<BulkAction> = {}): BulkAction {
  return {
    id,
    action: 'terminate',
    who: null,
    filter: {},
    total: 40,
    done: 0,
    state: 'running',
    counts: {},
    started: 1_700_000_000,
    ended: null,
    audit_id: 1,
    ...fields,
  };
}

/** An alert (the `alerts` part, or the history), firing unless told: node 127.0.0.3 closed. */
export function alert(id: number, fields: Partial<Alert> = {}): Alert {
  return {
    id,
    rule: 'node_closed',
    severity: 'critical',
    cluster: 'alpha',
    node: '127.0.0.3',
    job: null,
    summary: 'node 127.0.0.3 closed',
    started: 1_700_000_000 + id,
    resolved: null,
    action: null,
    ...fields,
  };
}

/** The built-in rules, as the contract of issue 19 names them, with their tunables. */
export function alertRules(): AlertRule[] {
  const rule = (name: string, title: string, params: AlertRule['params'] = {}, clusters: AlertRule['clusters'] = {}): AlertRule => ({
    name,
    title,
    enabled: true,
    params,
    clusters,
  });
  return [
    rule('node_closed', 'A node closed'),
    rule('node_stale', 'A node stale'),
    rule('node_stuck', 'A node stuck'),
    rule('failure_rate', 'Failure rate', { percent: 20, min_jobs: 10, minutes: 5 }),
    rule('long_job', 'A job running long', { seconds: 3600, terminate: false }, { beta: { seconds: 60, terminate: true } }),
    rule('queue_stalled', 'A queue not draining', { seconds: 300 }),
    rule('history_db', 'The history database failing'),
  ];
}

/** The `alerts` part: the given firing alerts, the built-in rules, no webhook unless told. */
export function alertsPart(firing: Alert[] = [], fields: Partial<AlertsPart> = {}): AlertsPart {
  return {
    firing,
    firing_total: firing.length,
    rules: alertRules(),
    webhooks: { targets: 0, delivered: 0, failed: 0, dropped: 0, queued: 0, last_error: null, last_error_at: null },
    ...fields,
  };
}
