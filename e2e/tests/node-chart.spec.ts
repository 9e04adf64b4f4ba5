import { test, expect } from '../fixtures';

test.use({ nodeCount: 2, cpus: 1, firstIp: 104, jobs: 12 });

test("the Node page's activity chart counts that node's jobs", async ({ page, cluster }) => {
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();
  await expect(page.getByTestId('jobs-done')).toHaveText('12', { timeout: 60_000 });

  // each node's "Jobs done" cell, read in one evaluation (the table is live);
  // dispy's per-node counters may land a moment after the job counters
  const nodes = page.getByRole('table', { name: 'Nodes' });
  const readDone = () =>
    nodes.evaluate((table: HTMLTableElement) => {
      const headers = [...table.tHead!.rows[0]!.cells].map((c) => c.textContent!.trim());
      const ip = headers.findIndex((h) => h.startsWith('IP address'));
      const done = headers.findIndex((h) => h.startsWith('Jobs done'));
      const out: Record<string, number> = {};
      for (const row of table.tBodies[0]!.rows) out[row.cells[ip]!.textContent!.trim()] = Number(row.cells[done]!.textContent);
      return out;
    });
  await expect.poll(async () => Object.values(await readDone()).reduce((a, b) => a + b, 0), { timeout: 20_000 }).toBe(12);
  const done = await readDone();
  expect(Object.keys(done).sort()).toEqual([...cluster.ips].sort());

  for (const ip of cluster.ips) {
    await page.goto(cluster.url);
    await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
    await nodes.getByRole('link', { name: ip, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`/node/${ip.replace(/\./g, '\\.')}$`));
    await expect(page.getByRole('heading', { name: `Node ${ip}` })).toBeVisible();
    // the node's own series: its jobs, not the cluster's 12 (the two nodes add up to 12)
    const chart = page.getByRole('img', { name: /^Jobs done per second/ });
    await expect(chart).toHaveAttribute('aria-label', new RegExp(`latest \\d+ \\(${done[ip]} in all\\); busy CPUs: latest \\d`));
    // its text alternative: the per-minute rows add up to the same count
    const table = page.getByRole('table', { name: /^Jobs done and busy CPUs per minute/ });
    const perMinute = () =>
      table.evaluate((t: HTMLTableElement) => [...t.tBodies[0]!.rows].reduce((sum, row) => sum + Number(row.cells[1]!.textContent), 0));
    await expect.poll(perMinute).toBe(done[ip]);
  }
  await expect(page.getByRole('alert')).toHaveCount(0);
});
