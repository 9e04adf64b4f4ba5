import { test, expect } from '../fixtures';
import type { Page } from '@playwright/test';

// e2e/apps/two_clusters_app.py: clusters `alpha` (N jobs) and `beta` (N/2,
// rounded up) on the same two nodes.
const CPUS = 2; // each node's --cpus
test.use({ appModule: 'two_clusters_app.py', firstIp: 70, nodeCount: 2, cpus: CPUS, jobs: 12 });

const rowOf = (ip: string) => new RegExp(`^${ip.replace(/\./g, '\\.')}\\b(?!\\.)`);

/** A column of each node, as the nodes table shows it: 2 "CPUs", 4 "Jobs done". */
async function perNode(page: Page, ips: string[], cell: number): Promise<number[]> {
  const table = page.getByRole('table', { name: 'Nodes' });
  const out: number[] = [];
  for (const ip of ips) {
    out.push(Number(await table.getByRole('row', { name: rowOf(ip) }).getByRole('cell').nth(cell).textContent()));
  }
  return out;
}
const jobsDonePerNode = (page: Page, ips: string[]) => perNode(page, ips, 4);

test("'* Combined' adds up the clusters; each cluster shows only its own figures", async ({ page, cluster }) => {
  const alphaJobs = cluster.jobs;
  const betaJobs = Math.ceil(cluster.jobs / 2);
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');

  const select = page.getByRole('combobox', { name: 'Cluster' });
  await expect(select.getByRole('option')).toHaveText(['* Combined', 'alpha', 'beta']);
  await expect(select).toHaveValue('* Combined'); // the default with several clusters
  const table = page.getByRole('table', { name: 'Nodes' });
  for (const ip of cluster.ips) {
    await expect(table.getByRole('row', { name: rowOf(ip) })).toBeVisible();
  }

  cluster.openGate();
  await expect(page.getByTestId('jobs-done')).toHaveText(String(alphaJobs + betaJobs), { timeout: 60_000 });
  await expect(page.getByTestId('jobs-submitted')).toHaveText(String(alphaJobs + betaJobs));
  await expect(page.getByTestId('jobs-finished')).toHaveText(String(alphaJobs + betaJobs));
  await expect(page.getByTestId('jobs-pending')).toHaveText('0');
  for (const ip of cluster.ips) {
    await expect(table.getByRole('row', { name: rowOf(ip) }).getByRole('cell').nth(3)).toHaveText('0'); // Busy
  }
  const combined = await jobsDonePerNode(page, cluster.ips);
  const combinedCpus = await perNode(page, cluster.ips, 2);

  const perCluster: Record<string, number[]> = {};
  const cpusPerCluster: Record<string, number[]> = {};
  for (const [name, jobs] of [['alpha', alphaJobs], ['beta', betaJobs]] as const) {
    await select.selectOption(name);
    await expect(page.getByTestId('jobs-done')).toHaveText(String(jobs));
    await expect(page.getByTestId('jobs-submitted')).toHaveText(String(jobs));
    perCluster[name] = await jobsDonePerNode(page, cluster.ips);
    cpusPerCluster[name] = await perNode(page, cluster.ips, 2);
    expect(perCluster[name].reduce((a, b) => a + b, 0)).toBe(jobs);
  }
  // per node, the combined "Jobs done" is the sum over the clusters
  expect(combined).toEqual(cluster.ips.map((_, i) => perCluster.alpha[i] + perCluster.beta[i]));
  // a node's CPUs are the node's: the same in each cluster and in '* Combined' (not added up)
  expect(cpusPerCluster.alpha).toEqual(cluster.ips.map(() => CPUS));
  expect(cpusPerCluster.beta).toEqual(cpusPerCluster.alpha);
  expect(combinedCpus).toEqual(cpusPerCluster.alpha);

  await select.selectOption('* Combined');
  await expect(page.getByTestId('jobs-done')).toHaveText(String(alphaJobs + betaJobs));
});
