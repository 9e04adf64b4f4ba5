import { test, expect } from '../fixtures';

// node_app's jobs run for minutes: with --stuck-after 2 the busy node is flagged
test.use({ appModule: 'node_app.py', nodeCount: 1, cpus: 2, firstIp: 40, serveArgs: ['--stuck-after', '2'] });

test('a node busy with no job starting or ending is flagged stuck on the Monitor page', async ({ page, cluster }) => {
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  const row = page.getByRole('table', { name: 'Nodes' }).getByRole('row', { name: /^127\.0\.0\.40\b/ });
  await expect(row).toBeVisible();
  await expect(row).not.toContainText('stuck');
  cluster.openGate();
  await expect(page.getByTestId('jobs-running')).toHaveText('2');
  const flag = row.getByText('stuck', { exact: true });
  await expect(flag).toBeVisible({ timeout: 20_000 });
  await expect(flag).toHaveAttribute('title', /stopped returning results/);
});
