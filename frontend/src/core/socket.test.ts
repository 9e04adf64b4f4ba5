import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Hello, Snapshot } from './protocol';
import { CommandFailedError, CommandTimeoutError, ConnectionLostError, DispySocket, backoffDelay, wsUrl } from './socket';
import { createDashboardStore } from './store';
import type { DashboardStore } from './store';
import { fakeWebSockets } from '../test/fakeWebSocket';
import { cluster, jobDetail, node } from '../test/fixtures';

const hello = (poll_sec = 10, protocol = 1): Hello => ({
  type: 'hello',
  protocol,
  server: 'dispymon 0.1.0',
  poll_sec,
  min_interval: 0.05,
  show_job_args: true,
  role: 'operator',
});

const snapshot = (seq: number, names: string[] = ['c'], more: Partial<Snapshot> = {}): Snapshot => ({
  type: 'snapshot',
  seq,
  settings: { show_job_args: true },
  clusters: Object.fromEntries(names.map((n) => [n, cluster(n, [node('127.0.0.2')])])),
  audit: [],
  node_jobs: null,
  ...more,
});

let fakes: ReturnType<typeof fakeWebSockets>;
let store: DashboardStore;
let socket: DispySocket;

beforeEach(() => {
  vi.useFakeTimers();
  fakes = fakeWebSockets();
  store = createDashboardStore();
  // random() = 0: the shortest jitter, so delays are exact (base / 2)
  socket = new DispySocket({ store, url: 'ws://test/ws', createWebSocket: fakes.create, random: () => 0 });
});

afterEach(() => {
  socket.close();
  vi.useRealTimers();
});

/** Connects and completes the hello + snapshot exchange. */
function goLive(poll_sec = 10, seq = 1) {
  socket.connect();
  const ws = fakes.last;
  ws.open();
  ws.receive(hello(poll_sec));
  ws.receive(snapshot(seq));
  return ws;
}

describe('connection', () => {
  it('opens a binary socket at the URL and goes live on the first snapshot', () => {
    socket.connect();
    const ws = fakes.last;
    expect(ws.url).toBe('ws://test/ws');
    expect(ws.binaryType).toBe('arraybuffer');
    expect(store.getState().connection).toBe('connecting');
    ws.open();
    ws.receive(hello(2.5));
    expect(store.getState().connection).toBe('connecting');
    expect(store.getState().interval).toBe(2.5);
    ws.receive(snapshot(1));
    expect(store.getState().connection).toBe('live');
    expect(Object.keys(store.getState().clusters)).toEqual(['c']);
    // nothing to send when the user kept the server's interval
    expect(ws.sent).toEqual([]);
  });

  it('derives the URL from the page location', () => {
    expect(wsUrl({ protocol: 'http:', host: 'h:8181' })).toBe('ws://h:8181/ws');
    expect(wsUrl({ protocol: 'https:', host: 'example.org' })).toBe('wss://example.org/ws');
  });

  it('reconnects with exponential backoff and keeps the last state meanwhile', () => {
    const first = goLive();
    first.drop();
    expect(store.getState().connection).toBe('reconnecting');
    expect(Object.keys(store.getState().clusters)).toEqual(['c']);

    vi.advanceTimersByTime(124); // 250 ms * 0.5 jitter
    expect(fakes.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(fakes.sockets).toHaveLength(2);

    // the second attempt fails too: the delay doubles
    fakes.last.drop();
    vi.advanceTimersByTime(249);
    expect(fakes.sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(fakes.sockets).toHaveLength(3);

    const third = fakes.last;
    third.open();
    third.receive(hello());
    expect(store.getState().connection).toBe('reconnecting');
    third.receive(snapshot(40, ['d']));
    expect(store.getState().connection).toBe('live');
    expect(Object.keys(store.getState().clusters)).toEqual(['d']);

    // a hello reset the backoff: the next drop waits the minimum again
    third.drop();
    vi.advanceTimersByTime(125);
    expect(fakes.sockets).toHaveLength(4);
  });

  it('says the server stopped after its shutdown (1001), keeps trying, and is live when it is back', () => {
    const first = goLive();
    first.drop(1001);
    expect(store.getState().connection).toBe('stopped');
    expect(Object.keys(store.getState().clusters)).toEqual(['c']);
    // attempts while it is down fail without a close frame: still "stopped"
    vi.advanceTimersByTime(125);
    expect(fakes.sockets).toHaveLength(2);
    fakes.last.drop();
    expect(store.getState().connection).toBe('stopped');
    vi.advanceTimersByTime(250);
    expect(fakes.sockets).toHaveLength(3);
    const back = fakes.last;
    back.open();
    back.receive(hello());
    back.receive(snapshot(1, ['d']));
    expect(store.getState().connection).toBe('live');
    // a later network drop is a drop again, not a shutdown
    back.drop();
    expect(store.getState().connection).toBe('reconnecting');
  });

  it('computes backoff delays capped at the maximum, with jitter', () => {
    const low = () => 0;
    const high = () => 0.999999;
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, low))).toEqual([125, 250, 500, 1000, 2000, 2500, 2500]);
    expect(backoffDelay(0, high)).toBeCloseTo(250, 2);
    expect(backoffDelay(10, high)).toBeCloseTo(5000, 1);
  });

  it('stops for good on close()', () => {
    const ws = goLive();
    socket.close();
    expect(ws.closedByClient).toBe(true);
    expect(store.getState().connection).toBe('closed');
    vi.advanceTimersByTime(60_000);
    expect(fakes.sockets).toHaveLength(1);
  });

  it('gives up on a server speaking another protocol version', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    socket.connect();
    fakes.last.open();
    fakes.last.receive(hello(10, 2));
    expect(store.getState().connection).toBe('closed');
    vi.advanceTimersByTime(60_000);
    expect(fakes.sockets).toHaveLength(1);
  });

  it('ignores text frames and garbage without failing', () => {
    const ws = goLive();
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    ws.receiveRaw('{"type":"delta"}');
    ws.receiveRaw(new Uint8Array([0xc1]).buffer);
    expect(warn).toHaveBeenCalledOnce();
    expect(error).toHaveBeenCalledOnce();
    expect(store.getState().connection).toBe('live');
    expect(store.getState().seq).toBe(1);
  });
});

describe('deltas', () => {
  it('applies deltas in sequence', () => {
    const ws = goLive(10, 7);
    ws.receive({ type: 'delta', seq: 8, clusters: { c: { nodes: { '127.0.0.2': null } } } });
    expect(store.getState().seq).toBe(8);
    expect(store.getState().clusters.c?.nodes).toEqual({});
    expect(ws.sent).toEqual([]);
  });

  it('merges changed fields of a node, and resyncs on changed fields of a node it does not have', () => {
    const ws = goLive(10, 7);
    ws.receive({ type: 'delta', seq: 8, clusters: { c: { nodes: { '127.0.0.2': { busy: 2 } } } } });
    expect(store.getState().clusters.c?.nodes['127.0.0.2']).toEqual(node('127.0.0.2', { busy: 2 }));
    expect(ws.sent).toEqual([]);

    // a server bug or a lost frame the seq did not catch: never an incomplete node
    ws.receive({ type: 'delta', seq: 9, clusters: { c: { nodes: { '127.0.0.5': { busy: 1 } } } } });
    expect(ws.sent).toEqual([{ type: 'resync' }]);
    expect(store.getState().awaitingSnapshot).toBe(true);
    expect(store.getState().seq).toBe(8);
    expect(store.getState().clusters.c?.nodes['127.0.0.5']).toBeUndefined();
  });

  it('on a gap sends one resync and ignores deltas until the next snapshot', () => {
    const ws = goLive(10, 7);
    ws.receive({ type: 'delta', seq: 9, clusters: { c: null } });
    expect(ws.sent).toEqual([{ type: 'resync' }]);
    expect(store.getState().awaitingSnapshot).toBe(true);
    expect(store.getState().clusters.c).toBeDefined();

    // in-flight deltas after the gap: ignored, no second resync
    ws.receive({ type: 'delta', seq: 10, clusters: { c: null } });
    expect(ws.sent).toHaveLength(1);
    expect(store.getState().clusters.c).toBeDefined();

    ws.receive(snapshot(20, ['e']));
    expect(store.getState().awaitingSnapshot).toBe(false);
    ws.receive({ type: 'delta', seq: 21, clusters: { e: null } });
    expect(store.getState().clusters).toEqual({});
    expect(ws.sent).toHaveLength(1);
  });
});

describe('view interval and flush', () => {
  it('sends view when the user changes the interval, and again after a reconnect', () => {
    const first = goLive(10);
    socket.setViewInterval(0.25);
    expect(first.sent).toEqual([{ type: 'view', interval: 0.25 }]);
    expect(store.getState().interval).toBe(0.25);

    first.drop();
    vi.advanceTimersByTime(125);
    const second = fakes.last;
    second.open();
    second.receive(hello(10));
    // the user's choice survives: the new connection is told about it
    expect(second.sent).toEqual([{ type: 'view', interval: 0.25 }]);
    expect(store.getState().interval).toBe(0.25);
  });

  it('adopts poll_sec from each hello while the user has not chosen', () => {
    const first = goLive(10);
    first.drop();
    vi.advanceTimersByTime(125);
    fakes.last.open();
    fakes.last.receive(hello(3));
    expect(store.getState().interval).toBe(3);
    expect(fakes.last.sent).toEqual([]);
  });

  it('watches a node with view {node}, and watches it again after a reconnect', () => {
    const first = goLive(10);
    socket.setWatchedNode('127.0.0.2');
    expect(first.sent).toEqual([{ type: 'view', node: '127.0.0.2' }]);
    expect(store.getState().watchedNode).toBe('127.0.0.2');
    // the server answers with a snapshot carrying the node's jobs
    first.receive(
      snapshot(5, ['c'], {
        node_jobs: {
          ip_addr: '127.0.0.2',
          jobs: { '7': { uid: 7, key: 1007, cluster: 'c', id: '7', args: null, kwargs: null, start_time: 1, ip_addr: '127.0.0.2' } },
        },
      }),
    );
    expect([...(store.getState().nodeJobs?.jobs.keys() ?? [])]).toEqual([7]);

    first.drop();
    vi.advanceTimersByTime(125);
    const second = fakes.last;
    second.open();
    second.receive(hello(10));
    // the server starts every connection watching nothing
    expect(second.sent).toEqual([{ type: 'view', node: '127.0.0.2' }]);

    socket.setWatchedNode(null);
    expect(second.sent[1]).toEqual({ type: 'view', node: null });
    expect(store.getState().watchedNode).toBeNull();
  });

  it('follows a job with view {job}, again after a reconnect, and drops the job held for another', () => {
    const first = goLive(10);
    socket.setWatchedJob({ cluster: 'c', key: 7 });
    expect(first.sent).toEqual([{ type: 'view', job: { cluster: 'c', key: 7 } }]);
    // the same job again sends nothing
    socket.setWatchedJob({ cluster: 'c', key: 7 });
    expect(first.sent).toHaveLength(1);
    first.receive(snapshot(5, ['c'], { job: jobDetail(7, { cluster: 'c', state: 'running' }) }));
    expect(store.getState().job?.key).toBe(7);

    first.drop();
    vi.advanceTimersByTime(125);
    const second = fakes.last;
    second.open();
    second.receive(hello(10));
    expect(second.sent).toEqual([{ type: 'view', job: { cluster: 'c', key: 7 } }]);

    socket.setWatchedJob({ cluster: 'c', key: 8 });
    expect(second.sent[1]).toEqual({ type: 'view', job: { cluster: 'c', key: 8 } });
    // job 7's detail is not job 8's
    expect(store.getState().job).toBeNull();
    socket.setWatchedJob(null);
    expect(second.sent[2]).toEqual({ type: 'view', job: null });
    expect(store.getState().watchedJob).toBeNull();
  });

  it('restores interval and watched node in one view message', () => {
    const first = goLive(10);
    socket.setViewInterval(0.5);
    socket.setWatchedNode('10.0.0.7');
    first.drop();
    vi.advanceTimersByTime(125);
    fakes.last.open();
    fakes.last.receive(hello(10));
    expect(fakes.last.sent).toEqual([{ type: 'view', interval: 0.5, node: '10.0.0.7' }]);
  });

  it('sends flush for "Update"', () => {
    const ws = goLive();
    socket.flush();
    expect(ws.sent).toEqual([{ type: 'flush' }]);
    // what is not pushed (the chart) follows the count of Update presses
    expect(store.getState().updateRequests).toBe(1);
  });

  it('drops messages while disconnected instead of throwing', () => {
    socket.connect();
    expect(socket.send({ type: 'flush' })).toBe(false);
    expect(() => socket.setViewInterval(1)).not.toThrow();
    expect(store.getState().interval).toBe(1);
  });
});

describe('commands', () => {
  it('resolves the pending command whose id matches the result', async () => {
    const ws = goLive();
    const first = socket.command('close_node', { ip: '127.0.0.2' });
    const second = socket.command('set_node_cpus', { ip: '127.0.0.2', cpus: 1 });
    expect(ws.sent).toEqual([
      { type: 'command', id: 1, name: 'close_node', args: { ip: '127.0.0.2' } },
      { type: 'command', id: 2, name: 'set_node_cpus', args: { ip: '127.0.0.2', cpus: 1 } },
    ]);
    ws.receive({ type: 'result', id: 99, ok: true, value: 'nobody' }); // unknown id: ignored
    ws.receive({ type: 'result', id: 2, ok: true, value: { cpus: { c: 1 } } });
    await expect(second).resolves.toEqual({ cpus: { c: 1 } });
    expect(socket.pendingCount).toBe(1);
    ws.receive({ type: 'result', id: 1, ok: false, error: { code: 'not_found', message: 'no such node' } });
    const err = await first.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailedError);
    expect(err).toMatchObject({ code: 'not_found', message: 'no such node' });
    expect(socket.pendingCount).toBe(0);
  });

  it('rejects every pending command when the connection drops', async () => {
    const ws = goLive();
    const a = socket.command('allocate_node', { ip: '127.0.0.2' });
    const b = socket.command('deallocate_node', { ip: '127.0.0.3' });
    ws.drop();
    await expect(a).rejects.toThrow(/connection lost/);
    await expect(b).rejects.toBeInstanceOf(ConnectionLostError);
    expect(socket.pendingCount).toBe(0);
  });

  it('rejects a command that gets no result in time, and ignores a late result', async () => {
    const ws = goLive();
    const late = socket.command('close_node', { ip: '127.0.0.2' });
    vi.advanceTimersByTime(29_999);
    expect(socket.pendingCount).toBe(1);
    vi.advanceTimersByTime(1);
    await expect(late).rejects.toBeInstanceOf(CommandTimeoutError);
    expect(socket.pendingCount).toBe(0);
    expect(() => ws.receive({ type: 'result', id: 1, ok: true, value: null })).not.toThrow();
  });

  it('sends queries one at a time (the server answers another one busy) and actions at once', async () => {
    const ws = goLive();
    const history = socket.command('history', { limit: 10 });
    const summary = socket.command('history_summary', {});
    const series = socket.command('series', {});
    const action = socket.command('close_node', { ip: '127.0.0.2' });
    expect(ws.sent).toEqual([
      { type: 'command', id: 1, name: 'history', args: { limit: 10 } },
      { type: 'command', id: 4, name: 'close_node', args: { ip: '127.0.0.2' } },
    ]);
    ws.receive({ type: 'result', id: 1, ok: true, value: { jobs: [], total: 0 } });
    await expect(history).resolves.toEqual({ jobs: [], total: 0 });
    expect(ws.sent.slice(2)).toEqual([{ type: 'command', id: 2, name: 'history_summary', args: {} }]);
    ws.receive({ type: 'result', id: 2, ok: false, error: { code: 'invalid', message: 'no' } });
    await expect(summary).rejects.toBeInstanceOf(CommandFailedError);
    expect(ws.sent.slice(3)).toEqual([{ type: 'command', id: 3, name: 'series', args: {} }]);
    ws.receive({ type: 'result', id: 4, ok: true, value: { clusters: ['c'] } });
    await expect(action).resolves.toEqual({ clusters: ['c'] });
    // a query that timed out frees the way for the next
    vi.advanceTimersByTime(30_000);
    await expect(series).rejects.toBeInstanceOf(CommandTimeoutError);
    const again = socket.command('series', {});
    expect(ws.sent.slice(4)).toEqual([{ type: 'command', id: 5, name: 'series', args: {} }]);
    ws.drop();
    await expect(again).rejects.toBeInstanceOf(ConnectionLostError);
  });

  it('says why when the server closed a page that did not read its results', () => {
    const ws = goLive();
    ws.drop(1008, 'results not read');
    expect(store.getState().connection).toBe('reconnecting');
    expect(store.getState().lastError?.message).toMatch(/server closed the connection: results not read/);
  });

  it('rejects at once when not connected', async () => {
    await expect(socket.command('set_show_job_args', { value: false })).rejects.toThrow(/connection lost/);
    expect(socket.pendingCount).toBe(0);
  });
});
