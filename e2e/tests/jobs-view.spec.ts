import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Locator, Page } from '@playwright/test';
import { test, expect } from '../fixtures';

// outputs_app.py on one node of one CPU: job-0 runs and holds until
// `<gate>.release`, so every other job stays queued (dispy's pending jobs)
// until then; odd n fail.
test.use({ appModule: 'outputs_app.py', nodeCount: 1, cpus: 1, firstIp: 134, jobs: 6 });

/** Presses Refresh (a new selection) until the view's count says `text`. */
async function refreshUntil(page: Page, text: string) {
  const count = page.getByRole('status').filter({ hasText: /^\d[\d,]* jobs?/ });
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(count).toHaveText(text, { timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
}

const ids = async (table: Locator) => (await table.getByRole('link', { name: /^job-\d+$/ }).allTextContents()).sort();

test('the Jobs view lists queued, running and ended jobs by filter, and exports them', async ({ page, cluster }) => {
  const n = cluster.jobs;
  const ip = cluster.ips[0]!;
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();
  await page.getByRole('link', { name: 'Jobs' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'Jobs' })).toBeVisible();
  const table = page.getByRole('table', { name: 'Matching jobs' });

  // every job submitted: one running, the rest queued (no page showed those before)
  await refreshUntil(page, `${n} jobs: ${n - 1} queued, 1 running`);
  await page.getByRole('checkbox', { name: 'queued' }).check();
  await expect(page).toHaveURL(/\/jobs\?states=queued$/);
  await expect(page.getByRole('status').filter({ hasText: /jobs?/ })).toHaveText(`${n - 1} jobs: ${n - 1} queued`);
  expect(await ids(table)).toEqual(Array.from({ length: n - 1 }, (_, i) => `job-${i + 1}`).sort());
  await page.getByRole('checkbox', { name: 'queued' }).uncheck();
  await page.getByRole('checkbox', { name: 'running' }).check();
  await expect(table.getByRole('row', { name: /job-0/ })).toContainText(ip);

  // the node filter and the job page link
  await page.getByRole('searchbox', { name: 'Node' }).fill(ip);
  await page.getByRole('searchbox', { name: 'Node' }).press('Enter');
  await expect(page).toHaveURL(new RegExp(`states=running&node=${ip.replace(/\./g, '\\.')}`));
  await expect(table.getByRole('link', { name: 'job-0' })).toHaveAttribute('href', /\/job\/[^/]+\/job-0\?key=\d+$/);

  // release: everything ends; the failed ones, as dispy reports them
  writeFileSync(`${cluster.gate}.release`, 'go');
  const report = `${cluster.gate}.dispy.json`;
  await expect.poll(() => existsSync(report), { timeout: 60_000 }).toBe(true);
  const dispy = JSON.parse(readFileSync(report, 'utf8')) as { id: string; status: string }[];
  const failed = dispy.filter((j) => j.status === 'failed').map((j) => j.id).sort();
  await page.goto(`${cluster.url}jobs?states=failed`);
  await refreshUntil(page, `${failed.length} jobs: ${failed.length} failed`);
  expect(await ids(table)).toEqual(failed);

  // Export: a CSV with the view's rows (same filter)
  const link = page.getByRole('link', { name: 'Export jobs as CSV' });
  await expect(link).toHaveAttribute('href', '/api/jobs.csv?states=failed');
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const csv = readFileSync((await download.path())!, 'utf8').trim().split(/\r?\n/);
  const header = csv[0]!.split(',');
  expect(header.slice(0, 4)).toEqual(['key', 'id', 'cluster', 'state']);
  const rows = csv.slice(1).map((line) => line.split(','));
  expect(rows.map((r) => r[1]).sort()).toEqual(failed);
  expect(new Set(rows.map((r) => r[3]))).toEqual(new Set(['failed']));
});
