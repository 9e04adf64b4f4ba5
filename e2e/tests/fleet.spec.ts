// The fleet (docs/fleet.md), every part real: a redis-server, two programs
// (dispymon serve --broker … --program lab-A|lab-B, each with its own dispynode
// processes), two central replicas behind nginx (e2e/apps/fleet_stack.py starts
// them all and stops them by PID). The browser talks to nginx only.
import { test as base, expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Interface } from 'node:readline';
import { repo } from '../fixtures';

const python = process.env.DISPYMON_PYTHON ?? path.join(repo, '.venv', 'bin', 'python');

interface Stack {
  url: string;
  redis: { port: number; pid: number };
  centrals: { port: number; pid: number; url: string }[];
  programs: { name: string; pid: number; out: string; ips: string[] }[];
  /** ask the stack to start redis-server again on its port */
  restartRedis(): Promise<void>;
}

function nextLine(lines: Interface, child: ChildProcess, what: string, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    const onLine = (line: string) => {
      if (!line.startsWith('{')) return;
      clearTimeout(timer);
      lines.off('line', onLine);
      resolve(line);
    };
    lines.on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what}: the stack exited with ${code}`));
    });
  });
}

const test = base.extend<{ stack: Stack }>({
  stack: async ({}, use) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dispymon-e2e-fleet-'));
    const child = spawn(python, [path.join(repo, 'e2e', 'apps', 'fleet_stack.py'), '--workdir', dir, '--jobs', '60', '--seconds', '0.5'], {
      cwd: repo,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! });
    try {
      const started = JSON.parse(await nextLine(lines, child, 'the fleet')) as Omit<Stack, 'restartRedis'>;
      const restartRedis = async () => {
        const answer = nextLine(lines, child, 'redis-server restarted');
        child.stdin!.write('restart-redis\n');
        started.redis = (JSON.parse(await answer) as Pick<Stack, 'redis'>).redis;
      };
      await use({ ...started, restartRedis });
    } finally {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (child.exitCode === null) child.stdin!.end(); // the stack stops everything by PID
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  },
});

interface DispyCounts {
  submitted: number;
  finished: number;
  failed: number;
  terminated: number;
  cancelled: number;
  abandoned: number;
}

/** What a program's dispy job objects said when its workload ended (fleet_app.py writes it). */
async function dispyCounts(out: string): Promise<DispyCounts> {
  await expect.poll(() => existsSync(out), { timeout: 120_000, message: `${out} written` }).toBe(true);
  return JSON.parse(readFileSync(out, 'utf8')) as DispyCounts;
}

/** The replica this page's WebSocket is on: the one whose /metrics counts a browser. */
async function replicaOf(stack: Stack): Promise<(typeof stack.centrals)[number]> {
  let found: (typeof stack.centrals)[number] | undefined;
  await expect
    .poll(async () => {
      for (const c of stack.centrals) {
        const text = await fetch(`${c.url}metrics`).then((r) => r.text(), () => ''); // a killed one: ''
        if (/^dispymon_websocket_clients 1$/m.test(text)) found = c;
      }
      return found !== undefined;
    })
    .toBe(true);
  return found!;
}

async function terminateLongJob(page: Page, stack: Stack, program: string): Promise<void> {
  const ips = stack.programs.find((p) => p.name === program)!.ips;
  const box = page.getByRole('checkbox', { name: 'Select job long-0' });
  // the long job runs on one of the program's nodes: find it on their Node pages
  await expect
    .poll(async () => {
      for (const ip of ips) {
        await page.goto(`${stack.url}node/${ip}`);
        await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
        // this program's jobs only: on the node both programs use, each has a job long-0
        await page.getByLabel('Program', { exact: true }).selectOption(program);
        // waits (isVisible would not: it answers at once, before the node's jobs arrive, and
        // on a loaded machine it answered "no" on every node page for the whole minute)
        if (await box.waitFor({ state: 'visible', timeout: 5_000 }).then(() => true, () => false)) return true;
      }
      return false;
    }, { timeout: 60_000 })
    .toBe(true);
  await box.check();
  await page.getByRole('button', { name: /^Terminate selected/ }).click();
  await page.getByRole('dialog', { name: /^Terminate/ }).getByRole('button', { name: 'Terminate', exact: true }).click();
  await expect(page.getByRole('list', { name: 'Termination results' })).toContainText('long-0: terminated');
}

async function expectCounts(page: Page, program: string, counts: DispyCounts): Promise<void> {
  await page.getByLabel('Program', { exact: true }).selectOption(program);
  const done = counts.finished + counts.failed + counts.terminated + counts.cancelled + counts.abandoned;
  for (const [key, value] of [
    ['submitted', counts.submitted],
    ['done', done],
    ['finished', counts.finished],
    ['failed', counts.failed],
    ['terminated', counts.terminated],
    ['running', 0],
  ] as const) {
    await expect(page.getByTestId(`jobs-${key}`), `${program}: ${key}`).toHaveText(String(value), { timeout: 60_000 });
  }
}

test('two programs behind two replicas: terminate, a replica killed, Redis stopped: every count right', async ({ page, stack }) => {
  test.setTimeout(300_000);
  await page.goto(stack.url);
  const connection = page.getByRole('status', { name: 'Connection' });
  await expect(connection).toHaveText('Live');
  const programSelect = page.getByLabel('Program', { exact: true });
  await expect(programSelect.getByRole('option')).toHaveText(['All programs (2)', 'lab-A', 'lab-B'], { timeout: 60_000 });

  // the machine both programs use (a dispynode each) is one node of '* Combined', with both
  // programs; its page lists them
  const [a, b] = stack.programs;
  const shared = a!.ips.find((ip) => b!.ips.includes(ip))!;
  const row = page
    .getByRole('table', { name: 'Nodes' })
    .getByRole('row')
    .filter({ has: page.getByRole('link', { name: shared, exact: true }) });
  await expect(row).toHaveCount(1);
  await expect(row.getByRole('cell').nth(2)).toHaveText('lab-A, lab-B', { timeout: 60_000 });
  await page.goto(`${stack.url}node/${shared}`);
  const uses = page.getByRole('table', { name: 'Programs using this node' });
  await expect(uses.getByRole('rowheader')).toHaveText(['lab-A', 'lab-B'], { timeout: 60_000 });
  // the page fits the screen, a phone's too (the table scrolls in its own box)
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(page.viewportSize()!.width);
  await page.goto(stack.url);
  await expect(connection).toHaveText('Live');

  // kill the replica this browser is on (SIGKILL, by PID): it goes on through nginx on the other
  const first = await replicaOf(stack);
  process.kill(first.pid, 'SIGKILL');
  await expect(connection).toHaveText('Live', { timeout: 60_000 });
  const second = await replicaOf(stack);
  expect(second.pid).not.toBe(first.pid);

  // stop Redis (by PID) while the jobs run: the page says so, the programs go on
  process.kill(stack.redis.pid, 'SIGTERM');
  // the fleet's alert: while Redis is down a page may hold other alerts too (a chart's query
  // that found the socket closing as its replica died)
  const brokerDown = page.getByRole('alert').filter({ hasText: /^Broker .* unreachable since/ });
  await expect(brokerDown).toBeVisible({ timeout: 30_000 });
  await page.waitForTimeout(10_000); // the outage's length (the scenario), not a wait for a state
  await stack.restartRedis();
  await expect(brokerDown).toHaveCount(0, { timeout: 60_000 });

  // terminate each program's long job from the central: dispy reports it terminated
  for (const program of ['lab-A', 'lab-B']) await terminateLongJob(page, stack, program);
  await page.goto(stack.url);
  await expect(connection).toHaveText('Live');
  for (const p of stack.programs) {
    const counts = await dispyCounts(p.out);
    expect(counts.terminated, `${p.name}: dispy's terminated`).toBe(1);
    expect(counts.failed, `${p.name}: dispy's failed`).toBeGreaterThan(0);
    await expectCounts(page, p.name, counts);
  }
});
