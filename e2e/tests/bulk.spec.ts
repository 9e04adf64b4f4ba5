import { existsSync, readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { test, expect } from '../fixtures';

// outputs_app.py on one node of one CPU: job-0 runs and holds (until a
// release file this test never writes), every other job stays queued.
const OPERATOR = 'e2e-operator-token-18';
const VIEWER = 'e2e-viewer-token-18';
test.use({ appModule: 'outputs_app.py', nodeCount: 1, cpus: 1, firstIp: 146, jobs: 6, serveArgs: ['--token', OPERATOR, '--viewer-token', VIEWER] });

/** Presses Refresh (a new selection) until the Jobs view's count says `text`. */
async function refreshUntil(page: Page, text: string) {
  const count = page.getByRole('status').filter({ hasText: /^\d[\d,]* jobs?/ });
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(count).toHaveText(text, { timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
}

test('a bulk terminate of the queued and running jobs: dispy cancels each; a viewer may look and export, not act', async ({ browser, cluster }) => {
  const n = cluster.jobs;
  /** An address of the dashboard, with a token (kept in each context's cookie after). */
  const at = (path: string, token?: string) => {
    const url = new URL(path, cluster.url);
    if (token) url.searchParams.set('token', token);
    return url.toString();
  };
  // separate contexts: each keeps its own token cookie
  const operator = await (await browser.newContext({ acceptDownloads: true })).newPage();
  await operator.goto(at('/', OPERATOR));
  await expect(operator.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();
  await operator.goto(at('/jobs?states=queued,running'));
  await refreshUntil(operator, `${n} jobs: ${n - 1} queued, 1 running`);

  // a viewer sees the same jobs, can export them, and is offered no action
  const viewer = await (await browser.newContext({ acceptDownloads: true })).newPage();
  await viewer.goto(at('/jobs?states=queued,running', VIEWER));
  await expect(viewer).toHaveURL(/\/jobs\?states=queued(,|%2C)running$/);
  await expect(viewer.getByText('Read-only: a viewer token can look, not command')).toBeVisible();
  await refreshUntil(viewer, `${n} jobs: ${n - 1} queued, 1 running`);
  await expect(viewer.getByRole('button', { name: 'Terminate…' })).toHaveCount(0);
  await expect(viewer.getByRole('button', { name: 'Resubmit…' })).toHaveCount(0);
  const [download] = await Promise.all([viewer.waitForEvent('download'), viewer.getByRole('link', { name: 'Export jobs as CSV' }).click()]);
  expect(readFileSync((await download.path())!, 'utf8').trim().split(/\r?\n/)).toHaveLength(n + 1);

  // preview, confirm, progress, outcomes
  await operator.getByRole('button', { name: 'Terminate…' }).click();
  const dialog = operator.getByRole('dialog', { name: 'Terminate the jobs of this filter' });
  await expect(dialog).toContainText(`${n} jobs match the filter; ${n} are queued or running.`);
  await expect(dialog.getByRole('list', { name: 'First matching jobs' }).getByRole('listitem')).toHaveCount(n);
  await dialog.getByRole('button', { name: `Terminate ${n} jobs` }).click();
  const outcomes = dialog.getByRole('list', { name: 'Outcomes' });
  await expect(dialog).toContainText(`Done: ${n} of ${n}`, { timeout: 60_000 });
  await expect(outcomes.getByRole('button')).toHaveText([`${n} terminated`]);
  await outcomes.getByRole('button', { name: `${n} terminated` }).click();
  const listed = dialog.getByRole('list', { name: 'Jobs terminated' }).getByRole('link', { name: /^job-\d+$/ });
  await expect(listed).toHaveCount(n);
  expect((await listed.allTextContents()).sort()).toEqual(Array.from({ length: n }, (_, i) => `job-${i}`).sort());

  // dispy's own job objects: the running one killed (dispy: Terminated, without an exception), the queued ones never run (Cancelled)
  const report = `${cluster.gate}.dispy.json`;
  await expect.poll(() => existsSync(report), { timeout: 60_000 }).toBe(true);
  const dispy = JSON.parse(readFileSync(report, 'utf8')) as { id: string; status: string }[];
  expect(dispy.map((j) => j.status)).toEqual(['terminated', ...Array.from({ length: n - 1 }, () => 'cancelled')]);

  // the view agrees once refreshed
  await dialog.getByRole('button', { name: 'Close' }).click();
  await operator.goto(at('/jobs?states=terminated,cancelled'));
  await refreshUntil(operator, `${n} jobs: ${n - 1} cancelled, 1 terminated`);
});
