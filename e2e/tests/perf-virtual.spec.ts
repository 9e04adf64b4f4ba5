import { test as base, expect } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

// The large-cluster views in a real browser, on `dispymon demo --simulate`
// (no dispynode: the simulated cluster, a second adapter). Functional checks
// only — the timings are in benchmarks/ (docs/benchmarks.md), not here.

const repo = path.resolve(__dirname, '..', '..');
const python = process.env.DISPYMON_PYTHON ?? path.join(repo, '.venv', 'bin', 'python');
const NODES = 2000;

const test = base.extend<{ url: string }>({
  url: async ({}, use) => {
    const demo: ChildProcess = spawn(
      python,
      ['-m', 'dispymon', 'demo', '--simulate', String(NODES), '--cpus', '4', '--rate', '300', '--port', '0', '--poll-sec', '0.25'],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no dashboard URL from dispymon demo --simulate')), 60_000);
        createInterface({ input: demo.stdout! }).on('line', (line) => {
          const m = line.match(/dashboard at (http:\/\/\S+)/);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        demo.once('exit', (code) => reject(new Error(`dispymon demo exited with ${code}`)));
      });
      await use(url);
    } finally {
      if (demo.exitCode === null) {
        const exited = new Promise((resolve) => demo.once('exit', resolve));
        demo.kill('SIGTERM');
        await exited;
      }
    }
  },
});

test('a table of 2,000 nodes keeps only the rows in view, announces them all, and scrolls to the last', async ({ page, url }) => {
  await page.goto(url);
  const table = page.getByRole('table', { name: 'Nodes' });
  await expect(table).toHaveAttribute('aria-rowcount', String(NODES + 1));
  const rows = table.locator('tbody tr[aria-rowindex]');
  await expect(rows.first()).toBeVisible();
  expect(await rows.count()).toBeLessThan(100);
  // default order: IP descending, so the first row is the highest address
  await expect(rows.first().getByRole('cell').first()).toHaveText('10.0.7.250');
  await expect(rows.first()).toHaveAttribute('aria-rowindex', '2');

  // the last row, scrolled to, is the lowest address at its place, inside the table's scroll box
  const box = table.locator('xpath=ancestor::div[contains(@class, "virtual-scroll")]');
  // The table changes live (the simulation runs), so each reading is taken in
  // one evaluation inside the page: element handles fetched first and read
  // later could come from two different renders.
  await expect(async () => {
    const seen = await box.evaluate((el) => {
      el.scrollTop = el.scrollHeight;
      const trs = [...el.querySelectorAll('tbody tr[aria-rowindex]')];
      const last = trs[trs.length - 1]!;
      const [outer, row] = [el.getBoundingClientRect(), last.getBoundingClientRect()];
      return {
        index: last.getAttribute('aria-rowindex'),
        ip: last.children[0]?.textContent,
        // within the visible client area (above a horizontal scrollbar, if any)
        inside: row.top >= outer.top && row.bottom <= outer.top + el.clientTop + el.clientHeight + 1,
      };
    });
    expect(seen).toEqual({ index: String(NODES + 1), ip: '10.0.0.1', inside: true });
  }).toPass({ timeout: 20_000 });

  // sorting still works on the whole table, header buttons and aria-sort included
  const busy = table.getByRole('columnheader', { name: 'Busy', exact: true });
  await busy.getByRole('button', { name: 'Busy', exact: true }).click();
  await expect(busy).toHaveAttribute('aria-sort', 'ascending');
  await box.evaluate((el) => {
    el.scrollTop = 0;
  });
  await expect(rows.first()).toHaveAttribute('aria-rowindex', '2');
  const top = await table.evaluate((el) =>
    [...el.querySelectorAll('tbody tr[aria-rowindex]')]
      .slice(0, 10)
      .map((tr) => ({ index: Number(tr.getAttribute('aria-rowindex')), busy: Number(tr.children[3]?.textContent) })),
  );
  expect(top.map((r) => r.index)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const busyShown = top.map((r) => r.busy);
  expect(busyShown).toEqual([...busyShown].sort((a, b) => a - b));
});
