// The golden frames (src/test/golden), written by the server's own code
// (backend/tests/test_golden.py), replayed through this page's codec, type
// guards, socket and reducers: a protocol change on the server that this
// side does not follow fails here. Refresh them with
// `DISPYMON_UPDATE_GOLDEN=1 .venv/bin/python -m pytest backend/tests/test_golden.py`.
/// <reference types="node" />
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decode } from './codec';
import type { Frame } from './codec';
import {
  AUDIT_FIELDS,
  AVAIL_FIELDS,
  BULK_ACTIONS,
  BULK_ACTION_FIELDS,
  BULK_MAX,
  CLOSES,
  CLUSTER_FIELDS,
  ERROR_CODES,
  JOBS_FIELDS,
  JOB_DETAIL_FIELDS,
  JOB_FIELDS,
  JOB_ROW_FIELDS,
  JOB_STATES,
  NODE_FIELDS,
  OUTPUT_TAIL,
  PROTOCOL_VERSION,
  QUERIES,
  isBulkAction,
  isCommandResult,
  isDelta,
  isErrorMessage,
  isJobDetail,
  isJobsPage,
  isServerMessage,
  isSnapshot,
} from './protocol';
import type { ServerMessage } from './protocol';
import { DispySocket } from './socket';
import { applyDelta, applySnapshot, emptyData } from './state';
import type { ServerData } from './state';
import { createDashboardStore } from './store';
import { fakeWebSockets } from '../test/fakeWebSocket';
import { OUTCOME_TEXT } from '../components/BulkDialog';

const DIR = new URL('../test/golden/', import.meta.url);

interface Manifest {
  constants: {
    protocol: number;
    min_interval: number;
    error_codes: string[];
    refused: string[];
    closes: Record<string, { code: number; reason: string }>;
    bad_frame_code: number;
    job_states: string[];
    bulk_actions: string[];
    bulk_max: number;
    bulk_outcomes: Record<string, string[]>;
    output_tail: number;
  };
  frames: { file: string; type: string; what: string }[];
  sequences: {
    name: string;
    interval: number;
    node: string | null;
    job?: { cluster: string; key: number } | null;
    frames: string[];
    final: string;
  }[];
}

const manifest = JSON.parse(readFileSync(new URL('manifest.json', DIR), 'utf8')) as Manifest;

/** A golden file's bytes as the browser gets a frame (an ArrayBuffer of its own). */
function bytes(file: string): ArrayBuffer {
  const data = readFileSync(new URL(file, DIR));
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

function frame(file: string): Frame {
  return decode(bytes(file));
}

function message(file: string): ServerMessage {
  const msg = frame(file);
  if (!isServerMessage(msg)) throw new Error(`${file}: not a server message this page knows`);
  return msg;
}

const keys = (v: object) => Object.keys(v).sort();
const sorted = (list: readonly string[]) => [...list].sort();

/** Every record of a snapshot or delta has the fields the TypeScript types name (a delta's node: a part of them). */
function checkRecords(file: string, msg: Frame): void {
  const where = (what: string) => `${file}: ${what}`;
  const whole = msg.type === 'snapshot';
  for (const [name, c] of Object.entries((msg.clusters ?? {}) as Record<string, Record<string, unknown> | null>)) {
    if (c === null) continue;
    const complete = whole || 'kind' in c;
    // `program`: a fleet central's clusters only (docs/fleet.md)
    const own = (k: string) => k !== 'program' || typeof c.program === 'string';
    if (complete) expect(keys(c).filter((k) => k !== 'program' && own(k)), where(`cluster ${name}`)).toEqual(sorted(CLUSTER_FIELDS));
    else for (const k of Object.keys(c).filter((k) => k !== 'program')) expect(CLUSTER_FIELDS, where(`cluster ${name}`)).toContain(k);
    if (c.jobs !== undefined) expect(keys(c.jobs as object), where(`jobs of ${name}`)).toEqual(sorted(JOBS_FIELDS));
    for (const [ip, n] of Object.entries((c.nodes ?? {}) as Record<string, Record<string, unknown> | null>)) {
      if (n === null) continue;
      if (complete || 'ip_addr' in n) expect(keys(n), where(`node ${ip}`)).toEqual(sorted(NODE_FIELDS));
      else {
        expect(Object.keys(n).length, where(`node ${ip}: an empty change`)).toBeGreaterThan(0);
        for (const k of Object.keys(n)) expect(NODE_FIELDS, where(`node ${ip}`)).toContain(k);
      }
      if (n.avail_info) expect(keys(n.avail_info as object), where(`avail_info of ${ip}`)).toEqual(sorted(AVAIL_FIELDS));
    }
  }
  for (const entry of (msg.audit ?? []) as object[]) expect(keys(entry), where('audit entry')).toEqual(sorted(AUDIT_FIELDS));
  const nodeJobs = msg.node_jobs as { jobs: Record<string, object | null> } | null | undefined;
  for (const job of Object.values(nodeJobs?.jobs ?? {})) {
    if (job !== null) expect(keys(job), where('job')).toEqual(sorted(JOB_FIELDS));
  }
  if (msg.job) {
    expect(keys(msg.job as object), where('the watched job')).toEqual(sorted(JOB_DETAIL_FIELDS));
    expect(isJobDetail(msg.job), where('the watched job')).toBe(true);
  }
  for (const action of (msg.actions ?? []) as object[]) {
    expect(keys(action), where('bulk action')).toEqual(sorted(BULK_ACTION_FIELDS));
    expect(isBulkAction(action), where('bulk action')).toBe(true);
  }
}

/** The value of a golden result that succeeded. */
function value(file: string): Record<string, unknown> {
  const msg = message(file);
  if (msg.type !== 'result' || !msg.ok) throw new Error(`${file}: not a successful result`);
  return msg.value as Record<string, unknown>;
}

/** What a page holds, comparable with toEqual (the watched jobs as a plain record). */
function comparable(data: ServerData) {
  return {
    settings: data.settings,
    clusters: data.clusters,
    audit: data.audit,
    nodeJobs: data.nodeJobs && {
      ip_addr: data.nodeJobs.ip_addr,
      jobs: Object.fromEntries([...data.nodeJobs.jobs.entries()].sort(([a], [b]) => a - b)),
    },
    job: data.job,
    actions: data.actions,
    fleet: data.fleet,
  };
}

describe('golden frames', () => {
  it('lists every file, and every file decodes to a message of its type with its shape', () => {
    const files = readdirSync(DIR).filter((f) => f !== 'manifest.json');
    expect(sorted(files)).toEqual(sorted(manifest.frames.map((f) => f.file)));
    for (const { file, type } of manifest.frames) {
      const msg = frame(file);
      expect(msg.type, file).toBe(type);
      expect(isServerMessage(msg), `${file} (${type}) passes the socket's check`).toBe(true);
      if (type === 'snapshot' || type === 'delta') checkRecords(file, msg);
    }
  });

  it('covers a snapshot, every kind of delta, results and errors', () => {
    const types = new Set(manifest.frames.map((f) => f.type));
    expect(types).toEqual(new Set(['hello', 'snapshot', 'delta', 'result', 'error']));
    const deltas = manifest.frames.filter((f) => f.type === 'delta').map((f) => frame(f.file));
    expect(deltas.some((d) => isDelta(d) && d.settings !== undefined)).toBe(true);
    expect(deltas.some((d) => isDelta(d) && d.audit !== undefined)).toBe(true);
    expect(deltas.some((d) => isDelta(d) && Object.values(d.clusters ?? {}).some((c) => c === null))).toBe(true);
    expect(deltas.some((d) => isDelta(d) && Object.values(d.clusters ?? {}).some((c) => c?.kind !== undefined))).toBe(true);
    expect(deltas.some((d) => isDelta(d) && Object.values(d.node_jobs?.jobs ?? {}).some((j) => j === null))).toBe(true);
    expect(deltas.some((d) => isDelta(d) && Object.values(d.node_jobs?.jobs ?? {}).some((j) => j !== null))).toBe(true);
  });

  it('has the error codes this page knows, no more and no fewer, in results and errors', () => {
    expect(sorted(ERROR_CODES)).toEqual(sorted(manifest.constants.error_codes));
    for (const code of ERROR_CODES) {
      const error = frame(`error-${code}.msgpack`);
      expect(isErrorMessage(error) && error.code).toBe(code);
      const failed = frame(`result-failed-${code}.msgpack`);
      expect(isCommandResult(failed) && !failed.ok && failed.error.code).toBe(code);
    }
  });

  it('has the close codes and protocol constants this page knows', () => {
    expect(CLOSES).toEqual(manifest.constants.closes);
    expect(PROTOCOL_VERSION).toBe(manifest.constants.protocol);
    expect(sorted(JOB_STATES)).toEqual(sorted(manifest.constants.job_states));
    expect(BULK_ACTIONS).toEqual(manifest.constants.bulk_actions);
    expect(BULK_MAX).toBe(manifest.constants.bulk_max);
    expect(OUTPUT_TAIL).toBe(manifest.constants.output_tail);
    // every outcome of every bulk action has its words in the dialog
    for (const outcomes of Object.values(manifest.constants.bulk_outcomes)) {
      for (const outcome of outcomes) expect(Object.keys(OUTCOME_TEXT), outcome).toContain(outcome);
    }
  });

  it('the jobs queries answer with the records this page reads', () => {
    for (const name of ['job', 'jobs', 'bulk_preview', 'bulk_outcomes'] as const) expect(QUERIES.has(name)).toBe(true);
    for (const file of ['result-job.msgpack', 'result-job-failed.msgpack']) {
      const job = value(file).job;
      expect(keys(job as object), file).toEqual(sorted(JOB_DETAIL_FIELDS));
      expect(isJobDetail(job), file).toBe(true);
    }
    const failed = value('result-job-failed.msgpack').job as { state: string; traceback: string | null };
    expect(failed.state).toBe('failed');
    expect(failed.traceback).toContain('Traceback');
    const rows = [
      ...(value('result-job-choices.msgpack').choices as object[]),
      ...(value('result-jobs.msgpack').jobs as object[]),
      ...(value('result-bulk-preview.msgpack').first as object[]),
    ];
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(keys(row)).toEqual(sorted(JOB_ROW_FIELDS));
    expect(keys(value('result-jobs.msgpack'))).toEqual(['counts', 'jobs', 'selection', 'total', 'unlisted']);
    expect(isJobsPage(value('result-jobs.msgpack'))).toBe(true);
    expect(keys(value('result-job-choices.msgpack'))).toEqual(['choices', 'more']);
    expect(keys(value('result-bulk-preview.msgpack'))).toEqual(['count', 'eligible', 'first', 'not_kept', 'over_limit']);
    const outcomes = value('result-bulk-outcomes.msgpack');
    expect(keys(outcomes)).toEqual(['items', 'total']);
    for (const item of outcomes.items as object[]) expect(keys(item)).toEqual(['cluster', 'id', 'key', 'new_key', 'outcome', 'reason']);
    expect(keys(value('result-bulk-start.msgpack'))).toEqual(['action_id']);
    expect(keys(value('result-bulk-cancel.msgpack'))).toEqual(['state']);
    const viewer = message('result-resubmit-viewer.msgpack');
    expect(viewer.type === 'result' && !viewer.ok && viewer.error.code).toBe('not_allowed');
  });

  it('results carry their id and value or error', () => {
    const ok = message('result-action.msgpack');
    expect(ok).toEqual({ type: 'result', id: 1, ok: true, value: { show_job_args: false } });
    const query = message('result-query.msgpack');
    expect(query.type === 'result' && query.ok && query.id).toBe('q2');
    const failed = message('result-failed-viewer.msgpack');
    expect(failed.type === 'result' && !failed.ok && failed.error.code).toBe('not_allowed');
    expect(isErrorMessage(frame('error-bad-id.msgpack'))).toBe(true);
  });

  it.each(['operator', 'viewer'])('the socket reads hello to an %s: role and min_interval', (role) => {
    const store = createDashboardStore();
    const fakes = fakeWebSockets();
    const socket = new DispySocket({ store, url: 'ws://test/ws', createWebSocket: fakes.create, random: () => 0 });
    socket.connect();
    fakes.last.open();
    fakes.last.receiveRaw(bytes(`hello-${role}.msgpack`));
    const hello = store.getState().hello;
    expect(hello?.role).toBe(role);
    expect(hello?.min_interval).toBe(manifest.constants.min_interval);
    expect(store.getState().interval).toBe(hello?.poll_sec);
    fakes.last.receiveRaw(bytes('snapshot.msgpack'));
    expect(store.getState().connection).toBe('live');
    socket.close();
  });
});

describe('golden sequences: snapshot and deltas rebuild the fresh snapshot', () => {
  it.each(manifest.sequences.map((s) => [s.name, s] as const))('%s, through the reducers', (_name, sequence) => {
    let state: ServerData = emptyData;
    for (const file of sequence.frames) {
      const msg = frame(file);
      if (isSnapshot(msg)) state = applySnapshot(state, msg);
      else if (isDelta(msg)) {
        const next = applyDelta(state, msg);
        expect(next.gap, `${file} applies without a gap`).toBe(false);
        state = next.state;
      } else throw new Error(`${file}: a ${msg.type} in a sequence`);
    }
    const fresh = frame(sequence.final);
    if (!isSnapshot(fresh)) throw new Error(`${sequence.final} is not a snapshot`);
    expect(comparable(state)).toEqual(comparable(applySnapshot(emptyData, fresh)));
    expect(state.nodeJobs?.ip_addr ?? null).toBe(sequence.node);
    expect(state.job && { cluster: state.job.cluster, key: state.job.key }).toEqual(sequence.job ?? null);
  });

  it.each(manifest.sequences.map((s) => [s.name, s] as const))('%s, through the socket and the store', (_name, sequence) => {
    const store = createDashboardStore();
    const fakes = fakeWebSockets();
    const socket = new DispySocket({ store, url: 'ws://test/ws', createWebSocket: fakes.create, random: () => 0 });
    socket.connect();
    const ws = fakes.last;
    ws.open();
    ws.receiveRaw(bytes('hello-operator.msgpack'));
    for (const file of sequence.frames) ws.receiveRaw(bytes(file));
    expect(ws.sent.filter((m) => m.type === 'resync')).toEqual([]); // no gap seen
    const fresh = frame(sequence.final);
    if (!isSnapshot(fresh)) throw new Error(`${sequence.final} is not a snapshot`);
    expect(comparable(store.getState())).toEqual(comparable(applySnapshot(emptyData, fresh)));
    socket.close();
  });
});
