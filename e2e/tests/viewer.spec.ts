import type { Page } from '@playwright/test';
import { decode } from '@msgpack/msgpack';
import { test, expect } from '../fixtures';

// A viewer token sees everything and is offered no command; the operator's
// page, on the same server and cluster, has them all.
const OPERATOR = 'e2e-operator-token';
const VIEWER = 'e2e-viewer-token';
test.use({
  appModule: 'node_app.py',
  nodeCount: 1,
  cpus: 2,
  firstIp: 124,
  serveArgs: ['--token', OPERATOR, '--viewer-token', VIEWER],
});

/** The names of the commands a page sends, and the role its hello gave it. */
function watch(page: Page) {
  const seen = { commands: [] as string[], role: null as string | null };
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => {
      const msg = decode(f.payload as Buffer) as { type: string; name?: string };
      if (msg.type === 'command') seen.commands.push(String(msg.name));
    });
    ws.on('framereceived', (f) => {
      const msg = decode(f.payload as Buffer) as { type: string; role?: string };
      if (msg.type === 'hello') seen.role = msg.role ?? null;
    });
  });
  return seen;
}

test('a viewer is told it is read-only and offered no command; the operator is', async ({ browser, cluster }) => {
  const ip = cluster.ips[0]!;
  const withToken = (token: string) => {
    const url = new URL(cluster.url);
    url.searchParams.set('token', token);
    return url.toString();
  };
  // separate contexts: each keeps its own token cookie
  const operatorContext = await browser.newContext();
  const viewerContext = await browser.newContext();
  const operator = await operatorContext.newPage();
  const viewer = await viewerContext.newPage();
  const seen = watch(viewer);
  await operator.goto(withToken(OPERATOR));
  await viewer.goto(withToken(VIEWER));
  for (const p of [operator, viewer]) await expect(p.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  expect(seen.role).toBe('viewer');
  cluster.openGate();

  // Monitor: the note, and the show-arguments setting as text, no switch
  await expect(viewer.getByRole('note')).toHaveText('Read-only: a viewer token can look, not command');
  await expect(viewer.getByText("Job arguments shown (an operator's setting)")).toBeVisible();
  await expect(viewer.getByRole('checkbox', { name: 'Show job arguments' })).toHaveCount(0);
  await expect(operator.getByRole('checkbox', { name: 'Show job arguments' })).toBeChecked();
  await expect(operator.getByRole('note')).toHaveCount(0);

  // Node: the running jobs, without selection or Terminate
  for (const p of [operator, viewer]) await p.goto(new URL(`/node/${ip}`, cluster.url).toString());
  const rows = (p: Page) => p.getByRole('table', { name: 'Running jobs' }).getByRole('row', { name: /readable/ });
  await expect(rows(viewer)).toContainText('300, Readable(7)');
  await expect(rows(operator)).toContainText('300, Readable(7)');
  await expect(operator.getByRole('button', { name: /^Terminate selected/ })).toBeVisible();
  await expect(operator.getByRole('checkbox', { name: 'Select job readable' })).toBeVisible();
  await expect(viewer.getByRole('button', { name: /Terminate/ })).toHaveCount(0);
  await expect(viewer.getByRole('table', { name: 'Running jobs' }).getByRole('checkbox')).toHaveCount(0);

  // Manage: the nodes and the audit log, no add form, no action
  for (const p of [operator, viewer]) await p.goto(new URL('/manage', cluster.url).toString());
  const manageRow = (p: Page) => p.getByRole('table', { name: 'Manage nodes' }).getByRole('row', { name: new RegExp(`^${ip.replace(/\./g, '\\.')}\\b`) });
  await expect(manageRow(operator).getByRole('button', { name: `Close ${ip}` })).toBeVisible();
  await expect(operator.getByRole('form', { name: 'Add node' })).toBeVisible();
  await expect(manageRow(viewer)).toContainText('Initialized');
  await expect(viewer.getByText(/^Read-only: managing nodes needs the operator token/)).toBeVisible();
  await expect(viewer.getByRole('form', { name: 'Add node' })).toHaveCount(0);
  await expect(viewer.getByRole('table', { name: 'Manage nodes' }).getByRole('button')).toHaveCount(0);
  await expect(viewer.getByRole('table', { name: 'Manage nodes' }).getByRole('spinbutton')).toHaveCount(0);

  // everything the viewer's page asked was a query it may run
  expect(seen.commands.length).toBeGreaterThan(0);
  const queries = ['series', 'history', 'history_summary', 'job', 'jobs', 'bulk_preview', 'bulk_outcomes', 'alerts_history', 'timeline', 'node_resources'];
  expect(seen.commands.filter((name) => !queries.includes(name))).toEqual([]); // read-only queries only
  await operatorContext.close();
  await viewerContext.close();
});
