// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobRow, JobsPage } from '../../core/protocol';
import { cluster, hello, jobRow, node } from '../../test/fixtures';
import { renderApp } from '../../test/renderApp';
import type { SentCommand } from '../../test/renderApp';
import { fixScrollBoxHeight } from '../../test/virtualTable';

fixScrollBoxHeight(); // 600 px: about 17 rows of 36 px in view

afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

const alpha = cluster('alpha', [node('127.0.0.2')]);
const beta = cluster('beta', [node('127.0.0.3')]);
const TOTAL = 100_000;

/** Page `page` (500 rows) of a selection of TOTAL queued jobs: row i is job key i. */
function page(selection: number, offset: number, total = TOTAL): JobsPage {
  const jobs: JobRow[] = [];
  for (let i = offset; i < Math.min(offset + 500, total); i++) {
    jobs.push(jobRow(i, { state: 'queued', node: '', start_time: null, end_time: null, duration: null }));
  }
  return { selection, total, counts: { queued: total }, unlisted: 0, jobs };
}

async function openJobs(path = '/jobs', init = {}) {
  history.replaceState(null, '', path);
  const app = renderApp({ clusters: { alpha, beta }, ...init });
  await screen.findByRole('heading', { level: 2, name: 'Jobs' }, { timeout: 5000 });
  const jobsCommands = () => app.commands.filter((c) => c.name === 'jobs');
  const last = (): SentCommand => {
    const all = jobsCommands();
    const found = all[all.length - 1];
    if (!found) throw new Error('no jobs command sent');
    return found;
  };
  return { ...app, jobsCommands, last };
}

const scrollBox = () => document.querySelector('.virtual-scroll') as HTMLElement;

/** Scrolls the table so that row `index` is at the top. */
function scrollTo(index: number) {
  act(() => {
    scrollBox().scrollTop = index * 36;
    fireEvent.scroll(scrollBox());
  });
}

const bodyRows = () => within(screen.getByRole('table', { name: 'Matching jobs' })).getAllByRole('row').slice(1);

describe('Jobs view', () => {
  it('is reached from the navigation', async () => {
    renderApp({ clusters: { alpha } });
    fireEvent.click(screen.getByRole('link', { name: 'Jobs' }));
    expect(location.pathname).toBe('/jobs');
    expect(await screen.findByRole('heading', { level: 2, name: 'Jobs' }, { timeout: 5000 })).toBeTruthy();
  });

  it('reads its filters from the address and shows 100,000 rows with only those in view in the DOM', async () => {
    const { last } = await openJobs('/jobs?states=queued,running&exception=ValueError&cluster=alpha&since=1700000000');
    expect(last().args).toEqual({
      cluster: 'alpha',
      states: ['queued', 'running'],
      exception: 'ValueError',
      since: 1_700_000_000,
      offset: 0,
      limit: 500,
    });
    await act(async () => last().resolve(page(4, 0)));
    expect(screen.getByText('100,000 jobs: 100,000 queued')).toBeTruthy();
    const table = screen.getByRole('table', { name: 'Matching jobs' });
    expect(table.getAttribute('aria-rowcount')).toBe(String(TOTAL + 1));
    const rows = bodyRows().filter((r) => r.getAttribute('aria-rowindex'));
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(60);
    // rows link to the job page
    const link = within(rows[0]!).getByRole('link', { name: 'job-0' });
    expect(link.getAttribute('href')).toBe('/job/alpha/job-0?key=0');
  });

  it('fetches the page in view from the same selection, one at a time, the latest wish winning', async () => {
    const { last, jobsCommands } = await openJobs();
    await act(async () => last().resolve(page(4, 0)));
    expect(jobsCommands()).toHaveLength(1);

    // (100 rows into the page: the overscan above stays in it)
    scrollTo(50_100);
    expect(screen.getAllByText('Loading…').length).toBeGreaterThan(0);
    expect(jobsCommands()).toHaveLength(2);
    expect(last().args).toEqual({ offset: 50_000, limit: 500, selection: 4 });
    const inFlight = last();

    // while it is in flight, two more places: only the last is asked for next
    scrollTo(70_100);
    scrollTo(90_100);
    expect(jobsCommands()).toHaveLength(2);
    await act(async () => inFlight.resolve(page(4, 50_000)));
    expect(jobsCommands()).toHaveLength(3);
    expect(last().args).toEqual({ offset: 90_000, limit: 500, selection: 4 });
    await act(async () => last().resolve(page(4, 90_000)));
    expect(within(screen.getByRole('table', { name: 'Matching jobs' })).getByRole('link', { name: 'job-90100' })).toBeTruthy();
    expect(screen.queryByText('Loading…')).toBeNull();

    // back to a page still held: nothing asked
    scrollTo(50_100);
    expect(screen.getByRole('link', { name: 'job-50100' })).toBeTruthy();
    expect(jobsCommands()).toHaveLength(3);
  });

  it('keeps at most 10 pages', async () => {
    const { last, jobsCommands } = await openJobs();
    await act(async () => last().resolve(page(4, 0)));
    for (let p = 1; p <= 10; p++) {
      scrollTo(p * 500);
      await act(async () => last().resolve(page(4, p * 500)));
    }
    const asked = jobsCommands().length;
    scrollTo(0); // page 0 was the least recently wanted: dropped
    expect(jobsCommands()).toHaveLength(asked + 1);
    expect(last().args).toMatchObject({ offset: 0 });
  });

  it('starts a new selection on Refresh and on a filter change, and drops answers for the old one', async () => {
    const { last, jobsCommands } = await openJobs();
    await act(async () => last().resolve(page(4, 0)));
    fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    expect(last().args).toEqual({ offset: 0, limit: 500 }); // no selection: the server freezes a new one
    await act(async () => last().resolve(page(5, 0, 20)));
    expect(screen.getByText('20 jobs: 20 queued')).toBeTruthy();

    fireEvent.click(screen.getByRole('checkbox', { name: 'failed' }));
    expect(location.search).toBe('?states=failed');
    const stale = last();
    expect(stale.args).toEqual({ states: ['failed'], offset: 0, limit: 500 });
    fireEvent.change(screen.getByRole('searchbox', { name: 'Exception type' }), { target: { value: 'KeyError' } });
    expect(jobsCommands().at(-1)).toBe(stale); // typed text applies on Enter or leaving the field
    fireEvent.submit(screen.getByRole('form', { name: 'Filters' }));
    expect(location.search).toBe('?states=failed&exception=KeyError');
    const fresh = last();
    expect(fresh.args).toEqual({ states: ['failed'], exception: 'KeyError', offset: 0, limit: 500 });
    await act(async () => fresh.resolve({ selection: 7, total: 2, counts: { failed: 2 }, unlisted: 0, jobs: [jobRow(1, { state: 'failed' }), jobRow(2, { state: 'failed' })] }));
    await act(async () => stale.resolve(page(6, 0)));
    expect(screen.getByText('2 jobs: 2 failed')).toBeTruthy();
  });

  it('says when nothing matches, and shows errors', async () => {
    const { last } = await openJobs('/jobs?text=zzz');
    await act(async () => last().resolve({ selection: 1, total: 0, counts: {}, unlisted: 0, jobs: [] }));
    expect(screen.getByText('No jobs match these filters')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    await act(async () => last().fail('invalid', 'until is before since'));
    expect(screen.getByRole('alert').textContent).toContain('until is before since');
  });

  it('says how many queued jobs the server counts but does not list', async () => {
    const { last } = await openJobs();
    await act(async () => last().resolve(page(4, 0)));
    expect(screen.queryByText(/queued jobs? not listed/)).toBeNull(); // none unlisted: nothing said
    fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    await act(async () => last().resolve({ ...page(5, 0), unlisted: 2_500 }));
    expect(screen.getByText(/^2,500 queued jobs not listed/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    await act(async () => last().resolve({ ...page(6, 0), unlisted: 1 }));
    expect(screen.getByText(/^1 queued job not listed/)).toBeTruthy();
    // an answer without the count is not read as a page
    fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    const old: Partial<JobsPage> = page(7, 0);
    delete old.unlisted;
    await act(async () => last().resolve(old as JobsPage));
    expect(screen.getByRole('alert').textContent).toContain('cannot read');
  });

  it('exports what it shows, and offers bulk actions to an operator only', async () => {
    await openJobs('/jobs?states=running&node=127.0.0.2');
    expect(screen.getByRole('link', { name: 'Export jobs as CSV' }).getAttribute('href')).toBe('/api/jobs.csv?states=running&node=127.0.0.2');
    expect(screen.getByRole('button', { name: 'Terminate…' })).toBeTruthy();
    cleanup();
    await openJobs('/jobs', { hello: hello('viewer') });
    expect(screen.getByRole('link', { name: 'Export jobs as CSV' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Terminate…' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Resubmit…' })).toBeNull();
  });
});
