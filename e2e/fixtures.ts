import { test as base, expect } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

// The repository root, and the Python of its virtualenv (scripts/test makes it).
export const repo = path.resolve(__dirname, '..');
export const python = process.env.DISPYMON_PYTHON ?? path.join(repo, '.venv', 'bin', 'python');

/** Wait for a line of a child's stdout matching `pattern` (or its exit). */
export function lineMatching(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += String(d)));
    lines.on('line', (line) => {
      const m = line.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what}: process exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

/** SIGTERM a child by PID and wait for it to exit (SIGKILL after `graceMs`). */
export async function stop(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface RealCluster {
  url: string;
  ips: string[];
  jobs: number;
  /** Let the module's workload start submitting its jobs. */
  openGate(): void;
  /** The gate file's path: an app may write what dispy reports next to it. */
  gate: string;
  /** Start one more dispynode (same port base), stopped with the others. */
  startNode(ip: string): Promise<void>;
  /** Stop `dispymon serve` (SIGTERM) and start it again on the same port. */
  restartServer(): Promise<void>;
  /** The PID of the dispynode on `ip` (the last started there): a test may kill it. */
  nodePid(ip: string): number;
}

export interface ClusterOptions {
  nodeCount: number;
  jobs: number;
  pollSec: number;
  /** the cluster module `dispymon serve` runs, relative to e2e/apps */
  appModule: string;
  /** first loopback address: 127.0.0.<firstIp> */
  firstIp: number;
  /** CPUs each node offers */
  cpus: number;
  /** the name every node reports (dispynode --name); empty: the host's */
  nodeName: string;
  /** more `dispymon serve` options */
  serveArgs: string[];
}

/**
 * A real cluster per test: dispynode processes on loopback addresses
 * (python -m dispymon.localnodes) and `dispymon serve` with e2e/apps/jobs_app.py.
 * Everything is stopped by PID afterwards, and the test fails if a node survives.
 */
export const test = base.extend<ClusterOptions & { cluster: RealCluster }>({
  nodeCount: [2, { option: true }],
  jobs: [30, { option: true }],
  pollSec: [0.2, { option: true }],
  appModule: ['jobs_app.py', { option: true }],
  firstIp: [2, { option: true }],
  cpus: [2, { option: true }],
  nodeName: ['', { option: true }],
  serveArgs: [[], { option: true }],
  cluster: async ({ nodeCount, jobs, pollSec, appModule, firstIp, cpus, nodeName, serveArgs }, use) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dispymon-e2e-'));
    const ips = Array.from({ length: nodeCount }, (_, i) => `127.0.0.${firstIp + i}`);
    const nameArgs = nodeName ? ['--node-name', nodeName] : [];
    const nodes = spawn(python, ['-m', 'dispymon.localnodes', '--ips', ips.join(','), '--cpus', String(cpus), '--workdir', path.join(dir, 'nodes'), ...nameArgs], {
      cwd: repo,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let serve: ChildProcess | undefined;
    let nodePids: number[] = [];
    const pidOf = new Map<string, number>();
    const extra: ChildProcess[] = [];
    try {
      const [json] = await lineMatching(nodes, /^\{.*\}$/, 'the dispy nodes');
      const started = JSON.parse(json) as { port_base: number; nodes: { ip: string; pid: number }[] };
      nodePids = started.nodes.map((n) => n.pid);
      for (const n of started.nodes) pidOf.set(n.ip, n.pid);
      const gate = path.join(dir, 'gate');
      const startServe = async (port: string): Promise<string> => {
        serve = spawn(
          python,
          ['-m', 'dispymon', 'serve', '--cluster-module', path.join(repo, 'e2e', 'apps', appModule), '--port', port, '--poll-sec', String(pollSec), ...serveArgs],
          {
            cwd: dir,
            stdio: ['ignore', 'pipe', 'pipe'],
            env: {
              ...process.env,
              DISPYMON_E2E_NODES: ips.join(','),
              DISPYMON_E2E_PORT: String(started.port_base),
              DISPYMON_E2E_GATE: gate,
              DISPYMON_E2E_JOBS: String(jobs),
            },
          },
        );
        const [, found] = await lineMatching(serve, /dashboard at (http:\/\/\S+)/, 'dispymon serve');
        return found;
      };
      const url = await startServe('0');
      const restartServer = async () => {
        if (serve) await stop(serve);
        await startServe(new URL(url).port);
      };
      const startNode = async (ip: string) => {
        const more = spawn(
          python,
          ['-m', 'dispymon.localnodes', '--ips', ip, '--cpus', String(cpus), '--port-base', String(started.port_base), '--workdir', path.join(dir, `more-${ip}`)],
          { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] },
        );
        extra.push(more);
        const [line] = await lineMatching(more, /^\{.*\}$/, `dispynode ${ip}`);
        const added = (JSON.parse(line) as { nodes: { ip: string; pid: number }[] }).nodes;
        nodePids.push(...added.map((n) => n.pid));
        for (const n of added) pidOf.set(n.ip, n.pid);
      };
      const nodePid = (ip: string) => {
        const pid = pidOf.get(ip);
        if (pid === undefined) throw new Error(`no dispynode on ${ip}`);
        return pid;
      };
      await use({ url, ips, jobs, gate, openGate: () => writeFileSync(gate, 'go'), startNode, restartServer, nodePid });
    } finally {
      if (serve) await stop(serve);
      for (const more of extra) await stop(more);
      await stop(nodes);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(nodePids.filter(alive), 'dispynode processes left running').toEqual([]);
  },
});

// `dispymon serve --history-db <file>` in a temporary directory of its own,
// removed after the test (the cluster, which uses these args, stops first).
export const withHistoryDb = test.extend<{ historyDb: string }>({
  historyDb: async ({}, use) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dispymon-e2e-history-'));
    try {
      await use(path.join(dir, 'history.db'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  serveArgs: async ({ historyDb }, use) => {
    await use(['--history-db', historyDb]);
  },
});

export { expect };
