import { describe, expect, it } from 'vitest';
import { COMBINED } from './protocol';
import { clusterArg, clustersOf, combine, resolveClusterName, selectCluster } from './selectors';
import { applyDelta } from './state';
import type { ServerData } from './state';
import { cluster, delta, jobs, node, twoClusters } from '../test/fixtures';

const base: ServerData = twoClusters();

describe('combine', () => {
  it('adds job counters and what each cluster does on a node, not the node\'s CPUs', () => {
    const c = combine([
      cluster(
        'a',
        [
          node('127.0.0.2', {
            cpus: 2, avail_cpus: 4, busy: 1, jobs_done: 3, cpu_time: 1.5, tx: 100, rx: 10, update_time: 50,
            status: 'closed', avail_info: { cpu: 90, memory: 1, disk: 2, swap: 3 },
          }),
          node('127.0.0.3', { jobs_done: 1 }),
        ],
        { submitted: 5, done: 3, finished: 2, failed: 1, running: 2 },
      ),
      cluster(
        'b',
        [node('127.0.0.2', { cpus: 1, avail_cpus: 4, busy: 1, jobs_done: 2, cpu_time: 0.5, tx: 1, rx: 2, update_time: 40, status: 'initialized' })],
        { submitted: 2, done: 2, finished: 1, abandoned: 1 },
      ),
    ]);
    expect(c.name).toBe(COMBINED);
    expect(c.jobs).toEqual(jobs({ submitted: 7, done: 5, finished: 3, failed: 1, abandoned: 1, running: 2 }));
    expect(c.nodes['127.0.0.2']).toMatchObject({
      cpus: 2, avail_cpus: 4, busy: 2, jobs_done: 5, cpu_time: 2, tx: 101, rx: 12, update_time: 50,
      status: 'initialized', // still open in cluster b
      avail_info: { cpu: 90, memory: 1, disk: 2, swap: 3 },
    });
    expect(c.nodes['127.0.0.3']?.jobs_done).toBe(1);
  });

  it('shows a 2-CPU node shared by three clusters with 2 CPUs, busy added', () => {
    const shared = (name: string, busy: number) => cluster(name, [node('127.0.0.2', { cpus: 2, avail_cpus: 2, busy })]);
    const n = combine([shared('a', 1), shared('b', 1), shared('c', 0)]).nodes['127.0.0.2'];
    expect(n).toMatchObject({ cpus: 2, avail_cpus: 2, busy: 2 });
  });

  it('marks a node closed only when every cluster that has it closed it', () => {
    const c = combine([
      cluster('a', [node('1.1.1.1', { status: 'closed' }), node('3.3.3.3', { status: 'deallocated' })]),
      cluster('b', [node('1.1.1.1', { status: 'closed' }), node('3.3.3.3', { status: 'closed' })]),
      cluster('c', [node('2.2.2.2', { status: 'deallocated' }), node('3.3.3.3', { status: 'initialized' })]),
      cluster('d', [node('2.2.2.2', { status: 'closed' })]),
    ]);
    expect(c.nodes['1.1.1.1']?.status).toBe('closed');
    // usable somewhere: initialized; else deallocated beats closed
    expect(c.nodes['3.3.3.3']?.status).toBe('initialized');
    expect(c.nodes['2.2.2.2']?.status).toBe('deallocated');
  });
});

describe('selectCluster / resolveClusterName', () => {
  it('defaults to Combined with several clusters and to the only one otherwise', () => {
    expect(resolveClusterName(['a', 'b'], null)).toBe(COMBINED);
    expect(resolveClusterName(['a'], null)).toBe('a');
    expect(resolveClusterName(['a'], COMBINED)).toBe('a');
    expect(resolveClusterName(['a', 'b'], 'gone')).toBe(COMBINED);
    expect(resolveClusterName([], null)).toBeNull();
  });

  it('returns the named cluster, or a cached combined view', () => {
    expect(selectCluster(base, 'b')).toBe(base.clusters.b);
    const combined = selectCluster(base, null);
    expect(combined?.name).toBe(COMBINED);
    expect(combined?.nodes['127.0.0.2']?.cpus).toBe(2); // the node's, in both clusters
    // a node in one cluster only is passed through untouched
    expect(combined?.nodes['127.0.0.3']).toBe(base.clusters.a?.nodes['127.0.0.3']);
    // same clusters record → same object (required by useSyncExternalStore)
    expect(selectCluster(base, COMBINED)).toBe(combined);
    const { state } = applyDelta(base, delta(6, { b: null }));
    expect(selectCluster(state, COMBINED)).toBe(state.clusters.a);
  });
});

describe('clusterArg / clustersOf', () => {
  it("names the chosen cluster, and leaves `cluster` out for '* Combined' and for none", () => {
    expect(clusterArg('a')).toEqual({ cluster: 'a' });
    expect(clusterArg(COMBINED)).toEqual({});
    expect(clusterArg(null)).toEqual({});
  });

  it("covers the chosen cluster, or every cluster for '* Combined'", () => {
    expect(clustersOf(base.clusters, 'b')).toEqual([base.clusters.b]);
    expect(clustersOf(base.clusters, COMBINED)).toEqual(Object.values(base.clusters));
    expect(clustersOf(base.clusters, 'gone')).toEqual([]);
  });
});
