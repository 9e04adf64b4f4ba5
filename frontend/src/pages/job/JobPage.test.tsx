// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DashboardState } from '../../core/store';
import { cluster, hello, jobDetail, jobRow, node } from '../../test/fixtures';
import { installDialogPolyfill, renderApp } from '../../test/renderApp';

const alpha = cluster('alpha', [node('127.0.0.2')]);

const failed = jobDetail(1007, {
  id: 'job-7',
  state: 'failed',
  exception_type: 'ValueError',
  exception_message: 'bad input',
  stdout: 'hello from the job\n',
  stdout_len: 19,
  stderr: 'a warning\n',
  stderr_len: 10,
  traceback: 'Traceback (most recent call last):\n  File "job.py", line 3, in compute\nValueError: bad input\n',
  traceback_len: 93,
  args: "(7, 'x')",
  kwargs: '{}',
});

beforeAll(() => installDialogPolyfill());
afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
  vi.unstubAllGlobals();
});

async function openJob(path: string, init: Partial<DashboardState> = {}) {
  history.replaceState(null, '', path);
  const app = renderApp({ clusters: { alpha }, ...init });
  await screen.findByRole('heading', { level: 2, name: /^Job / }, { timeout: 5000 });
  // the page asks for its job from an effect, which may run after the heading's first paint
  await waitFor(() => app.sent('job'));
  return app;
}

const pre = (name: string) => screen.getByRole('region', { name }).querySelector('pre')!;

describe('Job page', () => {
  it('asks for the job by key, shows its outputs, traceback and arguments, and follows it', async () => {
    const { sent, socket } = await openJob('/job/alpha/job-7?key=1007');
    expect(sent('job').args).toEqual({ cluster: 'alpha', key: 1007 });
    await act(async () => sent('job').resolve({ job: failed }));
    expect(screen.getByRole('heading', { level: 2 }).textContent).toBe('Job job-7');
    expect(socket.setWatchedJob).toHaveBeenLastCalledWith({ cluster: 'alpha', key: 1007 });
    expect(pre('stdout').textContent).toBe('hello from the job\n');
    expect(pre('stderr').textContent).toBe('a warning\n');
    expect(pre('Traceback').textContent).toContain('ValueError: bad input');
    expect(screen.getByText('ValueError: bad input', { selector: 'dd' })).toBeTruthy();
    expect(screen.getByRole('region', { name: 'Arguments' }).textContent).toContain("(7, 'x')");
    // nothing is cut
    expect(screen.queryByText(/^last 64 KiB/)).toBeNull();
    cleanup();
    expect(socket.setWatchedJob).toHaveBeenLastCalledWith(null);
  });

  it('hides the arguments while Show job arguments is off', async () => {
    const { sent } = await openJob('/job/alpha/job-7?key=1007', { settings: { show_job_args: false } });
    await act(async () => sent('job').resolve({ job: failed }));
    const args = screen.getByRole('region', { name: 'Arguments' });
    expect(args.textContent).not.toContain("(7, 'x')");
    expect(args.textContent).toContain('Show job arguments is off');
  });

  it('follows a running job from the job part of the deltas, and ignores another job\'s', async () => {
    const running = jobDetail(1007, { id: 'job-7', state: 'running', end_time: null, duration: null });
    const { sent, store } = await openJob('/job/alpha/job-7?key=1007');
    await act(async () => sent('job').resolve({ job: running }));
    expect(screen.getByText('running', { selector: 'dd span' })).toBeTruthy();
    expect(screen.getByRole('region', { name: 'stdout' }).textContent).toContain('Arrives when the job ends');
    // a paused browser gets it on Update: the controls are there
    expect(screen.getByRole('button', { name: 'Update' })).toBeTruthy();

    act(() => store.setState({ job: jobDetail(1008, { state: 'failed', stdout: 'not this one' }) }));
    expect(screen.queryByText('not this one')).toBeNull();
    act(() => store.setState({ job: failed }));
    expect(screen.getByText('failed', { selector: 'dd span' })).toBeTruthy();
    expect(pre('stdout').textContent).toBe('hello from the job\n');
    expect(sent('job')).toBeTruthy(); // followed without asking again
  });

  it('says when outputs and the result are cut, with their full length', async () => {
    const { sent } = await openJob('/job/alpha/job-7?key=1007');
    await act(async () =>
      sent('job').resolve({
        job: {
          ...failed,
          state: 'finished',
          stdout: 'x'.repeat(100),
          stdout_len: 1_000_000,
          stdout_cut: true,
          result: '[0, 1, 2',
          result_len: 50_000,
          result_cut: true,
        },
      }),
    );
    expect(screen.getByRole('region', { name: 'stdout' }).textContent).toContain('last 64 KiB of 1,000,000 bytes');
    expect(screen.getByRole('region', { name: 'stderr' }).textContent).not.toContain('last 64 KiB');
    expect(screen.getByRole('region', { name: 'Result' }).textContent).toContain('first 8 of 50,000 characters');
  });

  it('offers a choice when the id is not unique', async () => {
    const { sent } = await openJob('/job/alpha/dup');
    expect(sent('job').args).toEqual({ cluster: 'alpha', id: 'dup' });
    await act(async () =>
      sent('job').resolve({ choices: [jobRow(5, { id: 'dup' }), jobRow(9, { id: 'dup', state: 'running', end_time: null })], more: 3 }),
    );
    const list = screen.getByRole('region', { name: 'Jobs with this ID' });
    const links = within(list).getAllByRole('link');
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['/job/alpha/dup?key=5', '/job/alpha/dup?key=9', '/jobs?cluster=alpha&text=dup']);
    expect(list.textContent).toContain('5 jobs in alpha have the ID dup');
    fireEvent.click(links[1]!);
    expect(location.pathname + location.search).toBe('/job/alpha/dup?key=9');
  });

  it('says not found, with a link to the Jobs view', async () => {
    const { sent } = await openJob('/job/alpha/nope');
    await act(async () => sent('job').fail('not_found', 'no job nope in alpha'));
    expect(screen.getByText(/^No job nope in alpha/)).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Look for it in the Jobs view' }).getAttribute('href')).toBe('/jobs?text=nope');
  });

  it('copies an output to the clipboard in a secure context', async () => {
    const writeText = vi.fn(() => Promise.resolve());
    vi.stubGlobal('isSecureContext', true);
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText } });
    const { sent } = await openJob('/job/alpha/job-7?key=1007');
    await act(async () => sent('job').resolve({ job: failed }));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Copy stderr' })));
    expect(writeText).toHaveBeenCalledWith('a warning\n');
    expect(within(screen.getByRole('region', { name: 'stderr' })).getByRole('status').textContent).toBe('Copied');
    Reflect.deleteProperty(navigator, 'clipboard');
  });

  it('selects the text and says how to copy it when the page is not a secure context', async () => {
    vi.stubGlobal('isSecureContext', false);
    const { sent } = await openJob('/job/alpha/job-7?key=1007');
    await act(async () => sent('job').resolve({ job: failed }));
    const selectAll = vi.spyOn(window.getSelection()!, 'selectAllChildren');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Copy Traceback' })));
    expect(selectAll).toHaveBeenCalledWith(pre('Traceback'));
    expect(within(screen.getByRole('region', { name: 'Traceback' })).getByRole('status').textContent).toMatch(/press Ctrl\+C/);
  });
});

describe('Resubmit', () => {
  it('confirms, resubmits and links to the new job', async () => {
    const { sent, commands } = await openJob('/job/alpha/job-7?key=1007');
    await act(async () => sent('job').resolve({ job: failed }));
    fireEvent.click(screen.getByRole('button', { name: 'Resubmit' }));
    const dialog = screen.getByRole('dialog', { name: 'Resubmit job job-7?' });
    expect(commands.some((c) => c.name === 'resubmit')).toBe(false); // not before the confirmation
    fireEvent.click(within(dialog).getByRole('button', { name: 'Resubmit' }));
    expect(sent('resubmit').args).toEqual({ cluster: 'alpha', key: 1007 });
    await act(async () => sent('resubmit').resolve({ key: 2001, id: 'job-7' }));
    const link = screen.getByRole('link', { name: 'job-7' });
    expect(link.closest('p')?.textContent).toBe('Resubmitted as job-7');
    expect(link.getAttribute('href')).toBe('/job/alpha/job-7?key=2001');
  });

  it('says why a job cannot be resubmitted, and why the server refused', async () => {
    const { sent } = await openJob('/job/alpha/job-7?key=1007');
    await act(async () => sent('job').resolve({ job: { ...failed, resubmit: { possible: false, reason: 'its arguments were not kept (budget)' } } }));
    expect(screen.queryByRole('button', { name: 'Resubmit' })).toBeNull();
    expect(screen.getByText('Cannot be resubmitted: its arguments were not kept (budget)')).toBeTruthy();
  });

  it('shows the refusal of the server', async () => {
    const { sent } = await openJob('/job/alpha/job-7?key=1007');
    await act(async () => sent('job').resolve({ job: failed }));
    fireEvent.click(screen.getByRole('button', { name: 'Resubmit' }));
    fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Resubmit' }));
    await act(async () => sent('resubmit').fail('cluster_error', 'node 10.0.0.3 is not in the cluster'));
    expect(screen.getByRole('alert').textContent).toBe('Not resubmitted: node 10.0.0.3 is not in the cluster');
  });

  it('is not offered to a viewer', async () => {
    const { sent } = await openJob('/job/alpha/job-7?key=1007', { hello: hello('viewer') });
    await act(async () => sent('job').resolve({ job: failed }));
    expect(pre('stdout').textContent).toBe('hello from the job\n');
    expect(screen.queryByRole('button', { name: 'Resubmit' })).toBeNull();
  });
});
