import { test, expect } from '../fixtures';

test.use({ nodeCount: 2, cpus: 2, firstIp: 24, jobs: 12 });

test('manage page: add a node, set CPUs, deallocate, allocate and close', async ({ page, cluster }) => {
  const [a, b] = cluster.ips;
  const added = '127.0.0.26';
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await page.getByRole('link', { name: 'Manage' }).click();
  await expect(page).toHaveURL(/\/manage$/);
  await expect(page.getByRole('heading', { name: 'Manage' })).toBeVisible();
  const nodes = page.getByRole('table', { name: 'Manage nodes' });
  const result = page.getByRole('status', { name: 'Action result' });
  const audit = page.getByRole('table', { name: 'Audit log' });
  await expect(nodes.getByRole('row', { name: new RegExp(`^${a.replace(/\./g, '\\.')}\\b`) })).toBeVisible();

  // a node started after the cluster, added through the form
  await cluster.startNode(added);
  const form = page.getByRole('form', { name: 'Add node' });
  await form.getByLabel('Host name, IP address or wildcard').fill(added);
  await form.getByLabel('CPUs').fill('1');
  await form.getByRole('button', { name: 'Add node' }).click();
  await expect(result).toContainText(added);
  await expect(audit.getByRole('row', { name: /Add node/ }).first()).toContainText('ok', { timeout: 40_000 });
  await expect(nodes.getByRole('link', { name: added })).toBeVisible();

  // CPUs of a: 2 -> 1 (dispy sends no event; the page shows it anyway)
  await page.getByLabel(`CPUs for ${a}`).fill('1');
  await page.getByRole('button', { name: `Set CPUs for ${a}` }).click();
  await expect(result).toContainText(a);
  await expect(page.getByLabel(`CPUs for ${a}`)).toHaveValue('1');
  await expect(audit.getByRole('row', { name: /Set CPUs/ }).first()).toContainText('ok');

  // deallocate b, then allocate it again
  await page.getByRole('button', { name: `Deallocate ${b}` }).click();
  const rowB = nodes.getByRole('row', { name: new RegExp(`^${b.replace(/\./g, '\\.')}\\b`) });
  await expect(rowB).toContainText('Deallocated');
  await page.getByRole('button', { name: `Allocate ${b}` }).click();
  await expect(rowB).toContainText('Initialized');

  // close b, after a confirmation; a closed node is never offered for allocation
  await page.getByRole('button', { name: `Close ${b}` }).click();
  const dialog = page.getByRole('dialog', { name: `Close node ${b}?` });
  await dialog.getByRole('button', { name: 'Close node' }).click();
  await expect(rowB).toContainText('Closed');
  await expect(page.getByRole('button', { name: `Allocate ${b}` })).toHaveCount(0);
  await expect(page.getByRole('button', { name: `Close ${b}` })).toHaveCount(0);

  // the Monitor page agrees, and the jobs run on the nodes still open
  cluster.openGate();
  await page.getByRole('link', { name: 'Monitor' }).click();
  await expect(page.getByTestId('jobs-done')).toHaveText(String(cluster.jobs), { timeout: 60_000 });
  const monitorRowB = page.getByRole('table', { name: 'Nodes' }).getByRole('row', { name: new RegExp(`^${b.replace(/\./g, '\\.')}\\b`) });
  await expect(monitorRowB).toContainText('Closed');
});
