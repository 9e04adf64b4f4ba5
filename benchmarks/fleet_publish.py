"""The fleet publisher's cost per event in the program, against the hub alone (docs/fleet.md).

One process, one loop: a simulated cluster's events (100 nodes; job created,
running, finished or failed, avail info) are made beforehand, then fed to a
hub and applied, timed in CPU seconds of this process (`time.process_time`),
twice: the hub alone (what a program pays today per event, after dispy's
tap), and the hub with the fleet's Publisher tee'd to it, its task encoding
batches and XADDing them to a real redis-server (started here on loopback,
stopped by PID) until the backlog is empty. The redis-server's own CPU is
not counted (it is another process, usually another machine).

    .venv/bin/python -m benchmarks.fleet_publish [--events N] [--runs R]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from dispymon.adapters.localnodes import stop_group, wait_for_tcp
from dispymon.adapters.simulated import SimulatedCluster
from dispymon.fleet.broker import parse
from dispymon.fleet.publisher import Publisher
from dispymon.model.state import State
from dispymon.runtime.hub import Hub


class NoControl:
    """The publisher's command channel is not exercised here."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_events(n: int) -> list:
    events: list = []
    sim = SimulatedCluster(events.append, 100, 8, rate=1_000_000, seed=1)
    sim.attach()
    sim.emit(n)
    return events


async def one_run(events: list, url: str | None) -> float:
    """CPU seconds per event to apply `events` (and, with `url`, publish them)."""
    loop = asyncio.get_running_loop()
    hub = Hub(loop, State())
    publisher = None
    if url is not None:
        publisher = Publisher(hub, NoControl(), parse(url), "bench", retention=100_000, backlog=len(events) + 10)  # type: ignore[arg-type]
        await publisher.start()
        await publisher.publish_pending()  # its first snapshot, before the clock
    start = time.process_time()
    for event in events:
        hub.feed(event)
    hub.read()  # every event applied (and tee'd)
    if publisher is not None:
        await publisher.publish_pending()  # every event encoded and XADDed
    spent = time.process_time() - start
    if publisher is not None:
        await publisher.stop()
    return spent / len(events)


async def measure(url: str, events_n: int, runs: int) -> tuple[list[float], list[float]]:
    """CPU seconds per event, per run: the hub alone, and the hub with the publisher (alternating)."""
    await one_run(make_events(events_n // 10), url)  # warm-up
    alone, published = [], []
    for _ in range(runs):  # alternating
        alone.append(await one_run(make_events(events_n), None))
        published.append(await one_run(make_events(events_n), url))
    return alone, published


async def main_async(events_n: int, runs: int) -> None:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    workdir = Path(tempfile.mkdtemp(prefix="dispymon-bench-redis-"))
    port = free_port()
    redis = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        wait_for_tcp("127.0.0.1", port, 15.0, redis, what="redis-server")
        url = f"redis://127.0.0.1:{port}/0"
        alone, published = await measure(url, events_n, runs)
        a, p = statistics.median(alone), statistics.median(published)
        print(f"events per run: {events_n:,}; runs: {runs}")
        print("| run | hub alone, µs/event | hub + publisher, µs/event |\n|---|---|---|")
        for i, (x, y) in enumerate(zip(alone, published)):
            print(f"| {i + 1} | {x * 1e6:.2f} | {y * 1e6:.2f} |")
        print(f"| **median** | **{a * 1e6:.2f}** | **{p * 1e6:.2f}** |")
        print(f"ratio (publisher ÷ alone): {p / a:.2f}")
    finally:
        stop_group(redis, 5.0)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main_async(args.events, args.runs))


if __name__ == "__main__":
    main()
