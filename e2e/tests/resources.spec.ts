import { existsSync, readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { test, expect } from '../fixtures';

// resources_app.py: jobs of half a second, pulses every second (gate.py), and
// `<gate>.avail.jsonl`: the avail info dispy's node objects report with each pulse.
test.use({ appModule: 'resources_app.py', nodeCount: 2, cpus: 1, firstIp: 200, jobs: 8 });

interface Pulse {
  ip: string;
  /** dispy's update_time: when the client received the pulse */
  time: number;
  cpu: number;
  memory: number;
  disk: number;
  swap: number;
}

/** What dispy reported for `ip` so far, oldest first. */
function pulsesOf(gate: string, ip: string): Pulse[] {
  const file = `${gate}.avail.jsonl`;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Pulse)
    .filter((p) => p.ip === ip);
}

const UNITS: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, PB: 1e15 };

/** "2.5 GB" → 2.5e9, and the half of its last digit's place (the rounding the text did). */
function bytesOf(text: string): [number, number] {
  const m = /^([\d.]+) (\w+)$/.exec(text.trim());
  if (!m) throw new Error(`not a size: ${text}`);
  const decimals = m[1]!.split('.')[1]?.length ?? 0;
  const unit = UNITS[m[2]!]!;
  return [Number(m[1]) * unit, (0.5 * unit) / 10 ** decimals];
}

/** The chart's summary, read at once (it refreshes every second). */
async function shown(page: Page) {
  return page.evaluate(() => {
    const text = (id: string) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '';
    const time = document.querySelector('[data-testid="resources-latest-time"] time')?.getAttribute('datetime') ?? null;
    const table = [...document.querySelectorAll('table caption')].find((c) => c.textContent!.startsWith('CPU, memory'))?.closest('table');
    const rows = table ? [...table.querySelectorAll('tbody tr')].map((r) => Number(r.children[1]!.textContent)) : [];
    return {
      points: Number(text('resources-points')),
      time,
      cpu: text('resources-latest-cpu'),
      memory: text('resources-latest-memory'),
      disk: text('resources-latest-disk'),
      swap: text('resources-latest-swap'),
      tableSum: rows.reduce((a, b) => a + b, 0),
      label: document.querySelector('[data-testid="resources-chart"]')?.getAttribute('aria-label') ?? '',
    };
  });
}

test("a node's resource chart shows the avail info of its pulses, as dispy reported them", async ({ page, cluster }) => {
  const ip = cluster.ips[0]!;
  await page.goto(new URL(`node/${ip}`, cluster.url).href);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await page.getByLabel('Update interval (seconds)').fill('0.5');
  await page.getByLabel('Update interval (seconds)').blur();
  cluster.openGate();
  await expect(page.getByRole('img', { name: /^CPU, memory, disk and swap free, last 10 minutes: \d+ pulses/ })).toBeVisible({ timeout: 60_000 });
  await expect.poll(async () => (await shown(page)).points, { timeout: 60_000 }).toBeGreaterThanOrEqual(5);

  // Each reading is compared with what dispy reported up to the latest pulse the page shows.
  await expect(async () => {
    const s = await shown(page);
    expect(s.time).not.toBeNull();
    const latest = Math.floor(Date.parse(s.time!) / 1000);
    const reported = pulsesOf(cluster.gate, ip).filter((p) => Math.floor(p.time) <= latest);
    // one point per second with a pulse (two in one second: the later), every one of them
    const seconds = new Set(reported.map((p) => Math.floor(p.time)));
    expect(s.points).toBe(seconds.size);
    expect(s.tableSum).toBe(seconds.size);
    expect(s.label).toContain(`${seconds.size} pulses`);
    // the latest is that second's last pulse, to the shown precision
    const last = reported.filter((p) => Math.floor(p.time) === latest).at(-1)!;
    expect(last).toBeDefined();
    expect(Math.abs(parseFloat(s.cpu) - last.cpu)).toBeLessThanOrEqual(0.05 + 0.005 + 1e-9);
    expect(Math.abs(parseFloat(s.swap) - last.swap)).toBeLessThanOrEqual(0.05 + 0.005 + 1e-9);
    const [memory, memoryRound] = bytesOf(s.memory);
    expect(Math.abs(memory - last.memory)).toBeLessThanOrEqual(memoryRound + 1024);
    const [disk, diskRound] = bytesOf(s.disk);
    expect(Math.abs(disk - last.disk)).toBeLessThanOrEqual(diskRound + 2 ** 20);
  }).toPass({ timeout: 30_000 });

  // by minute: the day's range has the current minute, its pulses' mean
  await page.getByRole('combobox', { name: 'Resources range' }).selectOption('day');
  await expect(page.getByRole('img', { name: /^CPU, memory, disk and swap free, last 24 hours: \d+ minutes? with pulses/ })).toBeVisible();
  await expect(page.getByRole('alert')).toHaveCount(0);
});

test("the Monitor page's nodes table has a CPU sparkline per node", async ({ page, cluster }) => {
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();
  const table = page.getByRole('table', { name: 'Nodes' });
  await expect(table.getByRole('columnheader', { name: 'CPU free, 10 min', exact: true })).toBeVisible();
  for (const ip of cluster.ips) {
    const row = table.getByRole('row').filter({ has: page.getByRole('link', { name: ip, exact: true }) });
    const line = row.getByRole('img', { name: /^CPU free, last 10 minutes: latest \d+ %/ });
    await expect(line).toBeAttached({ timeout: 60_000 });
    // its latest value is one dispy reported for that node (a 10-second bucket's mean, whole %)
    const latest = Number(/latest (\d+) %/.exec((await line.getAttribute('aria-label'))!)![1]);
    const cpus = pulsesOf(cluster.gate, ip).map((p) => p.cpu);
    expect(latest).toBeGreaterThanOrEqual(Math.floor(Math.min(...cpus)));
    expect(latest).toBeLessThanOrEqual(Math.ceil(Math.max(...cpus)));
  }
});
