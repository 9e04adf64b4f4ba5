"""The Jobs view's selections: filters, the time range per state, order, paging, bounds (no sockets)."""

from __future__ import annotations

import asyncio

import pytest
from jobsworld import World

from dispymon.features import jobs as jobs_module
from dispymon.features.jobs import JobFilter
from dispymon.model import events as ev

TRACE = "Traceback (most recent call last):\nKeyError: 'x'\n"


def select(world: World, **kw):
    return asyncio.run(world.jobs.select(world.state, JobFilter(**kw)))


@pytest.fixture
def world():
    """Cluster c: queued 1 (created 10), 2 (created 5, pinned .9); running 3 (start 20, on .2), 4 (start 15,
    on .3); ended 5 finished at 30 on .2, 6 failed (KeyError) at 40 on .3, 7 cancelled at 35 (never ran).
    Cluster d: queued 8 (created 12), ended 9 finished at 50."""
    w = World()
    w.attach("c")
    w.attach("d")
    w.submit(1, created=10.0)
    w.submit(2, created=5.0, pinned="127.0.0.9")
    w.start(w.submit(3, created=1.0), ip="127.0.0.2", at=20.0)
    w.start(w.submit(4, created=2.0, job_id="Special-Four"), ip="127.0.0.3", at=15.0)
    w.end(w.start(w.submit(5, created=3.0), ip="127.0.0.2", at=25.0), at=30.0)
    w.end(w.start(w.submit(6, created=4.0), ip="127.0.0.3", at=26.0), ev.JOB_TERMINATED, at=40.0, exception=TRACE)
    w.end(w.submit(7, created=6.0), ev.JOB_CANCELLED, at=35.0)
    w.submit(8, cluster="d", created=12.0)
    w.end(w.start(w.submit(9, cluster="d", created=7.0), cluster="d", at=45.0), cluster="d", at=50.0)
    w.settle()
    yield w
    w.close()


def keys(sel) -> list[int]:
    return [k for _, k in sel.refs]


def test_order_is_queued_oldest_created_then_running_oldest_start_then_ended_newest_end(world):
    sel = select(world)
    assert keys(sel) == [2, 1, 8, 4, 3, 9, 6, 7, 5]
    assert sel.counts == {"queued": 3, "running": 2, "finished": 2, "failed": 1, "cancelled": 1}
    rows = world.jobs.rows(world.state, sel, 0, 100)
    assert [(r["key"], r["state"], r["cluster"]) for r in rows][:5] == [
        (2, "queued", "c"), (1, "queued", "c"), (8, "queued", "d"), (4, "running", "c"), (3, "running", "c"),
    ]  # fmt: skip
    assert rows[5] == {"key": 9, "id": "job-9", "cluster": "d", "state": "finished", "node": "127.0.0.2",
                       "exception_type": None, "created": 7.0, "start_time": 45.0, "end_time": 50.0,
                       "duration": 5.0, "resubmit_of": None}  # fmt: skip


@pytest.mark.parametrize("kw, expected", [
    ({"cluster": "c"}, [2, 1, 4, 3, 6, 7, 5]),
    ({"cluster": "d"}, [8, 9]),
    ({"states": ("queued",)}, [2, 1, 8]),
    ({"states": ("running", "failed")}, [4, 3, 6]),
    ({"states": ("finished",), "cluster": "c"}, [5]),
    ({"node": "127.0.0.3"}, [4, 6]),
    ({"node": "127.0.0.9"}, [2]),  # a queued job's node is the one it was pinned to
    ({"exception": "KeyError"}, [6]),
    ({"exception": "Key"}, []),  # exact
    ({"text": "special"}, [4]),  # a substring, in any case
    ({"text": "JOB-"}, [2, 1, 8, 3, 9, 6, 7, 5]),
])  # fmt: skip
def test_filters(world, kw, expected):
    assert keys(select(world, **kw)) == expected


@pytest.mark.parametrize("since, until, expected", [
    # queued on created (10, 5, 12), running on start (20, 15), ended on end (30, 40, 35, 50)
    (10.0, None, [1, 8, 4, 3, 9, 6, 7, 5]),
    (None, 10.0, [2, 1]),
    (12.0, 20.0, [8, 4, 3]),
    (30.0, 40.0, [6, 7, 5]),
    (41.0, None, [9]),
])  # fmt: skip
def test_the_time_range_reads_created_start_or_end_by_state(world, since, until, expected):
    assert keys(select(world, since=since, until=until)) == expected


def test_a_selection_is_frozen_and_its_rows_read_now(world):
    sel = select(world, cluster="c", states=("queued", "running"))
    assert keys(sel) == [2, 1, 4, 3]
    c = world.state.clusters["c"]
    job1 = next(j for j in c.queued.values() if j.key == 1)
    world.end(world.start(job1, at=60.0), at=61.0)
    world.submit(10, created=0.5)  # a new queued job: not in the frozen list
    world.settle()
    again = world.jobs.selection(sel.id)
    assert again is sel and keys(again) == [2, 1, 4, 3]
    assert [r["state"] for r in world.jobs.rows(world.state, again, 0, 10)] == ["queued", "finished", "running", "running"]
    assert keys(select(world, cluster="c", states=("queued",))) == [10, 2]


def test_100000_queued_rows_in_pages():
    w = World()
    w.attach()
    try:
        n = 100_000
        for key in range(n, 0, -1):  # submitted newest first: the order must come from `created`
            w.submit(key, created=float(key), args=())
        sel = asyncio.run(w.jobs.select(w.state, JobFilter(states=("queued",))))
        assert len(sel.refs) == n and sel.counts == {"queued": n}
        seen = []
        for offset in range(0, n, 1000):
            page = w.jobs.rows(w.state, sel, offset, 1000)
            assert len(page) == 1000
            seen += [r["key"] for r in page]
        assert seen == list(range(1, n + 1))
    finally:
        w.close()


def test_selections_are_bounded_in_number_and_expire_when_idle():
    now = [1000.0]
    w = World(clock=lambda: now[0])
    w.attach()
    try:
        w.submit(1)
        sels = [asyncio.run(w.jobs.select(w.state, JobFilter())) for _ in range(9)]
        assert w.jobs.selection(sels[0].id) is None  # the 9th let the oldest go
        assert all(w.jobs.selection(s.id) is s for s in sels[1:])
        now[0] += 59.0
        assert w.jobs.selection(sels[1].id) is sels[1]  # used: kept 60 s more
        now[0] += 2.0
        assert w.jobs.selection(sels[2].id) is None and w.jobs.selection(sels[1].id) is sels[1]
    finally:
        w.close()


def test_selections_are_bounded_in_refs(world, monkeypatch):
    monkeypatch.setattr(jobs_module, "SELECTION_REFS", 12)
    first = select(world)  # 9 refs
    second = select(world, cluster="c")  # 7 more: over 12 together, the older goes
    assert world.jobs.selection(first.id) is None and world.jobs.selection(second.id) is second
    monkeypatch.setattr(jobs_module, "SELECTION_REFS", 4)
    assert len(select(world).refs) == 4  # one alone is cut too


class Named:
    """An id that is not plain: its text is made by the guard."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return f"named-{self.name}"


def test_ids_that_are_not_plain_are_matched_on_their_made_text(world):
    world.submit(20, job_id=Named("zebra"))
    row = world.jobs.row(world.state, "c", 20)
    world.settle()
    row = world.jobs.row(world.state, "c", 20)
    assert row["id"] == "named-zebra"
    assert keys(select(world, text="ZEBRA")) == [20]
    assert world.jobs.find(world.state, "c", "named-zebra") == [20]


def test_find_gives_newest_first(world):
    world.end(world.start(world.submit(30, job_id="dup")), at=70.0)
    world.submit(31, job_id="dup")
    world.settle()
    assert world.jobs.find(world.state, "c", "dup") == [31, 30]
    assert world.jobs.find(world.state, "d", "dup") == []


def test_the_rows_of_ended_jobs_are_the_history_records(world):
    """Rows of ended jobs are the history's records (one source of truth)."""
    sel = select(world, states=("finished", "failed", "cancelled"))
    by_key = {r["key"]: r for r in world.history.records()}
    for row in world.jobs.rows(world.state, sel, 0, 100):
        rec = by_key[row["key"]]
        assert (row["state"], row["node"], row["end_time"], row["exception_type"]) == (
            rec["outcome"], rec["node"], rec["end_time"], rec["exception_type"],
        )  # fmt: skip


def test_an_id_text_not_made_because_the_guard_was_behind_is_asked_again():
    from dispymon.runtime.guard import Guard
    from jobsworld import Pump

    pump = Pump()
    now = [100.0]
    guard = Guard(pump.feed, rate=1, clock=lambda: now[0])
    w = World(guard=guard)
    w.pump = pump
    w.attach()
    try:
        w.submit(1, job_id=Named("a"))
        w.submit(2, job_id=Named("b"))
        first = {r["key"]: r["id"] for r in (w.jobs.row(w.state, "c", k) for k in (1, 2))}
        w.settle()
        assert first == {1: "…", 2: "…"}
        assert w.jobs.row(w.state, "c", 2)["id"] == "…"  # the rate was spent: not made, not cached as made
        now[0] += 1.0
        w.jobs.row(w.state, "c", 2)
        w.settle()
        assert [w.jobs.row(w.state, "c", k)["id"] for k in (1, 2)] == ["named-a", "named-b"]
    finally:
        w.close()


async def test_a_page_waits_for_the_ids_being_made():
    """Through a real hub: the guard's answers are delivered by the hub's drain on the loop."""
    from dispymon.features.history import History
    from dispymon.features.jobs import JobsFeature
    from dispymon.model.events import ClusterAttached, JobInfo, StatusEvent
    from dispymon.runtime.guard import Guard
    from dispymon.runtime.hub import Hub

    hub = Hub(asyncio.get_running_loop())
    guard = Guard(hub.feed)
    jobs = JobsFeature(2**20, 2**20, guard, None, History())
    hub.subscribe(jobs.take)
    try:
        hub.feed(ClusterAttached("c", "JobCluster", (), (), 0))
        for key in (1, 2):
            info = JobInfo(key, Named(f"n{key}"), "127.0.0.2", 5.0, None, (), {}, None, None, key, 1.0)
            hub.feed(StatusEvent("c", ev.JOB_RUNNING, None, info))
        state = hub.read()
        sel = await jobs.select(state, JobFilter())
        rows = await jobs.rows_made(hub.read(), sel, 0, 10)
        assert [r["id"] for r in rows] == ["named-n1", "named-n2"]
    finally:
        guard.close()
