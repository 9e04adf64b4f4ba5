import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { withHistoryDb as test, expect } from '../fixtures';

// outputs_app.py: job-<n> prints a line to stdout and one to stderr; odd n
// raise ValueError; job-0 holds until `<gate>.release` (created at once here).
// It submits once: the restarted server (same module, same gate) submits
// nothing, so the job page after the restart comes from the database.
test.use({ appModule: 'outputs_app.py', nodeCount: 1, cpus: 1, firstIp: 150, jobs: 4 });

interface DispyJob {
  id: string;
  status: 'finished' | 'failed';
  stdout: string;
  stderr: string;
  exception: string | null;
}

/** What dispy's own job objects reported, once the workload wrote it. */
async function dispyReport(gate: string): Promise<Map<string, DispyJob>> {
  const file = `${gate}.dispy.json`;
  await expect.poll(() => existsSync(file), { timeout: 60_000 }).toBe(true);
  return new Map((JSON.parse(readFileSync(file, 'utf8')) as DispyJob[]).map((j) => [j.id, j]));
}

/** A sample of /metrics, by its full name (no labels). */
async function metric(page: Page, url: string, name: string): Promise<number> {
  const text = await (await page.request.get(new URL('metrics', url).href)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

/** What a job page shows, read in one go: the summary's facts, the outputs and traceback exactly as shown. */
const shown = (page: Page) =>
  page.locator('main').evaluate((main) => {
    const region = (name: string) =>
      [...main.querySelectorAll('section, [role="region"]')].find((s) => {
        const by = s.getAttribute('aria-labelledby');
        const label = s.getAttribute('aria-label') ?? (by ? main.ownerDocument.getElementById(by)?.textContent : null);
        return label === name;
      });
    const pre = (name: string) => region(name)?.querySelector('pre')?.textContent ?? null;
    const facts = [...(region('Summary')?.querySelectorAll('.figure') ?? [])].map((f) => [
      f.querySelector('dt')!.textContent,
      f.querySelector('dd')!.textContent,
    ]);
    return { facts, stdout: pre('stdout'), stderr: pre('stderr'), traceback: pre('Traceback') };
  });

test('with --history-db a failed job page (outputs and traceback) is shown again after a server restart', async ({ page, cluster }) => {
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  writeFileSync(`${cluster.gate}.release`, 'go'); // job 0 does not hold: every job runs to its end
  cluster.openGate();
  const dispy = await dispyReport(cluster.gate);
  const failedJob = dispy.get('job-1')!;
  expect(failedJob.status).toBe('failed');
  await expect(page.getByTestId('jobs-done')).toHaveText(String(cluster.jobs), { timeout: 60_000 });

  // the failed job's page in the first run, opened from the History page
  await page.getByRole('link', { name: 'History' }).click();
  await page.getByRole('combobox', { name: 'Outcome' }).selectOption('failed');
  await page.getByRole('table', { name: 'Finished jobs' }).getByRole('link', { name: 'job-1' }).click();
  await expect(page).toHaveURL(/\/job\/[^/]+\/job-1\?key=\d+$/);
  const jobUrl = page.url();
  await expect(page.getByRole('heading', { level: 2, name: 'Job job-1' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Summary' }).locator('dd').first()).toHaveText('failed');
  await expect(page.getByRole('region', { name: 'Traceback' }).locator('pre')).toBeVisible();
  const before = await shown(page);
  expect(before.facts).toContainEqual(['State', 'failed']);
  expect(before.facts).toContainEqual(['Exception', 'ValueError: job 1 failed on purpose']);
  // as dispy reported them
  expect(before.stdout).toBe(failedJob.stdout);
  expect(before.stderr).toBe(failedJob.stderr);
  expect(before.traceback).toBe(failedJob.exception);
  // this run kept the arguments: it can be resubmitted
  await expect(page.getByRole('button', { name: 'Resubmit' })).toBeVisible();

  // every job's record and detail is in the file before the server stops
  await expect.poll(() => metric(page, cluster.url, 'dispymon_history_db_details_kept'), { timeout: 60_000 }).toBeGreaterThanOrEqual(cluster.jobs);
  await expect.poll(() => metric(page, cluster.url, 'dispymon_history_db_rows_written_total'), { timeout: 60_000 }).toBeGreaterThanOrEqual(cluster.jobs);

  await cluster.restartServer();
  await page.goto(jobUrl);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live', { timeout: 30_000 });
  await expect(page.getByRole('heading', { level: 2, name: 'Job job-1' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Traceback' }).locator('pre')).toBeVisible({ timeout: 30_000 });
  // the same page: facts, outputs and traceback as the first run showed them
  expect(await shown(page)).toEqual(before);
  // the arguments were not kept across the restart (never written to disk): it says so
  await expect(page.getByRole('button', { name: 'Resubmit' })).toHaveCount(0);
  await expect(page.getByText('Cannot be resubmitted: arguments are not kept across restarts')).toBeVisible();

  // and the new server ran nothing: this page came from the database
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live', { timeout: 30_000 });
  await expect(page.getByTestId('jobs-submitted')).toHaveText('0');
  await expect(page.getByRole('alert')).toHaveCount(0);
});
