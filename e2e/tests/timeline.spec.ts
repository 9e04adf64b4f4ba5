import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Locator, Page } from '@playwright/test';
import { test, expect } from '../fixtures';

// timeline_app.py: "held" runs until `<gate>.release`; job-0 … job-9 run 0.3 s each, odd ones raise.
test.use({ appModule: 'timeline_app.py', nodeCount: 2, cpus: 2, firstIp: 140, jobs: 10 });

interface DispyJob {
  id: string;
  status: string;
  ip_addr: string;
  start_time: number;
  end_time: number;
}

/** What dispy's own job objects reported, once the workload wrote it. */
async function dispyReport(file: string): Promise<DispyJob[]> {
  await expect.poll(() => existsSync(file), { timeout: 90_000 }).toBe(true);
  return JSON.parse(readFileSync(file, 'utf8')) as DispyJob[];
}

const table = (page: Page) => page.getByRole('table', { name: /^Jobs in view/ });

/** The table's rows as "id node outcome" lines, sorted. */
async function rows(t: Locator): Promise<string[]> {
  const lines = await t.locator('tbody tr').evaluateAll((trs) =>
    trs.map((tr) => {
      const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '');
      return cells.length === 6 ? `${cells[0]} ${cells[1]} ${cells[3]}` : '';
    }),
  );
  return lines.filter(Boolean).sort();
}

const expected = (jobs: DispyJob[]) => jobs.map((j) => `${j.id} ${j.ip_addr} ${j.status}`).sort();

test('the timeline shows the jobs dispy ran on each node, with their outcomes, live', async ({ page, cluster }) => {
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();
  const ran = await dispyReport(`${cluster.gate}.dispy.json`);
  expect(new Set(ran.map((j) => j.ip_addr)).size).toBe(2); // both nodes ran some
  expect(ran.filter((j) => j.status === 'failed')).toHaveLength(5);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Timeline' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'Timeline' })).toBeVisible();
  await expect(page.getByRole('img', { name: /^Job timeline/ })).toBeVisible();
  const legend = page.getByRole('list', { name: 'Legend' });
  for (const word of ['Finished', 'Failed', 'Terminated', 'Cancelled', 'Abandoned', 'Running', 'Queued']) await expect(legend).toContainText(word);

  // every job dispy ran, on its node, with its outcome; "held" still running
  const heldRunning = `held ${cluster.ips.join('|')}`;
  await expect.poll(() => rows(table(page)), { timeout: 30_000 }).toEqual(
    expect.arrayContaining(expected(ran)),
  );
  const all = await rows(table(page));
  expect(all).toHaveLength(ran.length + 1);
  expect(all.find((r) => r.startsWith('held '))).toMatch(new RegExp(`^held (${heldRunning.slice(5)}) running$`));

  // the keyboard pans into the past, where nothing ran; End follows now again
  const canvas = page.getByRole('img', { name: /^Job timeline/ });
  await canvas.focus();
  for (let i = 0; i < 25; i++) await canvas.press('ArrowLeft');
  await expect(page.getByRole('status').filter({ hasText: /jobs? in view/ })).toHaveText(/^0 jobs in view/);
  await expect(page.getByRole('button', { name: 'Now' })).toHaveAttribute('aria-pressed', 'false');
  await canvas.press('End');
  await expect(page.getByRole('button', { name: 'Now' })).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(() => rows(table(page))).toHaveLength(ran.length + 1);

  // the buttons zoom: out and back in, the jobs stay in view
  await page.getByRole('button', { name: 'Zoom out' }).click();
  await page.getByRole('button', { name: 'Zoom in' }).click();
  await expect.poll(() => rows(table(page))).toHaveLength(ran.length + 1);

  // hovering a bar names its job (tooltip and the live line), a click opens its page
  const box = (await canvas.boundingBox())!;
  const tooltip = page.getByRole('tooltip');
  let named = '';
  for (let x = box.x + box.width - 2; x > box.x + 90 && !named; x -= 2) {
    for (const lane of [0, 1, 2, 3]) {
      await page.mouse.move(x, box.y + 22 + 14 + 18 * lane + 9);
      if (await tooltip.isVisible()) {
        named = (await tooltip.textContent()) ?? '';
        break;
      }
    }
  }
  expect(named).toMatch(/^(job-\d+|held) on 127\.0\.0\.14[01], CPU slot [12]: (finished|failed|running), /);
  const id = named.split(' ')[0]!;
  await expect(page.locator('[aria-live="polite"]').filter({ hasText: named })).toHaveText(named);
  await page.mouse.down();
  await page.mouse.up();
  await expect(page).toHaveURL(new RegExp(`/job/[^/]+/${id}\\?key=\\d+$`));
  await expect(page.getByRole('heading', { level: 2, name: `Job ${id}` })).toBeVisible();

  // a node's timeline, from its Node page: only that node's jobs
  const ip = cluster.ips[0]!;
  await page.goto(`${cluster.url}node/${ip}`);
  await page.getByRole('link', { name: 'Timeline of this node' }).click();
  await expect(page).toHaveURL(new RegExp(`/timeline\\?node=${ip.replace(/\./g, '\\.')}$`));
  await expect(page.getByRole('heading', { level: 2, name: `Timeline of node ${ip}` })).toBeVisible();
  const mine = ran.filter((j) => j.ip_addr === ip);
  await expect
    .poll(async () => (await rows(table(page))).filter((r) => !r.startsWith('held ')))
    .toEqual(expected(mine));

  // live: the held job ends, and its bar says so without a reload
  await page.goto(`${cluster.url}timeline`);
  await expect.poll(() => rows(table(page))).toHaveLength(ran.length + 1);
  writeFileSync(`${cluster.gate}.release`, 'go');
  const [held] = await dispyReport(`${cluster.gate}.held.json`);
  await expect.poll(() => rows(table(page)), { timeout: 30_000 }).toContain(`held ${held!.ip_addr} ${held!.status}`);
  expect(held!.status).toBe('finished');
});
