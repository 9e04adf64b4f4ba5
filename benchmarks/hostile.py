"""Hostile load: connections that never finish their request (slowloris)
against a dispy program serving the dashboard, under a 1,024 open-file limit.

    python -m benchmarks.hostile [--seconds 60] [--connections 1100] [--nofile 1024]

Starts two real dispynode processes and a program (its own process, under
`prlimit --nofile=N:N`) that runs a JobCluster, keeps 4 jobs running and
serves the dashboard with `dispymon.entry.httpd.DispyHTTPServer`. Then, from this
process, holds `--connections` sockets open on the dashboard's port for
`--seconds`: each sends the start of a request head and a header line every
5 s, and reconnects a second after the server closes it. Meanwhile a probe
makes a real request every 0.5 s (a GET of /api/clusters, and every 2 s a
WebSocket to its snapshot), each on a new connection. Reports the probes'
latencies and failures, the program's log growth, and what dispy itself
reported (its cluster_status callback, then cluster.status()): nodes closed
and jobs abandoned. `--base DIR` runs the program with another checkout's
backend (DIR/backend) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "backend"))

from dispymon.adapters.localnodes import LocalCluster, free_port_base  # noqa: E402

APP = textwrap.dedent("""
    import json, os, sys, threading, time
    import dispy
    from dispymon.entry.httpd import DispyHTTPServer

    def compute(n):
        import time
        time.sleep(n)
        return n

    seen = {}
    lock = threading.Lock()

    def mine(status, node, job):  # the program's own callback, chained to the dashboard
        name = {dispy.DispyNode.Closed: 'node_closed', dispy.DispyNode.Initialized: 'node_initialized',
                dispy.DispyJob.Abandoned: 'job_abandoned', dispy.DispyJob.Finished: 'job_finished',
                dispy.DispyJob.Terminated: 'job_terminated', dispy.DispyJob.Cancelled: 'job_cancelled'}.get(status)
        if name and (job is not None or name.startswith('node')):
            with lock:
                seen[name] = seen.get(name, 0) + 1
        server.cluster_status(status, node, job)

    if __name__ == '__main__':
        import resource
        nodes = os.environ['NODES'].split(',')
        cluster = dispy.JobCluster(compute, nodes=nodes, host='127.0.0.1', dispy_port=int(os.environ['PORT']),
                                   cluster_status=mine, loglevel=dispy.logger.WARNING)
        server = DispyHTTPServer(None, host='127.0.0.1', port=0, poll_sec=1, DocumentRoot=os.environ['DOCROOT'])
        server.add_cluster(cluster)
        print('port', server.port, 'nofile', resource.getrlimit(resource.RLIMIT_NOFILE), flush=True)
        stop = threading.Event()

        def workload():
            while not stop.is_set():
                jobs = [cluster.submit(1.0) for _ in range(4)]
                for job in jobs:
                    job()

        worker = threading.Thread(target=workload, daemon=True)
        worker.start()
        sys.stdin.read()  # the benchmark closes our stdin when it is done
        stop.set()
        worker.join(60)
        status = cluster.status()
        with lock:
            summary = dict(seen)
        summary['dispy_nodes'] = sorted(n.ip_addr for n in status.nodes)
        summary['dispy_jobs_pending'] = status.jobs_pending
        print('summary', json.dumps(summary), flush=True)
        server.shutdown(wait=False)
        cluster.close(timeout=10, terminate=True)
""")


class Attack:
    """`count` connections that never finish their head, kept open for as long as it runs."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.open = 0
        self.max_open = 0
        self.connects = 0
        self.closed_by_server = 0
        self.failed_connects = 0
        self.stopping = False

    async def one(self, i: int) -> None:
        while not self.stopping:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 10)
            except (OSError, TimeoutError):
                self.failed_connects += 1
                await asyncio.sleep(1.0)  # the attacker's pace, not a synchronisation
                continue
            self.connects += 1
            self.open += 1
            self.max_open = max(self.max_open, self.open)
            try:
                writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                n = 0
                while not self.stopping:
                    try:
                        data = await asyncio.wait_for(reader.read(4096), 5.0)
                    except TimeoutError:
                        n += 1
                        writer.write(b"X-Slow-%d: 1\r\n" % n)
                        continue
                    if not data:
                        break
                if not self.stopping:
                    self.closed_by_server += 1
            except OSError:
                self.closed_by_server += 1
            finally:
                self.open -= 1
                writer.close()
            await asyncio.sleep(1.0)  # reconnect a second later: bounded churn

    async def run(self, seconds: float) -> None:
        tasks = [asyncio.create_task(self.one(i)) for i in range(self.count)]
        await asyncio.sleep(seconds)  # the attack's length
        self.stopping = True
        await asyncio.gather(*tasks, return_exceptions=True)


async def probe(port: int, seconds: float) -> dict[str, Any]:
    """Real requests on new connections while the attack runs: latencies (s), failures."""
    url = f"http://127.0.0.1:{port}"
    gets: list[float] = []
    sockets: list[float] = []
    failures: list[str] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    n = 0
    timeout = aiohttp.ClientTimeout(total=10)
    while loop.time() < end:
        n += 1
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True), timeout=timeout) as s:
            began = loop.time()
            try:
                async with s.get(f"{url}/api/clusters") as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"HTTP {resp.status}")
                gets.append(loop.time() - began)
            except Exception as exc:
                failures.append(f"GET: {type(exc).__name__} {exc}"[:200])
            if n % 4 == 0:
                began = loop.time()
                try:
                    async with s.ws_connect(f"{url}/ws") as ws:
                        for _ in range(2):  # hello, snapshot
                            msg = await ws.receive(timeout=10)
                            if msg.type != aiohttp.WSMsgType.BINARY:
                                raise RuntimeError(f"{msg.type} {msg.data!r}")
                    sockets.append(loop.time() - began)
                except Exception as exc:
                    failures.append(f"WS: {type(exc).__name__} {exc}"[:200])
        await asyncio.sleep(0.5)  # the probe's pace
    return {"get": gets, "ws": sockets, "failures": failures}


def read_port(proc: subprocess.Popen, log: Path, timeout: float = 120) -> int:
    """The dashboard's port, from the program's log (its stdout and stderr)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("port "):
                return int(line.split()[1])
        if proc.poll() is not None:
            raise RuntimeError(f"the program ended before serving: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)  # polling interval of a condition wait
    raise RuntimeError("the program did not serve within 120 s")


def run(seconds: float, connections: int, nofile: int, nodes: LocalCluster, workdir: Path,
        backend: Path = REPO / "backend") -> dict[str, Any]:  # fmt: skip
    """One hostile run against a program of its own; the figures."""
    app = workdir / "hostile_app.py"
    app.write_text(APP)
    docroot = workdir / "static"  # a stand-in page: what is measured is the server, not the SPA
    (docroot / "assets").mkdir(parents=True, exist_ok=True)
    (docroot / "index.html").write_text("<!doctype html><title>dispymon</title><div id=root></div>")
    log = workdir / "hostile_app.log"
    env = {**os.environ, "NODES": ",".join(n.ip for n in nodes.nodes), "PORT": str(nodes.port_base),
           "PYTHONPATH": str(backend), "DOCROOT": str(docroot)}  # fmt: skip
    prlimit = shutil.which("prlimit")
    assert prlimit, "prlimit (util-linux) is needed"
    with open(log, "w") as out:
        proc = subprocess.Popen([prlimit, f"--nofile={nofile}:{nofile}", sys.executable, str(app)],
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, text=True, cwd=workdir,
                                env=env)  # fmt: skip
    try:
        port = read_port(proc, log)
        log_before = log.stat().st_size

        async def attack_and_probe() -> tuple[Attack, dict[str, Any]]:
            attack = Attack(port, connections)
            attacking = asyncio.create_task(attack.run(seconds))
            await asyncio.sleep(min(5.0, seconds / 4))  # let the connections pile up before probing
            probed = await probe(port, seconds - min(5.0, seconds / 4))
            await attacking
            return attack, probed

        began = time.monotonic()
        attack, probed = asyncio.run(attack_and_probe())
        elapsed = time.monotonic() - began
        log_after = log.stat().st_size
        assert proc.stdin is not None
        proc.stdin.close()
        code = proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    summary = next((json.loads(line[8:]) for line in text.splitlines() if line.startswith("summary ")), None)
    lat = sorted(probed["get"] + probed["ws"])
    return {
        "seconds": round(elapsed, 1), "connections": connections, "nofile": nofile, "exit_code": code,
        "attack": {"max_open": attack.max_open, "connects": attack.connects,
                   "closed_by_server": attack.closed_by_server, "failed_connects": attack.failed_connects},
        "probes": len(lat) + len(probed["failures"]), "failures": probed["failures"][:5],
        "failed": len(probed["failures"]),
        "get_max": max(probed["get"], default=None), "ws_max": max(probed["ws"], default=None),
        "p50": lat[len(lat) // 2] if lat else None, "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
        "log_growth_bytes": log_after - log_before, "log_tail": text[-600:],
        "dispy": summary,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument("--nofile", type=int, default=1024)
    parser.add_argument("--base", type=Path, help="a checkout whose backend/ the program runs instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dispymon-hostile-") as tmp:
        ips = [f"127.0.0.{i}" for i in (71, 72)]
        nodes = LocalCluster(Path(tmp) / "nodes", ips, cpus=2, port_base=free_port_base(["127.0.0.1", *ips]))
        nodes.start()
        try:
            backend = args.base / "backend" if args.base else REPO / "backend"
            figures = run(args.seconds, args.connections, args.nofile, nodes, Path(tmp), backend)
        finally:
            nodes.stop()
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
