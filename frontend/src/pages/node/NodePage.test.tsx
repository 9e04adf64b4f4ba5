// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { JobTable } from '../../core/jobTable';
import type { Cluster, Job } from '../../core/protocol';
import type { WatchedJobs } from '../../core/state';
import { navigate } from '../../router';
import type { DashboardState } from '../../core/store';
import { cluster, hello, node } from '../../test/fixtures';
import { installDialogPolyfill, renderApp } from '../../test/renderApp';

const IP = '127.0.0.2';
const t0 = new Date(2024, 5, 1, 14, 5, 9).getTime() / 1000;

// jsdom lays nothing out: give the jobs table's scroll box a height so the
// virtualiser has a window to fill (400 px ≈ 11 rows of 36 px).
const clientHeight = Object.getOwnPropertyDescriptor(Element.prototype, 'clientHeight');
beforeAll(() => {
  installDialogPolyfill();
  Object.defineProperty(Element.prototype, 'clientHeight', {
    configurable: true,
    get(this: Element) {
      return this.classList.contains('virtual-scroll') ? 400 : 0;
    },
  });
});
afterAll(() => {
  if (clientHeight) Object.defineProperty(Element.prototype, 'clientHeight', clientHeight);
});
afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

function job(uid: number, fields: Partial<Job> = {}): Job {
  return {
    uid,
    key: uid + 1000,
    cluster: 'alpha',
    id: `job-${uid}`,
    args: `${uid}, 'x'`,
    kwargs: `n=${uid}`,
    start_time: t0,
    ip_addr: IP,
    ...fields,
  };
}

function watched(jobs: Job[], ip = IP): WatchedJobs {
  return { ip_addr: ip, jobs: JobTable.of(jobs) };
}

const alphaNode = node(IP, {
  name: 'two',
  cpus: 2,
  avail_cpus: 4,
  busy: 2,
  jobs_done: 3,
  cpu_time: 1.5,
  update_time: t0,
  avail_info: { cpu: 50, memory: 2_000_000_000, disk: 40_000_000_000, swap: 1.25 },
});

const oneCluster: Record<string, Cluster> = { alpha: cluster('alpha', [alphaNode]) };
const twoClusters: Record<string, Cluster> = {
  ...oneCluster,
  beta: { ...cluster('beta', [node(IP, { cpus: 1, avail_cpus: 4, busy: 1, jobs_done: 2, cpu_time: 1 })]), kind: 'SharedJobCluster' },
};

async function openNode(init: Partial<DashboardState> = {}, ip = IP) {
  history.replaceState(null, '', `/node/${ip}`);
  const app = renderApp({ clusters: oneCluster, nodeJobs: watched([job(1), job(2), job(3)]), ...init });
  // the page's code loads on first visit: allow for a slow first import
  await screen.findByRole('heading', { level: 2, name: `Node ${ip}` }, { timeout: 5000 });
  return app;
}

const table = () => screen.getByRole('table', { name: 'Running jobs' });
const bodyRows = () => within(table()).getAllByRole('row').slice(1);
const cellTexts = (row: HTMLElement) => within(row).getAllByRole('cell').map((c) => c.textContent);
const terminateButton = () => screen.getByRole('button', { name: /^Terminate selected/ }) as HTMLButtonElement;

describe('Node page', () => {
  it('watches the node while open and stops when left', async () => {
    const { socket } = await openNode();
    expect(socket.setWatchedNode).toHaveBeenLastCalledWith(IP);
    act(() => navigate('/'));
    expect(socket.setWatchedNode).toHaveBeenLastCalledWith(null);
    expect(screen.getByRole('heading', { level: 2, name: 'Monitor' })).toBeTruthy();
  });

  it('summarises the node, per cluster or added across clusters', async () => {
    await openNode({ clusters: twoClusters });
    const dd = (key: string) => screen.getByTestId(`node-${key}`).textContent;
    // '* Combined' by default with two clusters
    expect(dd('name')).toBe('two');
    expect(dd('status')).toBe('Initialized');
    // the node's CPUs, not one set per cluster; what each cluster does there adds up
    expect(dd('cpus-available')).toBe('4');
    expect(dd('cpus-dispy')).toBe('2');
    expect(dd('busy')).toBe('3');
    expect(dd('jobs-done')).toBe('5');
    expect(dd('cpu-time')).toBe('2.500');
    expect(dd('last-update')).toBe('14:05:09');
    expect(dd('avail-cpu')).toBe('50.0 %');
    expect(dd('avail-memory')).toBe('2.0 GB');
    expect(dd('avail-disk')).toBe('40.0 GB');
    expect(dd('avail-swap')).toBe('1.3 %');

    fireEvent.change(screen.getByRole('combobox', { name: 'Cluster' }), { target: { value: 'alpha' } });
    expect(dd('cpus-dispy')).toBe('2');
    expect(dd('jobs-done')).toBe('3');
  });

  it('says so when the cluster has no such node, with a way back', async () => {
    await openNode({}, '10.9.9.9');
    expect(screen.getByText(/No node 10\.9\.9\.9 in this cluster/)).toBeTruthy();
    expect(screen.queryByRole('table', { name: 'Running jobs' })).toBeNull();
    fireEvent.click(screen.getByRole('link', { name: 'Back to Monitor' }));
    expect(location.pathname).toBe('/');
  });

  it('lists the running jobs with their arguments and start time', async () => {
    await openNode();
    const headers = within(table()).getAllByRole('columnheader').map((h) => h.textContent);
    // one cluster: no Cluster column
    expect(headers).toEqual(['', 'Job ID', 'Arguments', 'Keyword arguments', 'Start time', 'Elapsed']);
    expect(bodyRows()).toHaveLength(3);
    const cells = cellTexts(bodyRows()[0]!);
    expect(cells.slice(1, 5)).toEqual(['job-1', "1, 'x'", 'n=1', '14:05:09']);
    expect(cells[5]).toMatch(/^\d+ (s|min|h)/);
    expect(screen.getByRole('checkbox', { name: 'Select job job-2' })).toBeTruthy();
    expect(table().getAttribute('aria-rowcount')).toBe('4');
  });

  it('offers a viewer no way to terminate: no selection, no Terminate', async () => {
    const { commands } = await openNode({ hello: hello('viewer') });
    const headers = within(table()).getAllByRole('columnheader').map((h) => h.textContent);
    expect(headers).toEqual(['Job ID', 'Arguments', 'Keyword arguments', 'Start time', 'Elapsed']);
    expect(cellTexts(bodyRows()[0]!).slice(0, 4)).toEqual(['job-1', "1, 'x'", 'n=1', '14:05:09']);
    expect(within(table()).queryAllByRole('checkbox')).toEqual([]);
    expect(screen.queryByRole('button', { name: /Terminate/ })).toBeNull();
    expect(screen.getByRole('note').textContent).toMatch(/^Read-only/);
    expect(commands.filter((c) => c.name !== 'series' && c.name !== 'node_resources')).toEqual([]);
  });

  it('shows "hidden" instead of arguments while show_job_args is off', async () => {
    const { store } = await openNode();
    act(() => store.getState().confirmSettings({ show_job_args: false }));
    const cells = cellTexts(bodyRows()[0]!);
    expect(cells[2]).toBe('hidden');
    expect(cells[3]).toBe('hidden');
    expect(table().textContent).not.toContain("1, 'x'");
  });

  it('shows the cluster of each job with several clusters, and filters by the chosen one', async () => {
    await openNode({
      clusters: twoClusters,
      nodeJobs: watched([job(1), job(2, { cluster: 'beta' }), job(3)]),
    });
    const headers = within(table()).getAllByRole('columnheader').map((h) => h.textContent);
    expect(headers).toContain('Cluster');
    expect(bodyRows()).toHaveLength(3);
    fireEvent.change(screen.getByRole('combobox', { name: 'Cluster' }), { target: { value: 'beta' } });
    expect(bodyRows()).toHaveLength(1);
    expect(cellTexts(bodyRows()[0]!)).toContain('job-2');
  });

  it('shows an empty state, and ignores jobs of a node watched before', async () => {
    await openNode({ nodeJobs: watched([job(1, { ip_addr: '127.0.0.3' })], '127.0.0.3') });
    expect(screen.getByRole('cell', { name: 'No jobs running on this node' })).toBeTruthy();
    expect(terminateButton().disabled).toBe(true);
  });

  it('terminates the selected jobs after confirmation and lists each outcome', async () => {
    const { sent, store } = await openNode({ nodeJobs: watched([job(1), job(2), job(3), job(4)]) });
    expect(terminateButton().disabled).toBe(true);
    fireEvent.click(screen.getByRole('checkbox', { name: 'Select job job-2' }));
    fireEvent.click(screen.getByRole('checkbox', { name: 'Select job job-4' }));
    expect(terminateButton().textContent).toBe('Terminate selected (2)');
    fireEvent.click(terminateButton());

    const dialog = screen.getByRole('dialog', { name: 'Terminate 2 jobs?' });
    expect((dialog as HTMLDialogElement).open).toBe(true);
    expect(within(dialog).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['job-2', 'job-4']);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Terminate' }));
    expect((dialog as HTMLDialogElement).open).toBe(false);

    const cmd = sent('terminate_jobs');
    expect(cmd.args).toEqual({ uids: [2, 4] });
    expect(terminateButton().disabled).toBe(true); // pending
    await act(async () => cmd.resolve({ results: { '2': 'terminated', '4': 'already_finished' } }));
    const results = screen.getByRole('list', { name: 'Termination results' });
    expect(within(results).getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'job-2: terminated',
      'job-4: already finished',
    ]);

    // the next delta removes them: they leave the table and the selection
    act(() => {
      store.getState().receiveDelta({
        type: 'delta',
        seq: 2,
        node_jobs: { ip_addr: IP, jobs: { '2': null, '4': null } },
      });
    });
    expect(bodyRows()).toHaveLength(2);
    expect(terminateButton().textContent).toBe('Terminate selected (0)');
    expect(terminateButton().disabled).toBe(true);
  });

  it('sends nothing when the confirmation is cancelled, and shows a command error', async () => {
    const { sent, commands } = await openNode();
    fireEvent.click(screen.getByRole('checkbox', { name: 'Select job job-1' }));
    fireEvent.click(terminateButton());
    const dialog = screen.getByRole('dialog', { name: 'Terminate 1 job?' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    // (the page's activity chart reads its series meanwhile)
    expect(commands.filter((c) => c.name !== 'series' && c.name !== 'node_resources')).toHaveLength(0);
    expect(screen.queryByRole('dialog')).toBeNull();

    fireEvent.click(terminateButton());
    fireEvent.click(screen.getByRole('button', { name: 'Terminate' }));
    await act(async () => sent('terminate_jobs').fail('timeout', 'dispy did not answer in time'));
    expect(screen.getByRole('alert').textContent).toBe('dispy did not answer in time');
    expect(screen.queryByRole('list', { name: 'Termination results' })).toBeNull();
  });

  it('selects all with the header box; a job that leaves drops out of the selection', async () => {
    const { store } = await openNode();
    const all = screen.getByRole('checkbox', { name: 'Select all jobs' }) as HTMLInputElement;
    fireEvent.click(screen.getByRole('checkbox', { name: 'Select job job-1' }));
    expect(all.indeterminate).toBe(true);
    fireEvent.click(all);
    expect(all.checked).toBe(true);
    expect(terminateButton().textContent).toBe('Terminate selected (3)');
    act(() => {
      store.getState().receiveDelta({ type: 'delta', seq: 2, node_jobs: { ip_addr: IP, jobs: { '3': null, '5': job(5) } } });
    });
    // job 3 left; job 5 is new and not selected
    expect(terminateButton().textContent).toBe('Terminate selected (2)');
    expect(all.indeterminate).toBe(true);
  });

  it('keeps the jobs in start order across deltas', async () => {
    const { store } = await openNode({ nodeJobs: watched([job(1, { start_time: t0 + 1 }), job(2, { start_time: t0 + 2 }), job(3, { start_time: t0 + 3 })]) });
    const ids = () => bodyRows().map((r) => [r.getAttribute('aria-rowindex'), cellTexts(r)[1]]);
    expect(ids()).toEqual([['2', 'job-1'], ['3', 'job-2'], ['4', 'job-3']]);
    act(() => {
      store.getState().receiveDelta({
        type: 'delta',
        seq: 2,
        node_jobs: { ip_addr: IP, jobs: { '2': null, '7': job(7, { start_time: t0 }), '8': job(8, { start_time: t0 + 2.5 }) } },
      });
    });
    expect(ids()).toEqual([['2', 'job-7'], ['3', 'job-1'], ['4', 'job-8'], ['5', 'job-3']]);
    expect(table().getAttribute('aria-rowcount')).toBe('5');
  });

  it('renders only the visible rows of 100,000 jobs', async () => {
    const many = Array.from({ length: 100_000 }, (_, i) => job(i + 1, { start_time: t0 + i }));
    await openNode({ nodeJobs: watched(many) });
    expect(table().getAttribute('aria-rowcount')).toBe('100001');
    const rows = bodyRows();
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(60);
    expect(rows[0]!.getAttribute('aria-rowindex')).toBe('2');
    fireEvent.click(screen.getByRole('checkbox', { name: 'Select all jobs' }));
    expect(terminateButton().textContent).toBe('Terminate selected (100000)');
  });

  it('ticks the elapsed time every second', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    try {
      vi.setSystemTime((t0 + 62) * 1000);
      await openNode();
      const elapsed = () => cellTexts(bodyRows()[0]!)[5];
      expect(elapsed()).toBe('1 min 02 s');
      act(() => vi.advanceTimersByTime(1000));
      expect(elapsed()).toBe('1 min 03 s');
    } finally {
      vi.useRealTimers();
    }
  });
});
