// One WebSocket to the dispymon server, kept open: decodes frames, feeds the
// store, resyncs on gaps, reconnects with backoff and matches command results
// to their pending promises. No React here.
import { decode, encode } from './codec';
import type { Frame } from './codec';
import { CLOSES, PROTOCOL_VERSION, QUERIES, isServerMessage } from './protocol';
import type {
  ClientMessage,
  CommandArgs,
  CommandName,
  CommandResult,
  CommandValue,
  ErrorCode,
  ServerMessage,
  ViewMessage,
  WatchedJob,
} from './protocol';
import type { DashboardStore } from './store';

/** The part of the browser's WebSocket this module uses (lets tests inject a fake). */
export interface WebSocketLike {
  binaryType: BinaryType;
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketFactory = (url: string) => WebSocketLike;

export interface DispySocketOptions {
  store: DashboardStore;
  /** defaults to wsUrl(location) */
  url?: string;
  createWebSocket?: WebSocketFactory;
  /** [0, 1); injectable so tests get deterministic jitter */
  random?: () => number;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** a command without a result after this long is rejected (default 30 s) */
  commandTimeoutMs?: number;
}

const OPEN = 1; // WebSocket.OPEN, without touching the global in tests

/** The connection dropped (or was not open) before the command got its result. */
export class ConnectionLostError extends Error {
  override name = 'ConnectionLostError';
}

/** No result arrived in time (the result, if it still comes, is ignored). */
export class CommandTimeoutError extends Error {
  override name = 'CommandTimeoutError';
}

/** The server answered a command with `ok: false`. */
export class CommandFailedError extends Error {
  override name = 'CommandFailedError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Same host and port as the page; `wss:` when the page came over https. */
export function wsUrl(loc: Pick<Location, 'protocol' | 'host'>): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
}

/**
 * Exponential backoff with jitter: min·2^attempt capped at max, then scaled
 * into [½, 1) of that so many tabs reconnecting after a server restart do
 * not all arrive at once.
 */
export function backoffDelay(attempt: number, random: () => number, minMs = 250, maxMs = 5000): number {
  const base = Math.min(maxMs, minMs * 2 ** attempt);
  return base * (0.5 + 0.5 * random());
}

interface Pending {
  resolve(value: unknown): void;
  reject(reason: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class DispySocket {
  private readonly store: DashboardStore;
  private readonly url: string;
  private readonly createWebSocket: WebSocketFactory;
  private readonly random: () => number;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly commandTimeoutMs: number;

  private ws: WebSocketLike | null = null;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** the server said it was shutting down (1001); until a server says hello again */
  private serverStopped = false;
  private nextId = 1;
  private readonly pending = new Map<number | string, Pending>();
  /** the query (read-only command) sent and not yet answered: the server runs one at a time */
  private queryInFlight: number | null = null;
  /** queries waiting for it, oldest first */
  private readonly queries: { id: number; msg: ClientMessage }[] = [];

  constructor(options: DispySocketOptions) {
    this.store = options.store;
    this.url = options.url ?? wsUrl(location);
    this.createWebSocket = options.createWebSocket ?? ((url) => new WebSocket(url));
    this.random = options.random ?? Math.random;
    this.minDelayMs = options.minDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    // dispy's management calls can block ~10 s on a network fault; leave room.
    this.commandTimeoutMs = options.commandTimeoutMs ?? 30_000;
  }

  /** Opens the connection (and keeps reopening it until close()). */
  connect(): void {
    this.stopped = false;
    if (this.ws || this.reconnectTimer !== null) return;
    this.open();
  }

  /** Closes for good: no reconnect; the indicator shows "Disconnected". */
  close(): void {
    this.stopped = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'page closed');
    this.rejectPending();
    this.store.getState().setConnection('closed');
  }

  /** Sends if connected; returns false when the message was dropped. */
  send(msg: ClientMessage): boolean {
    if (!this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(encode(msg));
    return true;
  }

  /** The user chose an update interval (seconds, ≤ 0 pauses). */
  setViewInterval(seconds: number): void {
    this.store.getState().chooseInterval(seconds);
    this.send({ type: 'view', interval: seconds });
  }

  /**
   * The Node page of `ip` opened (null: closed). The server answers with a
   * snapshot that carries that node's running jobs, then keeps them current.
   */
  setWatchedNode(ip: string | null): void {
    this.store.getState().watchNode(ip);
    this.send({ type: 'view', node: ip });
  }

  /**
   * A job page opened (null: closed): the server answers with a snapshot
   * that carries the job's detail, then sends it again whenever it changes.
   */
  setWatchedJob(job: WatchedJob | null): void {
    const current = this.store.getState().watchedJob;
    if (current === job || (current && job && current.cluster === job.cluster && current.key === job.key)) return;
    this.store.getState().watchJob(job);
    this.send({ type: 'view', job });
  }

  /** "Update": ask for everything changed since the last delta, now (the chart refreshes too). */
  flush(): void {
    this.store.getState().requestUpdate();
    this.send({ type: 'flush' });
  }

  /**
   * Sends a command and resolves with its result value; rejects with
   * CommandFailedError on `ok: false`, ConnectionLostError if the connection
   * is down or drops before the result arrives, CommandTimeoutError if no
   * result comes within commandTimeoutMs.
   */
  command<N extends CommandName>(name: N, args: CommandArgs<N>): Promise<CommandValue<N>> {
    const id = this.nextId++;
    // The value's shape is the server's promise (protocol.md), not checked here.
    return new Promise<CommandValue<N>>((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== OPEN) {
        reject(new ConnectionLostError(`connection lost: command "${name}" not sent`));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        if (id === this.queryInFlight) this.nextQuery();
        reject(new CommandTimeoutError(`command "${name}" got no result within ${this.commandTimeoutMs / 1000} s`));
      }, this.commandTimeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      const msg: ClientMessage = { type: 'command', id, name, args: { ...args } };
      if (!QUERIES.has(name)) this.send(msg);
      else if (this.queryInFlight === null) this.sendQuery(id, msg);
      else this.queries.push({ id, msg });
    });
  }

  private sendQuery(id: number, msg: ClientMessage): void {
    this.queryInFlight = id;
    this.send(msg);
  }

  /** The query in flight was answered (or gave up waiting): send the next one still wanted. */
  private nextQuery(): void {
    this.queryInFlight = null;
    for (let next = this.queries.shift(); next; next = this.queries.shift()) {
      if (this.pending.has(next.id)) {
        this.sendQuery(next.id, next.msg);
        return;
      }
    }
  }

  /** Number of commands still waiting for their result. */
  get pendingCount(): number {
    return this.pending.size;
  }

  private open(): void {
    this.reconnectTimer = null;
    const ws = this.createWebSocket(this.url);
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    // Events of a socket we already replaced or closed are ignored.
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.store.getState().connectionOpened();
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      this.receive(ev.data as unknown);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      // 1001 "going away": the server shut down on purpose, not a network
      // fault; failed attempts to reach it afterwards do not change that.
      if (ev.code === CLOSES.SERVER_SHUTDOWN.code) this.serverStopped = true;
      if (ev.code === CLOSES.RESULTS_NOT_READ.code) {
        // the server gave up on this page: it read too slowly, or sent too much
        const message = `the server closed the connection: ${ev.reason || 'policy violation'}; reconnecting`;
        console.warn(`dispymon: ${message}`);
        this.store.getState().receiveError({ type: 'error', code: 'rate_limited', message });
      }
      this.dropped();
    };
    // An error is always followed by close, which does the work.
    ws.onerror = () => {};
  }

  private dropped(): void {
    this.ws = null;
    this.rejectPending();
    if (this.stopped) return;
    // Keep showing the last state, marked as reconnecting (or as stopped:
    // the socket still tries, so a restarted server is picked up).
    this.store.getState().setConnection(this.serverStopped ? 'stopped' : 'reconnecting');
    const delay = backoffDelay(this.attempt, this.random, this.minDelayMs, this.maxDelayMs);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  private rejectPending(): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.queries.length = 0;
    this.queryInFlight = null;
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new ConnectionLostError('connection lost before the command result arrived'));
    }
  }

  private receive(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) {
      console.warn('dispymon: ignoring non-binary frame');
      return;
    }
    let frame: Frame;
    try {
      frame = decode(data);
    } catch (err) {
      // A lost delta is caught by the seq check on the next one.
      console.error('dispymon:', err);
      return;
    }
    // Unknown types from a newer server are ignored on purpose; a known type
    // without its shape is dropped like a lost frame (a delta: the next one's seq shows the gap).
    if (!isServerMessage(frame)) {
      if (['hello', 'snapshot', 'delta', 'result', 'error'].includes(frame.type)) {
        console.error(`dispymon: a "${frame.type}" message without its fields`);
      }
      return;
    }
    this.dispatch(frame);
  }

  private dispatch(msg: ServerMessage): void {
    const store = this.store.getState();
    switch (msg.type) {
      case 'hello': {
        if (msg.protocol !== PROTOCOL_VERSION) {
          console.error(`dispymon: server speaks protocol ${msg.protocol}, this page ${PROTOCOL_VERSION}`);
          this.close();
          return;
        }
        // A healthy server: the next drop starts the backoff from scratch.
        this.attempt = 0;
        this.serverStopped = false;
        store.receiveHello(msg);
        // The server starts every connection at poll_sec, watching no node;
        // after a reconnect, restore this browser's view in one message.
        const { interval, intervalChosen, watchedNode, watchedJob } = this.store.getState();
        const view: ViewMessage = { type: 'view' };
        if (intervalChosen && interval !== null && interval !== msg.poll_sec) view.interval = interval;
        if (watchedNode !== null) view.node = watchedNode;
        if (watchedJob !== null) view.job = watchedJob;
        if ('interval' in view || 'node' in view || 'job' in view) this.send(view);
        return;
      }
      case 'snapshot':
        store.receiveSnapshot(msg);
        if (store.connection !== 'live') store.setConnection('live');
        return;
      case 'delta':
        if (store.receiveDelta(msg) === 'gap') this.send({ type: 'resync' });
        return;
      case 'result':
        this.settle(msg);
        return;
      case 'error':
        console.warn(`dispymon: server error ${msg.code}: ${msg.message}`);
        store.receiveError(msg);
        return;
      default:
        // Unknown types from a newer server are ignored on purpose.
        return;
    }
  }

  private settle(result: CommandResult): void {
    if (result.id === this.queryInFlight) this.nextQuery();
    const p = this.pending.get(result.id);
    if (!p) return;
    this.pending.delete(result.id);
    clearTimeout(p.timer);
    if (result.ok) p.resolve(result.value);
    else p.reject(new CommandFailedError(result.error.code, result.error.message));
  }
}
