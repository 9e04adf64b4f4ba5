import { existsSync, readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { decode } from '@msgpack/msgpack';
import { test, expect } from '../fixtures';

// A page paused (interval 0) gets no state at all while a cluster works, and
// its chart asks for nothing, until Update: then it shows what dispy reports.
// Before the fix the chart's query every 5 s brought a full delta with it.
test.use({ appModule: 'interval_app.py', nodeCount: 2, cpus: 1, firstIp: 120, jobs: 60 });

interface Frame {
  dir: 'in' | 'out';
  msg: { type: string; [key: string]: unknown };
}

/** Every frame of the page's dashboard WebSocket(s), in order, decoded. */
function record(page: Page): Frame[] {
  const frames: Frame[] = [];
  page.on('websocket', (ws) => {
    if (!ws.url().endsWith('/ws')) return;
    const add = (dir: Frame['dir'], payload: string | Buffer) => {
      // the protocol's frames are binary msgpack maps; text is not part of it
      if (typeof payload === 'string') throw new Error(`text frame ${dir}: ${payload.slice(0, 80)}`);
      frames.push({ dir, msg: decode(payload) as Frame['msg'] });
    };
    ws.on('framereceived', (f) => add('in', f.payload));
    ws.on('framesent', (f) => add('out', f.payload));
  });
  return frames;
}

const isState = (f: Frame) => f.dir === 'in' && (f.msg.type === 'snapshot' || f.msg.type === 'delta');
const isSeries = (f: Frame) => f.dir === 'out' && f.msg.type === 'command' && f.msg.name === 'series';

/** Index of the result of the last `series` command sent, if it arrived and matches `step`; else -1. */
function lastSeriesAnswer(frames: Frame[], step: 1 | 60): number {
  const sent = frames.findLastIndex(isSeries);
  if (sent < 0) return -1;
  const { id, args } = frames[sent]!.msg as { id: number; args: { step?: number } };
  if ((args.step ?? 1) !== step) return -1;
  return frames.findIndex((f, i) => i > sent && f.dir === 'in' && f.msg.type === 'result' && f.msg.id === id);
}

const rowOf = (ip: string) => new RegExp(`^${ip.replace(/\./g, '\\.')}\\b(?!\\.)`);

test('a paused page receives no state and asks no chart data until Update, which brings what dispy reports', async ({
  page,
  context,
  cluster,
}) => {
  test.setTimeout(240_000);
  const frames = record(page);
  await page.goto(cluster.url);
  const live = await context.newPage();
  await live.goto(cluster.url);
  for (const p of [page, live]) await expect(p.getByRole('status', { name: 'Connection' })).toHaveText('Live');

  // Pause. The server handles one connection's messages in order, so once two
  // chart queries sent after the pause are answered, one after the other, any
  // state frame after the second answer is one the pause let through.
  const interval = page.getByLabel('Update interval (seconds)');
  await interval.fill('0');
  await interval.blur();
  await expect(page.getByText(/Automatic updates stopped/)).toBeVisible();
  const paused = frames.findIndex((f) => f.dir === 'out' && f.msg.type === 'view' && f.msg.interval === 0);
  expect(paused).toBeGreaterThanOrEqual(0);
  const range = page.getByRole('combobox', { name: 'Range' });
  await range.selectOption('minutes');
  await expect.poll(() => lastSeriesAnswer(frames, 60)).toBeGreaterThan(paused);
  await range.selectOption('recent');
  await expect.poll(() => lastSeriesAnswer(frames, 1)).toBeGreaterThan(paused);
  const mark = lastSeriesAnswer(frames, 1);

  // jobs start, one every half second: the live page follows them
  cluster.openGate();
  const liveSubmitted = live.getByTestId('jobs-submitted');
  await expect(liveSubmitted).not.toHaveText('0', { timeout: 60_000 });
  const windowStart = Date.now();
  const atStart = Number(await liveSubmitted.textContent());
  // the measured window: at least 15 s (3 × the chart's old 5 s refresh) in
  // which the cluster's state kept changing
  await expect
    .poll(async () => Date.now() - windowStart >= 15_000 && Number(await liveSubmitted.textContent()) > atStart, {
      timeout: 60_000,
      intervals: [1000],
    })
    .toBe(true);
  const report = `${cluster.gate}.dispy.json`;
  expect(existsSync(report), 'the workload was still running at the end of the window').toBe(false);

  const during = frames.slice(mark + 1);
  expect(during.filter(isState).map((f) => f.msg.type), 'state frames while paused').toEqual([]);
  expect(during.filter(isSeries).length, 'chart queries while paused').toBe(0);
  await expect(page.getByTestId('jobs-submitted')).toHaveText('0');
  expect(Number(await liveSubmitted.textContent())).toBeGreaterThan(0);

  // the workload ends and writes what dispy reports; the live page shows the
  // server has it all, then Update brings it to the paused page
  await expect.poll(() => existsSync(report), { timeout: 120_000 }).toBe(true);
  const dispy = JSON.parse(readFileSync(report, 'utf8')) as {
    submitted: number;
    finished: number;
    pending: number;
    nodes: Record<string, { jobs_done: number; busy: number }>;
  };
  expect(dispy.submitted).toBe(cluster.jobs);
  await expect(live.getByTestId('jobs-done')).toHaveText(String(dispy.submitted), { timeout: 60_000 });
  const beforeUpdate = frames.length;
  await page.getByRole('button', { name: 'Update', exact: true }).click();
  await expect(page.getByTestId('jobs-submitted')).toHaveText(String(dispy.submitted));
  await expect(page.getByTestId('jobs-finished')).toHaveText(String(dispy.finished));
  await expect(page.getByTestId('jobs-pending')).toHaveText(String(dispy.pending));
  const table = page.getByRole('table', { name: 'Nodes' });
  expect(Object.keys(dispy.nodes).sort()).toEqual([...cluster.ips].sort());
  for (const [ip, n] of Object.entries(dispy.nodes)) {
    const cells = table.getByRole('row', { name: rowOf(ip) }).getByRole('cell');
    await expect(cells.nth(3)).toHaveText(String(n.busy)); // Busy
    await expect(cells.nth(4)).toHaveText(String(n.jobs_done)); // Jobs done
  }
  // Update refreshed the chart too
  await expect.poll(() => frames.slice(beforeUpdate).filter(isSeries).length).toBe(1);
  await expect.poll(() => lastSeriesAnswer(frames, 1)).toBeGreaterThan(beforeUpdate);
  await live.close();
});
