import { test, expect } from '../fixtures';

test.use({ nodeCount: 1, cpus: 1, firstIp: 36, jobs: 4 });

test('a dropped WebSocket shows Reconnecting…, keeps the last state, and comes back live', async ({ page, cluster }) => {
  let serverSide: { close(): Promise<void> } | undefined;
  let connections = 0;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    connections += 1;
    const server = ws.connectToServer();
    serverSide = { close: () => ws.close({ code: 1006, reason: 'dropped by the test' }) };
    void server; // frames pass through untouched
  });
  await page.goto(cluster.url);
  const connection = page.getByRole('status', { name: 'Connection' });
  await expect(connection).toHaveText('Live');
  const row = page.getByRole('table', { name: 'Nodes' }).getByRole('row', { name: /^127\.0\.0\.36\b/ });
  await expect(row).toBeVisible();

  await serverSide!.close();
  await expect(connection).toHaveText(/Reconnecting…|Live/);
  await expect(row).toBeVisible(); // the last state stays on screen
  // it reconnects by itself, with a fresh snapshot
  await expect.poll(() => connections).toBeGreaterThan(1);
  await expect(connection).toHaveText('Live');
  cluster.openGate();
  await expect(page.getByTestId('jobs-done')).toHaveText('4', { timeout: 60_000 });
});

test('a server restart: the page says the server stopped, then shows the new server\'s state', async ({ page, cluster }) => {
  await page.goto(cluster.url);
  const connection = page.getByRole('status', { name: 'Connection' });
  await expect(connection).toHaveText('Live');
  cluster.openGate();
  await expect(page.getByTestId('jobs-done')).toHaveText('4', { timeout: 60_000 });

  const restarted = cluster.restartServer();
  // a deliberate shutdown (close 1001), not a lost connection; it keeps trying
  await expect(connection).toHaveText('Server stopped: reconnecting when it is back');
  await expect(page.getByTestId('jobs-done')).toHaveText('4'); // the last state, meanwhile
  await restarted;
  await expect(connection).toHaveText('Live', { timeout: 30_000 });
  // the new server ran the module again: its own four jobs, counted from zero
  await expect(page.getByTestId('jobs-submitted')).toHaveText('4', { timeout: 60_000 });
  await expect(page.getByTestId('jobs-done')).toHaveText('4', { timeout: 60_000 });
  await expect(page.getByRole('table', { name: 'Nodes' }).getByRole('row', { name: /^127\.0\.0\.36\b/ })).toBeVisible();
});
