// Types for the dispymon WebSocket protocol, version 1 (docs/protocol.md).
// Field names mirror the wire format exactly (snake_case), so a decoded
// msgpack map can be used as-is without a translation layer.

export const PROTOCOL_VERSION = 1;

/** Name of the client-derived view that adds up every cluster. */
export const COMBINED = '* Combined';

export type ClusterKind = 'JobCluster' | 'SharedJobCluster';

export interface Jobs {
  submitted: number;
  queued: number;
  running: number;
  /** finished + failed + cancelled + terminated + abandoned, plus jobs done before dispymon attached */
  done: number;
  finished: number;
  failed: number;
  cancelled: number;
  terminated: number;
  abandoned: number;
}

/** Only present when the node has psutil. */
export interface AvailInfo {
  /** % of CPU available */
  cpu: number;
  /** bytes of memory available */
  memory: number;
  /** bytes of disk available */
  disk: number;
  /** % of swap available (dispynode reports 100 - % used) */
  swap: number;
}

/**
 * `deallocated`: no new jobs until allocated again; `closed`: while the program
 * runs (dispy cancels every job later sent to a re-allocated closed node, and
 * the server keeps other nodes' additions from setting it up again).
 */
export type NodeStatus = 'initialized' | 'deallocated' | 'closed';

export interface Node {
  ip_addr: string;
  name: string;
  /** CPUs dispy uses on the node */
  cpus: number;
  /** CPUs the node offers (dispynode --cpus) */
  avail_cpus: number;
  /** CPUs running jobs now */
  busy: number;
  jobs_done: number;
  cpu_time: number;
  tx: number;
  rx: number;
  /** Unix seconds; 0 when the node never accepted or finished a job */
  update_time: number;
  avail_info: AvailInfo | null;
  status: NodeStatus;
  /** busy, but no job started or ended there for the server's --stuck-after */
  stuck?: boolean;
  /** its avail info stopped arriving for the server's --stale-after */
  stale?: boolean;
}

export interface Cluster {
  name: string;
  kind: ClusterKind;
  jobs: Jobs;
  nodes: Record<string, Node>;
}

/**
 * A node inside a delta: the fields that changed since this client's previous
 * message (at least one), or the complete record (with `ip_addr`, which never
 * changes) for a node the client does not have yet. Each field is replaced
 * whole (`avail_info` too).
 */
export type NodeDelta = Partial<Node>;

/**
 * A changed cluster inside a delta: every field optional (see protocol.md).
 * A cluster that arrives whole (`name` and `kind`) carries complete nodes.
 */
export interface ClusterDelta {
  name?: string;
  kind?: ClusterKind;
  /** replaces the whole jobs record */
  jobs?: Jobs;
  /** per node: its changed fields (or all of them when new); null = node removed */
  nodes?: Record<string, NodeDelta | null>;
}

/** Server-wide; any operator may change it. */
export interface Settings {
  show_job_args: boolean;
}

/** One job running on the watched node. */
export interface Job {
  /** dispy's job uid: what terminate_jobs takes */
  uid: number;
  cluster: string;
  /** str(job.id), guarded and cut to 200 characters by the server */
  id: string;
  /** null when show_job_args is off */
  args: string | null;
  /** null when show_job_args is off */
  kwargs: string | null;
  start_time: number | null;
  ip_addr: string;
}

/**
 * The jobs running on the node this view watches, in every cluster: in a
 * snapshot the full set; in a delta the jobs that started (Job) or left (null).
 */
export interface NodeJobs {
  ip_addr: string;
  jobs: Record<string, Job | null>;
}

export type AuditState = 'pending' | 'ok' | 'failed';

export interface AuditEntry {
  id: number;
  time: number;
  action: string;
  target: string;
  cluster: string | null;
  state: AuditState;
  message: string;
  who: string | null;
}

// ---- commands ----

/** The closed set of error codes a command result (or `error`) may carry. */
export type ErrorCode =
  | 'invalid'
  | 'unknown_command'
  | 'not_found'
  | 'not_allowed'
  | 'cluster_error'
  | 'timeout'
  /** this connection sent too many messages; slow down */
  | 'rate_limited'
  /** a read-only command sent while this connection's previous one had no result yet */
  | 'busy';

export type TerminateOutcome = 'terminated' | 'already_finished' | 'not_found' | 'failed';

/** Each command's args and the `value` of its successful result. */
export interface Commands {
  set_show_job_args: {
    args: { value: boolean };
    value: { show_job_args: boolean };
  };
  terminate_jobs: {
    /** 1–1000 uids */
    args: { uids: number[] };
    value: { results: Record<string, TerminateOutcome> };
  };
  add_node: {
    /** cpus: 0 = all; ignored for wildcards and SharedJobCluster. No cluster = every cluster. */
    args: { host: string; cpus?: number; cluster?: string };
    value: { audit_id: number; clusters: string[]; cpus_ignored: boolean };
  };
  set_node_cpus: {
    args: { ip: string; cpus: number; cluster?: string };
    /** the effective CPUs dispy applied, per cluster */
    value: { cpus: Record<string, number> };
  };
  allocate_node: {
    args: { ip: string; cluster?: string };
    value: { clusters: string[] };
  };
  deallocate_node: {
    args: { ip: string; cluster?: string };
    value: { clusters: string[] };
  };
  close_node: {
    args: { ip: string; cluster?: string; terminate_pending?: boolean };
    value: { clusters: string[] };
  };
  // read-only: finished-job history and per-second/minute series
  history: {
    /** limit 1–1000 (server default 100), offset ≥ 0 */
    args: { outcome?: JobOutcome; node?: string; cluster?: string; text?: string; limit?: number; offset?: number };
    /** newest end first; total counts every match before limit/offset */
    value: { jobs: HistoryJob[]; total: number };
  };
  history_summary: {
    args: Record<string, never>;
    value: HistorySummary;
  };
  series: {
    args: { cluster?: string; node?: string; step?: 1 | 60 };
    value: Series;
  };
}

/**
 * The read-only commands (queries). The server runs one at a time per
 * connection and answers another sent meanwhile with `busy`, so the socket
 * sends them one after the other.
 */
export const QUERIES: ReadonlySet<CommandName> = new Set<CommandName>(['history', 'history_summary', 'series']);

/** Close code and reason of a connection whose results piled up unread (docs/protocol.md). */
export const CLOSE_NOT_READING = 1008;

export const JOB_OUTCOMES = ['finished', 'failed', 'cancelled', 'terminated', 'abandoned'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

export interface HistoryJob {
  uid: number;
  /** str(job.id), guarded */
  id: string;
  cluster: string;
  /** "" when the job never reached a node */
  node: string;
  outcome: JobOutcome;
  /** failed only */
  exception_type: string | null;
  exception_message: string | null;
  start_time: number | null;
  end_time: number;
  duration: number | null;
}

export interface Failure {
  type: string;
  count: number;
  last_message: string;
  last_time: number;
  last_cluster: string;
  last_node: string;
}

export interface HistorySummary {
  outcomes: Record<JobOutcome, number>;
  /** most frequent type first */
  failures: Failure[];
  jobs: number;
  size: number;
  /** the history database (`--history-db`), null when there is none */
  store: HistoryStore | null;
}

/** How the history database is doing; counts since the server started. */
export interface HistoryStore {
  /** the last attempt to write it succeeded */
  healthy: boolean;
  /** failed attempts to open or write it */
  errors: number;
  /** rows that will never reach it (the waiting rows' bound was reached) */
  dropped: number;
  /** times its file was found deleted or replaced and opened again */
  reopened: number;
  /** the last error while not healthy, else null */
  last_error: string | null;
}

export interface Series {
  /** seconds per bucket */
  step: 1 | 60;
  /** Unix time at which the last bucket starts */
  end: number;
  /** jobs that ended in each bucket, oldest first; only the buckets the server
   *  has data for (since it started, the cluster attached, the node reported),
   *  so possibly fewer than the window or none */
  done: number[];
  /** busy CPUs in each bucket */
  busy: number[];
}

export type CommandName = keyof Commands;
export type CommandArgs<N extends CommandName> = Commands[N]['args'];
export type CommandValue<N extends CommandName> = Commands[N]['value'];

// ---- server -> client ----

/** What a connection may do: a viewer looks and runs only the read-only commands. */
export type Role = 'operator' | 'viewer';

export interface Hello {
  type: 'hello';
  protocol: number;
  server: string;
  /** the server's default update interval (seconds) */
  poll_sec: number;
  /** the shortest interval the server keeps; a shorter positive one counts as this */
  min_interval: number;
  show_job_args: boolean;
  role: Role;
}

export interface Snapshot {
  type: 'snapshot';
  seq: number;
  settings: Settings;
  clusters: Record<string, Cluster>;
  /** newest last, at most 200 */
  audit: AuditEntry[];
  /** only when this view watches a node */
  node_jobs: NodeJobs | null;
}

/** Each field appears only when something in it changed. */
export interface Delta {
  type: 'delta';
  seq: number;
  /** whole record */
  settings?: Settings;
  /** only changed clusters; null = cluster removed */
  clusters?: Record<string, ClusterDelta | null>;
  /** whole list */
  audit?: AuditEntry[];
  /** changed jobs only; null = the job left */
  node_jobs?: NodeJobs;
}

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
}

export interface CommandError {
  code: ErrorCode;
  message: string;
}

/** Answer to one `command`, matched by the client-chosen id. */
export type CommandResult =
  | { type: 'result'; id: number | string; ok: true; value: unknown }
  | { type: 'result'; id: number | string; ok: false; error: CommandError };

export type ServerMessage = Hello | Snapshot | Delta | ErrorMessage | CommandResult;

// ---- client -> server ----

/** Either field or both; a change of `node` is answered with a fresh snapshot. */
export interface ViewMessage {
  type: 'view';
  /** seconds; <= 0 stops automatic deltas */
  interval?: number;
  /** the node whose running jobs this view watches; null for none */
  node?: string | null;
}

export interface FlushMessage {
  type: 'flush';
}

export interface ResyncMessage {
  type: 'resync';
}

export interface CommandMessage {
  type: 'command';
  id: number | string;
  name: CommandName;
  args: Record<string, unknown>;
}

export type ClientMessage = ViewMessage | FlushMessage | ResyncMessage | CommandMessage;
