"""The hub on its own: when events fed from other threads are applied (no sockets here)."""

from __future__ import annotations

import asyncio

from dispymon.model import events as ev
from dispymon.runtime.hub import DRAIN_LIMIT, Hub
from factories import attached, node, status


async def test_readers_woken_by_one_tick_share_one_drain():
    # Browsers woken by one clock tick must build from one version (one shared
    # frame) even while events keep coming: the first drains, the rest do not.
    loop = asyncio.get_running_loop()
    hub = Hub(loop)
    tick = loop.time()
    hub.feed(attached("c"))
    hub.drain_slice(tick)
    assert "c" in hub.state.clusters
    version = hub.state.version
    hub.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.2")))
    hub.drain_slice(tick)  # another browser of the same tick
    assert hub.state.version == version
    hub.drain()  # a snapshot, a flush, a REST read: always
    assert "127.0.0.2" in hub.state.clusters["c"].nodes
    # a drain that found nothing still counts: what came after it waits for the next tick
    tick = loop.time()
    hub.drain_slice(tick)
    hub.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.3")))
    hub.drain_slice(tick)
    assert "127.0.0.3" not in hub.state.clusters["c"].nodes
    hub.drain_slice(loop.time() + 1)  # the next tick
    assert "127.0.0.3" in hub.state.clusters["c"].nodes


async def test_the_health_tick_is_applied_at_once_not_at_a_browsers_tick(monkeypatch):
    # The health flags and the chart's second cost tens of ms for 10,000
    # nodes: held for the next reader's drain, they would make that frame late.
    monkeypatch.setattr("dispymon.runtime.hub.BATCH_DELAY", 3600.0)
    hub = Hub(asyncio.get_running_loop())
    hub.feed(attached("c"))
    hub.drain()  # the next timed drain is an hour away
    hub.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.2")))
    checked = asyncio.Event()
    hub.observers.append(lambda event: checked.set() if isinstance(event, ev.HealthCheck) else None)
    ticks = asyncio.create_task(hub.tick_health(3600))
    try:
        await asyncio.wait_for(checked.wait(), 5)
        assert "127.0.0.2" in hub.state.clusters["c"].nodes  # what came before it, too
    finally:
        ticks.cancel()


async def test_a_readers_drain_takes_what_was_there_when_it_began():
    # A feeder that keeps up with the loop must not keep a reader's drain going:
    # each deferred event here feeds the next one as it is made.
    hub = Hub(asyncio.get_running_loop())
    made = []

    def chain(k: int):
        made.append(k)
        if k < 100_000:  # a bound for the test's sake: unbounded, drain() would run to it
            hub.feed((chain, k + 1))
        return None

    hub.feed(attached("c"))
    hub.feed((chain, 0))
    hub.drain()
    assert "c" in hub.state.clusters and made == [0]


async def test_a_browsers_tick_takes_one_slice_and_the_backlog_goes_on_between_frames(monkeypatch):
    monkeypatch.setattr("dispymon.runtime.hub.BATCH_DELAY", 3600.0)
    loop = asyncio.get_running_loop()
    hub = Hub(loop)
    hub.feed(attached("c"))
    hub.drain()
    total = DRAIN_LIMIT + 10
    for i in range(total):
        hub.feed(status("c", ev.NODE_INITIALIZED, node(f"10.0.{i // 250}.{i % 250}")))
    applied = hub.events_applied
    hub.drain_slice(loop.time())
    assert hub.events_applied - applied == DRAIN_LIMIT  # the frame goes out after one slice
    done = asyncio.Event()
    hub.after_drain.append(lambda: done.set() if hub.events_applied - applied == total else None)
    await asyncio.wait_for(done.wait(), 5)  # the rest: the next slice at once, not BATCH_DELAY later
    assert len(hub.state.clusters["c"].nodes) == total



async def test_a_failing_observer_is_logged_once_per_kind_with_a_count(caplog):
    # An observer that fails on every clock tick (as the chart did with a
    # negative busy count) must not log a traceback every second; the other
    # observers still see each event.
    hub = Hub(asyncio.get_running_loop())
    now = [0.0]
    hub.failures.clock = lambda: now[0]
    seen = []

    def broken(event):
        if isinstance(event, ev.HealthCheck):
            raise OverflowError("unsigned short is less than minimum")

    hub.observers += [broken, seen.append]
    hub.feed(attached("c"))
    with caplog.at_level("ERROR", logger="dispymon.runtime.hub"):
        for t in range(40):
            now[0] = float(t)
            hub.feed(ev.HealthCheck(float(t)))
            hub.drain()
            hub.failures.report()  # what the health tick does every second
        assert len(seen) == 41
        records = [r for r in caplog.records if r.name == "dispymon.runtime.hub"]
        assert len(records) == 1 and records[0].exc_info is not None
        assert "broken on HealthCheck: OverflowError" in records[0].getMessage()
        now[0] = 61.0
        hub.failures.report()  # the failures stopped: their count is told once
        hub.failures.report()
    records = [r.getMessage() for r in caplog.records if r.name == "dispymon.runtime.hub"]
    assert len(records) == 2 and "39 more time(s)" in records[1] and "(40 in all)" in records[1]
    assert hub.failures.counts() == {records[0].split(" (logged once")[0]: 40}
