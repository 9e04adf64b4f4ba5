import type { Page } from '@playwright/test';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test, expect, repo } from '../fixtures';

// Real dispynode processes: SIGKILL the node running a job; the banner (on
// every page), the Alerts page and a browser notification show its alert;
// when the node is back they resolve. A stale node fires after 2 s without
// a pulse, and the one webhook never answers (e2e/apps/alerts.toml).
test.use({
  appModule: 'alerts_app.py',
  nodeCount: 2,
  cpus: 1,
  firstIp: 160,
  serveArgs: ['--alerts', path.join(repo, 'e2e', 'apps', 'alerts.toml')],
});

interface Built {
  title: string;
  body?: string;
}

/**
 * Wraps window.Notification before the app runs: each notification the page
 * builds is recorded (window.__notes) and then built for real.
 */
const RECORD_NOTIFICATIONS = () => {
  const w = window as unknown as { __notes: Built[]; Notification: typeof Notification };
  w.__notes = [];
  const Real = w.Notification;
  if (typeof Real !== 'function') return;
  function Recorded(title: string, options?: NotificationOptions) {
    w.__notes.push({ title, body: options?.body });
    return new Real(title, options);
  }
  Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
  Recorded.requestPermission = () => Real.requestPermission();
  Recorded.prototype = Real.prototype;
  w.Notification = Recorded as unknown as typeof Notification;
};

const built = (page: Page) => page.evaluate(() => (window as unknown as { __notes: Built[] }).__notes);

test('a killed node: banner, Alerts page and a notification; resolved when the node is back', async ({ page, context, cluster }) => {
  test.setTimeout(240_000);
  const [victim, survivor] = cluster.ips as [string, string];
  const aboutVictim = (n: Built) => n.title.includes(victim);
  await context.grantPermissions(['notifications'], { origin: new URL(cluster.url).origin });
  await page.addInitScript(RECORD_NOTIFICATIONS);

  await page.goto(new URL('/alerts', cluster.url).toString());
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  const banner = page.getByRole('status', { name: 'Alerts' });
  await expect(page.getByRole('heading', { name: 'Alerts', level: 2 })).toBeVisible();
  await expect(page.getByText('Nothing is firing.')).toBeVisible();
  await expect(banner).toHaveText('');

  // this browser opts in: one notification at once says so
  const notifications = page.getByRole('region', { name: 'Notifications in this browser' });
  await notifications.getByRole('button', { name: 'Turn on notifications' }).click();
  await expect(notifications.getByRole('status')).toContainText('On:');
  expect((await built(page)).map((n) => n.title)).toEqual(['dispymon: notifications on']);

  // the pinned job runs on the victim: watch it from the victim's Node page
  cluster.openGate();
  await page.goto(new URL(`/node/${victim}`, cluster.url).toString());
  await expect(page.getByRole('table', { name: 'Running jobs' }).getByRole('row', { name: /victim-job/ })).toBeVisible({ timeout: 60_000 });
  // a reload keeps the choice (localStorage); nothing fires, nothing was notified
  expect((await built(page)).filter(aboutVictim)).toEqual([]);

  // SIGKILL the node and its job's process, as a machine that dies (the node runs in a process
  // group of its own, localnodes.py; a job process left behind would keep the node's port)
  process.kill(-cluster.nodePid(victim), 'SIGKILL');

  // the banner, on this page, says an alert fires and links to the Alerts page
  await expect(banner).toContainText(/\d+ alerts? firing/, { timeout: 30_000 });
  await expect.poll(async () => (await built(page)).filter(aboutVictim).length, { timeout: 30_000 }).toBeGreaterThan(0);
  // within the screen, a phone's too: a long summary wraps rather than widening the page
  const box = (await banner.boundingBox())!;
  expect(box.x + box.width).toBeLessThanOrEqual(page.viewportSize()!.width);

  // dispy's own verdict: the node closed (its job abandoned); the page has node_closed for that node
  const closedFile = `${cluster.gate}.closed`;
  await expect.poll(() => existsSync(closedFile), { timeout: 60_000 }).toBe(true);
  expect(readFileSync(closedFile, 'utf8')).toBe(victim);
  await expect.poll(() => existsSync(`${cluster.gate}.job`), { timeout: 60_000 }).toBe(true);
  expect(readFileSync(`${cluster.gate}.job`, 'utf8')).toBe('victim-job abandoned');

  await banner.getByRole('link').click();
  await expect(page).toHaveURL(/\/alerts$/);
  const firing = page.getByRole('table', { name: 'Firing now' });
  await expect(firing.getByRole('row', { name: new RegExp(`node ${victim.replace(/\./g, '\\.')} closed`) })).toBeVisible({ timeout: 30_000 });
  await expect(firing.getByRole('row', { name: new RegExp(survivor.replace(/\./g, '\\.')) })).toHaveCount(0);
  const historyTable = page.getByRole('table', { name: 'History' });
  await expect(historyTable.getByRole('row', { name: new RegExp(`node ${victim.replace(/\./g, '\\.')} closed.*`) }).first()).toContainText('firing');
  // the webhook that never answers: its failures are counted and the last one shown
  const webhooks = page.getByRole('region', { name: 'Webhooks' });
  await expect(webhooks.getByText('Targets', { exact: true })).toBeVisible();
  await expect(webhooks.getByText(/Last delivery failure at/)).toBeVisible({ timeout: 30_000 });

  // a page opened while the alert fires notifies nothing for it (it fired before the page loaded)
  await page.reload();
  await expect(banner).toContainText(/\d+ alerts? firing/);
  await expect(firing.getByRole('row', { name: new RegExp(`node ${victim.replace(/\./g, '\\.')} closed`) })).toBeVisible();
  expect((await built(page)).filter(aboutVictim)).toEqual([]);

  // the node is back: dispy sets it up again, every alert of it resolves, the banner empties
  await cluster.startNode(victim);
  await expect(banner).toHaveText('', { timeout: 90_000 });
  await expect(page.getByText('Nothing is firing.')).toBeVisible();
  const victimRows = historyTable.getByRole('row', { name: new RegExp(`node ${victim.replace(/\./g, '\\.')}`) });
  await expect(victimRows.first()).toBeVisible();
  await expect(historyTable.getByText('firing', { exact: true })).toHaveCount(0);
  // its resolving notifies nothing. (A node that comes back may fire node_stale for a moment,
  // until its first pulse: a new alert, rightly notified; so only the closed alert is checked.)
  expect((await built(page)).filter((n) => n.title.includes(`node ${victim} closed`))).toEqual([]);
});
