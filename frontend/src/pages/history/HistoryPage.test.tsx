// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { HistoryJob, HistorySummary } from '../../core/protocol';
import type { DashboardState } from '../../core/store';
import { cluster, node } from '../../test/fixtures';
import { renderApp } from '../../test/renderApp';
import type { SentCommand } from '../../test/renderApp';

afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

const alpha = cluster('alpha', [node('127.0.0.2')]);
const beta = cluster('beta', [node('127.0.0.3')]);

function job(uid: number, fields: Partial<HistoryJob> = {}): HistoryJob {
  return {
    uid,
    key: uid + 1000,
    id: `job-${uid}`,
    cluster: 'alpha',
    node: '127.0.0.2',
    outcome: 'finished',
    exception_type: null,
    exception_message: null,
    start_time: 1_700_000_000 + uid,
    end_time: 1_700_000_002 + uid,
    duration: 2,
    created: 1_700_000_000 + uid,
    resubmit_of: null,
    ...fields,
  };
}

const summary: HistorySummary = {
  outcomes: { finished: 3, failed: 2, cancelled: 0, terminated: 0, abandoned: 0 },
  failures: [
    { type: 'ValueError', count: 2, last_message: 'boom', last_time: 1_700_000_100, last_cluster: 'alpha', last_node: '127.0.0.2', last_key: 1002 },
  ],
  jobs: 5,
  size: 10_000,
  store: null,
};

async function openHistory(init: Partial<DashboardState> = {}) {
  history.replaceState(null, '', '/history');
  const app = renderApp({ clusters: { alpha }, ...init });
  await screen.findByRole('heading', { level: 2, name: 'History' }, { timeout: 5000 });
  /** the latest `history` command */
  const last = (): SentCommand => {
    const all = app.commands.filter((c) => c.name === 'history');
    const found = all[all.length - 1];
    if (!found) throw new Error('no history command sent');
    return found;
  };
  return { ...app, last, historyCount: () => app.commands.filter((c) => c.name === 'history').length };
}

const button = (name: string) => screen.getByRole('button', { name }) as HTMLButtonElement;

describe('History page', () => {
  it('is reached from the navigation', async () => {
    renderApp({ clusters: { alpha } });
    fireEvent.click(screen.getByRole('link', { name: 'History' }));
    expect(location.pathname).toBe('/history');
    expect(await screen.findByRole('heading', { level: 2, name: 'History' }, { timeout: 5000 })).toBeTruthy();
  });

  it('shows the jobs, the count and the failures by type', async () => {
    const { last, sent } = await openHistory();
    // a single cluster is named; the first page of 100
    expect(last().args).toEqual({ limit: 100, offset: 0, cluster: 'alpha' });
    await act(async () => {
      last().resolve({
        jobs: [
          job(2, { outcome: 'failed', exception_type: 'ValueError', exception_message: 'boom' }),
          job(1, { node: '', start_time: null, duration: null, outcome: 'cancelled' }),
        ],
        total: 2,
      });
      sent('history_summary').resolve(summary);
    });
    expect(screen.getByText('2 jobs')).toBeTruthy();
    const table = screen.getByRole('table', { name: 'Finished jobs' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows).toHaveLength(2);
    const cells = (row: HTMLElement) => within(row).getAllByRole('cell').map((c) => c.textContent);
    expect(cells(rows[0]!).slice(0, 5)).toEqual(['job-2', 'alpha', '127.0.0.2', 'failed', 'ValueError: boom']);
    expect(cells(rows[1]!)[2]).toBe('—');
    expect(cells(rows[1]!)[7]).toBe('—');
    expect(cells(rows[0]!)[7]).toBe('2.000');

    const failures = screen.getByRole('table', { name: 'Failures by exception type' });
    const frow = within(failures).getAllByRole('row')[1]!;
    expect(within(frow).getAllByRole('cell').map((c) => c.textContent).slice(0, 3)).toEqual(['ValueError', '2', 'boom']);
  });

  it('sends the filters as history arguments, leaving out empty ones and "* Combined"', async () => {
    const { last } = await openHistory({ clusters: { alpha, beta } });
    expect(last().args).toEqual({ limit: 100, offset: 0 });

    fireEvent.change(screen.getByRole('combobox', { name: 'Outcome' }), { target: { value: 'failed' } });
    expect(last().args).toEqual({ limit: 100, offset: 0, outcome: 'failed' });

    fireEvent.change(screen.getByRole('textbox', { name: 'Node' }), { target: { value: ' 127.0.0.3 ' } });
    expect(last().args).toEqual({ limit: 100, offset: 0, outcome: 'failed', node: '127.0.0.3' });

    fireEvent.change(screen.getByRole('searchbox', { name: 'Job ID contains' }), { target: { value: 'AbC' } });
    expect(last().args).toEqual({ limit: 100, offset: 0, outcome: 'failed', node: '127.0.0.3', text: 'AbC' });

    fireEvent.change(screen.getByRole('combobox', { name: 'Cluster' }), { target: { value: 'beta' } });
    expect(last().args).toEqual({ limit: 100, offset: 0, outcome: 'failed', node: '127.0.0.3', text: 'AbC', cluster: 'beta' });

    fireEvent.change(screen.getByRole('combobox', { name: 'Outcome' }), { target: { value: '' } });
    expect(last().args).toEqual({ limit: 100, offset: 0, node: '127.0.0.3', text: 'AbC', cluster: 'beta' });
  });

  it('pages with Newer and Older, and a filter goes back to the newest', async () => {
    const { last, historyCount } = await openHistory();
    expect(button('Newer').disabled).toBe(true);
    expect(button('Older').disabled).toBe(true); // nothing known yet
    await act(async () => last().resolve({ jobs: Array.from({ length: 100 }, (_, i) => job(250 - i)), total: 250 }));
    expect(screen.getByText('250 jobs')).toBeTruthy();
    expect(button('Older').disabled).toBe(false);

    fireEvent.click(button('Older'));
    expect(last().args).toMatchObject({ offset: 100 });
    await act(async () => last().resolve({ jobs: Array.from({ length: 100 }, (_, i) => job(150 - i)), total: 250 }));
    fireEvent.click(button('Older'));
    expect(last().args).toMatchObject({ offset: 200 });
    await act(async () => last().resolve({ jobs: Array.from({ length: 50 }, (_, i) => job(50 - i)), total: 250 }));
    expect(button('Older').disabled).toBe(true);
    expect(button('Newer').disabled).toBe(false);
    fireEvent.click(button('Newer'));
    expect(last().args).toMatchObject({ offset: 100 });

    fireEvent.change(screen.getByRole('textbox', { name: 'Node' }), { target: { value: '127.0.0.2' } });
    expect(last().args).toEqual({ limit: 100, offset: 0, cluster: 'alpha', node: '127.0.0.2' });

    const before = historyCount();
    fireEvent.click(button('Refresh'));
    expect(historyCount()).toBe(before + 1);
    expect(last().args).toEqual({ limit: 100, offset: 0, cluster: 'alpha', node: '127.0.0.2' });
  });

  it('shows only the latest answer when answers cross', async () => {
    const { commands, last } = await openHistory();
    const first = last();
    fireEvent.change(screen.getByRole('searchbox', { name: 'Job ID contains' }), { target: { value: 'x' } });
    const second = last();
    await act(async () => second.resolve({ jobs: [job(7)], total: 1 }));
    await act(async () => first.resolve({ jobs: [job(1), job(2)], total: 2 }));
    expect(screen.getByText('1 job')).toBeTruthy();
    expect(commands.filter((c) => c.name === 'history')).toHaveLength(2);
  });

  it("says when the history database is not being written, and what it lost once it is again", async () => {
    const { last, sent, commands } = await openHistory();
    const summaries = () => commands.filter((c) => c.name === 'history_summary');
    const healthy = { healthy: true, errors: 0, dropped: 0, reopened: 0, last_error: null };
    await act(async () => {
      last().resolve({ jobs: [job(1)], total: 1 });
      sent('history_summary').resolve({ ...summary, store: healthy });
    });
    expect(screen.getByText('1 job')).toBeTruthy();
    expect(screen.queryByText(/history database/)).toBeNull(); // nothing while all is well

    fireEvent.click(button('Refresh'));
    await act(async () => {
      summaries()[1]!.resolve({ ...summary, store: { healthy: false, errors: 3, dropped: 120, reopened: 0, last_error: 'database is locked' } });
    });
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toContain('The history database is not being written: database is locked (3 failed attempts)');
    expect(alert.textContent).toContain('120 rows never reached it.');

    fireEvent.click(button('Refresh'));
    await act(async () => {
      summaries()[2]!.resolve({ ...summary, store: { ...healthy, errors: 5, dropped: 120, reopened: 1 } });
    });
    expect(screen.queryByRole('alert')).toBeNull();
    const status = screen.getByText(/^The history database was deleted or replaced/);
    expect(status.getAttribute('role')).toBe('status');
    expect(status.textContent).toContain('1 time and made again: it lacks the jobs written before. 120 rows never reached it.');
  });

  it('shows the empty state, and command errors as alerts', async () => {
    const { last, sent } = await openHistory();
    await act(async () => {
      last().resolve({ jobs: [], total: 0 });
      sent('history_summary').fail('timeout', 'no answer in 10 s');
    });
    expect(screen.getByText('No finished jobs yet')).toBeTruthy();
    expect(screen.getByText('0 jobs')).toBeTruthy();
    expect(screen.getByRole('alert').textContent).toContain('no answer in 10 s');

    fireEvent.click(button('Refresh'));
    await act(async () => last().fail('invalid', 'bad node'));
    expect(screen.getAllByRole('alert').map((a) => a.textContent).join(' ')).toContain('bad node');
  });
});
