"""A central far behind many programs reads their streams in bounded replies, and applies every entry.

Found by benchmarks/b_fleet.py: the central asked Redis for up to 1,000
entries *per stream* in one XREAD, so a central behind 50 programs (after
its start, a restart or a Redis outage) got replies of tens of MB; reading
one took longer than redis-py's socket timeout (5 s) on a loaded machine,
the central said the broker "did not answer in time", asked again for the
same, and never caught up. The programs here are simulated clusters
publishing through the real Publisher into a real redis-server; the
central is the real runtime.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from fleettools import central_factory, redis_server  # noqa: F401

from dispymon.adapters.simulated import SimulatedCluster
from dispymon.fleet import central as central_module
from dispymon.fleet.broker import parse
from dispymon.fleet.publisher import Publisher
from dispymon.model.state import State
from dispymon.runtime.hub import Hub

PROGRAMS = 30
CHUNKS = 40  # entries each program publishes before the central starts (one chunk of events each)


async def until(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what if isinstance(what, str) else what()}")
        await asyncio.sleep(0.05)  # the polling interval of a condition wait


class NoControl:
    """The programs' command channel is not exercised here."""


async def test_a_central_behind_many_programs_reads_bounded_replies(redis_server, central_factory, monkeypatch) -> None:  # noqa: F811
    loop = asyncio.get_running_loop()
    broker = parse(redis_server.url)
    made: list[tuple[Hub, SimulatedCluster, Publisher]] = []
    for i in range(PROGRAMS):
        hub = Hub(loop, State())
        sim = SimulatedCluster(hub.feed, 4, 2, name="sim", rate=1000, seed=i)
        made.append((hub, sim, Publisher(hub, NoControl(), broker, f"prog-{i:02d}")))  # type: ignore[arg-type]
    for _, _, publisher in made:
        await publisher.start()
    try:
        await until(lambda: all(p.entries >= 1 for _, _, p in made), "every first snapshot published")
        for _, sim, _ in made:
            sim.attach()
        for chunk in range(CHUNKS):  # one entry per program per chunk: each chunk published before the next
            for hub, sim, _ in made:
                sim.emit(10)
                hub.read()  # applied, so tee'd to the publisher
            # the publishers' own task sends them (1 snapshot, then one batch per chunk)
            await until(lambda c=chunk: all(p.entries >= c + 2 for _, _, p in made),
                        lambda c=chunk: f"chunk {c} published: {[(p.entries, p.reachable) for _, _, p in made]}")

        # every reply of the central's reads of the programs' streams, as Redis gave it
        replies: list[int] = []
        xread = aioredis.Redis.xread

        async def counted(self: Any, streams: dict, *args: Any, **kwargs: Any) -> Any:
            found = await xread(self, streams, *args, **kwargs)
            if any(str(k).endswith(":events") for k in streams):
                replies.append(sum(len(entries) for _, entries in found or ()))
            return found

        monkeypatch.setattr(aioredis.Redis, "xread", counted)
        central = await central_factory(redis_server.url)

        def caught_up() -> bool:
            state = central.runtime.hub.read()
            for i, (hub, _, _) in enumerate(made):
                mine, theirs = state.clusters.get(f"prog-{i:02d}/sim"), hub.read().clusters["sim"]
                if mine is None or (mine.submitted, mine.finished, mine.failed, mine.terminated) != (
                    theirs.submitted, theirs.finished, theirs.failed, theirs.terminated,
                ):  # fmt: skip
                    return False
            return True

        await until(caught_up, "the central's counts equal every program's", timeout=120)
        assert sum(replies) >= PROGRAMS * (CHUNKS - 1), f"the central read {sum(replies)} entries"
        assert max(replies) <= central_module.READ_ENTRIES, f"a reply of {max(replies)} entries"
        assert central.source.followers["prog-00"].resyncs == 0  # read, not resynced from a snapshot
    finally:
        for _, _, publisher in made:
            await publisher.stop()
