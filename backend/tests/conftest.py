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
from mirror import Mirror  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _log_to_real_stdout() -> None:
    """dispy/pycos loggers bind sys.stdout when imported, which under pytest is
    a capture stream closed before dispy's atexit hook logs its shutdown."""
    import dispy
    import pycos

    for logger in (dispy.logger, pycos.logger):
        logger.stream = sys.__stdout__


_log_to_real_stdout()


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
    """A protocol client for tests: receives frames into a Mirror."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.mirror = Mirror()
        self.messages: list[dict[str, Any]] = []

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise AssertionError(f"expected a binary frame, got {msg.type} {msg.data!r} {msg.extra!r}")
        message = decode(msg.data)
        self.messages.append(message)
        self.mirror.apply(message)
        return message

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_bytes(encode(message))

    async def until(self, predicate: Callable[[Mirror], Any], timeout: float = 30.0, what: str = "state") -> None:
        """Receive until `predicate(mirror)` holds; one that cannot be evaluated
        yet (a cluster or node not arrived: KeyError) counts as not holding."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def holds() -> bool:
            try:
                return bool(predicate(self.mirror))
            except (KeyError, IndexError, TypeError):
                return False

        while not holds():
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; last state {self.mirror.clusters!r}")
            try:
                await self.recv(timeout=left)
            except asyncio.TimeoutError:
                continue


@pytest.fixture
def env_without_coverage() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env
