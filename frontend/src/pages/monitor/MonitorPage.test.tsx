// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../../core/protocol';
import type { DashboardState } from '../../core/store';
import { cluster, hello, node } from '../../test/fixtures';
import { renderApp } from '../../test/renderApp';

afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

const t0 = new Date(2024, 5, 1, 14, 5, 9).getTime() / 1000;

const twoClusters: Record<string, Cluster> = {
  alpha: cluster(
    'alpha',
    [
      node('127.0.0.9', { name: 'nine', cpus: 2, busy: 1, jobs_done: 4, cpu_time: 2, update_time: t0 }),
      node('127.0.0.10', {
        name: 'ten', cpus: 4, jobs_done: 1, cpu_time: 0.5, status: 'deallocated',
        avail_info: { cpu: 93.46, memory: 1_234_000_000, disk: 250_400_000_000, swap: 3 },
      }),
      node('127.0.0.2', { name: 'two', status: 'closed' }),
    ],
    { submitted: 10, done: 6, queued: 1, running: 3, finished: 4, failed: 1, cancelled: 1 },
  ),
  beta: cluster('beta', [node('127.0.0.9', { cpus: 1, jobs_done: 2, cpu_time: 1 })], {
    submitted: 5,
    done: 5,
    finished: 3,
    terminated: 1,
    abandoned: 1,
  }),
};

function setup(init: Partial<DashboardState> = {}) {
  return renderApp({ clusters: twoClusters, ...init });
}

const figure = (key: string) => screen.getByTestId(`jobs-${key}`).textContent;

/** First-column text (IP address) of each body row, top to bottom. */
function ipOrder(): string[] {
  const table = screen.getByRole('table', { name: 'Nodes' });
  const rows = within(table).getAllByRole('row').slice(1);
  return rows.map((r) => within(r).getAllByRole('cell')[0]?.textContent ?? '');
}

function headerOf(title: string): HTMLElement {
  return screen.getByRole('button', { name: title }).closest('th') as HTMLElement;
}

describe('Monitor page', () => {
  it('has the header, navigation and connection state', () => {
    const { store } = setup();
    expect(screen.getByRole('heading', { level: 1, name: 'dispymon' })).toBeTruthy();
    expect(screen.getByRole('heading', { level: 2, name: 'Monitor' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Monitor' }).getAttribute('href')).toBe('/');
    const status = screen.getByRole('status', { name: 'Connection' });
    expect(status.textContent).toBe('Live');
    act(() => store.getState().setConnection('reconnecting'));
    expect(status.textContent).toBe('Reconnecting…');
    act(() => store.getState().setConnection('stopped'));
    expect(status.textContent).toBe('Server stopped: reconnecting when it is back');
    act(() => store.getState().setConnection('closed'));
    expect(status.textContent).toBe('Disconnected');
  });

  it('shows combined jobs by default and per cluster when chosen', () => {
    setup();
    const select = screen.getByRole('combobox', { name: 'Cluster' }) as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(['* Combined', 'alpha', 'beta']);
    expect(select.value).toBe('* Combined');
    expect(figure('submitted')).toBe('15');
    expect(figure('done')).toBe('11');
    expect(figure('pending')).toBe('4');
    expect(figure('terminated')).toBe('1');

    fireEvent.change(select, { target: { value: 'alpha' } });
    expect(figure('submitted')).toBe('10');
    expect(figure('pending')).toBe('4');
    expect(figure('queued')).toBe('1');
    expect(figure('running')).toBe('3');
    expect(figure('abandoned')).toBe('0');
  });

  it('re-renders when a delta arrives', () => {
    const { store } = setup();
    act(() => {
      store.getState().receiveDelta({
        type: 'delta',
        seq: 2,
        clusters: { beta: { jobs: { ...twoClusters.beta!.jobs, submitted: 105 } } },
      });
    });
    expect(figure('submitted')).toBe('115');
  });

  it('hides the cluster selector when there is only one cluster', () => {
    setup({ clusters: { alpha: twoClusters.alpha! } });
    expect(screen.queryByRole('combobox', { name: 'Cluster' })).toBeNull();
    expect(figure('submitted')).toBe('10');
  });

  it('lists nodes by IP address descending, numerically, and sorts on click', () => {
    setup();
    expect(ipOrder()).toEqual(['127.0.0.10', '127.0.0.9', '127.0.0.2']);
    expect(headerOf('IP address').getAttribute('aria-sort')).toBe('descending');
    expect(headerOf('Jobs done').getAttribute('aria-sort')).toBe('none');

    fireEvent.click(screen.getByRole('button', { name: 'IP address' }));
    expect(headerOf('IP address').getAttribute('aria-sort')).toBe('ascending');
    expect(ipOrder()).toEqual(['127.0.0.2', '127.0.0.9', '127.0.0.10']);

    // combined: 127.0.0.9 did 4 + 2 jobs
    fireEvent.click(screen.getByRole('button', { name: 'Jobs done' }));
    expect(headerOf('Jobs done').getAttribute('aria-sort')).toBe('ascending');
    expect(headerOf('IP address').getAttribute('aria-sort')).toBe('none');
    expect(ipOrder()).toEqual(['127.0.0.2', '127.0.0.10', '127.0.0.9']);
    fireEvent.click(screen.getByRole('button', { name: 'Jobs done' }));
    expect(headerOf('Jobs done').getAttribute('aria-sort')).toBe('descending');
    expect(ipOrder()).toEqual(['127.0.0.9', '127.0.0.10', '127.0.0.2']);
  });

  it('shows the columns, derived values, availability and node status', () => {
    setup();
    const table = screen.getByRole('table', { name: 'Nodes' });
    const headers = within(table).getAllByRole('columnheader').map((h) => h.textContent);
    expect(headers).toEqual([
      'IP address▼',
      'Name',
      'CPUs',
      'Busy',
      'Jobs done',
      'CPU time (s)',
      'Sec/job',
      'Last update',
      'Status',
      'CPU free',
      'Memory free',
      'Disk free',
      'Swap free',
      'CPU free, 10 min',
    ]);
    const [ten, nine, two] = within(table).getAllByRole('row').slice(1);
    expect(within(nine!).getAllByRole('cell').map((c) => c.textContent)).toEqual([
      '127.0.0.9',
      'nine',
      '2', // the node's CPUs in '* Combined' (alpha 2, beta 1), not their sum
      '1',
      '6',
      '3.000',
      '0.500',
      '14:05:09',
      'Initialized',
      '—',
      '—',
      '—',
      '—',
      '', // the CPU sparkline: not answered yet
    ]);
    const tenCells = within(ten!).getAllByRole('cell').map((c) => c.textContent);
    expect(tenCells[7]).toBe('—');
    expect(tenCells.slice(8, 13)).toEqual(['Deallocated', '93.5 %', '1.2 GB', '250 GB', '3.0 %']);
    expect(within(two!).getAllByRole('cell')[6]?.textContent).toBe('—');
    expect(two!.className).toContain('node-closed');
    expect(within(two!).getAllByRole('cell')[8]?.textContent).toBe('Closed');
    // each address links to its Node page
    expect(within(nine!).getByRole('link', { name: '127.0.0.9' }).getAttribute('href')).toBe('/node/127.0.0.9');
  });

  it('keeps the chosen sort in the URL and restores it from there', () => {
    setup();
    fireEvent.click(screen.getByRole('button', { name: 'Busy' }));
    expect(location.search).toBe('?sort=busy&dir=asc');
    // busy: two 0, ten 0, nine 1; ties by IP ascending
    expect(ipOrder()).toEqual(['127.0.0.2', '127.0.0.10', '127.0.0.9']);
    fireEvent.click(screen.getByRole('button', { name: 'Busy' }));
    expect(location.search).toBe('?sort=busy&dir=desc');
    expect(location.pathname).toBe('/');
    const entries = history.length;

    // a reload: a fresh page reads the sort from the URL
    cleanup();
    setup();
    expect(headerOf('Busy').getAttribute('aria-sort')).toBe('descending');
    expect(headerOf('IP address').getAttribute('aria-sort')).toBe('none');
    expect(ipOrder()).toEqual(['127.0.0.9', '127.0.0.2', '127.0.0.10']);
    // replaced, not pushed: Back still leaves the page
    expect(history.length).toBe(entries);
  });

  it('keeps the sort when the data changes and falls back to the default for a bad URL', () => {
    history.replaceState(null, '', '/?sort=avail_memory&dir=desc');
    const { store } = setup();
    expect(headerOf('Memory free').getAttribute('aria-sort')).toBe('descending');
    // only ten reports memory; nothing reported sorts lowest
    expect(ipOrder()[0]).toBe('127.0.0.10');
    act(() => {
      store.getState().receiveDelta({
        type: 'delta',
        seq: 2,
        clusters: { alpha: { nodes: { '127.0.0.2': node('127.0.0.2', { avail_info: { cpu: 1, memory: 9e12, disk: 1, swap: 0 } }) } } },
      });
    });
    expect(headerOf('Memory free').getAttribute('aria-sort')).toBe('descending');
    expect(ipOrder()[0]).toBe('127.0.0.2');

    cleanup();
    history.replaceState(null, '', '/?sort=nonsense&dir=up');
    setup();
    expect(headerOf('IP address').getAttribute('aria-sort')).toBe('descending');
  });

  it('offers a viewer no command: it says read-only and shows the arguments setting as text', () => {
    const { commands } = setup({ hello: hello('viewer') });
    expect(screen.getByRole('note').textContent).toBe('Read-only: a viewer token can look, not command');
    expect(screen.queryByRole('checkbox', { name: 'Show job arguments' })).toBeNull();
    expect(screen.getByText("Job arguments shown (an operator's setting)")).toBeTruthy();
    // Update and the interval stay: they are this browser's own view
    expect(screen.getByRole('button', { name: 'Update' })).toBeTruthy();
    expect(commands.filter((c) => c.name !== 'series' && c.name !== 'node_resources')).toEqual([]);
  });

  it('gives an operator the switch and no read-only note', () => {
    setup({ hello: hello('operator') });
    expect(screen.queryByRole('note')).toBeNull();
    expect(screen.getByRole('checkbox', { name: 'Show job arguments' })).toBeTruthy();
  });

  it('toggles "Show job arguments" through the command, disabled while it runs', async () => {
    const { sent } = setup();
    const box = screen.getByRole('checkbox', { name: 'Show job arguments' }) as HTMLInputElement;
    expect(box.checked).toBe(true);
    fireEvent.click(box);
    const cmd = sent('set_show_job_args');
    expect(cmd.args).toEqual({ value: false });
    expect(box.disabled).toBe(true);
    await act(async () => cmd.resolve({ show_job_args: false }));
    expect(box.disabled).toBe(false);
    expect(box.checked).toBe(false);
  });

  it('shows a failed toggle next to the box and follows changes made elsewhere', async () => {
    const { sent, store } = setup();
    const box = screen.getByRole('checkbox', { name: 'Show job arguments' }) as HTMLInputElement;
    fireEvent.click(box);
    await act(async () => sent('set_show_job_args').fail('not_allowed', 'viewers may not change settings'));
    expect(screen.getByRole('alert').textContent).toBe('viewers may not change settings');
    expect(box.checked).toBe(true);
    expect(box.disabled).toBe(false);

    // another browser turned it off: the delta says so
    act(() => {
      store.getState().receiveDelta({ type: 'delta', seq: 2, settings: { show_job_args: false } });
    });
    expect(box.checked).toBe(false);
  });

  it('opens the Node page from an address link', async () => {
    setup();
    fireEvent.click(screen.getByRole('link', { name: '127.0.0.9' }));
    expect(location.pathname).toBe('/node/127.0.0.9');
    expect(await screen.findByRole('heading', { level: 2, name: 'Node 127.0.0.9' }, { timeout: 5000 })).toBeTruthy();
  });

  it('flags a stuck or stale node in its status, with an explanation', () => {
    const nodes = {
      '10.0.0.1': node('10.0.0.1', { busy: 1, stuck: true }),
      '10.0.0.2': node('10.0.0.2', { stale: true }),
      '10.0.0.3': node('10.0.0.3'),
    };
    setup({ clusters: { alpha: { ...cluster('alpha'), nodes } } });
    const table = screen.getByRole('table', { name: 'Nodes' });
    const statusOf = (ip: string) => {
      const row = within(table).getByRole('row', { name: new RegExp(`^${ip.replace(/\./g, '\\.')}\\b`) });
      const cells = within(row).getAllByRole('cell');
      return cells[8]!;
    };
    expect(statusOf('10.0.0.1').textContent).toBe('Initialized stuck');
    expect(statusOf('10.0.0.2').textContent).toBe('Initialized stale');
    expect(statusOf('10.0.0.3').textContent).toBe('Initialized');
    expect(within(statusOf('10.0.0.1')).getByText('stuck').getAttribute('title')).toMatch(/stopped returning results/);
  });

  it('shows an empty state without nodes', () => {
    setup({ clusters: { alpha: cluster('alpha') } });
    expect(screen.getByRole('cell', { name: 'No nodes yet' })).toBeTruthy();
  });

  it('sends a valid update interval, refuses an invalid one, and flushes on Update', () => {
    const { socket, store } = setup();
    const input = screen.getByRole('spinbutton', { name: 'Update interval (seconds)' }) as HTMLInputElement;
    expect(input.value).toBe('10');

    fireEvent.change(input, { target: { value: '0.25' } });
    expect(socket.setViewInterval).toHaveBeenLastCalledWith(0.25);
    expect(store.getState().interval).toBe(0.25);

    fireEvent.change(input, { target: { value: '' } });
    expect(screen.getByRole('alert').textContent).toMatch(/number of seconds/);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    fireEvent.blur(input);
    expect(screen.getByRole('alert')).toBeTruthy(); // still shown until fixed
    expect(socket.setViewInterval).toHaveBeenCalledTimes(1);

    fireEvent.change(input, { target: { value: '0' } });
    expect(socket.setViewInterval).toHaveBeenLastCalledWith(0);
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByText(/Automatic updates stopped/)).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Update' }));
    expect(socket.flush).toHaveBeenCalledOnce();
  });

  it('goes live at 0.05 s with the Live button, and raises a smaller interval to it', () => {
    const { socket, store } = setup();
    const live = screen.getByRole('button', { name: 'Live' });
    expect(live.getAttribute('aria-pressed')).toBe('false');
    fireEvent.click(live);
    expect(socket.setViewInterval).toHaveBeenLastCalledWith(0.05);
    expect(store.getState().interval).toBe(0.05);
    expect(live.getAttribute('aria-pressed')).toBe('true');
    const input = screen.getByRole('spinbutton', { name: 'Update interval (seconds)' }) as HTMLInputElement;
    expect(input.value).toBe('0.05');

    fireEvent.change(input, { target: { value: '1' } });
    expect(live.getAttribute('aria-pressed')).toBe('false');
    fireEvent.change(input, { target: { value: '0.01' } });
    expect(socket.setViewInterval).toHaveBeenLastCalledWith(0.05);
    expect(screen.getByText(/counts as 0.05 s/)).toBeTruthy();
    expect(live.getAttribute('aria-pressed')).toBe('true');
  });

  it('shows the interval from hello once it arrives', () => {
    const { store } = setup({ interval: null });
    const input = screen.getByRole('spinbutton', { name: 'Update interval (seconds)' }) as HTMLInputElement;
    expect(input.value).toBe('');
    act(() =>
      store.getState().receiveHello(hello('operator', { poll_sec: 5 })),
    );
    expect(input.value).toBe('5');
    expect(screen.getByText('dispymon 0.1.0')).toBeTruthy();
  });

  it('answers unknown paths with a not-found page', () => {
    history.pushState(null, '', '/nowhere');
    setup();
    expect(screen.getByRole('heading', { level: 2, name: 'Page not found' })).toBeTruthy();
    fireEvent.click(screen.getAllByRole('link', { name: 'Monitor' })[1]!);
    expect(location.pathname).toBe('/');
    expect(screen.getByRole('heading', { level: 2, name: 'Monitor' })).toBeTruthy();
  });
});
