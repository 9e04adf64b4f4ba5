// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, Cluster } from '../../core/protocol';
import type { DashboardState } from '../../core/store';
import { cluster, hello, node } from '../../test/fixtures';
import { installDialogPolyfill, renderApp } from '../../test/renderApp';

beforeAll(installDialogPolyfill);
afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

const alpha = cluster('alpha', [
  node('127.0.0.2', { cpus: 2, busy: 2 }),
  node('127.0.0.3', { status: 'deallocated' }),
  node('127.0.0.4', { status: 'closed' }),
]);
const shared: Cluster = { ...cluster('beta', [node('127.0.0.5', { cpus: 1 })]), kind: 'SharedJobCluster' };

async function openManage(init: Partial<DashboardState> = {}) {
  history.replaceState(null, '', '/manage');
  const app = renderApp({ clusters: { alpha }, ...init });
  await screen.findByRole('heading', { level: 2, name: 'Manage' }, { timeout: 5000 });
  return app;
}

const result = () => screen.getByRole('status', { name: 'Action result' });
const nodesTable = () => screen.getByRole('table', { name: 'Manage nodes' });
const button = (name: string) => screen.getByRole('button', { name }) as HTMLButtonElement;

function addNode(host: string, cpus?: string) {
  const form = screen.getByRole('form', { name: 'Add node' });
  fireEvent.change(within(form).getByRole('textbox', { name: 'Host name, IP address or wildcard' }), {
    target: { value: host },
  });
  if (cpus !== undefined) fireEvent.change(within(form).getByRole('spinbutton', { name: 'CPUs' }), { target: { value: cpus } });
  fireEvent.click(within(form).getByRole('button', { name: 'Add node' }));
}

describe('Manage page', () => {
  it('is reached from the navigation', async () => {
    renderApp({ clusters: { alpha } });
    fireEvent.click(screen.getByRole('link', { name: 'Manage' }));
    expect(location.pathname).toBe('/manage');
    expect(await screen.findByRole('heading', { level: 2, name: 'Manage' }, { timeout: 5000 })).toBeTruthy();
  });

  it('offers a viewer no action: no add form, the nodes without editors or buttons', async () => {
    await openManage({ hello: hello('viewer') });
    expect(screen.getByText(/^Read-only: managing nodes needs the operator token/)).toBeTruthy();
    expect(screen.queryByRole('form', { name: 'Add node' })).toBeNull();
    const headers = within(nodesTable()).getAllByRole('columnheader').map((h) => h.textContent);
    expect(headers).toEqual(['IP address', 'Name', 'Status', 'Busy', 'CPUs']);
    const rows = within(nodesTable()).getAllByRole('row').slice(1);
    expect(rows.map((r) => within(r).getAllByRole('cell').map((c) => c.textContent))).toEqual([
      ['127.0.0.2', 'host-127.0.0.2', 'Initialized', '2', '2'],
      ['127.0.0.3', 'host-127.0.0.3', 'Deallocated', '0', '2'],
      ['127.0.0.4', 'host-127.0.0.4', 'Closed', '0', '2'],
    ]);
    expect(within(nodesTable()).queryAllByRole('button')).toEqual([]);
    expect(within(nodesTable()).queryAllByRole('spinbutton')).toEqual([]);
  });

  it('adds a node to every cluster from "* Combined", to one cluster once chosen', async () => {
    const { commands, sent, store } = await openManage({ clusters: { alpha, gamma: cluster('gamma') } });
    addNode('  127.0.0.9 ');
    expect(sent('add_node').args).toEqual({ host: '127.0.0.9', cpus: 0 });
    expect(button('Add node').disabled).toBe(true);
    await act(async () => sent('add_node').resolve({ audit_id: 3, clusters: ['alpha', 'gamma'], cpus_ignored: false }));
    expect(result().textContent).toBe('Add node 127.0.0.9: pending');
    expect(button('Add node').disabled).toBe(false);
    // the outcome arrives later, through the audit log
    act(() => {
      store.getState().receiveDelta({
        type: 'delta',
        seq: 2,
        audit: [
          {
            id: 3, time: 1, action: 'add_node', target: '127.0.0.9', cluster: null,
            state: 'failed', message: 'no dispynode answered in 20 s', who: null,
          },
        ],
      });
    });
    expect(result().textContent).toBe('Add node 127.0.0.9: failed (no dispynode answered in 20 s)');
    expect(within(result()).getByRole('alert')).toBeTruthy();

    fireEvent.change(screen.getByRole('combobox', { name: 'Cluster' }), { target: { value: 'alpha' } });
    addNode('node-7.example.org', '3');
    expect(commands[1]?.args).toEqual({ host: 'node-7.example.org', cpus: 3, cluster: 'alpha' });
  });

  it('names the single cluster, and refuses a blank host or bad CPUs without sending', async () => {
    const { commands } = await openManage();
    addNode('   ');
    expect(commands).toHaveLength(0);
    expect(within(result()).getByRole('alert').textContent).toMatch(/host name/);
    addNode('10.0.0.1', '1.5');
    expect(commands).toHaveLength(0);
    addNode('10.0.0.1', '2');
    expect(commands[0]?.args).toEqual({ host: '10.0.0.1', cpus: 2, cluster: 'alpha' });
  });

  it('notes that CPUs are ignored for wildcards and SharedJobCluster', async () => {
    await openManage();
    const note = 'CPUs are ignored for wildcards and SharedJobCluster';
    expect(screen.queryByText(note)).toBeNull();
    fireEvent.change(screen.getByRole('textbox', { name: 'Host name, IP address or wildcard' }), {
      target: { value: '192.168.1.*' },
    });
    expect(screen.getByText(note)).toBeTruthy();
    cleanup();
    await openManage({ clusters: { alpha, beta: shared } });
    // combined, and one of the clusters is a SharedJobCluster
    expect(screen.getByText(note)).toBeTruthy();
  });

  it('lists the nodes with links, status and busy CPUs', async () => {
    await openManage();
    const rows = within(nodesTable()).getAllByRole('row').slice(1);
    expect(rows.map((r) => within(r).getAllByRole('cell').slice(0, 4).map((c) => c.textContent))).toEqual([
      ['127.0.0.2', 'host-127.0.0.2', 'Initialized', '2'],
      ['127.0.0.3', 'host-127.0.0.3', 'Deallocated', '0'],
      ['127.0.0.4', 'host-127.0.0.4', 'Closed', '0'],
    ]);
    expect(within(rows[0]!).getByRole('link', { name: '127.0.0.2' }).getAttribute('href')).toBe('/node/127.0.0.2');
  });

  it('sets CPUs and warns when fewer than the busy ones remain', async () => {
    const { sent } = await openManage();
    const input = screen.getByRole('spinbutton', { name: 'CPUs for 127.0.0.2' }) as HTMLInputElement;
    expect(input.value).toBe('2');
    // a search by label finds the input alone, not also its "Set CPUs for" button
    expect(screen.getAllByLabelText(/CPUs for 127\.0\.0\.2$/)).toEqual([input]);
    fireEvent.change(input, { target: { value: '1' } });
    fireEvent.click(button('Set CPUs for 127.0.0.2'));
    expect(sent('set_node_cpus').args).toEqual({ ip: '127.0.0.2', cpus: 1, cluster: 'alpha' });
    expect(button('Set CPUs for 127.0.0.2').disabled).toBe(true);
    await act(async () => sent('set_node_cpus').resolve({ cpus: { alpha: 1 } }));
    expect(result().textContent).toBe('Set CPUs of 127.0.0.2 to 1');
    expect(
      screen.getByText('127.0.0.2 runs 2 jobs on 1 CPUs: running jobs continue, no new job starts there until fewer run.', {
        exact: false,
      }),
    ).toBeTruthy();
    expect(screen.getByRole('link', { name: 'See running jobs on 127.0.0.2' }).getAttribute('href')).toBe('/node/127.0.0.2');
  });

  it('shows a failed command as an error in the result region', async () => {
    const { sent } = await openManage();
    fireEvent.click(button('Set CPUs for 127.0.0.2'));
    await act(async () => sent('set_node_cpus').fail('cluster_error', 'dispy refused: node is gone'));
    expect(within(result()).getByRole('alert').textContent).toBe('dispy refused: node is gone');
    expect(screen.queryByRole('link', { name: /See running jobs/ })).toBeNull();
  });

  it('disables the CPUs editor of a SharedJobCluster node', async () => {
    await openManage({ clusters: { beta: shared } });
    expect((screen.getByRole('spinbutton', { name: 'CPUs for 127.0.0.5' }) as HTMLInputElement).disabled).toBe(true);
    expect(button('Set CPUs for 127.0.0.5').disabled).toBe(true);
    expect(screen.getByText('CPUs managed by the scheduler')).toBeTruthy();
  });

  it('offers deallocate, allocate and close by status, never allocate for a closed node', async () => {
    const { sent } = await openManage();
    expect(button('Deallocate 127.0.0.2')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Allocate 127.0.0.2' })).toBeNull();
    expect(button('Allocate 127.0.0.3')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Deallocate 127.0.0.3' })).toBeNull();
    for (const action of ['Allocate', 'Deallocate', 'Close']) {
      expect(screen.queryByRole('button', { name: `${action} 127.0.0.4` })).toBeNull();
    }
    expect((screen.getByRole('spinbutton', { name: 'CPUs for 127.0.0.4' }) as HTMLInputElement).disabled).toBe(true);

    fireEvent.click(button('Deallocate 127.0.0.2'));
    expect(sent('deallocate_node').args).toEqual({ ip: '127.0.0.2', cluster: 'alpha' });
    await act(async () => sent('deallocate_node').resolve({ clusters: ['alpha'] }));
    expect(result().textContent).toBe('Deallocated 127.0.0.2');

    fireEvent.click(button('Allocate 127.0.0.3'));
    expect(sent('allocate_node').args).toEqual({ ip: '127.0.0.3', cluster: 'alpha' });
    await act(async () => sent('allocate_node').resolve({ clusters: ['alpha'] }));
    expect(result().textContent).toBe('Allocated 127.0.0.3');
  });

  it('closes a node only after confirmation', async () => {
    const { commands, sent } = await openManage({ clusters: { alpha, gamma: cluster('gamma', [node('127.0.0.2')]) } });
    fireEvent.click(button('Close 127.0.0.2'));
    let dialog = screen.getByRole('dialog', { name: 'Close node 127.0.0.2?' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(commands).toHaveLength(0);

    fireEvent.click(button('Close 127.0.0.2'));
    dialog = screen.getByRole('dialog', { name: 'Close node 127.0.0.2?' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Close node' }));
    // '* Combined': every cluster
    expect(sent('close_node').args).toEqual({ ip: '127.0.0.2' });
    expect(button('Close 127.0.0.2').disabled).toBe(true);
    await act(async () => sent('close_node').resolve({ clusters: ['alpha', 'gamma'] }));
    expect(result().textContent).toBe('Closed 127.0.0.2');
  });

  it('shows the audit log newest first', async () => {
    const entry = (id: number, fields: Partial<AuditEntry>): AuditEntry => ({
      id,
      time: new Date(2024, 5, 1, 10, 0, id).getTime() / 1000,
      action: 'add_node',
      target: '10.0.0.1',
      cluster: null,
      state: 'pending',
      message: '',
      who: null,
      ...fields,
    });
    await openManage({
      audit: [
        entry(1, { state: 'ok', message: 'node 10.0.0.1 initialised with 2 CPUs', who: '127.0.0.1' }),
        entry(2, { action: 'close_node', target: '127.0.0.2', cluster: 'alpha', state: 'failed', message: 'timeout' }),
      ],
    });
    const table = screen.getByRole('table', { name: 'Audit log' });
    expect(within(table).getAllByRole('columnheader').map((h) => h.textContent)).toEqual([
      'Time',
      'Action',
      'Target',
      'Cluster',
      'Result',
      'Message',
      'Who',
    ]);
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((r) => within(r).getAllByRole('cell').map((c) => c.textContent))).toEqual([
      ['10:00:02', 'Close node', '127.0.0.2', 'alpha', 'failed', 'timeout', '—'],
      ['10:00:01', 'Add node', '10.0.0.1', 'all', 'ok', 'node 10.0.0.1 initialised with 2 CPUs', '127.0.0.1'],
    ]);
  });

  it('names every action in plain words, a new one too', async () => {
    const entry = (id: number, action: string): AuditEntry => ({
      id, time: 1_700_000_000 + id, action, target: '10.0.0.1', cluster: null, state: 'ok', message: '', who: null,
    });
    const actions = ['set_node_cpus', 'allocate_node', 'deallocate_node', 'terminate_jobs', 'node_reopened', 'some_new_thing'];
    await openManage({ audit: actions.map((a, i) => entry(i + 1, a)) });
    const table = screen.getByRole('table', { name: 'Audit log' });
    const shown = within(table).getAllByRole('row').slice(1).map((r) => within(r).getAllByRole('cell')[1]?.textContent);
    expect(shown).toEqual(
      ['Some new thing', 'Closed node back in use', 'Terminate jobs', 'Deallocate node', 'Allocate node', 'Set CPUs'],
    );
  });
});
