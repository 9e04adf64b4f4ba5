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
  /** finished + failed + cancelled + terminated + abandoned */
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
  /** % of swap used */
  swap: number;
}

export type NodeStatus = 'initialized' | 'closed';

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
}

export interface Cluster {
  name: string;
  kind: ClusterKind;
  jobs: Jobs;
  nodes: Record<string, Node>;
}

/** A changed cluster inside a delta: every field optional (see protocol.md). */
export interface ClusterDelta {
  name?: string;
  kind?: ClusterKind;
  /** replaces the whole jobs record */
  jobs?: Jobs;
  /** full replacement per node, null = node removed */
  nodes?: Record<string, Node | null>;
}

// ---- server -> client ----

export interface Hello {
  type: 'hello';
  protocol: number;
  server: string;
  poll_sec: number;
  show_job_args: boolean;
}

export interface Snapshot {
  type: 'snapshot';
  seq: number;
  clusters: Record<string, Cluster>;
}

export interface Delta {
  type: 'delta';
  seq: number;
  /** only changed clusters; null = cluster removed */
  clusters: Record<string, ClusterDelta | null>;
}

export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

export interface CommandError {
  code: string;
  message: string;
}

/** Answer to one `command`, matched by the client-chosen id. */
export type CommandResult =
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: CommandError };

export type ServerMessage = Hello | Snapshot | Delta | ErrorMessage | CommandResult;

// ---- client -> server ----

export interface ViewMessage {
  type: 'view';
  /** seconds; <= 0 stops automatic deltas */
  interval: number;
}

export interface FlushMessage {
  type: 'flush';
}

export interface ResyncMessage {
  type: 'resync';
}

/** Commands (node/job management) are specified in a later protocol revision. */
export interface CommandMessage {
  type: 'command';
  id: number;
  name: string;
  args: Record<string, unknown>;
}

export type ClientMessage = ViewMessage | FlushMessage | ResyncMessage | CommandMessage;
