import { test as base, expect, repo, python, lineMatching, stop, alive } from '../fixtures';
import type { Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

// `dispymon scheduler`: dispy's own dispyscheduler with the dashboard as its
// --httpd, two real dispynodes, and two SharedJobCluster clients
// (e2e/apps/shared_client.py), each a process of its own. The page shows
// each client's computation as a cluster, with the counts dispy tells that
// client, and the shared nodes once in '* Combined'.
const NODES = ['127.0.0.95', '127.0.0.96'];
const SCHEDULER = '127.0.0.97';
const CLIENTS: [string, number][] = [['127.0.0.98', 5], ['127.0.0.99', 3]]; // address, jobs
const CPUS = 2; // each node's
const RUNNING = 6, CREATED = 5, TERMINATED = 9, FINISHED = 11; // dispy's job statuses

interface Report {
  jobs: [number, string | null][];
  nodes: Record<string, number>;
  pending: number;
  exceptions: Record<string, string[]>; // why a job ended otherwise than Finished, by its index
}

/** One SharedJobCluster program; its stdout read line by line (dispy logs there too). */
class Client {
  readonly proc: ChildProcess;
  readonly name: string;
  private lines: string[] = [];
  private wake: (() => void)[] = [];

  constructor(readonly ip: string, readonly jobs: number, env: NodeJS.ProcessEnv, cwd: string) {
    this.name = `compute @ ${ip}`; // dispyscheduler names a computation after its function and its client
    this.proc = spawn(python, [path.join(repo, 'e2e', 'apps', 'shared_client.py')], {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...env, DISPYMON_E2E_CLIENT: ip, DISPYMON_E2E_JOBS: String(jobs) },
    });
    const take = (line: string) => {
      this.lines.push(line);
      for (const wake of this.wake.splice(0)) wake();
    };
    createInterface({ input: this.proc.stdout! }).on('line', take);
    createInterface({ input: this.proc.stderr! }).on('line', take);
  }

  /** The rest of the next line starting with `prefix`. */
  async next(prefix: string, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) return this.lines.splice(0, i + 1)[i].slice(prefix.length);
      if (this.proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`client ${this.ip}: no "${prefix}" line; it said:\n${this.lines.join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        this.wake.push(resolve);
        setTimeout(resolve, 1000); // to check the deadline and the exit without a line
      });
    }
  }

  /** What dispy tells this client now. */
  async report(): Promise<Report> {
    this.proc.stdin!.write('report\n');
    return JSON.parse(await this.next('report ')) as Report;
  }
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

const rowOf = (ip: string) => new RegExp(`^${ip.replace(/\./g, '\\.')}\\b(?!\\.)`);
const cell = (page: Page, ip: string, n: number) =>
  page.getByRole('table', { name: 'Nodes' }).getByRole('row', { name: rowOf(ip) }).getByRole('cell').nth(n);
const BUSY = 3, JOBS_DONE = 4; // the nodes table's columns
const figure = async (page: Page, key: string) => Number(await page.getByTestId(`jobs-${key}`).textContent());

/** Where the page differs from what dispy tells `client` (empty: nowhere), for the cluster shown. */
async function differences(page: Page, client: Client): Promise<Record<string, number[]>> {
  const report = await client.report();
  const count = (status: number, ip?: string) =>
    report.jobs.filter(([s, at]) => s === status && (ip === undefined || at === ip)).length;
  const want: Record<string, number> = {
    submitted: report.jobs.length,
    running: count(RUNNING),
    queued: count(CREATED),
    finished: count(FINISHED),
    terminated: count(TERMINATED),
    done: report.jobs.length - count(RUNNING) - count(CREATED),
  };
  const out: Record<string, number[]> = {};
  for (const [key, value] of Object.entries(want)) {
    const shown = await figure(page, key);
    if (shown !== value) out[key] = [shown, value];
  }
  for (const ip of NODES) {
    const busy = Number(await cell(page, ip, BUSY).textContent());
    if (busy !== count(RUNNING, ip)) out[`${ip} busy`] = [busy, count(RUNNING, ip)];
    const done = Number(await cell(page, ip, JOBS_DONE).textContent());
    // the client's own jobs that ended there (Finished or Terminated), and its cluster.status() (0 before any)
    const ended = count(FINISHED, ip) + count(TERMINATED, ip);
    const told = report.nodes[ip] ?? 0;
    if (done !== ended || done !== told) out[`${ip} jobs done: shown, job objects, status()`] = [done, ended, told];
  }
  if (Object.keys(out).length) out[`dispy tells the client: ${JSON.stringify(report)}`] = [];
  return out;
}

interface Shared {
  url: string;
  clients: Client[];
  openGate(): void;
}

const test = base.extend<{ shared: Shared }>({
  shared: async ({}, use, testInfo) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dispymon-e2e-scheduler-'));
    const nodes = spawn(python, ['-m', 'dispymon.localnodes', '--ips', NODES.join(','), '--cpus', String(CPUS), '--workdir', path.join(dir, 'nodes')], {
      cwd: repo,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let scheduler: ChildProcess | undefined;
    const said: string[] = []; // dispyscheduler's log, attached to a failed test
    const clients: Client[] = [];
    let nodePids: number[] = [];
    try {
      const [json] = await lineMatching(nodes, /^\{.*\}$/, 'the dispy nodes');
      const started = JSON.parse(json) as { port_base: number; nodes: { pid: number }[] };
      nodePids = started.nodes.map((n) => n.pid);
      const port = started.port_base;
      // stdin is not a terminal: `dispymon scheduler` adds dispyscheduler's --daemon
      scheduler = spawn(
        python,
        ['-m', 'dispymon', 'scheduler', '--port', '0', '--poll-sec', '0.2', '--',
          '-i', SCHEDULER, '-p', String(port), ...NODES.flatMap((ip) => ['-n', ip]),
          '--pulse_interval', '1', '--dest_path_prefix', path.join(dir, 'scheduler'), '--clean'],
        { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const [, url] = await lineMatching(scheduler, /dashboard at (http:\/\/\S+)/, 'dispymon scheduler');
      for (const stream of [scheduler.stdout!, scheduler.stderr!]) createInterface({ input: stream }).on('line', (l) => said.push(l));
      // the dashboard starts first; clients connect to dispyscheduler on port + 2
      await expect.poll(() => listening(SCHEDULER, port + 2), { timeout: 30_000 }).toBe(true);
      const gate = path.join(dir, 'gate');
      const env = {
        ...process.env,
        DISPYMON_E2E_NODES: NODES.join(','),
        DISPYMON_E2E_SCHEDULER: SCHEDULER,
        DISPYMON_E2E_PORT: String(port),
        DISPYMON_E2E_GATE: gate,
      };
      for (const [ip, jobs] of CLIENTS) {
        const client = new Client(ip, jobs, env, dir);
        clients.push(client);
        expect(Number(await client.next('submitted '))).toBe(jobs); // one after the other: a known order
      }
      await use({ url, clients, openGate: () => writeFileSync(gate, 'go') });
    } finally {
      for (const client of clients) await stop(client.proc);
      if (scheduler) await stop(scheduler);
      await stop(nodes);
      if (testInfo.status !== testInfo.expectedStatus) {
        const log = testInfo.outputPath('dispyscheduler.log');
        writeFileSync(log, said.join('\n'));
        await testInfo.attach('dispyscheduler.log', { path: log });
        for (const ip of NODES) {
          const nodeLog = path.join(dir, 'nodes', ip, 'dispynode.log');
          if (existsSync(nodeLog)) await testInfo.attach(`dispynode-${ip}.log`, { path: nodeLog });
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
    expect(nodePids.filter(alive), 'dispynode processes left running').toEqual([]);
  },
});

test("every client's computation, with what dispy tells that client, and the shared nodes once", async ({ page, shared }) => {
  test.setTimeout(180_000);
  const { clients } = shared;
  const total = clients.reduce((n, c) => n + c.jobs, 0);
  await page.goto(shared.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  const select = page.getByRole('combobox', { name: 'Cluster' });
  await expect(select.getByRole('option')).toHaveText(['* Combined', ...clients.map((c) => c.name)]);
  await expect(select).toHaveValue('* Combined');

  // the shared nodes, once; not the scheduler. The gate is shut: every CPU busy, the rest queued
  const table = page.getByRole('table', { name: 'Nodes' });
  for (const ip of NODES) await expect(table.getByRole('row', { name: rowOf(ip) })).toBeVisible();
  await expect(table.getByRole('row', { name: rowOf(SCHEDULER) })).toHaveCount(0);
  await expect(page.getByTestId('jobs-submitted')).toHaveText(String(total));
  await expect(page.getByTestId('jobs-running')).toHaveText(String(CPUS * NODES.length));
  await expect(page.getByTestId('jobs-queued')).toHaveText(String(total - CPUS * NODES.length));
  for (const client of clients) {
    await select.selectOption(client.name);
    await expect.poll(() => differences(page, client), { timeout: 60_000 }).toEqual({});
  }

  shared.openGate();
  const perNode: Record<string, number> = Object.fromEntries(NODES.map((ip) => [ip, 0]));
  let finished = 0;
  for (const client of clients) {
    await select.selectOption(client.name);
    // first every job back at its client (as dispy tells it), then the page the same
    let report = await client.report();
    await expect
      .poll(async () => ((report = await client.report()), report.jobs.filter(([s]) => s === RUNNING || s === CREATED)), {
        timeout: 60_000,
        message: `every job of ${client.name} back at its client`,
      })
      .toEqual([]);
    await expect.poll(() => differences(page, client), { timeout: 60_000 }).toEqual({});
    for (const ip of NODES) perNode[ip] += report.nodes[ip] ?? 0;
    finished += report.jobs.filter(([s]) => s === FINISHED).length;
  }

  // '* Combined': both clients' jobs, each node's jobs done added up over the clients
  await select.selectOption('* Combined');
  await expect(page.getByTestId('jobs-done')).toHaveText(String(total));
  await expect(page.getByTestId('jobs-finished')).toHaveText(String(finished));
  for (const ip of NODES) await expect(cell(page, ip, JOBS_DONE)).toHaveText(String(perNode[ip]));
});
