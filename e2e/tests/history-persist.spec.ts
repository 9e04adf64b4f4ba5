import type { Locator, Page } from '@playwright/test';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { withHistoryDb as test, expect, repo } from '../fixtures';

// numbered_app.py: jobs "job-0" … "job-<N-1>"; odd n raise ValueError, even n
// divisible by 3 raise KeyError. It submits them once: the restarted server
// (same module, same gate) submits nothing, so whatever History shows after
// the restart comes from the database.
test.use({ appModule: 'numbered_app.py', nodeCount: 1, cpus: 2, firstIp: 108, jobs: 10 });

/** The job ids and outcomes of the History table, read in one evaluation. */
const historyRows = (table: Locator) =>
  table.evaluate((t: HTMLTableElement) =>
    [...t.tBodies[0]!.rows].map((row) => ({ id: row.cells[0]!.textContent!, node: row.cells[2]!.textContent!, outcome: row.cells[3]!.textContent! })),
  );

/** The per-minute series of the REST API (what the database keeps), summed. */
async function minuteTotal(page: Page, url: string, node?: string): Promise<number> {
  const query = new URLSearchParams({ step: '60', ...(node ? { node } : {}) });
  const response = await page.request.get(new URL(`api/series?${query}`, url).href);
  expect(response.ok()).toBe(true);
  const series = (await response.json()) as { step: number; done: number[] };
  expect(series.step).toBe(60);
  return series.done.reduce((a, b) => a + b, 0);
}

test('with --history-db the History page keeps the jobs of the previous run across a server restart', async ({ page, cluster }) => {
  const ids = Array.from({ length: cluster.jobs }, (_, n) => `job-${n}`);
  const failedCount = Array.from({ length: cluster.jobs }, (_, n) => n).filter((n) => n % 2 === 1 || n % 3 === 0).length;
  const ip = cluster.ips[0]!;

  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();
  await expect(page.getByTestId('jobs-done')).toHaveText(String(cluster.jobs), { timeout: 60_000 });

  await page.getByRole('link', { name: 'History' }).click();
  await expect(page).toHaveURL(/\/history$/);
  const table = page.getByRole('table', { name: 'Finished jobs' });
  const count = page.getByText(`${cluster.jobs} jobs`, { exact: true });
  await expect(count).toBeVisible();
  await expect(table.getByRole('row')).toHaveCount(cluster.jobs + 1); // with the header
  const before = await historyRows(table);
  expect(before.map((r) => r.id).sort()).toEqual([...ids].sort());
  const failures = page.getByRole('table', { name: 'Failures by exception type' });
  await expect(failures.getByRole('row')).toHaveCount(3); // ValueError and KeyError, with the header
  const failuresBefore = await failures.evaluate((t: HTMLTableElement) => [...t.tBodies[0]!.rows].map((r) => r.textContent));
  // this run's per-minute series, cluster-wide and for the node
  await expect.poll(() => minuteTotal(page, cluster.url)).toBe(cluster.jobs);
  await expect.poll(() => minuteTotal(page, cluster.url, ip)).toBe(cluster.jobs);

  await cluster.restartServer();
  await page.reload();
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live', { timeout: 30_000 });
  await expect(page.getByRole('heading', { level: 2, name: 'History' })).toBeVisible();
  // the new server has run nothing (checked on Monitor below): every job here comes from the database
  await expect(count).toBeVisible();
  await expect(table.getByRole('row')).toHaveCount(cluster.jobs + 1);
  const after = await historyRows(table);
  // the same jobs, with their node and outcome (the order: newest end first, as before)
  expect(after).toEqual(before);
  await expect(failures.getByRole('row')).toHaveCount(3);
  const failuresAfter = await failures.evaluate((t: HTMLTableElement) => [...t.tBodies[0]!.rows].map((r) => r.textContent));
  expect(failuresAfter).toEqual(failuresBefore);
  await page.getByRole('combobox', { name: 'Outcome' }).selectOption('failed');
  await expect(page.getByText(`${failedCount} jobs`, { exact: true })).toBeVisible();

  // the per-minute series were kept too, cluster-wide and per node (read
  // through the REST API here; the chart's "by minute" range below)
  expect(await minuteTotal(page, cluster.url)).toBe(cluster.jobs);
  expect(await minuteTotal(page, cluster.url, ip)).toBe(cluster.jobs);

  // and the Monitor page shows a fresh run: nothing submitted since the restart
  await page.getByRole('link', { name: 'Monitor' }).click();
  await expect(page.getByRole('table', { name: 'Nodes' }).getByRole('link', { name: ip, exact: true })).toBeVisible();
  await expect(page.getByTestId('jobs-submitted')).toHaveText('0');
  await expect(page.getByTestId('jobs-done')).toHaveText('0');
  // the chart's recent range is this run's (the per-second series is not
  // kept); its by-minute range draws the kept minutes, the previous run's jobs
  const chart = page.getByRole('img', { name: /^Jobs done per/ });
  await expect(chart).toHaveAttribute('aria-label', /\(0 in all\)|no data yet/);
  await page.getByRole('combobox', { name: 'Range' }).selectOption('minutes');
  await expect(chart).toHaveAttribute('aria-label', new RegExp(`^Jobs done per minute, last 24 hours: .*\\(${cluster.jobs} in all\\)`));
  await expect(page.getByRole('alert')).toHaveCount(0);
});

// Another process holds the database's write lock (`BEGIN EXCLUSIVE`) until
// it reads a line; it is stopped by PID in any case.
const HOLD = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
`;

/** A sample of /metrics, by its full name (no labels). */
async function metric(page: Page, url: string, name: string): Promise<number> {
  const text = await (await page.request.get(new URL('metrics', url).href)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

test('a history database locked by another process shows on the History page and in /metrics until it is written again', async ({ page, cluster, historyDb }) => {
  const python = process.env.DISPYMON_PYTHON ?? path.join(repo, '.venv', 'bin', 'python');
  const holder = spawn(python, ['-c', HOLD, historyDb], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', (d) => (String(d).startsWith('locked') ? resolve() : reject(new Error(String(d)))));
      holder.once('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)));
    });
    await page.goto(cluster.url);
    await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
    cluster.openGate();
    await expect(page.getByTestId('jobs-done')).toHaveText(String(cluster.jobs), { timeout: 60_000 });
    await expect.poll(() => metric(page, cluster.url, 'dispymon_history_db_errors_total'), { timeout: 60_000 }).toBeGreaterThan(0);
    expect(await metric(page, cluster.url, 'dispymon_history_db_healthy')).toBe(0);

    await page.getByRole('link', { name: 'History' }).click();
    // the page's own notice (the alert banner above every page may name firing rules too:
    // this workload's failures fire the failure-rate rule)
    const alert = page.getByRole('alert').filter({ hasText: 'The history database is not being written' });
    await expect(alert).toContainText('The history database is not being written: database is locked');
    // the jobs are still in the history (in memory), only the file lags
    await expect(page.getByText(`${cluster.jobs} jobs`, { exact: true })).toBeVisible();

    holder.stdin!.write('\n');
    await expect.poll(() => metric(page, cluster.url, 'dispymon_history_db_rows_written_total'), { timeout: 60_000 }).toBeGreaterThanOrEqual(cluster.jobs);
    expect(await metric(page, cluster.url, 'dispymon_history_db_healthy')).toBe(1);
    expect(await metric(page, cluster.url, 'dispymon_history_db_dropped_total')).toBe(0);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(alert).toHaveCount(0);
  } finally {
    if (holder.exitCode === null && holder.signalCode === null) {
      const exited = new Promise((resolve) => holder.once('exit', resolve));
      holder.kill('SIGTERM');
      await exited;
    }
  }
});
