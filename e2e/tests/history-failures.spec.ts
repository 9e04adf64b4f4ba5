import type { Locator } from '@playwright/test';
import { test, expect } from '../fixtures';

// numbered_app.py: job "job-<n>" runs compute(n), which raises ValueError for
// odd n, KeyError for even n divisible by 3, and returns n otherwise.
test.use({ appModule: 'numbered_app.py', nodeCount: 1, cpus: 2, firstIp: 112, jobs: 14 });

type Outcome = 'ValueError' | 'KeyError' | 'finished';
const outcomeOf = (n: number): Outcome => (n % 2 === 1 ? 'ValueError' : n % 3 === 0 ? 'KeyError' : 'finished');

/** A table's body as text, read in one evaluation. */
const cellsOf = (table: Locator) =>
  table.evaluate((t: HTMLTableElement) => [...t.tBodies[0]!.rows].map((row) => [...row.cells].map((c) => c.textContent!.trim())));

const jobsText = (n: number) => `${n} ${n === 1 ? 'job' : 'jobs'}`;

test('the History page groups failures by exception type, and the Outcome filter shows exactly the failed jobs', async ({ page, cluster }) => {
  const ns = Array.from({ length: cluster.jobs }, (_, n) => n);
  const failed = ns.filter((n) => outcomeOf(n) !== 'finished');
  const finished = ns.filter((n) => outcomeOf(n) === 'finished');
  const perType = new Map<string, number>();
  for (const n of failed) perType.set(outcomeOf(n), (perType.get(outcomeOf(n)) ?? 0) + 1);
  expect(failed.length).toBeGreaterThan(0);
  expect(finished.length).toBeGreaterThan(0);

  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();
  await expect(page.getByTestId('jobs-done')).toHaveText(String(cluster.jobs), { timeout: 60_000 });
  await expect(page.getByTestId('jobs-failed')).toHaveText(String(failed.length));
  await expect(page.getByTestId('jobs-finished')).toHaveText(String(finished.length));

  await page.getByRole('link', { name: 'History' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'History' })).toBeVisible();
  const count = page.getByRole('status').filter({ hasText: /^\d+ jobs?$/ });
  await expect(count).toHaveText(jobsText(cluster.jobs));

  // failures by exception type: one row per type, with its count, most frequent first
  const failures = page.getByRole('table', { name: 'Failures by exception type' });
  await expect(failures.getByRole('row')).toHaveCount(perType.size + 1); // with the header
  const groups = await cellsOf(failures);
  expect(new Map(groups.map(([type, n]) => [type!, Number(n)]))).toEqual(perType);
  const counts = groups.map(([, n]) => Number(n));
  expect(counts).toEqual([...counts].sort((a, b) => b - a));
  // the last message of each type is one of that type's messages
  for (const [type, , message] of groups) {
    if (type === 'ValueError') {
      expect(message).toMatch(/^odd \d+$/);
      expect(outcomeOf(Number(message!.slice(4)))).toBe('ValueError');
    } else {
      expect(message).toMatch(/^\d+$/);
      expect(outcomeOf(Number(message))).toBe('KeyError');
    }
  }

  const table = page.getByRole('table', { name: 'Finished jobs' });
  const outcome = page.getByRole('combobox', { name: 'Outcome' });
  // columns: Job ID, Cluster, Node, Outcome, Exception, Start, End, Duration
  const idOf = (row: string[]) => Number(/^job-(\d+)$/.exec(row[0]!)![1]);

  await outcome.selectOption('failed');
  await expect(count).toHaveText(jobsText(failed.length));
  await expect(table.getByRole('row')).toHaveCount(failed.length + 1);
  const failedRows = await cellsOf(table);
  expect(failedRows.map(idOf).sort((a, b) => a - b)).toEqual(failed);
  for (const row of failedRows) {
    const n = idOf(row);
    expect(row[2]).toBe(cluster.ips[0]);
    expect(row[3]).toBe('failed');
    expect(row[4]).toBe(outcomeOf(n) === 'ValueError' ? `ValueError: odd ${n}` : `KeyError: ${n}`);
  }

  await outcome.selectOption('finished');
  await expect(count).toHaveText(jobsText(finished.length));
  await expect(table.getByRole('row')).toHaveCount(finished.length + 1);
  const finishedRows = await cellsOf(table);
  expect(finishedRows.map(idOf).sort((a, b) => a - b)).toEqual(finished);
  for (const row of finishedRows) {
    expect(row[3]).toBe('finished');
    expect(row[4]).toBe('');
  }

  await outcome.selectOption('');
  await expect(count).toHaveText(jobsText(cluster.jobs));
  await expect(page.getByRole('alert')).toHaveCount(0);
});
