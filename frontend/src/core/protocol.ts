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
  /** on a fleet central only: the program that owns the cluster (docs/fleet.md) */
  program?: string;
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
  program?: string;
}

/** A program as a fleet central sees it (docs/fleet.md). */
export interface FleetProgram {
  online: boolean;
  /** the program's last heartbeat (its clock, Unix seconds) */
  last_seen: number;
  /** when this central saw it go silent; null while online */
  offline_since: number | null;
  /** it said it stopped */
  stopped: boolean;
  host: string;
  pid: number;
  /** events its publisher dropped from a full backlog (a snapshot covered them) */
  dropped: number;
  /** times this central resynced it from a snapshot (entries past retention, a gap) */
  resyncs: number;
  resynced: number | null;
  /** its clusters, by this central's names */
  clusters: string[];
}

/**
 * The `fleet` part: only on a dashboard with a broker. A central lists the
 * programs; a program says where it publishes and what it dropped.
 */
export interface Fleet {
  role: 'central' | 'program';
  /** the broker's URL, its password as *** */
  broker: string;
  reachable: boolean;
  /** when `reachable` last changed (Unix seconds) */
  since: number;
  programs?: Record<string, FleetProgram>;
  /** a program's own name */
  program?: string;
  dropped?: number;
}

/** Server-wide; any operator may change it. */
export interface Settings {
  show_job_args: boolean;
}

/** One job running on the watched node. */
export interface Job {
  /** dispy's job uid: what terminate_jobs takes */
  uid: number;
  /** the dashboard's key of the job (never reused): its job page's `?key=` */
  key: number;
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

/** Every ErrorCode, at run time (the golden frames check it equals the server's set). */
export const ERROR_CODES: readonly ErrorCode[] = [
  'invalid',
  'unknown_command',
  'not_found',
  'not_allowed',
  'cluster_error',
  'timeout',
  'rate_limited',
  'busy',
] satisfies readonly ErrorCode[];

/** `timeout`: no answer in time (a fleet program's, or dispy's): the outcome is unknown */
export type TerminateOutcome = 'terminated' | 'already_finished' | 'not_found' | 'failed' | 'timeout';

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
  // read-only: one job, and the jobs of a filter (docs/protocol.md "Jobs")
  job: {
    /** one of key or id (≤ 200 characters) */
    args: { cluster: string; key?: number; id?: string };
    /** the job; or, when the id is not unique in the cluster, the jobs it names (≤ 50) and how many more */
    value: JobAnswer;
  };
  jobs: {
    /** offset 0–10,000,000, limit 1–1000; without `selection` (or with an expired one) a new one is made */
    args: JobFilter & { offset?: number; limit?: number; selection?: number };
    value: JobsPage;
  };
  resubmit: {
    args: { cluster: string; key: number };
    /** the new job */
    value: { key: number; id: string };
  };
  bulk_preview: {
    args: { action: BulkActionName; filter: JobFilter };
    value: BulkPreview;
  };
  bulk_start: {
    /** expect: the count the preview showed */
    args: { action: BulkActionName; filter: JobFilter; expect?: number };
    value: { action_id: number };
  };
  bulk_cancel: {
    args: { action_id: number };
    value: { state: BulkState };
  };
  bulk_outcomes: {
    /** limit ≤ 1000 */
    args: { action_id: number; outcome?: string; offset?: number; limit?: number };
    value: { total: number; items: BulkOutcomeItem[] };
  };
}

/**
 * The read-only commands (queries). The server runs one at a time per
 * connection and answers another sent meanwhile with `busy`, so the socket
 * sends them one after the other.
 */
export const QUERIES: ReadonlySet<CommandName> = new Set<CommandName>([
  'history',
  'history_summary',
  'series',
  'job',
  'jobs',
  'bulk_preview',
  'bulk_outcomes',
]);

/**
 * The server's close codes and reasons (transport/protocol.py; the golden
 * frames' manifest checks these against it).
 */
export const CLOSES = {
  /** the server shut down on purpose (1001 "going away") */
  SERVER_SHUTDOWN: { code: 1001, reason: 'server shutdown' },
  TOO_MANY_MESSAGES: { code: 1008, reason: 'too many messages' },
  /** results piled up unread: the page read too slowly, or sent commands faster than it read their results */
  RESULTS_NOT_READ: { code: 1008, reason: 'results not read' },
  TEXT_FRAME: { code: 1003, reason: 'text frames are not part of the protocol' },
} as const;

export const JOB_OUTCOMES = ['finished', 'failed', 'cancelled', 'terminated', 'abandoned'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

export interface HistoryJob {
  uid: number;
  /** the dashboard's key of the job: its job page's `?key=`; null for a job it gave none */
  key: number | null;
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
  /** when it was submitted (dispy's submit time); null when unknown */
  created: number | null;
  /** the key of the job this one resubmitted */
  resubmit_of: number | null;
}

export interface Failure {
  type: string;
  count: number;
  last_message: string;
  last_time: number;
  last_cluster: string;
  last_node: string;
  /** the key of the last job that failed so; null when it has none */
  last_key: number | null;
}

// ---- jobs (issue 18) ----

export const JOB_STATES = ['queued', 'running', ...JOB_OUTCOMES] as const;
/** Where a job is: waiting (queued), running, or its outcome. */
export type JobState = (typeof JOB_STATES)[number];

/** One row of the Jobs view. */
export interface JobRow {
  key: number;
  id: string;
  cluster: string;
  state: JobState;
  /** "" when it never reached a node */
  node: string;
  exception_type: string | null;
  created: number | null;
  start_time: number | null;
  end_time: number | null;
  duration: number | null;
  resubmit_of: number | null;
}

/** Everything about one job: its row, its outputs and what can be done with it. */
export interface JobDetail extends JobRow {
  exception_message: string | null;
  /** null when Show job arguments is off, or not kept */
  args: string | null;
  kwargs: string | null;
  /** repr(result), cut at 4 KiB */
  result: string | null;
  /** the full length of the repr */
  result_len: number | null;
  result_cut: boolean;
  /** the last 64 KiB (UTF-8 decoded) */
  stdout: string | null;
  /** the full length the job printed */
  stdout_len: number;
  stdout_cut: boolean;
  stderr: string | null;
  stderr_len: number;
  stderr_cut: boolean;
  traceback: string | null;
  traceback_len: number;
  /** whether its outputs and texts are still kept (in memory or the database) */
  kept: 'all' | 'evicted' | 'none';
  /** the node it was submitted to (submit_node), if any */
  pinned: string | null;
  /** keys of the jobs that resubmitted this one */
  resubmitted_as: number[];
  resubmit: { possible: boolean; reason: string | null };
}

/** The `job` query's answer. */
export type JobAnswer = { job: JobDetail } | { choices: JobRow[]; more: number };

/** Which jobs a query, a bulk action or an export is about; every field optional. */
export interface JobFilter {
  cluster?: string;
  /** 1–7 states */
  states?: JobState[];
  /** IP address */
  node?: string;
  /** exception type (≤ 200 characters) */
  exception?: string;
  /** a part of the job ID, any case (≤ 200 characters) */
  text?: string;
  /** Unix seconds: queued jobs by created, running by start, ended by end */
  since?: number;
  until?: number;
}

/** One page of a selection of jobs. */
export interface JobsPage {
  /** the frozen list these rows come from: ask for later pages with it */
  selection: number;
  total: number;
  counts: Partial<Record<JobState, number>>;
  /** queued jobs of the filter's clusters that dispy counts but the server does not list (over its
   * 1,000,000 per cluster, or queued out of its sight before it attached); 0 when the filter leaves
   * queued jobs out */
  unlisted: number;
  jobs: JobRow[];
}

/** Bytes of a job's stdout/stderr the server keeps (the last ones). */
export const OUTPUT_TAIL = 65536;
/** Jobs one bulk action may act on. */
export const BULK_MAX = 10_000;

export const BULK_ACTIONS = ['terminate', 'resubmit'] as const;
export type BulkActionName = (typeof BULK_ACTIONS)[number];
export type BulkState = 'running' | 'cancelling' | 'cancelled' | 'done';

/** What a bulk action would act on. */
export interface BulkPreview {
  /** jobs matching the filter */
  count: number;
  /** of them, those the action applies to */
  eligible: number;
  /** eligible passes the limit (10,000): the action would be refused */
  over_limit: boolean;
  /** the first rows (≤ 20) */
  first: JobRow[];
  /** resubmit: eligible jobs whose arguments were not kept */
  not_kept: number;
}

/** A bulk action, running or recent (the last 8): the `actions` part of snapshots and deltas. */
export interface BulkAction {
  id: number;
  action: BulkActionName;
  who: string | null;
  filter: JobFilter;
  total: number;
  done: number;
  state: BulkState;
  /** jobs per outcome so far */
  counts: Record<string, number>;
  started: number;
  ended: number | null;
  audit_id: number;
}

/** What a bulk action did to one job. */
export interface BulkOutcomeItem {
  key: number;
  id: string;
  cluster: string;
  /** terminated, already_finished, not_found, failed; resubmitted, not_kept, failed_to_submit; cancelled */
  outcome: string;
  reason: string | null;
  /** resubmitted: the new job's key */
  new_key: number | null;
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
  /** the job this view watches (view `job`); null when none or it is unknown */
  job?: JobDetail | null;
  /** the last bulk actions, oldest first */
  actions?: BulkAction[];
  /** with a broker only (docs/fleet.md) */
  fleet?: Fleet;
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
  /** the watched job, whole, when it changed */
  job?: JobDetail | null;
  /** every kept bulk action, when one changed */
  actions?: BulkAction[];
  /** whole, when it changed */
  fleet?: Fleet;
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
  /** the job this view follows (its page is open); null for none. A change is answered with a snapshot. */
  job?: WatchedJob | null;
}

/** A job a view follows. */
export interface WatchedJob {
  cluster: string;
  key: number;
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

// ---- run-time checks of what the server sends ----
//
// The codec checks only the envelope (a map with a string `type`); the socket
// hands a frame on only if it has the shape of its type (the top-level
// fields, not every record: a snapshot may hold 10,000 nodes). The golden
// frames (src/test/golden, written by the server's tests) go through these.

/** The fields of each record, as the TypeScript types name them (the golden frames check the server sends these). */
export const NODE_FIELDS = [
  'ip_addr',
  'name',
  'cpus',
  'avail_cpus',
  'busy',
  'jobs_done',
  'cpu_time',
  'tx',
  'rx',
  'update_time',
  'avail_info',
  'status',
  'stuck',
  'stale',
] as const satisfies readonly (keyof Node)[];
export const AVAIL_FIELDS = ['cpu', 'memory', 'disk', 'swap'] as const satisfies readonly (keyof AvailInfo)[];
export const JOBS_FIELDS = [
  'submitted',
  'queued',
  'running',
  'done',
  'finished',
  'failed',
  'cancelled',
  'terminated',
  'abandoned',
] as const satisfies readonly (keyof Jobs)[];
export const CLUSTER_FIELDS = ['name', 'kind', 'jobs', 'nodes'] as const satisfies readonly (keyof Cluster)[];
export const JOB_FIELDS = ['uid', 'key', 'cluster', 'id', 'args', 'kwargs', 'start_time', 'ip_addr'] as const satisfies readonly (keyof Job)[];
export const AUDIT_FIELDS = ['id', 'time', 'action', 'target', 'cluster', 'state', 'message', 'who'] as const satisfies readonly (keyof AuditEntry)[];
export const JOB_ROW_FIELDS = [
  'key',
  'id',
  'cluster',
  'state',
  'node',
  'exception_type',
  'created',
  'start_time',
  'end_time',
  'duration',
  'resubmit_of',
] as const satisfies readonly (keyof JobRow)[];
export const JOB_DETAIL_FIELDS = [
  ...JOB_ROW_FIELDS,
  'exception_message',
  'args',
  'kwargs',
  'result',
  'result_len',
  'result_cut',
  'stdout',
  'stdout_len',
  'stdout_cut',
  'stderr',
  'stderr_len',
  'stderr_cut',
  'traceback',
  'traceback_len',
  'kept',
  'pinned',
  'resubmitted_as',
  'resubmit',
] as const satisfies readonly (keyof JobDetail)[];
export const BULK_ACTION_FIELDS = [
  'id',
  'action',
  'who',
  'filter',
  'total',
  'done',
  'state',
  'counts',
  'started',
  'ended',
  'audit_id',
] as const satisfies readonly (keyof BulkAction)[];

// Each list names every field of its type: a field added to a type and not to its list fails to compile.
type Covers<T, L extends readonly unknown[]> = Exclude<keyof T, L[number]> extends never ? true : never;
export const FIELD_LISTS_COMPLETE: [
  Covers<Node, typeof NODE_FIELDS>,
  Covers<AvailInfo, typeof AVAIL_FIELDS>,
  Covers<Jobs, typeof JOBS_FIELDS>,
  Covers<Omit<Cluster, 'program'>, typeof CLUSTER_FIELDS>, // `program`: a fleet central's only (optional)
  Covers<Job, typeof JOB_FIELDS>,
  Covers<AuditEntry, typeof AUDIT_FIELDS>,
  Covers<JobRow, typeof JOB_ROW_FIELDS>,
  Covers<JobDetail, typeof JOB_DETAIL_FIELDS>,
  Covers<BulkAction, typeof BULK_ACTION_FIELDS>,
] = [true, true, true, true, true, true, true, true, true];

const ROLES: readonly Role[] = ['operator', 'viewer'];

type Fields = Record<string, unknown>;

const isMap = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number';

export function isErrorCode(v: unknown): v is ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(v);
}

export function isHello(m: Fields): m is Fields & Hello {
  return (
    m.type === 'hello' &&
    isNumber(m.protocol) &&
    typeof m.server === 'string' &&
    isNumber(m.poll_sec) &&
    isNumber(m.min_interval) &&
    typeof m.show_job_args === 'boolean' &&
    (ROLES as readonly unknown[]).includes(m.role)
  );
}

const isSettings = (v: unknown): v is Settings => isMap(v) && typeof v.show_job_args === 'boolean';
const isNodeJobs = (v: unknown): v is NodeJobs => isMap(v) && typeof v.ip_addr === 'string' && isMap(v.jobs);
const isMapOf = (v: unknown, item: (x: unknown) => boolean): boolean => isMap(v) && Object.values(v).every(item);

/** A job's detail (the `job` part): its identity and state; the rest is the server's promise. */
export function isJobDetail(v: unknown): v is JobDetail {
  return (
    isMap(v) &&
    isNumber(v.key) &&
    typeof v.cluster === 'string' &&
    typeof v.id === 'string' &&
    (JOB_STATES as readonly unknown[]).includes(v.state) &&
    Array.isArray(v.resubmitted_as) &&
    isMap(v.resubmit)
  );
}

/** A page of the Jobs view (the `jobs` query's value). */
export function isJobsPage(v: unknown): v is JobsPage {
  return (
    isMap(v) &&
    isNumber(v.selection) &&
    isNumber(v.total) &&
    isMap(v.counts) &&
    isNumber(v.unlisted) &&
    Array.isArray(v.jobs)
  );
}

const BULK_STATES: readonly BulkState[] = ['running', 'cancelling', 'cancelled', 'done'];

/** One bulk action (an entry of the `actions` part). */
export function isBulkAction(v: unknown): v is BulkAction {
  return (
    isMap(v) &&
    isNumber(v.id) &&
    (BULK_ACTIONS as readonly unknown[]).includes(v.action) &&
    isNumber(v.total) &&
    isNumber(v.done) &&
    (BULK_STATES as readonly unknown[]).includes(v.state) &&
    isMap(v.counts)
  );
}

const isJobPart = (v: unknown): boolean => v === undefined || v === null || isJobDetail(v);
const isActionsPart = (v: unknown): boolean => v === undefined || (Array.isArray(v) && v.every(isBulkAction));
const isFleetPart = (v: unknown): boolean =>
  v === undefined ||
  (isMap(v) &&
    (v.role === 'central' || v.role === 'program') &&
    typeof v.broker === 'string' &&
    typeof v.reachable === 'boolean' &&
    (v.programs === undefined || isMapOf(v.programs, (p) => isMap(p) && Array.isArray(p.clusters))));

export function isSnapshot(m: Fields): m is Fields & Snapshot {
  return (
    m.type === 'snapshot' &&
    isNumber(m.seq) &&
    isSettings(m.settings) &&
    isMapOf(m.clusters, (c) => isMap(c) && typeof c.name === 'string' && isMap(c.jobs) && isMap(c.nodes)) &&
    Array.isArray(m.audit) &&
    (m.node_jobs === null || isNodeJobs(m.node_jobs)) &&
    isJobPart(m.job) &&
    isActionsPart(m.actions) &&
    isFleetPart(m.fleet)
  );
}

export function isDelta(m: Fields): m is Fields & Delta {
  return (
    m.type === 'delta' &&
    isNumber(m.seq) &&
    (m.settings === undefined || isSettings(m.settings)) &&
    (m.clusters === undefined || isMapOf(m.clusters, (c) => c === null || isMap(c))) &&
    (m.audit === undefined || Array.isArray(m.audit)) &&
    (m.node_jobs === undefined || isNodeJobs(m.node_jobs)) &&
    isJobPart(m.job) &&
    isActionsPart(m.actions) &&
    isFleetPart(m.fleet)
  );
}

export function isErrorMessage(m: Fields): m is Fields & ErrorMessage {
  return m.type === 'error' && isErrorCode(m.code) && typeof m.message === 'string';
}

export function isCommandResult(m: Fields): m is Fields & CommandResult {
  if (m.type !== 'result' || !(isNumber(m.id) || typeof m.id === 'string')) return false;
  if (m.ok === true) return 'value' in m;
  return m.ok === false && isMap(m.error) && isErrorCode(m.error.code) && typeof m.error.message === 'string';
}

/** A message of a type this page knows, with that type's shape. */
export function isServerMessage(m: Fields): m is Fields & ServerMessage {
  switch (m.type) {
    case 'hello':
      return isHello(m);
    case 'snapshot':
      return isSnapshot(m);
    case 'delta':
      return isDelta(m);
    case 'result':
      return isCommandResult(m);
    case 'error':
      return isErrorMessage(m);
    default:
      return false;
  }
}
