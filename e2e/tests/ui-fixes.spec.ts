import type { Page } from '@playwright/test';
import { test, expect } from '../fixtures';

// Issue 15's UI points, checked where a person sees them: colours, what is
// in view, what a tap or a key reaches.

/** The computed colour of an element and of a probe painted with var(--error). */
const colours = (page: Page, testId: string) =>
  page.getByTestId(testId).evaluate((el) => {
    const probe = document.createElement('span');
    probe.style.color = 'var(--error)';
    document.body.append(probe);
    const error = getComputedStyle(probe).color;
    probe.remove();
    return { colour: getComputedStyle(el).color, error };
  });

test.describe('jobs summary', () => {
  // numbered_app.py: compute(n) raises for odd n and for n divisible by 3
  test.use({ appModule: 'numbered_app.py', nodeCount: 1, cpus: 2, firstIp: 181, jobs: 6 });
  // decided before the cluster is started
  test.skip(({ isMobile }) => isMobile, 'colours do not depend on the screen');

  test('zero failed / abandoned counts are plain; a non-zero failed count is red', async ({ page, cluster }) => {
    const failed = Array.from({ length: cluster.jobs }, (_, n) => n).filter((n) => n % 2 === 1 || n % 3 === 0).length;
    await page.goto(cluster.url);
    await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
    await expect(page.getByTestId('jobs-failed')).toHaveText('0');
    const done = await colours(page, 'jobs-done');
    for (const key of ['jobs-failed', 'jobs-abandoned']) {
      const c = await colours(page, key);
      expect(c.colour, `${key} at 0`).toBe(done.colour);
      expect(c.colour, `${key} at 0`).not.toBe(c.error);
    }
    cluster.openGate();
    await expect(page.getByTestId('jobs-done')).toHaveText(String(cluster.jobs), { timeout: 60_000 });
    await expect(page.getByTestId('jobs-failed')).toHaveText(String(failed));
    const red = await colours(page, 'jobs-failed');
    expect(red.colour).toBe(red.error);
    expect((await colours(page, 'jobs-abandoned')).colour).toBe(done.colour);
  });
});

test.describe('nodes table', () => {
  test.use({ nodeCount: 2, firstIp: 184, jobs: 4 });
  test.skip(({ isMobile }) => isMobile, 'the desktop width');

  test('at 1280×800 the table says it scrolls, and the keyboard reaches its last column', async ({ page, cluster }) => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(cluster.url);
    const table = page.getByRole('table', { name: 'Nodes' });
    await expect(table.getByRole('row')).toHaveCount(cluster.ips.length + 1);
    const region = page.getByRole('group', { name: 'Nodes' });
    const last = page.getByRole('columnheader', { name: 'CPU free, 10 min' });
    const hint = page.getByTestId('nodes-scroll-hint');
    // the last column is out of view, and the page says so, also to a screen reader
    await expect(last).not.toBeInViewport();
    await expect(hint).toBeVisible();
    await expect(hint).toHaveText(/scroll the table sideways →$/);
    await expect(region).toHaveAccessibleDescription(/scroll the table sideways/);
    // the page itself does not scroll sideways: only the table's box
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);

    // Tab reaches the scroll region (before the first header button), and arrow keys scroll it
    await page.getByRole('combobox', { name: 'Range' }).focus();
    await page.keyboard.press('Tab');
    await expect(region).toBeFocused();
    await expect(async () => {
      await page.keyboard.press('ArrowRight');
      // all but a fraction of a pixel: the columns' widths follow their texts', so the
      // table's width is fractional and the box scrolls by whole pixels
      await expect(last).toBeInViewport({ ratio: 0.99, timeout: 500 });
    }).toPass({ timeout: 30_000 });
    await expect(table.getByRole('row').nth(1).getByRole('cell').last()).toBeInViewport({ ratio: 0.99 });
    // scrolled to the end: the hint now points back the other way
    await expect(hint).toHaveText(/^← More columns/);
    await expect(hint).not.toHaveText(/→$/);
  });
});

test.describe('running jobs on a phone', () => {
  test.use({ appModule: 'long_args_app.py', nodeCount: 1, cpus: 2, firstIp: 187 });
  test.skip(({ isMobile }) => !isMobile, 'the phone width');

  test('a cut argument opens in full by tap or keyboard', async ({ page, cluster }) => {
    const ip = cluster.ips[0]!;
    // what long_args_app.py submits, as the server writes it (str of each argument)
    const args = `300, [${Array.from({ length: 30 }, (_, i) => i * 1000).join(', ')}]`;
    const kwargs = 'label=a label long enough to be cut on a phone';
    await page.goto(new URL(`node/${ip}`, cluster.url).href);
    await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
    cluster.openGate();
    const jobs = page.getByRole('table', { name: 'Running jobs' });
    await expect(jobs.getByRole('row')).toHaveCount(3, { timeout: 60_000 });

    const more = page.getByRole('button', { name: 'Show all: Arguments of job long' });
    await expect(more).toBeVisible();
    // the cell shows only part of the text (cut with an ellipsis)
    const cut = await jobs
      .getByRole('row', { name: /long/ })
      .locator('.arg-text')
      .first()
      .evaluate((el) => ({ text: el.textContent, cut: el.scrollWidth > el.clientWidth }));
    expect(cut).toEqual({ text: args, cut: true });
    // short arguments fit: no button for them
    await expect(page.getByRole('button', { name: 'Show all: Arguments of job short' })).toHaveCount(0);

    await more.tap();
    const dialog = page.getByRole('dialog', { name: 'Arguments of job long' });
    await expect(dialog).toBeVisible();
    const full = dialog.locator('pre');
    await expect(full).toHaveText(args);
    await expect(full).toBeInViewport({ ratio: 1 });
    await dialog.getByRole('button', { name: 'Close' }).tap();
    await expect(dialog).toBeHidden();

    // the keyword arguments, from the keyboard
    const moreKw = page.getByRole('button', { name: 'Show all: Keyword arguments of job long' });
    await moreKw.focus();
    await page.keyboard.press('Enter');
    const kwDialog = page.getByRole('dialog', { name: 'Keyword arguments of job long' });
    await expect(kwDialog.locator('pre')).toHaveText(kwargs);
    await expect(kwDialog.locator('pre')).toBeInViewport({ ratio: 1 });
    await page.keyboard.press('Escape');
    await expect(kwDialog).toBeHidden();
  });
});
