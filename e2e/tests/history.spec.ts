import { test, expect } from '../fixtures';

test.use({ nodeCount: 2, cpus: 2, firstIp: 82, jobs: 12 });

const rowOf = (ip: string) => new RegExp(`^${ip.replace(/\./g, '\\.')}\\b(?!\\.)`);

test('finished jobs reach the History page, filterable, and the Monitor chart shows them', async ({ page, cluster }) => {
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();
  await expect(page.getByTestId('jobs-done')).toHaveText('12', { timeout: 60_000 });

  // the activity chart: fetched on mount, refreshed every 5 s; its label
  // carries the latest figures and, within 10 minutes, all 12 jobs
  const chart = page.getByRole('img', { name: /^Jobs done per second/ });
  await expect(chart).toHaveAttribute('aria-label', /latest \d+ \(12 in all\); busy CPUs: latest \d/, { timeout: 20_000 });

  // how many jobs one node did, to compare with the History filter
  const ip = cluster.ips[0]!;
  const nodeRow = page.getByRole('table', { name: 'Nodes' }).getByRole('row', { name: rowOf(ip) });
  const nodeDone = Number(await nodeRow.getByRole('cell').nth(4).textContent());

  await page.getByRole('link', { name: 'History' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'History' })).toBeVisible();
  const table = page.getByRole('table', { name: 'Finished jobs' });
  await expect(page.getByText('12 jobs', { exact: true })).toBeVisible();
  await expect(table.getByRole('row')).toHaveCount(13); // with the header

  await page.getByRole('combobox', { name: 'Outcome' }).selectOption('finished');
  await expect(page.getByText('12 jobs', { exact: true })).toBeVisible();
  await expect(table.getByRole('row')).toHaveCount(13);

  await page.getByRole('combobox', { name: 'Outcome' }).selectOption('failed');
  await expect(page.getByText('No jobs match these filters')).toBeVisible();
  await page.getByRole('combobox', { name: 'Outcome' }).selectOption('');

  await page.getByRole('textbox', { name: 'Node' }).fill(ip);
  const expected = `${nodeDone} ${nodeDone === 1 ? 'job' : 'jobs'}`;
  await expect(page.getByText(expected, { exact: true })).toBeVisible();
  if (nodeDone > 0) {
    await expect(table.getByRole('row')).toHaveCount(nodeDone + 1);
    // column 3 is Node: every row is this node's
    const nodes = await table.locator('tbody tr td:nth-child(3)').allTextContents();
    expect(new Set(nodes)).toEqual(new Set([ip]));
  }
  await expect(page.getByRole('alert')).toHaveCount(0);
});
