import { describe, expect, it } from 'vitest';
import { clusterNames } from './selectors';
import { isDelta, isSnapshot } from './protocol';
import type { AuditEntry, Job } from './protocol';
import { applyDelta, applySnapshot, emptyData } from './state';
import type { ServerData } from './state';
import { alert, alertsPart, bulkAction, cluster, delta, jobDetail, jobs, node, snapshot, twoClusters } from '../test/fixtures';

const base: ServerData = twoClusters();

describe('applySnapshot', () => {
  it('replaces everything, including clusters absent from the snapshot', () => {
    const next = applySnapshot(base, snapshot(2, { c: cluster('c') }));
    expect(next.seq).toBe(2);
    expect(Object.keys(next.clusters)).toEqual(['c']);
  });
});

describe('applyDelta', () => {
  it('replaces and removes nodes in sequence, keeping untouched records', () => {
    const updated = node('127.0.0.2', { busy: 2, jobs_done: 7 });
    const { state, gap } = applyDelta(base, delta(6, { a: { nodes: { '127.0.0.2': updated, '127.0.0.3': null } } }));
    expect(gap).toBe(false);
    expect(state.seq).toBe(6);
    expect(state.clusters.a?.nodes).toEqual({ '127.0.0.2': updated });
    // unchanged parts keep their identity (cheap re-render checks)
    expect(state.clusters.a?.jobs).toBe(base.clusters.a?.jobs);
    expect(state.clusters.b).toBe(base.clusters.b);
    // the input is not mutated
    expect(Object.keys(base.clusters.a?.nodes ?? {})).toEqual(['127.0.0.2', '127.0.0.3']);
  });

  it('replaces the whole jobs record', () => {
    const newJobs = jobs({ submitted: 10, done: 3, finished: 3 });
    const { state } = applyDelta(base, delta(6, { a: { jobs: newJobs } }));
    expect(state.clusters.a?.jobs).toEqual(newJobs);
    expect(state.clusters.a?.nodes).toBe(base.clusters.a?.nodes);
  });

  it('merges a node\'s changed fields into the one held, keeping the others and the untouched nodes', () => {
    const before = base.clusters.a!;
    const { state, gap } = applyDelta(
      base,
      delta(6, { a: { nodes: { '127.0.0.2': { busy: 2, avail_info: { cpu: 50, memory: 1, disk: 2, swap: 3 } } } } }),
    );
    expect(gap).toBe(false);
    expect(state.clusters.a?.nodes['127.0.0.2']).toEqual({
      ...before.nodes['127.0.0.2'],
      busy: 2,
      avail_info: { cpu: 50, memory: 1, disk: 2, swap: 3 },
    });
    expect(state.clusters.a?.nodes['127.0.0.3']).toBe(before.nodes['127.0.0.3']);
    // the held node is not mutated
    expect(before.nodes['127.0.0.2']?.busy).toBe(0);
    // avail_info is one field: null replaces it whole
    const next = applyDelta(state, delta(7, { a: { nodes: { '127.0.0.2': { avail_info: null } } } })).state;
    expect(next.clusters.a?.nodes['127.0.0.2']).toEqual({ ...before.nodes['127.0.0.2'], busy: 2, avail_info: null });
  });

  it('takes a complete record (with ip_addr) for a node it does not have, and as a whole for one it has', () => {
    const added = node('127.0.0.9', { busy: 1 });
    const whole = node('127.0.0.3', { name: 'renamed' });
    const { state, gap } = applyDelta(base, delta(6, { a: { nodes: { '127.0.0.9': added, '127.0.0.3': whole } } }));
    expect(gap).toBe(false);
    expect(state.clusters.a?.nodes['127.0.0.9']).toBe(added);
    expect(state.clusters.a?.nodes['127.0.0.3']).toBe(whole);
  });

  it('resyncs on changed fields of a node it does not have, applying none of the delta', () => {
    const { state, gap } = applyDelta(
      base,
      delta(6, { b: { jobs: jobs({ submitted: 9 }) }, a: { nodes: { '127.0.0.3': { busy: 1 }, '127.0.0.9': { busy: 1 } } } }, { settings: { show_job_args: false } }),
    );
    expect(gap).toBe(true);
    expect(state).toBe(base);
  });

  it('resyncs on changes to a cluster it does not have, or on a whole cluster with a partial node', () => {
    expect(applyDelta(base, delta(6, { c: { jobs: jobs({ submitted: 1 }) } })).gap).toBe(true);
    const partial = { name: 'c', kind: 'JobCluster' as const, jobs: jobs(), nodes: { '10.0.0.1': { busy: 1 } } };
    expect(applyDelta(base, delta(6, { c: partial })).gap).toBe(true);
  });

  it('replaces a cluster that arrives whole: nodes it no longer has go', () => {
    const { state } = applyDelta(
      base,
      delta(6, { a: { name: 'a', kind: 'JobCluster', jobs: jobs({ submitted: 1 }), nodes: { '127.0.0.4': node('127.0.0.4') } } }),
    );
    expect(Object.keys(state.clusters.a?.nodes ?? {})).toEqual(['127.0.0.4']);
    expect(state.clusters.a?.jobs).toEqual(jobs({ submitted: 1 }));
  });

  it('adds a new cluster and removes one', () => {
    const { state } = applyDelta(
      base,
      delta(6, {
        b: null,
        c: { name: 'c', kind: 'SharedJobCluster', jobs: jobs({ submitted: 1 }), nodes: { '10.0.0.1': node('10.0.0.1') } },
      }),
    );
    expect(clusterNames(state.clusters)).toEqual(['a', 'c']);
    expect(state.clusters.c).toEqual({
      name: 'c',
      kind: 'SharedJobCluster',
      jobs: jobs({ submitted: 1 }),
      nodes: { '10.0.0.1': node('10.0.0.1') },
    });
  });

  it.each([
    ['skipped', 7],
    ['repeated', 5],
    ['old', 1],
  ])('reports a gap and changes nothing for a %s seq', (_label, seq) => {
    const { state, gap } = applyDelta(base, delta(seq, { a: null }));
    expect(gap).toBe(true);
    expect(state).toBe(base);
  });

  it('reports a gap before any snapshot', () => {
    expect(applyDelta(emptyData, delta(1, {})).gap).toBe(true);
  });
});

const uids = (state: ServerData) => [...(state.nodeJobs?.jobs.keys() ?? [])].sort((a, b) => a - b);

function job(uid: number, fields: Partial<Job> = {}): Job {
  return { uid, key: uid + 1000, cluster: 'a', id: `job-${uid}`, args: '1, 2', kwargs: 'x=3', start_time: 100, ip_addr: '127.0.0.2', ...fields };
}

function audit(id: number, fields: Partial<AuditEntry> = {}): AuditEntry {
  return { id, time: 50 + id, action: 'close_node', target: '127.0.0.2', cluster: 'a', state: 'ok', message: '', who: null, ...fields };
}

describe('settings, audit and node jobs', () => {
  const watching = applySnapshot(
    emptyData,
    snapshot(10, { a: cluster('a') }, {
      settings: { show_job_args: false },
      audit: [audit(1)],
      node_jobs: { ip_addr: '127.0.0.2', jobs: { '11': job(11), '12': job(12), '13': null } },
    }),
  );

  it('takes settings, audit and the watched node\'s jobs from a snapshot', () => {
    expect(watching.settings).toEqual({ show_job_args: false });
    expect(watching.audit).toEqual([audit(1)]);
    expect(watching.nodeJobs?.ip_addr).toBe('127.0.0.2');
    // a null in a snapshot is no job at all
    expect(uids(watching)).toEqual([11, 12]);
    // a snapshot without node_jobs: no node watched any more
    expect(applySnapshot(watching, snapshot(11, {})).nodeJobs).toBeNull();
  });

  it('replaces settings and the whole audit list from a delta, keeping what it does not mention', () => {
    const { state } = applyDelta(watching, delta(11, {}, { settings: { show_job_args: true }, audit: [audit(1), audit(2, { state: 'pending' })] }));
    expect(state.settings).toEqual({ show_job_args: true });
    expect(state.audit.map((e) => e.id)).toEqual([1, 2]);
    expect(state.nodeJobs).toBe(watching.nodeJobs);
    const untouched = applyDelta(watching, { type: 'delta', seq: 11 }).state;
    expect(untouched.settings).toBe(watching.settings);
    expect(untouched.audit).toBe(watching.audit);
    expect(untouched.clusters).toBe(watching.clusters);
  });

  it('merges node jobs: a Job adds or replaces, null removes', () => {
    const replaced = job(12, { args: 'new' });
    const { state } = applyDelta(watching, {
      type: 'delta',
      seq: 11,
      node_jobs: { ip_addr: '127.0.0.2', jobs: { '11': null, '12': replaced, '14': job(14), '99': null } },
    });
    expect(uids(state)).toEqual([12, 14]);
    expect(state.nodeJobs?.jobs.get(12)).toBe(replaced);
    expect(state.nodeJobs?.jobs.get(14)).toEqual(job(14));
    // the input is not mutated
    expect(uids(watching)).toEqual([11, 12]);
    expect(watching.nodeJobs?.jobs.get(12)).toEqual(job(12));
  });

  it('keeps the node jobs as they were when a change changes nothing', () => {
    const { state } = applyDelta(watching, { type: 'delta', seq: 11, node_jobs: { ip_addr: '127.0.0.2', jobs: { '99': null } } });
    expect(state.nodeJobs).toBe(watching.nodeJobs);
  });

  it('ignores node jobs of another node, or while no node is watched', () => {
    const other = { ip_addr: '127.0.0.3', jobs: { '20': job(20, { ip_addr: '127.0.0.3' }) } };
    const { state, gap } = applyDelta(watching, { type: 'delta', seq: 11, node_jobs: other });
    expect(gap).toBe(false);
    expect(state.seq).toBe(11);
    expect(state.nodeJobs).toBe(watching.nodeJobs);
    const none = applySnapshot(emptyData, snapshot(1, {}));
    expect(applyDelta(none, { type: 'delta', seq: 2, node_jobs: other }).state.nodeJobs).toBeNull();
  });

  it('applies none of it across a gap', () => {
    const { state, gap } = applyDelta(watching, {
      type: 'delta',
      seq: 12,
      settings: { show_job_args: true },
      audit: [],
      node_jobs: { ip_addr: '127.0.0.2', jobs: { '11': null } },
    });
    expect(gap).toBe(true);
    expect(state).toBe(watching);
  });
});

describe('the watched job and the bulk actions', () => {
  const running = jobDetail(7, { state: 'running', end_time: null, duration: null });
  const following = applySnapshot(emptyData, snapshot(20, {}, { job: running, actions: [bulkAction(1)] }));

  it('takes both from a snapshot; a snapshot without them has none', () => {
    expect(following.job).toBe(running);
    expect(following.actions).toEqual([bulkAction(1)]);
    const none = applySnapshot(following, snapshot(21, {}));
    expect(none.job).toBeNull();
    expect(none.actions).toEqual([]);
  });

  it('replaces the job whole from a delta, clears it on null and keeps it when absent', () => {
    const ended = jobDetail(7, { state: 'failed', stdout: 'out', traceback: 'Traceback …' });
    const next = applyDelta(following, { type: 'delta', seq: 21, job: ended });
    expect(next.gap).toBe(false);
    expect(next.state.job).toBe(ended);
    expect(applyDelta(following, { type: 'delta', seq: 21 }).state.job).toBe(running);
    expect(applyDelta(following, { type: 'delta', seq: 21, job: null }).state.job).toBeNull();
  });

  it('replaces the whole list of actions from a delta, keeping it when absent', () => {
    const actions = [bulkAction(1, { done: 40, state: 'done', counts: { terminated: 40 } }), bulkAction(2, { action: 'resubmit' })];
    expect(applyDelta(following, { type: 'delta', seq: 21, actions }).state.actions).toBe(actions);
    expect(applyDelta(following, { type: 'delta', seq: 21 }).state.actions).toBe(following.actions);
  });

  it('applies neither across a gap', () => {
    const { state, gap } = applyDelta(following, { type: 'delta', seq: 23, job: null, actions: [] });
    expect(gap).toBe(true);
    expect(state).toBe(following);
  });
});

describe('the alerts part', () => {
  const firing = alertsPart([alert(1), alert(2, { rule: 'node_stale', severity: 'warning' })]);
  const held = applySnapshot(emptyData, snapshot(30, {}, { alerts: firing }));

  it('comes with a snapshot, whole; null when the server sends none', () => {
    expect(held.alerts).toBe(firing);
    expect(applySnapshot(held, snapshot(31, {})).alerts).toBeNull();
  });

  it('is replaced whole by a delta that carries it, and kept (same object) by one that does not', () => {
    const resolved = alertsPart([alert(2, { rule: 'node_stale', severity: 'warning' })]);
    const next = applyDelta(held, { type: 'delta', seq: 31, alerts: resolved });
    expect(next.gap).toBe(false);
    expect(next.state.alerts).toBe(resolved);
    const other = applyDelta(next.state, delta(32, { c: cluster('c') }));
    expect(other.state.alerts).toBe(resolved);
  });

  it('is not applied out of sequence', () => {
    const { state, gap } = applyDelta(held, { type: 'delta', seq: 32, alerts: alertsPart() });
    expect(gap).toBe(true);
    expect(state.alerts).toBe(firing);
  });
});

describe("the socket's check of the alerts part", () => {
  it('passes a part with its lists and counts, and none at all (a server without alerts)', () => {
    expect(isSnapshot({ ...snapshot(1, {}), alerts: alertsPart([alert(1)]) })).toBe(true);
    expect(isSnapshot({ ...snapshot(1, {}) })).toBe(true);
    expect(isDelta({ type: 'delta', seq: 2, alerts: alertsPart() })).toBe(true);
  });

  it('refuses a part without its lists or count', () => {
    const noTotal: Partial<ReturnType<typeof alertsPart>> = alertsPart();
    delete noTotal.firing_total;
    for (const bad of [null, [], { ...alertsPart(), firing: {} }, noTotal, { ...alertsPart(), webhooks: null }]) {
      expect(isSnapshot({ ...snapshot(1, {}), alerts: bad }), JSON.stringify(bad)).toBe(false);
      expect(isDelta({ type: 'delta', seq: 2, alerts: bad }), JSON.stringify(bad)).toBe(false);
    }
  });
});
