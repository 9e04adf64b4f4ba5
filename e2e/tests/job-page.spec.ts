import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { test, expect } from '../fixtures';

// outputs_app.py: job-<n> prints a line to stdout and one to stderr; odd n
// raise ValueError; job-0 holds (running, one CPU) until `<gate>.release`.
test.use({ appModule: 'outputs_app.py', nodeCount: 1, cpus: 1, firstIp: 130, jobs: 4 });

interface DispyJob {
  id: string;
  status: 'finished' | 'failed';
  stdout: string;
  stderr: string;
  exception: string | null;
  result: string | null;
  ip_addr: string;
}

/** What dispy's own job objects reported, once the workload wrote it. */
async function dispyReport(gate: string): Promise<Map<string, DispyJob>> {
  const file = `${gate}.dispy.json`;
  await expect.poll(() => existsSync(file), { timeout: 60_000 }).toBe(true);
  return new Map((JSON.parse(readFileSync(file, 'utf8')) as DispyJob[]).map((j) => [j.id, j]));
}

/** The text of a job page's block (stdout, stderr, Traceback, Result), exactly as shown. */
const block = (page: Page, name: string) => page.getByRole('region', { name }).locator('pre');
const textOf = (page: Page, name: string) => block(page, name).evaluate((pre) => pre.textContent);

/** Presses Refresh (a new selection) until the Jobs view's count says `text`. */
async function refreshUntil(page: Page, text: string) {
  const count = page.getByRole('status').filter({ hasText: /^\d[\d,]* jobs?/ });
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(count).toHaveText(text, { timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
}

test('a job that prints and raises: its page shows both outputs and the traceback, as dispy reports them', async ({ page, context, cluster }) => {
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();

  // the Jobs view's running job links to its page, which follows it live
  await page.goto(`${cluster.url}jobs?states=running`);
  await refreshUntil(page, '1 job: 1 running');
  await page.getByRole('table', { name: 'Matching jobs' }).getByRole('link', { name: 'job-0' }).click();
  await expect(page).toHaveURL(/\/job\/[^/]+\/job-0\?key=\d+$/);
  await expect(page.getByRole('heading', { level: 2, name: 'Job job-0' })).toBeVisible();
  const state = page.getByRole('region', { name: 'Summary' }).locator('dd').first();
  await expect(state).toHaveText('running');
  await expect(page.getByRole('region', { name: 'stdout' })).toContainText('Arrives when the job ends');
  writeFileSync(`${cluster.gate}.release`, 'go');
  // no reload: the job part of the deltas brings the end and the outputs
  await expect(state).toHaveText('finished', { timeout: 60_000 });
  const dispy = await dispyReport(cluster.gate);
  expect(await textOf(page, 'stdout')).toBe(dispy.get('job-0')!.stdout);
  expect(await textOf(page, 'Result')).toBe(dispy.get('job-0')!.result);

  // a failed job, opened from the History page
  await page.getByRole('link', { name: 'History' }).click();
  await page.getByRole('combobox', { name: 'Outcome' }).selectOption('failed');
  const failedJob = dispy.get('job-1')!;
  expect(failedJob.status).toBe('failed');
  await page.getByRole('table', { name: 'Finished jobs' }).getByRole('link', { name: 'job-1' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'Job job-1' })).toBeVisible();
  await expect(state).toHaveText('failed');
  await expect(block(page, 'stdout')).toBeVisible();
  expect(await textOf(page, 'stdout')).toBe(failedJob.stdout);
  expect(await textOf(page, 'stderr')).toBe(failedJob.stderr);
  expect(await textOf(page, 'Traceback')).toBe(failedJob.exception);
  expect(failedJob.exception).toContain('ValueError: job 1 failed on purpose');
  await expect(page.getByText('ValueError: job 1 failed on purpose', { exact: true })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Summary' })).toContainText(failedJob.ip_addr);

  // Copy puts the output on the clipboard (127.0.0.1 is a secure context)
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.getByRole('button', { name: 'Copy stderr' }).click();
  await expect(page.getByRole('region', { name: 'stderr' }).getByRole('status')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(failedJob.stderr);

  // arguments follow the server-wide switch
  await expect(page.getByRole('region', { name: 'Arguments' })).toContainText('1, None');
  const monitor = await context.newPage();
  await monitor.goto(cluster.url);
  const toggle = monitor.getByRole('checkbox', { name: 'Show job arguments' });
  await toggle.click();
  await expect(toggle).not.toBeChecked();
  await expect(page.getByRole('region', { name: 'Arguments' })).toContainText('Show job arguments is off');
  await expect(page.getByRole('region', { name: 'Arguments' })).not.toContainText('1, None');
  await toggle.click();
  await monitor.close();

  // the failures table links to the Jobs view filtered by the exception type
  await page.getByRole('link', { name: 'History' }).click();
  await page.getByRole('link', { name: 'Failed jobs with ValueError' }).click();
  await expect(page).toHaveURL(/\/jobs\?states=failed&exception=ValueError$/);
  const failedIds = [...dispy.values()].filter((j) => j.status === 'failed').map((j) => j.id);
  const table = page.getByRole('table', { name: 'Matching jobs' });
  await expect(table.getByRole('link', { name: /^job-\d+$/ })).toHaveCount(failedIds.length);
  const shown = await table.getByRole('link', { name: /^job-\d+$/ }).allTextContents();
  expect(shown.sort()).toEqual(failedIds.sort());
});

test("a Node page's running job links to its page", async ({ page, cluster }) => {
  const ip = cluster.ips[0]!;
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();
  await page.goto(`${cluster.url}node/${ip}`);
  await page.getByRole('table', { name: 'Running jobs' }).getByRole('link', { name: 'job-0' }).click();
  await expect(page).toHaveURL(/\/job\/[^/]+\/job-0\?key=\d+$/);
  await expect(page.getByRole('heading', { level: 2, name: 'Job job-0' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Summary' }).locator('dd').first()).toHaveText('running');
  writeFileSync(`${cluster.gate}.release`, 'go'); // the workload ends, and the fixture stops it
});

test('a job id that is not known says so, with a way to the Jobs view', async ({ page, cluster }) => {
  await page.goto(`${cluster.url}job/${encodeURIComponent('no such cluster')}/nope`);
  await expect(page.getByText(/^No job nope in no such cluster/)).toBeVisible();
  await page.getByRole('link', { name: 'Look for it in the Jobs view' }).click();
  await expect(page).toHaveURL(/\/jobs\?text=nope$/);
});
