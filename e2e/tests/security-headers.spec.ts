import { test, expect } from '../fixtures';
import type { ConsoleMessage, Page } from '@playwright/test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A dashboard with a token, reached from other sites' pages: the printed link
// opened from another site works (and leaves no token in the address bar or
// the tab's history), and a page of another origin cannot frame it.
const TOKEN = 'e2e-security-token-0123456789';
test.use({ nodeCount: 1, cpus: 1, firstIp: 120, jobs: 4, serveArgs: ['--token', TOKEN] });

/** Another site: one HTML page served from `host` on a free port (stopped by the test). */
async function otherSite(host: string, html: (origin: string) => string): Promise<{ origin: string; close(): Promise<void> }> {
  let origin = '';
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html(origin));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  origin = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Console lines of the browser that report a Content-Security-Policy refusal. */
function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (msg: ConsoleMessage) => {
    if (/Content Security Policy/i.test(msg.text())) seen.push(msg.text());
  });
  return seen;
}

test('the printed ?token= link opened from another site loads, survives a reload, and leaves no token behind', async ({ page, cluster }) => {
  expect(cluster.url).toContain(`?token=${TOKEN}`);
  const dashboard = new URL(cluster.url).origin;
  const violations = cspViolations(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // 127.0.0.1 and 127.0.0.119 are different sites (a cookie's SameSite counts the
  // host, not the port): this is a link in a chat or wiki page
  // without the token: the explanation page, styled under the policy (its style's hash is allowed)
  await page.goto(dashboard);
  await expect(page.getByRole('heading', { name: 'This dashboard needs a token' })).toBeVisible();
  expect(await page.locator('main').evaluate((m) => getComputedStyle(m).maxWidth)).not.toBe('none');
  const chat = await otherSite('127.0.0.119', () => `<!doctype html><title>chat</title><a href="${cluster.url}">the dashboard</a>`);
  try {
    await page.goto(chat.origin);
    await page.getByRole('link', { name: 'the dashboard' }).click();
    await expect(page).toHaveURL(`${dashboard}/`);
    await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
    await page.reload();
    await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
    expect(page.url()).toBe(`${dashboard}/`);
    // the tab's history: the chat page, then the dashboard without its token
    await page.goBack();
    await expect(page).toHaveURL(`${chat.origin}/`);
    await page.goForward();
    await expect(page).toHaveURL(`${dashboard}/`);
    await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  } finally {
    await chat.close();
  }

  // The built app works under the policy (script-src 'self', no 'unsafe-inline'
  // styles): live updates, the uPlot chart, and the lazily loaded pages.
  cluster.openGate();
  await expect(page.getByTestId('jobs-done')).toHaveText(String(cluster.jobs), { timeout: 60_000 });
  await expect(page.getByTestId('jobs-chart').locator('canvas').first()).toBeVisible();
  await page.getByRole('link', { name: 'Manage' }).click();
  await expect(page.getByRole('heading', { name: 'Manage' })).toBeVisible();
  await expect(page.getByRole('table', { name: 'Manage nodes' }).getByRole('link', { name: cluster.ips[0] })).toBeVisible();
  await page.getByRole('link', { name: 'History' }).click();
  await expect(page).toHaveURL(/\/history$/);
  await expect(page.getByRole('table').first()).toBeVisible();
  expect(violations).toEqual([]);
  expect(errors).toEqual([]);
});

test('a page of another origin cannot frame the dashboard', async ({ page, cluster }) => {
  const dashboard = new URL(cluster.url).origin;
  // the token cookie first: the framing page is on another port of the same
  // host, the same site, so the browser would send the cookie to the frame
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  const refused = new Promise<string>((resolve, reject) => {
    page.on('console', (msg) => {
      if (/frame-ancestors/.test(msg.text())) resolve(msg.text());
    });
    setTimeout(() => reject(new Error('the browser reported no refused frame within 30 s')), 30_000);
  });
  refused.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
  const attacker = await otherSite('127.0.0.1', () => `<!doctype html><title>win a prize</title><iframe title="prize" src="${dashboard}/manage" width="800" height="600"></iframe>`);
  try {
    await page.goto(attacker.origin);
    // Chromium says so in the framing page's console, and shows no dashboard in the frame
    expect(await refused).toContain("frame-ancestors 'none'");
    const framed = page.frameLocator('iframe[title="prize"]');
    await expect(framed.getByRole('heading', { name: 'Manage' })).toHaveCount(0);
    expect(page.frames().filter((f) => f.url().startsWith(dashboard))).toEqual([]);
  } finally {
    await attacker.close();
  }
});
