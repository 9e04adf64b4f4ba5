"""A fleet central (one replica) in its own process, for benchmarks/b_fleet.py.

    python -m benchmarks.fleet_central --url redis://127.0.0.1:PORT/0

What `dispymon serve --broker URL` runs (entry/cli.py `_central`): the
ordinary `Runtime` whose source is the fleet's `FleetSource`, serving
browsers on a free port. Two points of the central are timed on the way
(O(1) per entry, a bounded sample each):

    read:  when the central takes an entry from its XREAD, now − the entry's id (Redis's
           clock at the XADD, the same machine's clock): how long entries waited in Redis
    fed:   when a batch is handed to the central's hub, now − the update_time of its first and
           last node events (the program's wall clock when it made them): the program's hub
           and publisher, Redis, and the central's read, together

Prints {"port", "pid"} when it listens, then answers one JSON line per
stdin command:

    stats   CPU of the process, of its event loop's thread and of its executor threads
            (aiohttp's deflate), RSS, events applied, browsers connected, programs followed,
            clusters, resyncs, entries that did not decode
    lat     the read and fed samples since the last `lat` (seconds)
    quit
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from dispymon.fleet.broker import parse
from dispymon.fleet.central import FleetSource
from dispymon.runtime.runtime import Runtime
from dispymon.runtime.settings import Settings
from dispymon.transport.server import CONNECTIONS

SAMPLES = 200_000  # at most, kept between two `lat`
UPDATE_TIME = 9  # NodeInfo's update_time field (model/events.py)
STATUS = 0  # wire.py's kind of a status event


def instrument(read: collections.deque, fed: collections.deque) -> None:
    take, apply_batch = FleetSource._take, FleetSource._apply_batch

    async def timed_take(self: FleetSource, f: Any, entries: list) -> None:
        now = time.time()
        for raw_id, _ in entries:
            read.append(now - int(raw_id.split(b"-", 1)[0]) / 1000)
        await take(self, f, entries)

    def timed_apply(self: FleetSource, f: Any, body: Any) -> None:
        if isinstance(body, list) and body:
            now = time.time()
            for value in (body[0], body[-1]) if len(body) > 1 else (body[0],):
                if isinstance(value, list) and value and value[0] == STATUS and value[3] is not None:
                    fed.append(now - value[3][UPDATE_TIME])
        apply_batch(self, f, body)

    FleetSource._take = timed_take  # type: ignore[method-assign]
    FleetSource._apply_batch = timed_apply  # type: ignore[method-assign]


def _thread_name(tid: int) -> str:
    try:
        return Path(f"/proc/self/task/{tid}/comm").read_text().strip()
    except OSError:
        return ""


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    read: collections.deque[float] = collections.deque(maxlen=SAMPLES)
    fed: collections.deque[float] = collections.deque(maxlen=SAMPLES)
    instrument(read, fed)
    source = FleetSource(parse(args.url), offline_after=30.0, heartbeat=1.0, command_timeout=10.0)
    settings = Settings(host="127.0.0.1", port=0, poll_sec=1.0, stuck_after=1e9, stale_after=1e9, broker=args.url)
    runtime = Runtime(settings, loop, source=source)
    port = await runtime.start()
    me = psutil.Process()
    done = asyncio.Event()

    def answer(body: dict) -> None:
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()

    def stats() -> dict:
        times = me.cpu_times()
        threads = me.threads()
        state = runtime.hub._state  # as it is (no drain: not to change what is measured)
        return {
            "t": time.time(),
            "cpu": times.user + times.system,
            "loop_cpu": sum(t.user_time + t.system_time for t in threads if t.id == me.pid),
            "pool_cpu": sum(t.user_time + t.system_time for t in threads if _thread_name(t.id).startswith("asyncio_")),
            "rss": me.memory_info().rss,
            "applied": runtime.hub.events_applied,
            "connections": len(runtime.app[CONNECTIONS]),
            "programs": len(source.followers),
            "online": sum(1 for f in source.followers.values() if f.online),
            "clusters": len(state.clusters),
            "resyncs": sum(f.resyncs for f in source.followers.values()),
            "bad": sum(f.bad for f in source.followers.values()),
            "reachable": bool(source.reachable),
        }

    def samples() -> dict:
        body = {"read": list(read), "fed": list(fed)}
        read.clear()
        fed.clear()
        return body

    def on_loop(work: Any) -> dict:
        # the loop appends to the samples and owns the state: read them there
        async def call() -> dict:
            return work()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(60)

    def commands() -> None:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            try:
                if words[0] == "stats":
                    answer(on_loop(stats))
                elif words[0] == "lat":
                    answer(on_loop(samples))
                elif words[0] == "quit":
                    break
                else:
                    answer({"error": f"unknown command {words[0]}"})
            except Exception as exc:  # report, keep serving
                answer({"error": f"{type(exc).__name__}: {exc}"})
        loop.call_soon_threadsafe(done.set)

    answer({"port": port, "pid": me.pid})
    threading.Thread(target=commands, daemon=True).start()
    try:
        await done.wait()
    finally:
        await runtime.stop(final=False)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
