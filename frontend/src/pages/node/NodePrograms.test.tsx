// @vitest-environment jsdom
// A node several fleet programs use (docs/fleet.md): one row of '* Combined' with its
// programs, and its page lists each program's clusters and running jobs there.
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { JobTable } from '../../core/jobTable';
import type { Cluster, Fleet, FleetProgram, Job } from '../../core/protocol';
import { cluster, node } from '../../test/fixtures';
import { renderApp } from '../../test/renderApp';

afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

const SHARED = '127.0.0.2';
const ONLY_B = '127.0.0.4';
const t0 = 1_700_000_000;

function program(clusters: string[]): FleetProgram {
  return {
    online: true, last_seen: t0, offline_since: null, stopped: false, host: 'h', pid: 1,
    dropped: 0, resyncs: 0, resynced: null, clusters,
  };
}

const fleet: Fleet = {
  role: 'central', broker: 'redis://127.0.0.1:6379/0', reachable: true, since: t0,
  programs: { 'lab-A': program(['lab-A/compute', 'lab-A/other']), 'lab-B': program(['lab-B/compute']) },
};

function owned(name: string, program: string, nodes: Parameters<typeof cluster>[1]): Cluster {
  return { ...cluster(name, nodes), program };
}

// lab-A has two clusters on the shared node; lab-B one there and one node of its own
const clusters: Record<string, Cluster> = {
  'lab-A/compute': owned('lab-A/compute', 'lab-A', [node(SHARED, { busy: 1 })]),
  'lab-A/other': owned('lab-A/other', 'lab-A', [node(SHARED, { busy: 1 })]),
  'lab-B/compute': owned('lab-B/compute', 'lab-B', [node(SHARED, { busy: 2 }), node(ONLY_B)]),
};

function job(uid: number, cluster: string, id: string, start = t0 + uid): Job {
  return { uid, key: uid + 100, cluster, id, args: null, kwargs: null, start_time: start, ip_addr: SHARED };
}

const running = [
  job(1, 'lab-A/compute', 'a-1'),
  job(2, 'lab-A/other', 'a-2'),
  ...Array.from({ length: 7 }, (_, i) => job(10 + i, 'lab-B/compute', `b-${i}`)),
];

const programsTable = () => screen.getByRole('table', { name: 'Programs using this node' });
const rowsOf = (table: HTMLElement) =>
  within(table).getAllByRole('row').slice(1).map((r) => [
    ...within(r).queryAllByRole('rowheader').map((c) => c.textContent),
    ...within(r).getAllByRole('cell').map((c) => c.textContent),
  ]);

describe('a node several programs use', () => {
  it("lists on the node's page each program's clusters, busy count and running jobs there", async () => {
    history.replaceState(null, '', `/node/${SHARED}`);
    renderApp({ clusters, fleet, nodeJobs: { ip_addr: SHARED, jobs: JobTable.of(running) } });
    await screen.findByRole('heading', { level: 2, name: `Node ${SHARED}` }, { timeout: 5000 });
    expect(rowsOf(programsTable())).toEqual([
      ['lab-A', 'lab-A/compute, lab-A/other', '2', '2: a-1, a-2'],
      // the first five by start time are named, the rest counted
      ['lab-B', 'lab-B/compute', '2', '7: b-0, b-1, b-2, b-3, b-4 and 2 more'],
    ]);
    // and the running jobs themselves, every program's, in the (virtualised) table below
    expect(screen.getByRole('table', { name: 'Running jobs' }).getAttribute('aria-rowcount')).toBe(String(1 + running.length));
  });

  it("says so before the node's jobs arrive, and lists only the programs using it", async () => {
    history.replaceState(null, '', `/node/${ONLY_B}`);
    renderApp({ clusters, fleet, nodeJobs: null });
    await screen.findByRole('heading', { level: 2, name: `Node ${ONLY_B}` }, { timeout: 5000 });
    expect(rowsOf(programsTable())).toEqual([['lab-B', 'lab-B/compute', '0', '…']]);
  });

  it('is not shown on a dashboard that is not a fleet central', async () => {
    history.replaceState(null, '', `/node/${SHARED}`);
    renderApp({ clusters, nodeJobs: { ip_addr: SHARED, jobs: JobTable.of(running) } });
    await screen.findByRole('heading', { level: 2, name: `Node ${SHARED}` }, { timeout: 5000 });
    expect(screen.queryByRole('table', { name: 'Programs using this node' })).toBeNull();
  });

  it("is one row of '* Combined' with a Programs column, which one cluster's view has not", async () => {
    const { store } = renderApp({ clusters, fleet });
    const table = await screen.findByRole('table', { name: 'Nodes' }, { timeout: 5000 });
    const headers = within(table).getAllByRole('columnheader').map((h) => h.textContent);
    expect(headers.slice(0, 3)).toEqual(['IP address▼', 'Name', 'Programs']);
    expect(within(table).getByRole('columnheader', { name: 'Programs' })).toBeTruthy();
    const rows = within(table).getAllByRole('row').slice(1);
    // two addresses, so two rows: the shared node once
    expect(rows.map((r) => within(r).getAllByRole('cell').map((c) => c.textContent).slice(0, 3))).toEqual([
      [ONLY_B, `host-${ONLY_B}`, 'lab-B'],
      [SHARED, `host-${SHARED}`, 'lab-A, lab-B'],
    ]);
    // the busy counts of every program's clusters there add up
    expect(within(rows[1]!).getAllByRole('cell')[4]?.textContent).toBe('4');

    act(() => store.getState().selectCluster('lab-B/compute'));
    const single = screen.getByRole('table', { name: 'Nodes' });
    expect(within(single).queryByRole('columnheader', { name: 'Programs' })).toBeNull();
    fireEvent.change(screen.getByRole('combobox', { name: 'Cluster' }), { target: { value: '* Combined' } });
    expect(within(screen.getByRole('table', { name: 'Nodes' })).getByRole('columnheader', { name: 'Programs' })).toBeTruthy();
  });

  it('has no Programs column without a broker', async () => {
    renderApp({ clusters });
    const table = await screen.findByRole('table', { name: 'Nodes' }, { timeout: 5000 });
    expect(within(table).queryByRole('columnheader', { name: 'Programs' })).toBeNull();
  });
});
