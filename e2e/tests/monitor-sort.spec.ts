import { test, expect } from '../fixtures';
import type { Locator, Page } from '@playwright/test';

// Ten real nodes: 127.0.0.2 … 127.0.0.11, so numeric order differs from text order.
test.use({ nodeCount: 10, cpus: 1, jobs: 20 });

const COLUMNS = ['IP address', 'Name', 'CPUs', 'Busy', 'Jobs done', 'CPU time (s)', 'Sec/job', 'Last update', 'Status'];

function ipKey(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

// One reading inside the page: the table changes live, and cells read one
// round trip at a time could come from different renders.
async function column(table: Locator, index: number): Promise<string[]> {
  return table.evaluate(
    (el, i) => [...el.querySelectorAll('tbody tr')].map((tr) => (tr.children[i]?.textContent ?? '').trim()),
    index,
  );
}

function sortedCopy(values: string[], index: number, dir: 'ascending' | 'descending'): string[] {
  const numeric = (v: string) => (v === '—' ? Number.NEGATIVE_INFINITY : Number(v));
  const cmp = (a: string, b: string): number => {
    // a value the node never reported ("—") sorts lowest, as the page does
    if (a === '—' || b === '—') return a === b ? 0 : a === '—' ? -1 : 1;
    if (index === 0) return ipKey(a) - ipKey(b);
    if ([2, 3, 4, 5, 6].includes(index)) return numeric(a) - numeric(b);
    return a < b ? -1 : a > b ? 1 : 0;
  };
  const out = [...values].sort(cmp);
  return dir === 'ascending' ? out : out.reverse();
}

async function expectSorted(table: Locator, index: number, dir: 'ascending' | 'descending') {
  await expect(async () => {
    const values = await column(table, index);
    expect(values).toEqual(sortedCopy(values, index, dir));
  }).toPass();
}

async function openMonitor(page: Page, url: string) {
  await page.goto(url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
}

test('nodes sort on every column, numerically by IP by default, and keep the sort', async ({ page, cluster }) => {
  await openMonitor(page, cluster.url);
  const table = page.getByRole('table', { name: 'Nodes' });
  await expect(table.getByRole('row')).toHaveCount(11);
  // default: IP address descending, numeric (127.0.0.11 first, 127.0.0.2 last)
  const ipHeader = table.getByRole('columnheader', { name: 'IP address' });
  await expect(ipHeader).toHaveAttribute('aria-sort', 'descending');
  expect(await column(table, 0)).toEqual(cluster.ips.slice().sort((a, b) => ipKey(b) - ipKey(a)));

  cluster.openGate();
  await expect(page.getByTestId('jobs-done')).toHaveText('20', { timeout: 60_000 });

  for (const [index, name] of COLUMNS.entries()) {
    const header = table.getByRole('columnheader', { name, exact: true });
    const button = header.getByRole('button', { name, exact: true });
    await button.click();
    const first = (await header.getAttribute('aria-sort')) as 'ascending' | 'descending';
    expect(['ascending', 'descending']).toContain(first);
    await expectSorted(table, index, first);
    await button.click();
    const second = first === 'ascending' ? 'descending' : 'ascending';
    await expect(header).toHaveAttribute('aria-sort', second);
    await expectSorted(table, index, second);
  }

  // the chosen sort (Status, last clicked) survives a reload
  const sortBefore = await table.getByRole('columnheader', { name: 'Status', exact: true }).getAttribute('aria-sort');
  await page.reload();
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await expect(table.getByRole('columnheader', { name: 'Status', exact: true })).toHaveAttribute('aria-sort', sortBefore!);
  await expect(ipHeader).toHaveAttribute('aria-sort', 'none');
});
