// Takes the README's screenshots: node scripts/screenshots.mjs <dashboard url> <out dir>.
// Run through scripts/screenshots, which starts and stops the demo.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error('usage: node scripts/screenshots.mjs <dashboard url> <out dir>');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
};
const WAIT = 60_000;

const browser = await chromium.launch({
  executablePath: process.env.DISPYMON_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});

/** Resolves when `fn` holds in the page (Playwright polls it), or throws after WAIT. */
const until = (page, fn, arg) => page.waitForFunction(fn, arg, { timeout: WAIT });

const connected = (page) =>
  page.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Live' }).waitFor({ timeout: WAIT });

// the chart has data (at least `min` jobs done in its window, so the lines
// show something) and uPlot has drawn its canvas
const chartDrawn = async (page, min) => {
  await until(
    page,
    (least) => Number(/\((\d+) in all\)/.exec(document.querySelector('[data-testid="jobs-chart"]')?.getAttribute('aria-label') ?? '')?.[1] ?? 0) >= least,
    min,
  );
  await page.locator('[data-testid="jobs-chart"] canvas').first().waitFor({ timeout: WAIT });
};

const visibleRow = (page, tableName) => page.getByRole('table', { name: tableName }).getByRole('row').nth(1).waitFor({ timeout: WAIT });

let nodeIp = '';

const shots = {
  async monitor(page) {
    await page.goto(url);
    await connected(page);
    await until(page, () => Number(document.querySelector('[data-testid="jobs-done"]')?.textContent ?? '0') > 0);
    await visibleRow(page, 'Nodes');
    await chartDrawn(page, 10);
    // the first node's address, for its page
    nodeIp ||= ((await page.getByRole('table', { name: 'Nodes' }).getByRole('row').nth(1).getByRole('cell').first().textContent()) ?? '')
      .trim()
      .split(/\s/)[0];
  },
  async node(page) {
    await page.goto(new URL(`/node/${encodeURIComponent(nodeIp)}`, url).href);
    await connected(page);
    await until(page, () => Number(document.querySelector('[data-testid="node-jobs-done"]')?.textContent ?? '0') > 0);
    await chartDrawn(page, 3);
  },
  async manage(page) {
    await page.goto(new URL('/manage', url).href);
    await connected(page);
    await visibleRow(page, 'Manage nodes');
  },
  async history(page) {
    await page.goto(new URL('/history', url).href);
    await connected(page);
    await visibleRow(page, 'Finished jobs');
  },
  async jobs(page) {
    await page.goto(new URL('/jobs', url).href);
    await connected(page);
    await visibleRow(page, 'Matching jobs');
  },
  async job(page) {
    // a failed job's page: its outputs and traceback (the demo fails one job in twenty)
    await page.goto(new URL('/jobs?states=failed', url).href);
    await connected(page);
    // the view is a frozen selection: Refresh until the first failure is in it
    const link = page.getByRole('table', { name: 'Matching jobs' }).getByRole('link').first();
    for (let tries = 0; !(await link.isVisible()); tries++) {
      if (tries > 120) throw new Error('no failed job in the demo after 2 minutes');
      await page.getByRole('button', { name: 'Refresh' }).click();
      await link.waitFor({ timeout: 1000 }).catch(() => {});
    }
    await link.click();
    await page.getByRole('region', { name: 'Traceback' }).locator('pre').waitFor({ timeout: WAIT });
  },
};

try {
  for (const [device, options] of Object.entries(VIEWPORTS)) {
    const context = await browser.newContext({ ...options, colorScheme: 'light' });
    const page = await context.newPage();
    for (const [name, take] of Object.entries(shots)) {
      await take(page);
      const file = path.join(outDir, `${name}-${device}.png`);
      await page.screenshot({ path: file });
      console.log(`  ${path.basename(file)}`);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
