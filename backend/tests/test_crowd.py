"""Many browsers at once (issue 21): snapshots built in batches, shared frames compressed once."""

from __future__ import annotations

import asyncio
import copy
import select
import socket
import sys
import threading
import time
import zlib
from typing import Any

import pytest

from dispymon.model import changelog
from dispymon.model import events as ev
from dispymon.model.views import ClientView
from dispymon.runtime.hub import Hub
from dispymon.transport import limits, wire
from dispymon.transport.codec import encode
from dispymon.transport.server import SNAPSHOTS, ServerConfig, SnapshotBatches, create_app
from conftest import WSClient
from factories import attached, job, node, status


def merge(clusters: dict[str, Any], change: dict[str, Any]) -> None:
    """Apply a delta's `clusters` as the browser's reducer does (state.ts)."""
    for name, c in change.items():
        if c is None:
            clusters.pop(name, None)
            continue
        held = clusters.setdefault(name, {})
        for key, value in c.items():
            if key != "nodes":
                held[key] = value
                continue
            nodes = held.setdefault("nodes", {})
            for ip, fields in value.items():
                if fields is None:
                    nodes.pop(ip, None)
                else:
                    nodes.setdefault(ip, {}).update(copy.deepcopy(fields))


class Browser(WSClient):
    """A WSClient that also applies every delta, so each frame's content is checked."""

    def __init__(self, ws: Any) -> None:
        super().__init__(ws)
        self.applied: dict[str, Any] = {}

    def take(self, message: dict[str, Any]) -> None:
        super().take(message)
        if message["type"] == "snapshot":
            self.applied = copy.deepcopy(message["clusters"])
        elif message["type"] == "delta":
            merge(self.applied, message.get("clusters") or {})


def feed_jobs(hub: Hub, first: int, count: int, nodes: int) -> None:
    for uid in range(first, first + count):
        ip = f"127.0.0.{2 + uid % nodes}"
        hub.feed(status("c", ev.JOB_RUNNING, node(ip, busy=1, jobs_done=uid), job(uid, ip)))
        hub.feed(status("c", ev.JOB_FINISHED, node(ip, jobs_done=uid + 1), job(uid, ip)))


@pytest.mark.parametrize("compress", [15, 10, 0])
async def test_browsers_decode_every_frame_whatever_they_negotiated(aiohttp_client, static_dir, compress):
    """Snapshot, deltas, results: a browser offering permessage-deflate (with the
    server's default window, or a smaller one), or not, rebuilds the server's state."""
    hub = Hub(asyncio.get_running_loop())
    hub.feed(attached("c", nodes=[(node(f"127.0.0.{i}"), ev.NODE_INITIALIZED) for i in range(2, 42)]))
    client = await aiohttp_client(create_app(hub, ServerConfig(poll_sec=0.05, static_dir=static_dir)))
    browsers = [Browser(await client.ws_connect("/ws", compress=compress)) for _ in range(3)]
    for b in browsers:
        assert bool(b.ws.compress) == bool(compress)
        await b.until(lambda m: len(m.clusters.get("c", {}).get("nodes", {})) == 40, fresh=False)
    for round_ in range(5):
        feed_jobs(hub, round_ * 200, 200, 40)
        await asyncio.sleep(0)  # the loop takes them in its own time, as from dispy
    await hub.settle()
    done = hub.read().clusters["c"].jobs_record()["done"]
    assert done == 1000
    for b in browsers:
        # a query's result is a frame of its own (not shared)
        await b.send({"type": "command", "id": 7, "name": "history", "args": {}})
        await b.until(lambda m: 7 in m.results and m.applied["c"]["jobs"]["done"] == done, fresh=False)
        assert b.applied == hub.read().snapshot()[0]["clusters"]


class CountingCompressor:
    """A real zlib compressor that counts the bytes it is given."""

    def __init__(self, real: Any, counted: list[int]) -> None:
        self.real = real
        self.counted = counted

    def compress(self, data: bytes) -> bytes:
        self.counted.append(len(data))
        return self.real.compress(data)

    def flush(self, *args: Any) -> bytes:
        return self.real.flush(*args)


async def test_shared_frames_are_compressed_once_for_all_browsers(aiohttp_client, static_dir, monkeypatch):
    compressed: list[int] = []
    make = zlib.compressobj
    # every compressor made from now on (aiohttp's per connection, dispymon's own) counts its input
    monkeypatch.setattr(zlib, "compressobj", lambda *a, **k: CountingCompressor(make(*a, **k), compressed))
    monkeypatch.setattr(wire, "_deflaters", wire._Deflaters())
    hub = Hub(asyncio.get_running_loop())
    hub.feed(attached("c", nodes=[(node(f"127.0.0.{i}"), ev.NODE_INITIALIZED) for i in range(2, 202)]))
    client = await aiohttp_client(create_app(hub, ServerConfig(poll_sec=0.1, static_dir=static_dir)))
    browsers = [Browser(await client.ws_connect("/ws", compress=15)) for _ in range(8)]
    for b in browsers:
        await b.until(lambda m: len(m.applied.get("c", {}).get("nodes", {})) == 200, fresh=False)
    sizes: list[int] = []
    real_recv = Browser.recv

    async def recv(self: Browser, timeout: float = 10.0) -> dict[str, Any]:
        msg = await real_recv(self, timeout)
        sizes.append(len(encode(msg)))
        return msg

    monkeypatch.setattr(Browser, "recv", recv)
    for round_ in range(10):
        feed_jobs(hub, round_ * 400, 400, 200)
        for b in browsers:
            await b.recv()
    await hub.settle()
    for b in browsers:
        await b.until(lambda m: m.applied["c"]["jobs"]["done"] == 4000, fresh=False)
        assert b.applied == hub.read().snapshot()[0]["clusters"]
    # the browsers' frames were shared at their ticks: compressed once for all
    # of them, not once per browser (8 times what they received, before)
    assert sum(sizes) > 8 * 10 * 1000
    assert sum(compressed) <= sum(sizes) / 3, (sum(compressed), sum(sizes))


async def test_a_batch_builds_one_snapshot_for_every_browser_waiting():
    loop = asyncio.get_running_loop()
    hub = Hub(loop)
    hub.feed(attached("c", nodes=[(node(f"127.0.0.{i}"), ev.NODE_INITIALIZED) for i in range(2, 12)]))
    state = hub.read()
    batches = SnapshotBatches(hub)
    views = [ClientView(state, 1.0) for _ in range(20)]
    asked = []
    for i, view in enumerate(views):
        # each browser asks after one more job started: it must be in its snapshot
        hub.feed(status("c", ev.JOB_RUNNING, node("127.0.0.2", busy=1), job(i)))
        asked.append(asyncio.ensure_future(batches.take(view)))
        await asyncio.sleep(0)
    messages = await asyncio.gather(*asked)
    # all of them in few batches (one build each), every one with all 20 jobs
    assert batches.batches < 20
    assert len({v.sent_version for v in views}) == batches.batches
    for message in messages:
        assert message["clusters"]["c"]["jobs"]["running"] >= 1
    assert messages[-1]["clusters"]["c"]["jobs"]["running"] == 20 == hub.read().clusters["c"].jobs_record()["running"]


async def test_the_next_batch_waits_its_share_of_the_loop():
    loop = asyncio.get_running_loop()
    hub = Hub(loop)
    hub.feed(attached("c", nodes=[(node(f"127.0.0.{i}"), ev.NODE_INITIALIZED) for i in range(2, 52)]))
    batches = SnapshotBatches(hub)
    state = hub.read()
    await batches.take(ClientView(state, 1.0))  # an idle server: at once
    first_end = batches.next_at
    built_at: list[float] = []
    real = batches._build

    def build() -> None:
        built_at.append(loop.time())
        real()

    batches._build = build  # type: ignore[method-assign]
    hub.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.99")))
    message = await batches.take(ClientView(state, 1.0))
    assert built_at and built_at[0] >= first_end
    assert "127.0.0.99" in message["clusters"]["c"]["nodes"]


async def test_a_crowd_gets_its_snapshots_in_batches_while_events_stream(aiohttp_client, static_dir, monkeypatch):
    builds: list[int] = []
    real = changelog.Deltas._cluster_record

    def counting(self: changelog.Deltas, c: Any, memo: dict[Any, Any]) -> dict[str, Any]:
        builds.append(self.state.version)
        return real(self, c, memo)

    monkeypatch.setattr(changelog.Deltas, "_cluster_record", counting)
    loop = asyncio.get_running_loop()
    hub = Hub(loop)
    # a cluster big enough that a snapshot's build takes a while, as in a real crowd
    # (the loop lets other threads feed events meanwhile)
    big = [f"10.0.{i // 200}.{i % 200 + 1}" for i in range(2000)]
    hub.feed(attached("c", nodes=[(node(ip), ev.NODE_INITIALIZED) for ip in big]))
    app = create_app(hub, ServerConfig(poll_sec=1.0, static_dir=static_dir))
    client = await aiohttp_client(app)
    stop = threading.Event()

    def stream() -> None:  # as dispy's threads do: events keep coming between the loop's turns
        uid = 0
        while not stop.is_set():
            feed_jobs(hub, uid, 5, 98)
            uid += 5
            time.sleep(0.001)

    # as if a batch had just been built: the crowd arrives within the spacing
    # that follows it (without it, the first browsers of a crowd on an idle
    # server get a batch each until the builds space themselves out)
    if hasattr(app.get(SNAPSHOTS), "next_at"):
        app[SNAPSHOTS].next_at = loop.time() + 0.5
    # the loop hands the GIL to the feeder often, as it does to dispy's threads
    # while it builds a big cluster's snapshot
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    feeder = threading.Thread(target=stream, daemon=True)
    feeder.start()
    try:
        sockets = await asyncio.gather(*(client.ws_connect("/ws", compress=15) for _ in range(30)))
        browsers = [Browser(ws) for ws in sockets]
        for b in browsers:
            await b.until(lambda m: m.seq is not None, fresh=False)
    finally:
        stop.set()
        feeder.join()
        sys.setswitchinterval(switch)
    # every browser drained and built its own snapshot before, each at a new version
    assert len(builds) < len(browsers) / 2, builds
    await hub.settle()
    for b in browsers:
        await b.until(lambda m: m.applied == hub.read().snapshot()[0]["clusters"], fresh=False, timeout=30)


async def test_a_crowd_arriving_while_the_loop_is_busy_is_not_dropped(static_dir):
    """300 browsers connect while the loop is busy (building a snapshot): the
    kernel completes and queues every connection for the loop to accept; at
    asyncio's default backlog (128) it dropped the rest of the SYNs, and those
    browsers retried 1, 3, 7 s later."""
    try:
        somaxconn = int(open("/proc/sys/net/core/somaxconn").read())
    except OSError:
        pytest.skip("no /proc/sys/net/core/somaxconn (the kernel's cap on the backlog)")
    if somaxconn < 300:
        pytest.skip(f"the kernel caps listen backlogs at {somaxconn}")
    hub = Hub(asyncio.get_running_loop())
    runner = limits.runner(create_app(hub, ServerConfig(static_dir=static_dir)))
    await runner.setup()
    site = limits.GatedSite(runner, "127.0.0.1", 0)
    await site.start()
    sockets: list[socket.socket] = []
    try:
        # no await from here on: the loop accepts nothing while they arrive
        for _ in range(300):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", site.port))
            sockets.append(s)
        pending = list(sockets)
        connected = 0
        deadline = time.monotonic() + 5
        while pending and time.monotonic() < deadline:
            # a connection the kernel completed is writable; a dropped SYN is retried only after 1 s
            _, writable, _ = select.select([], pending, [], 0.5)
            for s in writable:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    connected += 1
            pending = [s for s in pending if s not in writable]
            if not writable:
                break
        assert connected == 300, connected
    finally:
        for s in sockets:
            s.close()
        await runner.cleanup()
