import { test, expect } from '../fixtures';

const rowOf = (ip: string) => new RegExp(`^${ip.replace(/\./g, '\\.')}\\b(?!\\.)`);

test('the Monitor page shows every node and the done count reaches N live', async ({ page, cluster }) => {
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  const table = page.getByRole('table', { name: 'Nodes' });
  for (const ip of cluster.ips) {
    await expect(table.getByRole('row', { name: rowOf(ip) })).toBeVisible();
  }
  await expect(page.getByTestId('jobs-done')).toHaveText('0');

  cluster.openGate();
  // pushed deltas move the counters while the jobs run, then settle at N
  await expect(page.getByTestId('jobs-done')).toHaveText(String(cluster.jobs), { timeout: 60_000 });
  await expect(page.getByTestId('jobs-submitted')).toHaveText(String(cluster.jobs));
  await expect(page.getByTestId('jobs-pending')).toHaveText('0');
  await expect(page.getByTestId('jobs-finished')).toHaveText(String(cluster.jobs));

  // every node ends idle, and the nodes' "Jobs done" add up to N
  let total = 0;
  for (const ip of cluster.ips) {
    const cells = table.getByRole('row', { name: rowOf(ip) }).getByRole('cell');
    await expect(cells.nth(3)).toHaveText('0'); // Busy
    total += Number(await cells.nth(4).textContent()); // Jobs done
  }
  expect(total).toBe(cluster.jobs);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
});
