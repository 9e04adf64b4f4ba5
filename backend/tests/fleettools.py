"""Real parts for the fleet's tests (docs/fleet.md): a redis-server, program processes, a central.

`redis_server`: a real `redis-server` (Debian's; `scripts/lib.sh ensure_redis`)
on 127.0.0.1 with a free port and its own directory, no persistence,
stopped by PID. `programs`: `dispymon serve --cluster-module fleet_app.py
--broker URL --program NAME` processes, each with its own real dispynode
processes; what dispy itself reported (its job objects) is written by the
module to a JSON file when its workload ends. `central`: a central runtime
in this process, fed by the broker, with a protocol client.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conftest import WSClient, wait_until
from dispymon.adapters.localnodes import LocalCluster, stop_group, wait_for_tcp
from dispymon.fleet.broker import parse
from dispymon.fleet.central import FleetSource
from dispymon.runtime.runtime import Runtime
from dispymon.runtime.settings import Settings

APP = Path(__file__).with_name("fleet_app.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RedisServer:
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    password: str | None = None
    extra: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        auth = f"default:{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            pytest.fail("redis-server is missing: run `bash -c 'source scripts/lib.sh; ensure_redis'`")
        self.workdir.mkdir(parents=True, exist_ok=True)
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
               "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(self.workdir / "redis.log")]  # fmt: skip
        if self.password:
            cmd += ["--requirepass", self.password]
        cmd += list(self.extra)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for_tcp("127.0.0.1", self.port, 15.0, self.proc, what="redis-server")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_group(self.proc, 5.0)
        self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@dataclass
class Program:
    name: str
    nodes: LocalCluster
    out: Path
    proc: subprocess.Popen
    log: Path

    def dispy_counts(self, timeout: float = 120.0) -> dict[str, Any]:
        """What dispy's job objects said when the workload ended (written by fleet_app.py)."""
        wait_until(lambda: self.out.exists() or self.proc.poll() is not None, timeout, f"{self.name}'s workload")
        if not self.out.exists():
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}")
        return json.loads(self.out.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            stop_group(self.proc, 15.0)


@pytest.fixture
def programs(tmp_path: Path, local_nodes: Any, redis_server: RedisServer, env_without_coverage: dict[str, str]):
    """Factory: start(name, jobs=..., fail_every=..., long_jobs=..., first=...) -> a Program publishing to redis_server."""
    started: list[Program] = []

    def start(name: str, first: int, jobs: int = 20, fail_every: int = 5, long_jobs: int = 0,
              seconds: float = 0.2, node_count: int = 2, extra: list[str] | None = None) -> Program:  # fmt: skip
        nodes = local_nodes(node_count, cpus=2, first=first, other_process=True)
        out = tmp_path / f"{name}.json"
        log = tmp_path / f"{name}.log"
        env = dict(env_without_coverage)
        env.update(
            FLEET_NODES=",".join(n.ip for n in nodes.nodes),
            FLEET_PORT=str(nodes.port_base),
            FLEET_OUT=str(out),
            FLEET_JOBS=str(jobs),
            FLEET_FAIL_EVERY=str(fail_every),
            FLEET_LONG_JOBS=str(long_jobs),
            FLEET_SECONDS=str(seconds),
        )
        cmd = [sys.executable, "-m", "dispymon", "serve", "--cluster-module", str(APP), "--port", "0",
               "--poll-sec", "0.5", "--broker", redis_server.url, "--program", name, *(extra or [])]  # fmt: skip
        # a folder of its own: dispy keeps its recovery file `_dispy_<second>` in the working
        # directory, and two programs started in the same second would share (and delete) one
        home = tmp_path / f"program-{name}"
        home.mkdir(exist_ok=True)
        with log.open("wb") as sink:
            proc = subprocess.Popen(cmd, cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                    stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        program = Program(name, nodes, out, proc, log)
        started.append(program)
        return program

    yield start
    for program in started:
        program.stop()


class Central:
    def __init__(self, runtime: Runtime, source: FleetSource, session: aiohttp.ClientSession) -> None:
        self.runtime, self.source, self.session = runtime, source, session

    async def connect(self) -> WSClient:
        ws = WSClient(await self.session.ws_connect(f"{self.runtime.url}ws"))
        await ws.recv()  # hello
        await ws.recv()  # snapshot
        return ws

    async def stop(self) -> None:
        await self.runtime.stop(final=False)


@pytest.fixture
async def central_factory(static_dir: Path) -> AsyncIterator[Any]:
    """Factory: a central runtime (in this process) on the given broker URL."""
    made: list[Central] = []
    session = aiohttp.ClientSession()

    async def make(url: str, **options: Any) -> Central:
        settings = Settings(port=0, poll_sec=0.1, static_dir=static_dir, broker=url)
        source = FleetSource(parse(url), heartbeat=0.5, **options)
        runtime = Runtime(settings, asyncio.get_running_loop(), source=source)
        await runtime.start()
        central = Central(runtime, source, session)
        made.append(central)
        return central

    yield make
    for central in made:
        # bounded: a central that does not stop fails its test rather than hanging the suite
        await asyncio.wait_for(central.stop(), 60)
    await session.close()


def jobs_of(ws: WSClient, cluster: str) -> dict[str, int]:
    return ws.clusters[cluster]["jobs"]


def dispy_jobs_record(counts: dict[str, Any]) -> dict[str, int]:
    """The cluster record's `jobs` as dispy's job objects give it (the workload has ended: nothing queued or running)."""
    done = counts["finished"] + counts["failed"] + counts["terminated"] + counts["cancelled"] + counts["abandoned"]
    return {
        "submitted": counts["submitted"],
        "queued": 0,
        "running": 0,
        "done": done,
        "finished": counts["finished"],
        "failed": counts["failed"],
        "cancelled": counts["cancelled"],
        "terminated": counts["terminated"],
        "abandoned": counts["abandoned"],
    }


def signal_pid(pid: int, sig: int) -> None:
    os.kill(pid, sig)


__all__ = ["redis_server", "programs", "central_factory", "signal", "asyncio"]
