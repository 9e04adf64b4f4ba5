"""The publisher sends a drain's events as the hub tees them, not at its timer (fleet/publisher.py)."""

from __future__ import annotations

import asyncio
import time

from dispymon.fleet import publisher as pub
from dispymon.fleet.broker import events_key, parse
from dispymon.model.events import ClusterAttached
from dispymon.runtime.hub import Hub
from fleettools import redis_server  # noqa: F401


class NoCommands:
    """The command channel is not used here."""


async def test_an_event_goes_out_when_the_hub_tees_it_not_at_the_timer(redis_server, monkeypatch) -> None:  # noqa: F811
    # The timer made as long as the test's own wait: only the tee's wake-up can send the entry in time.
    monkeypatch.setattr(pub, "FLUSH_EVERY", 60.0)
    hub = Hub(asyncio.get_running_loop())
    publisher = pub.Publisher(hub, NoCommands(), parse(redis_server.url), "lab-W")  # type: ignore[arg-type]
    await publisher.start()
    client = publisher.broker.client()
    stream = events_key("lab-W")
    try:

        async def entries(n: int, what: str, timeout: float = 20.0) -> None:
            deadline = time.monotonic() + timeout
            while await client.xlen(stream) < n:
                assert time.monotonic() < deadline, f"{what}: {await client.xlen(stream)} entries"
                await asyncio.sleep(0.02)

        await entries(1, "the first snapshot")
        sent = publisher.entries
        hub.feed(ClusterAttached("compute", "JobCluster", (), (), 0))
        await entries(2, "the attach, published on the tee's wake-up")
        assert publisher.entries == sent + 1
    finally:
        await publisher.stop()
        await client.aclose()
