"""The hub on its own: when events fed from other threads are applied (no sockets here)."""

from __future__ import annotations

import asyncio

from dispymon.model import events as ev
from dispymon.model.events import deferred
from dispymon.runtime.hub import DRAIN_LIMIT, Hub
from factories import attached, job, node, status


async def test_readers_woken_by_one_tick_share_one_drain():
    # Browsers woken by one clock tick must build from one version (one shared
    # frame) even while events keep coming: the first drains, the rest do not.
    loop = asyncio.get_running_loop()
    hub = Hub(loop)
    tick = loop.time()
    hub.feed(attached("c"))
    state = hub.read(since=tick)
    assert "c" in state.clusters
    version = state.version
    hub.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.2")))
    assert hub.read(since=tick).version == version  # another browser of the same tick
    assert "127.0.0.2" in hub.read().clusters["c"].nodes  # a snapshot, a flush, a REST read: always
    # a drain that found nothing still counts: what came after it waits for the next tick
    tick = loop.time()
    hub.read(since=tick)
    hub.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.3")))
    assert "127.0.0.3" not in hub.read(since=tick).clusters["c"].nodes
    assert "127.0.0.3" in hub.read(since=loop.time() + 1).clusters["c"].nodes  # the next tick


async def test_reads_see_settled_states_and_a_record_changed_in_many_drains_moves_once():
    # Settling the change log is an explicit step (State.settle), taken by
    # read(): a reader never sees changes not yet in the log, and a record
    # changed in many drains between two reads gets one new version, not one
    # per drain (settling at every drain cost a third of ingest's rate).
    hub = Hub(asyncio.get_running_loop())
    seen: list[bool] = []
    hub.subscribe(lambda batch, state: seen.append("127.0.0.2" in state.clusters["c"].nodes))
    hub.feed(attached("c"))
    hub.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.2")))
    state = hub.read()
    assert state.unsettled() == 0 and seen == [True]  # subscribers get the state their batch was applied to
    assert "127.0.0.2" in state.changes_since(0).clusters["c"]["nodes"]
    version = state.version
    for busy in (1, 2, 3):  # three drains of the loop's own, no reader in between
        hub.feed(status("c", ev.NODE_AVAIL_INFO, node("127.0.0.2", busy=busy)))
        hub._drain()
    assert state.version == version and state.unsettled() > 0
    assert hub.read().version == version + 1 and state.unsettled() == 0
    assert state.changes_since(version).clusters["c"]["nodes"]["127.0.0.2"]["busy"] == 3


async def test_the_health_tick_is_applied_at_once_not_at_a_browsers_tick(monkeypatch):
    # The health flags and the chart's second cost tens of ms for 10,000
    # nodes: held for the next reader's drain, they would make that frame late.
    monkeypatch.setattr("dispymon.runtime.hub.BATCH_DELAY", 3600.0)
    hub = Hub(asyncio.get_running_loop())
    hub.feed(attached("c"))
    hub.read()  # the next timed drain is an hour away
    hub.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.2")))
    checked = asyncio.Event()
    seen = []

    def subscriber(batch, state):
        if any(isinstance(event, ev.HealthCheck) for event in batch):
            seen.append("127.0.0.2" in state.clusters["c"].nodes)  # what came before it, too
            checked.set()

    hub.subscribe(subscriber)
    ticks = asyncio.create_task(hub.tick_health(3600))
    try:
        await asyncio.wait_for(checked.wait(), 5)
        assert seen == [True]
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
            hub.feed(deferred(chain, k + 1))
        return None

    hub.feed(attached("c"))
    hub.feed(deferred(chain, 0))
    assert "c" in hub.read().clusters and made == [0]


async def test_a_browsers_tick_takes_one_slice_and_the_backlog_goes_on_between_frames(monkeypatch):
    monkeypatch.setattr("dispymon.runtime.hub.BATCH_DELAY", 3600.0)
    loop = asyncio.get_running_loop()
    hub = Hub(loop)
    hub.feed(attached("c"))
    hub.read()
    total = DRAIN_LIMIT + 10
    for i in range(total):
        hub.feed(status("c", ev.NODE_INITIALIZED, node(f"10.0.{i // 250}.{i % 250}")))
    applied = hub.events_applied
    hub.read(since=loop.time())
    assert hub.events_applied - applied == DRAIN_LIMIT  # the frame goes out after one slice
    done = asyncio.Event()
    nodes = []

    def subscriber(batch, state):
        if hub.events_applied - applied == total:
            nodes.append(len(state.clusters["c"].nodes))
            done.set()

    hub.subscribe(subscriber)
    hub.feed(ev.HealthCheck(0.0))  # the subscriber gets a batch when the drain that takes the rest ends
    total += 1
    await asyncio.wait_for(done.wait(), 5)  # the rest: the next slice at once, not BATCH_DELAY later
    assert nodes == [total - 1]



async def test_a_failing_subscriber_is_logged_once_with_a_count(caplog):
    # A subscriber that fails on every clock tick (as the chart did with a
    # negative busy count) must not log a traceback every second; the other
    # subscribers still get each batch.
    hub = Hub(asyncio.get_running_loop())
    now = [0.0]
    hub.failures.clock = lambda: now[0]
    seen = []

    def broken(batch, state):
        if any(isinstance(event, ev.HealthCheck) for event in batch):
            raise OverflowError("unsigned short is less than minimum")

    hub.subscribe(broken)
    hub.subscribe(lambda batch, state: seen.extend(batch))
    hub.feed(attached("c"))
    hub.read()
    with caplog.at_level("ERROR", logger="dispymon.runtime.hub"):
        for t in range(40):
            now[0] = float(t)
            hub.feed(ev.HealthCheck(float(t)))
            hub.read()
            hub.failures.report()  # what the health tick does every second
        assert len(seen) == 41
        records = [r for r in caplog.records if r.name == "dispymon.runtime.hub"]
        assert len(records) == 1 and records[0].exc_info is not None
        assert "hub subscriber" in records[0].getMessage() and "broken: OverflowError" in records[0].getMessage()
        now[0] = 61.0
        hub.failures.report()  # the failures stopped: their count is told once
        hub.failures.report()
    records = [r.getMessage() for r in caplog.records if r.name == "dispymon.runtime.hub"]
    assert len(records) == 2 and "39 more time(s)" in records[1] and "(40 in all)" in records[1]
    assert hub.failures.counts() == {records[0].split(" (logged once")[0]: 40}


async def test_subscribers_get_each_drained_batch_in_order_after_the_state():
    # One interface for what is built on the state: the ended jobs and every
    # event but StatusEvents, in the order applied, once per drain.
    hub = Hub(asyncio.get_running_loop())
    batches = []
    hub.subscribe(lambda batch, state: batches.append((list(batch), state.clusters["c"].jobs_record())))
    hub.feed(attached("c", nodes=[(node("127.0.0.2"), ev.NODE_INITIALIZED)]))
    hub.feed(status("c", ev.JOB_CREATED, None, job(1, None)))
    hub.feed(status("c", ev.JOB_RUNNING, node(busy=1), job(1)))
    hub.feed(status("c", ev.JOB_FINISHED, node(jobs_done=1), job(1)))
    hub.feed(ev.HealthCheck(1.0))
    hub.feed(status("c", ev.NODE_AVAIL_INFO, node("127.0.0.2")))  # the state's alone
    state = hub.read()
    assert len(batches) == 1
    batch, jobs = batches[0]
    assert [type(e).__name__ for e in batch] == ["ClusterAttached", "StatusEvent", "HealthCheck"]
    assert batch[1].status == ev.JOB_FINISHED and jobs == state.clusters["c"].jobs_record() and jobs["finished"] == 1
    hub.read()
    assert len(batches) == 1  # nothing drained, no batch
