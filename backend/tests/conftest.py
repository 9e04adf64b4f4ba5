from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dispymon.transport.codec import decode, encode  # noqa: E402
from dispymon.adapters.localnodes import LocalCluster, free_port_base  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _log_to_real_stdout() -> None:
    """dispy/pycos loggers bind sys.stdout when imported, which under pytest is
    a capture stream closed before dispy's atexit hook logs its shutdown."""
    import dispy
    import pycos

    for logger in (dispy.logger, pycos.logger):
        logger.stream = sys.__stdout__


_log_to_real_stdout()


async def job_result(job: Any, timeout: float = 120.0) -> Any:
    """A dispy job's result (`job()`), waiting at most `timeout` s: dispynode 4.15.2 can lose
    a very short job for good (its reply thread dies of "can only join a started process",
    docs/dispy-notes.md), and a test must then fail, not hang the whole run."""
    ended = await asyncio.to_thread(job.finish.wait, timeout)
    assert ended, f"dispy job {job.id!r} did not end within {timeout:g} s (status {job.status}; see dispynode.log)"
    return job()


def dispynode_start_race(job: Any) -> bool:
    """Whether dispynode 4.15.2 lost `job` to its own race (docs/dispy-notes.md): it starts
    the job's process, and writes the pid file after; a job that ends first (a fast one on
    a loaded machine) has its process cleared by the reply thread, the write fails, and
    dispynode reports the job Terminated with that AttributeError. Not dispymon's doing."""
    import dispy

    exc = job.exception or ""
    return job.status == dispy.DispyJob.Terminated and "job_info.proc.pid" in exc and "AttributeError" in exc


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll a condition (a short poll interval, never a synchronisation sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    """A stand-in SPA build, so server tests do not depend on the real one."""
    d = tmp_path / "static"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_text("<!doctype html><title>dispymon test</title><div id=root></div>")
    (d / "assets" / "app.js").write_text("console.log('dispymon')")
    (d / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("outside the build")
    return d


@pytest.fixture(scope="session")
def dispy_port() -> int:
    """One dispy port base for the whole test process: dispy's scheduler is a
    per-process singleton that keeps the port of the first cluster created."""
    return free_port_base(["127.0.0.1"] + [f"127.0.0.{i}" for i in range(2, 40)])


@pytest.fixture
def local_nodes(tmp_path: Path, dispy_port: int):
    """Factory: start real dispynode processes on loopback; all stopped by PID after."""
    started: list[LocalCluster] = []

    def start(count: int = 2, cpus: int = 2, first: int = 2, other_process: bool = False) -> LocalCluster:
        """`other_process`: the nodes serve a dispy client in a subprocess, which
        needs a port base of its own (this process's scheduler holds dispy_port)."""
        ips = [f"127.0.0.{first + i}" for i in range(count)]
        port = free_port_base(["127.0.0.1", *ips]) if other_process else dispy_port
        cluster = LocalCluster(tmp_path / f"nodes{len(started)}", ips, cpus=cpus, port_base=port)
        started.append(cluster)
        return cluster.start()

    yield start
    for cluster in started:
        cluster.stop()
    for cluster in started:
        for node in cluster.nodes:
            assert not node.alive(), f"dispynode {node.ip} (PID {node.pid}) still running"


class WSClient:
    """A protocol client for tests, reading what a browser is told without a
    copy of the browser's reducer: the latest snapshot (the server's whole
    state when it was sent), hello, and the results by id. Deltas are checked
    for their sequence numbers only; that snapshot + deltas rebuild the state
    is the golden frames' test (test_golden.py, frontend core/golden.test.ts).
    """

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.hello: dict[str, Any] | None = None
        self.results: dict[Any, dict[str, Any]] = {}
        self.seq: int | None = None  # of the last snapshot or delta
        # from the latest snapshot
        self.clusters: dict[str, Any] = {}
        self.settings: dict[str, Any] = {}
        self.audit: list[dict[str, Any]] = []
        self.node_jobs: dict[str, Any] | None = None

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise AssertionError(f"expected a binary frame, got {msg.type} {msg.data!r} {msg.extra!r}")
        message = decode(msg.data)
        self.messages.append(message)
        self.take(message)
        return message

    def take(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "hello":
            self.hello = message
        elif kind == "result":
            self.results[message["id"]] = message
        elif kind == "snapshot":
            self.seq = message["seq"]
            self.clusters, self.settings = message["clusters"], message["settings"]
            self.audit, self.node_jobs = message["audit"], message["node_jobs"]
        elif kind == "delta":
            # each delta is the next of its connection (a gap would make a browser resync)
            assert self.seq is not None and message["seq"] == self.seq + 1, f"delta {message['seq']} after {self.seq}"
            self.seq = message["seq"]

    def last_sent(self, cluster: str, *path: str) -> Any:
        """The value at `path` in a cluster's record as last sent (a snapshot or a
        delta; a delta carries what changed, so the last one to carry it has it),
        for tests that read the frames sent before a close (no resync then)."""
        for message in reversed(self.messages):
            value: Any = message.get("clusters", {}) if message["type"] in ("snapshot", "delta") else {}
            value = value.get(cluster)
            for key in path:
                if not isinstance(value, dict) or key not in value:
                    value = None
                    break
                value = value[key]
            if value is not None:
                return value
        raise KeyError((cluster, *path))

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_bytes(encode(message))

    async def until(self, predicate: Callable[["WSClient"], Any], timeout: float = 30.0, what: str = "state",
                    fresh: bool = True) -> None:  # fmt: skip
        """Receive until `predicate(self)` holds; one that cannot be evaluated
        yet (a cluster or node not arrived: KeyError) counts as not holding.

        `fresh`: while it does not hold, ask for a snapshot (`resync`, at most
        five a second), so a predicate on the state reads the server's whole
        state; False for predicates on frames or results (a resync is a
        message: it would count in rate limits and resync counters, and bring
        a paused browser a snapshot)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        next_resync = loop.time()

        def holds() -> bool:
            try:
                return bool(predicate(self))
            except (KeyError, IndexError, TypeError):
                return False

        while not holds():
            now = loop.time()
            left = deadline - now
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; last state {self.clusters!r}")
            if fresh and now >= next_resync:
                await self.send({"type": "resync"})
                next_resync = now + 0.2
            try:
                await self.recv(timeout=min(left, next_resync - now) if fresh and next_resync > now else left)
            except asyncio.TimeoutError:
                continue


@pytest.fixture
def env_without_coverage() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env
