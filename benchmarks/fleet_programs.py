"""Simulated programs publishing to a fleet broker, several in one process (benchmarks/b_fleet.py).

    python -m benchmarks.fleet_programs --url redis://127.0.0.1:PORT/0 --first 0 --count 10 --rate 2000

Each program is what a dispy program running dispymon has on its loop for
the fleet: a hub applying its cluster's events (its own `State`), fed from
another thread (the simulator's, as dispy's callback thread feeds a real
program), and the fleet's `Publisher` (fleet/publisher.py) tee'd to it,
publishing to the broker under the name `bench-NN`. The simulated cluster
(adapters/simulated.py) stamps each node's `update_time` with the wall
clock (`time.time()`) when it makes the event, so a browser of a central can
tell how old what it shows is. Each program's nodes have their own
addresses (program p: node_address(p * nodes + i)), as separate clusters
would. No dashboard is served (a `--no-http` program); the web server,
history and series of a real program are not here (their cost is not the
fleet's: benchmarks/fleet_publish.py measures the publisher against the hub).

Prints {"pid", "programs"} once every publisher has started, then answers
one JSON line per stdin command:

    stats     the process's CPU (all, simulator threads, loop thread), RSS, and the sums over its
              programs: events made, applied, entries published, events dropped, backlog, inbox
    rate R    every program's simulator at R events/s from now on
    quit
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time

import psutil

from dispymon.adapters import simulated
from dispymon.adapters.simulated import SimulatedCluster
from dispymon.fleet.broker import parse
from dispymon.fleet.publisher import Publisher
from dispymon.model.state import State
from dispymon.runtime.hub import Hub


class NoControl:
    """Commands from a central are not exercised here."""


def program_name(i: int) -> str:
    return f"bench-{i:02d}"


def make_sim(feed, index: int, nodes: int, cpus: int, rate: float) -> SimulatedCluster:
    base = simulated.node_address
    simulated.node_address = lambda i: base(index * nodes + i)  # this program's own node addresses
    try:
        sim = SimulatedCluster(feed, nodes, cpus, name="sim", rate=rate, seed=index + 1, clock=time.time)
    finally:
        simulated.node_address = base
    sim._now = time.time  # type: ignore[method-assign]  # each event's update_time: the wall clock when made
    return sim


def set_rate(sim: SimulatedCluster, rate: float) -> None:
    sim.stop()
    with sim._lock:
        sim.rate = float(rate)
        sim._recount()  # job durations follow the rate (the busy share stays)
    if rate > 0:
        sim._stop.clear()
        sim._thread = threading.Thread(target=sim._run, name=f"simulated-{sim.name}", daemon=True)
        sim._thread.start()


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    broker = parse(args.url)
    programs: list[tuple[Hub, SimulatedCluster, Publisher]] = []
    for index in range(args.first, args.first + args.count):
        hub = Hub(loop, State(stuck_after=1e9, stale_after=1e9))
        sim = make_sim(hub.feed, index, args.nodes, args.cpus, args.rate)
        publisher = Publisher(hub, NoControl(), broker, program_name(index), retention=args.retention)  # type: ignore[arg-type]
        programs.append((hub, sim, publisher))
    for _, _, publisher in programs:
        await publisher.start()
    for _, sim, _ in programs:
        sim.start()
    me = psutil.Process()
    done = asyncio.Event()

    def answer(body: dict) -> None:
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()

    def stats() -> dict:
        times = me.cpu_times()
        threads = me.threads()
        sims = {s._thread.native_id for _, s, _ in programs if s._thread is not None}
        return {
            "t": time.time(),
            "cpu": times.user + times.system,
            "sim_cpu": sum(t.user_time + t.system_time for t in threads if t.id in sims),
            "loop_cpu": sum(t.user_time + t.system_time for t in threads if t.id == me.pid),
            "rss": me.memory_info().rss,
            "made": sum(s.events for _, s, _ in programs),
            "applied": sum(h.events_applied for h, _, _ in programs),
            "entries": sum(p.entries for _, _, p in programs),
            "dropped": sum(p.dropped for _, _, p in programs),
            # handed to Redis (or in a snapshot): applied, less what waits in the backlog or was dropped
            "published": sum(h.events_applied - len(p._backlog) - p.dropped for h, _, p in programs),
            "backlog": sum(len(p._backlog) for _, _, p in programs),
            "inbox": sum(len(h._inbox) for h, _, _ in programs),
            "unreachable": sum(1 for _, _, p in programs if not p.reachable),
        }

    def commands() -> None:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            try:
                if words[0] == "stats":
                    answer(stats())
                elif words[0] == "rate":
                    for _, sim, _ in programs:
                        set_rate(sim, float(words[1]))
                    answer({"rate": float(words[1])})
                elif words[0] == "quit":
                    break
                else:
                    answer({"error": f"unknown command {words[0]}"})
            except Exception as exc:  # report, keep serving
                answer({"error": f"{type(exc).__name__}: {exc}"})
        loop.call_soon_threadsafe(done.set)

    answer({"pid": me.pid, "programs": [program_name(i) for i in range(args.first, args.first + args.count)]})
    threading.Thread(target=commands, daemon=True).start()
    try:
        await done.wait()
    finally:
        for _, sim, _ in programs:
            sim.stop()
        for _, _, publisher in programs:
            await publisher.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--rate", type=float, default=2000.0, help="events per second per program")
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--cpus", type=int, default=8)
    p.add_argument("--retention", type=int, default=10_000, help="entries kept per stream (the default's)")
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
