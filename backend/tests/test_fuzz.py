"""Hostile input at volume: generated frames at a live server, zero server errors.

DISPYMON_FUZZ_FRAMES sets the count (default 100,000; a nightly run may ask
for more). Frames are mostly msgpack maps of the protocol's types with
random, often wrong, fields; some are garbage (non-maps, random bytes, text),
which close the connection: the fuzzer then reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import os
import random
import string

import aiohttp
import msgpack
import pytest

from dispymon.model import events as ev
from dispymon.runtime.hub import Hub
from dispymon.transport.server import COMMANDS, STATS, ServerConfig, create_app
from factories import attached, job, node, status
from jobcontrol import JobControl

FRAMES = int(os.environ.get("DISPYMON_FUZZ_FRAMES", "100000"))
TYPES = ["view", "flush", "resync", "command", "hello", "snapshot", "", "VIEW", "delta"]
NAMES = ["terminate_jobs", "set_show_job_args", "add_node", "set_node_cpus", "allocate_node",
         "deallocate_node", "close_node", "rm -rf", "",
         "job", "jobs", "resubmit", "bulk_preview", "bulk_start", "bulk_cancel", "bulk_outcomes"]  # fmt: skip
ARGS = ["uids", "value", "ip", "cpus", "host", "cluster", "zzz",
        "key", "id", "states", "node", "exception", "text", "since", "until", "offset", "limit", "selection",
        "action", "filter", "expect", "action_id", "outcome"]  # fmt: skip


def plausible(rng: random.Random, key: str):
    """A value that often passes the argument's check, so the fuzz reaches the job and bulk commands' handlers."""
    if key == "states":
        return rng.sample(["queued", "running", "finished", "failed", "terminated", "cancelled", "abandoned", "x"],
                          rng.randrange(0, 4))  # fmt: skip
    if key == "action":
        return rng.choice(["terminate", "resubmit", "explode"])
    if key == "filter":
        return {k: plausible(rng, k) for k in rng.sample(["cluster", "states", "node", "text", "since", "zzz"],
                                                         rng.randrange(4))}  # fmt: skip
    if key in ("key", "action_id", "selection", "offset", "limit", "expect"):
        return rng.choice([0, 1, 5, 2, 1000, 10**7, -1, 2**62])
    if key in ("since", "until"):
        return rng.choice([0.0, 1000.0, 1e12, -1.0])
    if key == "cluster":
        return rng.choice(["c", "nope"])
    if key == "outcome":
        return rng.choice(["terminated", "resubmitted", "cancelled", "x"])
    return scalar(rng)


def scalar(rng: random.Random):
    pick = rng.randrange(9)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return rng.randint(-(2**63), 2**64 - 1)
    if pick == 3:
        return rng.choice([0.0, -1.5, 1e308, float("inf"), float("nan"), 0.25])
    if pick == 4:
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(20)))
    if pick == 5:
        return rng.randbytes(rng.randrange(10))
    if pick == 6:
        return [scalar(rng) for _ in range(rng.randrange(4))]
    if pick == 7:
        return {str(scalar(rng))[:8]: scalar(rng) for _ in range(rng.randrange(3))}
    return rng.choice(["127.0.0.2", "<script>alert(1)</script>", "*", "x" * 300])


def frame(rng: random.Random) -> tuple[str, bytes | str]:
    roll = rng.random()
    if roll < 0.015:
        return "garbage", rng.randbytes(rng.randrange(1, 40))
    if roll < 0.02:
        return "garbage", msgpack.packb([scalar(rng) for _ in range(3)])
    if roll < 0.025:
        return "text", '{"type": "flush"}'
    message: dict = {"type": rng.choice(TYPES)}
    if message["type"] == "command" or rng.random() < 0.2:
        message.update(id=scalar(rng) if rng.random() < 0.3 else rng.randrange(10**6),
                       name=rng.choice(NAMES) if rng.random() < 0.9 else scalar(rng),
                       args={k: scalar(rng) if rng.random() < 0.5 else plausible(rng, k)
                             for k in rng.sample(ARGS, rng.randrange(5))})  # fmt: skip
    if message["type"] == "view" or rng.random() < 0.1:
        message["interval"] = scalar(rng) if rng.random() < 0.5 else rng.choice([0, 0.1, 5])
        message["node"] = scalar(rng) if rng.random() < 0.5 else rng.choice([None, "127.0.0.2"])
        if rng.random() < 0.5:
            message["job"] = scalar(rng) if rng.random() < 0.5 else rng.choice([None, {"cluster": "c", "key": 5}])
    return "binary", msgpack.packb(message, use_bin_type=True)


class ErrorLog(logging.Handler):
    """Errors logged on this thread: the event loop's, where the server runs.
    (Threads of earlier tests' dispy clusters may still be winding down and
    log on their own threads; they are not this server's errors.)"""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.thread = threading.get_ident()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append(record)


async def test_generated_frames_never_make_a_server_error(aiohttp_client, static_dir):
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        hub = Hub(asyncio.get_running_loop())
        hub.feed(attached("c", nodes=[(node("127.0.0.2"), ev.NODE_INITIALIZED)]))
        hub.feed(status("c", ev.JOB_RUNNING, node("127.0.0.2", busy=1), job(5, "127.0.0.2", args=("<b>x</b>",))))
        # generous limits: the point here is the parser, not the rate limiter
        config = ServerConfig(poll_sec=0.5, static_dir=static_dir, message_rate=1e9, message_burst=1e9)
        # a control, so actions (resubmit, bulk_start) reach their handlers too
        app = create_app(hub, config, JobControl(hub.feed, hub))
        assert app[COMMANDS].jobs is not None  # the jobs feature, installed by rest.install
        client = await aiohttp_client(app)
        rng = random.Random(20261121)
        sent = reconnects = closing = 0

        async def drain(ws) -> None:
            async for _ in ws:
                pass

        workers = 4

        async def fuzz(share: int) -> None:
            nonlocal sent, reconnects, closing
            done = 0
            while done < share:
                ws = await client.ws_connect("/ws")
                reader = asyncio.create_task(drain(ws))
                try:
                    while done < share and not ws.closed:
                        kind, data = frame(rng)
                        if kind == "text":
                            await ws.send_str(data)
                        else:
                            await ws.send_bytes(data)
                        done += 1
                        sent += 1
                        if done % 200 == 0:
                            await asyncio.sleep(0)  # let the server answer (yield, no delay)
                        if kind != "binary":
                            # garbage: the server closes; wait for it, so every
                            # frame sent was read by the server before we go on
                            closing += 1
                            await asyncio.wait_for(reader, 10)
                            break
                except ConnectionResetError:
                    pass
                finally:
                    await ws.close()
                    await asyncio.gather(reader, return_exceptions=True)
                reconnects += 1

        await asyncio.gather(*(fuzz(FRAMES // workers) for _ in range(workers)))
        assert sent >= FRAMES
        stats = app[STATS]
        assert stats.closed_for_abuse == 0
        assert stats.frames == sent  # the server read every frame sent
        # each garbage frame closed its connection (a worker's last frame may be
        # garbage too, so this is counted, not derived from the reconnections)
        assert stats.bad_frames == closing and stats.connections == reconnects
        # the server still serves a well-behaved browser the right state
        ws = await client.ws_connect("/ws")
        first = msgpack.unpackb((await ws.receive(timeout=10)).data)
        assert first["type"] == "hello"
        snap = msgpack.unpackb((await ws.receive(timeout=10)).data)
        assert snap["type"] == "snapshot" and "127.0.0.2" in snap["clusters"]["c"]["nodes"]
        await ws.close()
        assert [(r.name, r.getMessage()) for r in errors.records] == []
        print(f"fuzz: {stats.frames} frames read by the server, {stats.bad_frames} refused with a close, 0 server errors")
    finally:
        logging.getLogger().removeHandler(errors)
