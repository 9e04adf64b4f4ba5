import { test, expect } from '../fixtures';
import type { APIRequestContext } from '@playwright/test';

// The REST API and /metrics of a real cluster, behind the same access control
// as the pages and the WebSocket: nothing without a token, a viewer may read.
const OPERATOR = 'e2e-operator-token';
const VIEWER = 'e2e-viewer-token';
test.use({ nodeCount: 2, cpus: 1, firstIp: 116, jobs: 6, serveArgs: ['--token', OPERATOR, '--viewer-token', VIEWER] });

const asViewer = { headers: { Authorization: `Bearer ${VIEWER}` } };

async function json(request: APIRequestContext, url: string): Promise<any> {
  const response = await request.get(url, asViewer);
  expect(response.status(), url).toBe(200);
  expect(response.headers()['content-type']).toContain('application/json');
  return response.json();
}

/** The value of one sample of the exposition text, by metric name and label subset. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-z_]+)(?:\{(.*)\})? (\S+)$/);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

test('the REST API and /metrics tell what the pages show, to a viewer, and nothing without a token', async ({ page, request, cluster }) => {
  const base = new URL(cluster.url);
  const at = (path: string) => new URL(path, base.origin).href;

  // without a token: refused, for the API as for the metrics
  for (const path of ['/api/clusters', '/metrics', `/api/nodes/${cluster.ips[0]}`]) {
    expect((await request.get(at(path))).status(), path).toBe(401);
  }

  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();
  await expect(page.getByTestId('jobs-done')).toHaveText(String(cluster.jobs), { timeout: 60_000 });

  // clusters: the one cluster, every job done, both nodes
  const { clusters } = await json(request, at('/api/clusters'));
  expect(clusters).toHaveLength(1);
  const name: string = clusters[0].name;
  expect(clusters[0].jobs).toMatchObject({ submitted: cluster.jobs, done: cluster.jobs, finished: cluster.jobs, running: 0 });
  expect(clusters[0].nodes).toBe(2);

  // its nodes: the fixture's addresses, their jobs adding up to all of them
  const nodes = (await json(request, at(`/api/clusters/${encodeURIComponent(name)}/nodes`))).nodes as { ip_addr: string; jobs_done: number }[];
  expect(nodes.map((n) => n.ip_addr).sort()).toEqual([...cluster.ips].sort());
  expect(nodes.reduce((sum, n) => sum + n.jobs_done, 0)).toBe(cluster.jobs);
  const node = await json(request, at(`/api/nodes/${cluster.ips[0]}`));
  expect(node.ip_addr).toBe(cluster.ips[0]);
  expect(node.clusters[name].jobs_done).toBe(nodes.find((n) => n.ip_addr === cluster.ips[0])!.jobs_done);
  expect(node.jobs).toEqual([]); // none running any more

  // the history: every job, each on one of the nodes
  const history = await json(request, at('/api/history?limit=100'));
  expect(history.total).toBe(cluster.jobs);
  for (const job of history.jobs) {
    expect(cluster.ips).toContain(job.node);
    expect(job.outcome).toBe('finished');
  }
  expect((await request.get(at('/api/nothing-here'), asViewer)).status()).toBe(404);

  // /metrics: Prometheus text with the same figures (the page is still connected)
  const response = await request.get(at('/metrics'), asViewer);
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toContain('text/plain; version=0.0.4');
  const text = await response.text();
  expect(sample(text, 'dispymon_jobs_total', { cluster: name, outcome: 'finished' })).toBe(cluster.jobs);
  expect(sample(text, 'dispymon_jobs_total', { cluster: name, outcome: 'failed' })).toBe(0);
  expect(sample(text, 'dispymon_nodes', { cluster: name, status: 'initialized' })).toBe(2);
  expect(sample(text, 'dispymon_job_duration_seconds_count', { cluster: name })).toBe(cluster.jobs);
  expect(sample(text, 'dispymon_websocket_clients', {})).toBeGreaterThanOrEqual(1);
});
