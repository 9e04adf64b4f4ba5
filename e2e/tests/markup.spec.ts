import { test, expect } from '../fixtures';

const PAYLOAD = '<img src=x onerror="window.__pwned=1">';

test.use({ appModule: 'markup_app.py', nodeCount: 1, cpus: 1, firstIp: 38, nodeName: '<b onmouseover="window.__pwned=3">node</b>' });

test('markup in node names, job ids, arguments and results is shown as text', async ({ page, cluster }) => {
  const ip = cluster.ips[0];
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  const row = page.getByRole('table', { name: 'Nodes' }).getByRole('row', { name: new RegExp(`^${ip.replace(/\./g, '\\.')}\\b`) });
  await expect(row).toContainText('<b onmouseover="window.__pwned=3">node</b>');
  await row.hover();
  cluster.openGate();
  await page.goto(`${new URL(cluster.url).origin}/node/${ip}`);
  const jobs = page.getByRole('table', { name: 'Running jobs' });
  await expect(jobs).toContainText(PAYLOAD);
  await expect(jobs).toContainText('300, <script>window.__pwned=2</script>');
  await expect(jobs).toContainText(`label=${PAYLOAD}`);
  await page.getByRole('checkbox', { name: `Select job ${PAYLOAD}` }).check();
  await page.getByRole('button', { name: /^Terminate selected/ }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Terminate', exact: true }).click();
  await expect(page.getByRole('list', { name: 'Termination results' })).toContainText(`${PAYLOAD}: terminated`);
  // nothing was parsed as HTML: no element came from the payloads, no script ran
  expect(await page.locator('img[src="x"], script:not([src]), b[onmouseover]').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});
