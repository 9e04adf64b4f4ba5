"""`dispymon scheduler`: a real dispyscheduler through dispymon's entry, real dispynodes, two real clients.

Each `SharedJobCluster` client (e2e/apps/shared_client.py) runs in a process
of its own (dispy keeps one client scheduler per process) and, asked on its
stdin, prints what dispy tells it: its job objects' statuses and nodes, and `cluster.status()`. The
dashboard of the scheduler must show both clients' computations, and the
shared nodes, with the same counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from dispymon.adapters.localnodes import LocalCluster, free_port_base, stop_group, wait_for_tcp
from dispymon.entry.scheduler import scheduler_argv
from conftest import REPO, WSClient
from fleettools import central_factory, redis_server  # noqa: F401

pytestmark = pytest.mark.cluster

NODES = ["127.0.0.90", "127.0.0.91"]
SCHEDULER = "127.0.0.92"
CLIENTS = {"127.0.0.93": 5, "127.0.0.94": 3}  # client address: jobs it submits
CPUS = 2  # each node's
RUNNING, CREATED, FINISHED, TERMINATED, ABANDONED = 6, 5, 11, 9, 10  # dispy's job statuses

CLIENT = REPO / "e2e" / "apps" / "shared_client.py"  # the Playwright spec runs it too


class Client:
    """One SharedJobCluster program in a process of its own."""

    def __init__(self, ip: str, jobs: int, env: dict[str, str], cwd: Path) -> None:
        self.ip, self.jobs = ip, jobs
        env = {**env, "DISPYMON_E2E_CLIENT": ip, "DISPYMON_E2E_JOBS": str(jobs)}
        self.proc = subprocess.Popen([sys.executable, str(CLIENT)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     cwd=cwd, env=env, start_new_session=True)  # fmt: skip
        self.said: list[str] = []

    def _line(self, prefix: str) -> str:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # dispy logs to stdout too: skip its lines
            self.said.append(line)
            if line.startswith(prefix):
                return line[len(prefix) :]
        raise AssertionError(f"client {self.ip} ended: " + "".join(self.said))

    async def line(self, prefix: str, timeout: float = 60) -> str:
        return await asyncio.wait_for(asyncio.to_thread(self._line, prefix), timeout)

    async def report(self) -> dict:
        await self.say("report")
        return json.loads(await self.line("report "))

    async def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            stop_group(self.proc)


@contextlib.contextmanager
def scheduler_process(tmp_path: Path, options: tuple[str, ...] = ()) -> Iterator[tuple[str, int, LocalCluster]]:
    """Two dispynodes and `dispymon scheduler [options]` serving them: the dashboard's URL, the dispy port base,
    the nodes; all stopped by PID after."""
    port = free_port_base(["127.0.0.1", *NODES, SCHEDULER, *CLIENTS])
    nodes = LocalCluster(tmp_path / "nodes", NODES, cpus=CPUS, port_base=port).start()
    log = tmp_path / "scheduler.log"
    cmd = [sys.executable, "-m", "dispymon", "scheduler", "--port", "0", "--poll-sec", "0.2", *options, "--",
           "-i", SCHEDULER, "-p", str(port), *[a for ip in NODES for a in ("-n", ip)], "--pulse_interval", "1",
           "--dest_path_prefix", str(tmp_path / "scheduler"), "--clean"]  # fmt: skip
    with open(log, "w") as out:
        sched = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 cwd=tmp_path, start_new_session=True)  # fmt: skip
    try:
        wait_for_tcp(SCHEDULER, port + 2, 30, sched, "dispymon scheduler")  # where clients connect
        # the dashboard listens (and says where) before dispyscheduler starts
        found = re.search(r"dashboard at (http://\S+)", log.read_text())
        assert found, log.read_text()
        yield found.group(1), port, nodes
    finally:
        stop_group(sched, grace=15)
        nodes.stop()
    assert sched.returncode is not None, f"dispymon scheduler (PID {sched.pid}) still running"


@pytest.fixture
def shared(tmp_path):
    with scheduler_process(tmp_path) as started:
        yield started


def client_env(port: int, gate: Path) -> dict[str, str]:
    return {**os.environ, "DISPYMON_E2E_NODES": ",".join(NODES), "DISPYMON_E2E_SCHEDULER": SCHEDULER,
            "DISPYMON_E2E_PORT": str(port), "DISPYMON_E2E_GATE": str(gate)}  # fmt: skip


def shown(ws: WSClient, ip: str, program: str = "") -> dict:
    """A client's computation as the dashboard shows it (on a fleet's central: under its program's name)."""
    return ws.clusters[f"{program}/compute @ {ip}" if program else f"compute @ {ip}"]


def agrees(cluster: dict, report: dict) -> bool:
    """The dashboard's counts of one client's computation equal what dispy tells that client."""
    statuses = Counter(status for status, _ in report["jobs"])
    jobs = cluster["jobs"]
    running_on = Counter(ip for status, ip in report["jobs"] if status == RUNNING)
    done_on = Counter(ip for status, ip in report["jobs"] if status in (FINISHED, TERMINATED))
    return (
        jobs["submitted"] == len(report["jobs"])
        and jobs["running"] == statuses[RUNNING]
        and jobs["queued"] == statuses[CREATED]
        and jobs["finished"] == statuses[FINISHED]
        and jobs["terminated"] == statuses[TERMINATED]
        and jobs["done"] == statuses[FINISHED] + statuses[TERMINATED]
        and set(cluster["nodes"]) == set(NODES)  # the shared nodes, not the scheduler
        and all(cluster["nodes"][ip]["busy"] == running_on[ip] for ip in NODES)
        and all(cluster["nodes"][ip]["jobs_done"] == done_on[ip] == report["nodes"].get(ip, 0) for ip in NODES)
    )


async def test_every_clients_computation_and_the_shared_nodes_as_dispy_tells_each_client(shared, tmp_path):
    url, port, nodes = shared
    gate = tmp_path / "gate"
    clients = [Client(ip, jobs, client_env(port, gate), tmp_path) for ip, jobs in CLIENTS.items()]
    ids = itertools.count(1)
    try:
        for client in clients:
            assert int(await client.line("submitted ")) == client.jobs

        async with aiohttp.ClientSession() as session:
            ws = WSClient(await session.ws_connect(url.rstrip("/") + "/ws"))

            async def until_agreed(what: str, also=lambda m: True) -> list[dict]:
                """Until the dashboard agrees with what each client's dispy reports (and `also` holds):
                the dashboard's side is waited on, the clients are asked again after each wait."""
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 90
                while True:
                    reports = [await c.report() for c in clients]

                    def holds(m: WSClient, reports: list[dict] = reports) -> bool:
                        return also(m) and all(agrees(shown(m, c.ip), r) for c, r in zip(clients, reports, strict=True))

                    try:
                        await ws.until(holds, timeout=2, what=what)
                        return reports
                    except AssertionError:
                        if loop.time() > deadline:
                            raise AssertionError(f"{what}: dashboard {ws.clusters} vs dispy {reports}") from None

            # the gate is shut: every CPU of the shared nodes busy, the rest queued, per client as dispy says
            await ws.until(lambda m: len(m.clusters) == 2, what="both clients' computations")
            reports = await until_agreed(
                "jobs held", lambda m: sum(shown(m, c.ip)["jobs"]["running"] for c in clients) == CPUS * len(NODES)
            )
            assert all(c["kind"] == "SharedJobCluster" for c in ws.clusters.values())
            assert sum(Counter(s for s, _ in r["jobs"])[RUNNING] for r in reports) == CPUS * len(NODES)

            # the operator terminates one of the first client's running jobs: dispy tells that client so
            first = f"compute @ {clients[0].ip}"
            await ws.until(lambda m: m.clusters[first]["jobs"]["running"] > 0, what="a running job of the first")
            busy = next(ip for ip in NODES if ws.clusters[first]["nodes"][ip]["busy"] > 0)
            await ws.send({"type": "view", "node": busy})
            await ws.until(lambda m: m.node_jobs and any(j["cluster"] == first for j in m.node_jobs["jobs"].values()),
                           what=f"the first client's jobs on {busy}")  # fmt: skip
            uid = next(j["uid"] for j in ws.node_jobs["jobs"].values() if j["cluster"] == first)
            cid = next(ids)
            await ws.send({"type": "command", "id": cid, "name": "terminate_jobs", "args": {"uids": [uid]}})
            await ws.until(lambda m: cid in m.results, what="the terminate's result", fresh=False)
            assert ws.results[cid]["value"]["results"] == {str(uid): "terminated"}, ws.results[cid]
            reports = await until_agreed(
                "one job terminated", lambda m: shown(m, clients[0].ip)["jobs"]["terminated"] == 1
            )
            assert Counter(s for s, _ in reports[0]["jobs"])[TERMINATED] == 1

            # the gate opens: every job ends; each computation's figures are its client's
            gate.write_text("go")
            reports = await until_agreed(
                "every job done", lambda m: all(shown(m, c.ip)["jobs"]["done"] == c.jobs for c in clients)
            )
            for client, report in zip(clients, reports, strict=True):
                assert report["pending"] == 0
                assert Counter(s for s, _ in report["jobs"]) == (
                    {FINISHED: client.jobs - 1, TERMINATED: 1} if client is clients[0] else {FINISHED: client.jobs}
                )

            # a node stops while idle (dispyscheduler only watches busy nodes' pulses); with the gate shut again,
            # the other node's CPUs hold the first new jobs and the next are sent to the lost one: dispyscheduler
            # deletes it (its delete_node needs the worker_Q dispymon gives it) and the job comes back to its
            # client Abandoned, which dispyscheduler tells no HTTP server (docs/dispy-notes.md)
            gate.unlink()
            lost = nodes.nodes[0]
            lost.stop()  # its process group: nothing holds its port open, a job sent there is refused at once
            await clients[0].say("submit 4")
            assert int(await clients[0].line("submitted ")) == clients[0].jobs + 4
            await ws.until(lambda m: all(c["nodes"][lost.ip]["status"] == "closed" for c in m.clusters.values()),
                           what=f"{lost.ip} closed in every computation")  # fmt: skip
            gate.write_text("go")
            first_jobs = lambda m: shown(m, clients[0].ip)["jobs"]  # noqa: E731
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            while True:  # until every new job has ended for its client
                report = await clients[0].report()
                ended = Counter(s for s, _ in report["jobs"])
                abandoned = ended[ABANDONED]
                if ended[CREATED] + ended[RUNNING] == 0:
                    break
                assert loop.time() < deadline, f"the client's jobs did not end: {report}"
                finished = first_jobs(ws)["finished"]
                with contextlib.suppress(AssertionError):  # progress on the dashboard, or 2 s
                    await ws.until(lambda m: first_jobs(m)["finished"] > finished, timeout=2, what="progress")  # noqa: B023
            assert abandoned >= 1, report  # the job sent to the lost node
            await ws.until(lambda m: first_jobs(m)["finished"] == ended[FINISHED], what="the new jobs finished")
            jobs = first_jobs(ws)
            assert jobs["submitted"] == len(report["jobs"])
            assert jobs["queued"] == abandoned and jobs["abandoned"] == 0  # never reported by dispyscheduler
            assert jobs["terminated"] == ended[TERMINATED] == 1

            # a client that closes its cluster: dispyscheduler ends the computation, the dashboard drops it
            await clients[1].say("quit")
            await clients[1].line("closed")
            await ws.until(lambda m: set(m.clusters) == {first}, what="the closed client's computation gone")
    finally:
        for client in clients:
            client.stop()


def test_scheduler_argv_adds_httpd_and_daemon_and_turns_the_config_files_server_on(tmp_path):
    assert scheduler_argv(["--", "-n", "10.0.0.2"], tmp_path, stdin_is_tty=True) == ["-n", "10.0.0.2", "--httpd"]
    # with no terminal, dispyscheduler would read commands from a closed stdin for ever
    assert scheduler_argv(["-n", "a"], tmp_path, stdin_is_tty=False) == ["-n", "a", "--httpd", "--daemon"]
    assert scheduler_argv(["--daemon"], tmp_path, stdin_is_tty=False) == ["--daemon", "--httpd"]
    # a config file (dispyscheduler then reads nothing else) saved without --httpd gets a copy with it on
    conf = tmp_path / "sched.conf"
    conf.write_text("[DEFAULT]\nhttp_server = False\nnodes = []\n")
    (tmp_path / "copy").mkdir()
    argv = scheduler_argv(["--", "--config", str(conf)], tmp_path / "copy", stdin_is_tty=True)
    assert argv[0] == "--config" and argv[2:] == ["--httpd"]
    copy = Path(argv[1])
    assert copy != conf and "http_server = True" in copy.read_text() and "nodes = []" in copy.read_text()
    assert "http_server = False" in conf.read_text()  # the user's file is left as it was


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dispymon", "scheduler", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_a_dashboard_port_in_use_stops_the_start_before_dispyscheduler(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        done = run_cli("--port", str(port), "--", "-i", "127.0.0.1", "--dest_path_prefix", str(tmp_path / "s"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dispymon: cannot listen on 127.0.0.1:{port}: "), done.stderr
    assert lines[0].endswith("address already in use")
    assert "dispyscheduler" not in done.stdout, "dispyscheduler started though the dashboard could not"
    assert not (tmp_path / "s").exists()


def test_dispyschedulers_own_errors_and_options_before_the_separator(tmp_path):
    # a bad dispyscheduler option: its argparse says so and exits 2; the dashboard closes with it
    done = run_cli("--port", "0", "--", "--no-such-option")
    assert done.returncode == 2 and "--no-such-option" in done.stderr, done
    assert "dashboard at http://127.0.0.1:" in done.stdout
    # dispyscheduler's options go after '--' (its -i/-p would read as the dashboard's --host/--port)
    done = run_cli("--port", "0", "-n", "10.0.0.2")
    assert done.returncode == 2 and "unrecognized arguments: -n" in done.stderr, done
    done = run_cli("--port", "0", "node1")
    assert done.returncode == 2 and "after '--'" in done.stderr, done


async def test_with_a_broker_a_central_shows_every_computation_as_dispy_tells_each_client(
    tmp_path,
    redis_server,  # noqa: F811
    central_factory,  # noqa: F811
):
    """`dispymon scheduler --broker URL --program NAME` publishes too (docs/fleet.md): a central shows the
    scheduler's computations, under its program's name, with what dispy tells each client."""
    gate = tmp_path / "gate"
    gate.write_text("go")  # the jobs run at once
    with scheduler_process(tmp_path, ("--broker", redis_server.url, "--program", "sched")) as (_url, port, _nodes):
        central = await central_factory(redis_server.url)
        ws = await central.connect()
        clients = [Client(ip, jobs, client_env(port, gate), tmp_path) for ip, jobs in CLIENTS.items()]
        try:
            reports = []
            for client in clients:
                assert int(await client.line("submitted ")) == client.jobs
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            while True:  # until each client's dispy has every job back
                reports = [await c.report() for c in clients]
                pairs = zip(clients, reports, strict=True)
                if all(Counter(s for s, _ in r["jobs"]) == {FINISHED: c.jobs} for c, r in pairs):
                    break
                assert loop.time() < deadline, f"the clients' jobs did not end: {reports}"
                with contextlib.suppress(AssertionError):  # a change on the central, or 2 s
                    seq = ws.seq
                    await ws.until(lambda m: m.seq != seq, timeout=2, what="a change", fresh=False)  # noqa: B023

            def holds(m: WSClient) -> bool:
                return set(m.clusters) == {f"sched/compute @ {c.ip}" for c in clients} and all(
                    shown(m, c.ip, "sched")["program"] == "sched" and agrees(shown(m, c.ip, "sched"), r)
                    for c, r in zip(clients, reports, strict=True)
                )

            await ws.until(holds, timeout=60, what="the scheduler's computations on the central")
        finally:
            for client in clients:
                client.stop()


def test_a_broker_that_cannot_be_reached_stops_the_start_in_one_line_before_dispyscheduler(tmp_path):
    with socket.socket() as held:  # a port where nothing answers
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        done = run_cli("--port", "0", "--broker", f"redis://someone:s3cret@127.0.0.1:{port}/0", "--",
                       "-i", "127.0.0.1", "--dest_path_prefix", str(tmp_path / "s"))  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dispymon: the broker redis://someone:***@"), done.stderr
    assert "s3cret" not in done.stdout + done.stderr
    assert "dispyscheduler" not in done.stdout and not (tmp_path / "s").exists()
    done = run_cli("--port", "0", "--program", "no spaces please", "--broker", "redis://127.0.0.1:1/0")
    assert done.returncode == 2 and "--program" in done.stderr and len(done.stderr.strip().splitlines()) == 1
