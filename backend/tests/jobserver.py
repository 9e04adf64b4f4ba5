"""A served app with jobs for the job, bulk and export tests: cluster `c`, three nodes,
queued, running and ended jobs with keys (the dispy adapter's shapes)."""

from __future__ import annotations

import asyncio
from typing import Any

from dispymon.model import events as ev
from dispymon.model.events import JobInfo
from dispymon.runtime.hub import Hub
from dispymon.transport.server import COMMANDS, ServerConfig, create_app
from conftest import WSClient
from factories import attached, node, status
from jobcontrol import JobControl

NODES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")


def jinfo(key: int, ip: str | None = "127.0.0.2", start: float | None = 1000.0, end: float | None = None,
          exception: str | None = None, job_id: str | None = None, created: float = 900.0,
          depends: bool = False) -> JobInfo:  # fmt: skip
    """A job as the dispy adapter reports it; its handle is itself (what JobControl.cancel reports ended).
    `depends`: submitted with dispy_job_depends, so never resubmittable."""
    j = JobInfo(key, job_id or f"job-{key}", ip, start, end, (key,), {}, exception, key=key, created=created,
                depends=depends)  # fmt: skip
    return j._replace(handle=j)


def keep_args(jobs, key: int, cluster: str, pinned: str | None, payload: bytes) -> None:
    """Kept arguments for resubmitting `key`, as the jobs feature keeps them (its ArgStore)."""
    assert jobs.args.put(key, cluster, pinned, payload) is None


async def make_served(aiohttp_client, static_dir, access=None, **config: Any):
    hub = Hub(asyncio.get_running_loop())
    control = JobControl(hub.feed, hub)
    extra = {"access": access} if access is not None else {}
    app = create_app(hub, ServerConfig(poll_sec=0.05, static_dir=static_dir, command_timeout=5.0, **extra, **config),
                     control)  # fmt: skip
    client = await aiohttp_client(app)
    return hub, control, app[COMMANDS].jobs, client


async def feed_jobs(hub: Hub, running: int = 3, ended: int = 4, ended_base: int = 101, depends=()) -> None:
    """Running jobs 1..running on the nodes in turn; ended jobs ended_base..: finished, failed (ValueError), ...;
    the keys in `depends` were submitted with dispy_job_depends."""
    hub.feed(attached("c", nodes=[(node(ip), ev.NODE_INITIALIZED) for ip in NODES]))
    for k in range(1, running + 1):
        ip = NODES[k % len(NODES)]
        hub.feed(status("c", ev.JOB_CREATED, None, jinfo(k, None, start=None)))
        hub.feed(status("c", ev.JOB_RUNNING, node(ip, busy=1), jinfo(k, ip, start=1000.0 + k)))
    for i in range(ended):
        k = ended_base + i
        exc = "Traceback...\nValueError: bad" if i % 2 else None
        code = ev.JOB_TERMINATED if i % 2 else ev.JOB_FINISHED
        dep = k in depends
        hub.feed(status("c", ev.JOB_CREATED, None, jinfo(k, None, start=None, depends=dep)))
        hub.feed(status("c", ev.JOB_RUNNING, node("127.0.0.2", busy=1), jinfo(k, "127.0.0.2", start=1100.0 + i,
                                                                               depends=dep)))  # fmt: skip
        hub.feed(status("c", code, node("127.0.0.2"), jinfo(k, "127.0.0.2", 1100.0 + i, 1200.0 + i, exc, depends=dep)))
    await hub.settle()


async def connect(client, **kwargs) -> WSClient:
    ws = WSClient(await client.ws_connect("/ws", **kwargs))
    await ws.recv()  # hello
    await ws.recv()  # snapshot
    return ws


async def call(ws: WSClient, cid, name, args=None):
    await ws.send({"type": "command", "id": cid, "name": name, "args": args if args is not None else {}})
    await ws.until(lambda m: cid in m.results, timeout=20, what=f"result {cid}", fresh=False)
    return ws.results[cid]
