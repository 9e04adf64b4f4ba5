// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BulkAction } from '../core/protocol';
import { bulkAction, cluster, jobRow, node } from '../test/fixtures';
import { installDialogPolyfill, renderApp } from '../test/renderApp';

beforeAll(() => installDialogPolyfill());
afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

const alpha = cluster('alpha', [node('127.0.0.2')]);

async function openFromJobs(path: string, button: string) {
  history.replaceState(null, '', path);
  const app = renderApp({ clusters: { alpha } });
  await screen.findByRole('heading', { level: 2, name: 'Jobs' }, { timeout: 5000 });
  fireEvent.click(screen.getByRole('button', { name: button }));
  const dialog = await screen.findByRole('dialog', {}, { timeout: 5000 });
  return { ...app, dialog };
}

/** The server's `actions` part, as a delta would bring it. */
const actions = (store: ReturnType<typeof renderApp>['store'], list: BulkAction[]) => act(() => store.setState({ actions: list }));

describe('BulkDialog', () => {
  it('previews, confirms, shows the progress with Cancel, then the counts, each opening its list', async () => {
    const filter = { states: ['running' as const], node: '127.0.0.2' };
    const { dialog, sent, store, socket } = await openFromJobs('/jobs?states=running&node=127.0.0.2', 'Terminate…');
    expect(sent('bulk_preview').args).toEqual({ action: 'terminate', filter });
    const first = Array.from({ length: 20 }, (_, i) => jobRow(i + 1, { state: 'running' }));
    await act(async () => sent('bulk_preview').resolve({ count: 40, eligible: 40, over_limit: false, first, not_kept: 0 }));
    expect(within(dialog).getByText(/^40 jobs match the filter; 40 are queued or running/)).toBeTruthy();
    const listed = within(within(dialog).getByRole('list', { name: 'First matching jobs' })).getAllByRole('listitem');
    expect(listed).toHaveLength(21);
    expect(listed[20]!.textContent).toBe('… and 20 more');

    fireEvent.click(within(dialog).getByRole('button', { name: 'Terminate 40 jobs' }));
    expect(sent('bulk_start').args).toEqual({ action: 'terminate', filter, expect: 40 });
    await act(async () => sent('bulk_start').resolve({ action_id: 3 }));

    // progress from the store's actions (another action's is not this one's)
    actions(store, [bulkAction(2, { done: 1, total: 1, state: 'done' }), bulkAction(3, { done: 10, total: 40 })]);
    const bar = within(dialog).getByRole('progressbar');
    expect(bar.getAttribute('value')).toBe('10');
    expect(bar.getAttribute('max')).toBe('40');
    expect(within(dialog).getByText(/Running: 10 of 40/)).toBeTruthy();
    // while it runs, it asks for what changed once a second (a paused browser sees progress too)
    await vi.waitFor(() => expect(socket.flush).toHaveBeenCalled(), { timeout: 5000 });

    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(sent('bulk_cancel').args).toEqual({ action_id: 3 });
    await act(async () => sent('bulk_cancel').resolve({ state: 'cancelling' }));

    actions(store, [bulkAction(3, { done: 40, total: 40, state: 'done', counts: { terminated: 38, already_finished: 2 }, ended: 1_700_000_010 })]);
    expect(within(dialog).queryByRole('button', { name: 'Cancel' })).toBeNull();
    const flushes = vi.mocked(socket.flush).mock.calls.length;
    const counts = within(within(dialog).getByRole('list', { name: 'Outcomes' })).getAllByRole('button');
    expect(counts.map((b) => b.textContent)).toEqual(['38 terminated', '2 already finished']);

    fireEvent.click(counts[1]!);
    expect(sent('bulk_outcomes').args).toEqual({ action_id: 3, outcome: 'already_finished', offset: 0, limit: 100 });
    await act(async () =>
      sent('bulk_outcomes').resolve({
        total: 2,
        items: [
          { key: 5, id: 'job-5', cluster: 'alpha', outcome: 'already_finished', reason: null, new_key: null },
          { key: 6, id: 'job-6', cluster: 'alpha', outcome: 'already_finished', reason: null, new_key: null },
        ],
      }),
    );
    const items = within(within(dialog).getByRole('list', { name: 'Jobs already finished' })).getAllByRole('link');
    expect(items.map((a) => a.getAttribute('href'))).toEqual(['/job/alpha/job-5?key=5', '/job/alpha/job-6?key=6']);
    // done: no more flushes
    expect(vi.mocked(socket.flush).mock.calls.length).toBe(flushes);
  });

  it('says when the filter selects more than one action may take, and does not start', async () => {
    const { dialog, sent, commands } = await openFromJobs('/jobs', 'Resubmit…');
    expect(sent('bulk_preview').args).toEqual({ action: 'resubmit', filter: {} });
    await act(async () => sent('bulk_preview').resolve({ count: 12_345, eligible: 12_345, over_limit: true, first: [jobRow(1)], not_kept: 45 }));
    expect(within(dialog).getByRole('alert').textContent).toContain('more than one action may take (10,000 jobs)');
    expect(within(dialog).getByText(/45 of them cannot be resubmitted/)).toBeTruthy();
    const start = within(dialog).getByRole('button', { name: 'Resubmit 12,345 jobs' }) as HTMLButtonElement;
    expect(start.disabled).toBe(true);
    fireEvent.click(start);
    expect(commands.some((c) => c.name === 'bulk_start')).toBe(false);
  });

  it('says so when nothing matches, and shows a refusal to start', async () => {
    const { dialog, sent } = await openFromJobs('/jobs?text=zzz', 'Terminate…');
    await act(async () => sent('bulk_preview').resolve({ count: 0, eligible: 0, over_limit: false, first: [], not_kept: 0 }));
    expect(within(dialog).getByText('Nothing to terminate.')).toBeTruthy();
    expect((within(dialog).getByRole('button', { name: 'Terminate 0 jobs' }) as HTMLButtonElement).disabled).toBe(true);
    cleanup();

    const second = await openFromJobs('/jobs', 'Terminate…');
    await act(async () => second.sent('bulk_preview').resolve({ count: 3, eligible: 3, over_limit: false, first: [], not_kept: 0 }));
    fireEvent.click(within(second.dialog).getByRole('button', { name: 'Terminate 3 jobs' }));
    await act(async () => second.sent('bulk_start').fail('not_allowed', 'bulk action 3 is running'));
    expect(within(second.dialog).getByRole('alert').textContent).toBe('Not started: bulk action 3 is running');
  });

  it('resubmits what the History page shows', async () => {
    history.replaceState(null, '', '/history');
    const { sent } = renderApp({ clusters: { alpha } });
    await screen.findByRole('heading', { level: 2, name: 'History' }, { timeout: 5000 });
    fireEvent.change(screen.getByRole('combobox', { name: 'Outcome' }), { target: { value: 'failed' } });
    fireEvent.click(screen.getByRole('button', { name: 'Resubmit these…' }));
    await screen.findByRole('dialog', {}, { timeout: 5000 });
    expect(sent('bulk_preview').args).toEqual({ action: 'resubmit', filter: { cluster: 'alpha', states: ['failed'] } });
  });
});
