"""Chart series: one-second rings, per-minute aggregates, combined views (explicit times, no waiting)."""

from __future__ import annotations

import pytest

from dispymon.model import events as ev
from dispymon.runtime.hub import Hub
from dispymon.features.series import MinutePoint, Series, busy_sample
from dispymon.model.state import State
from factories import attached, node, status

T0 = 1_700_000_040  # a minute boundary (divisible by 60)


def test_jobs_done_per_second_and_busy_samples():
    s = Series(seconds=10)
    s.tick(T0, {("c", ""): 2, ("c", "n1"): 2})
    s.job_done("c", "n1", T0 + 0.2)
    s.job_done("c", "n1", T0 + 0.9)
    s.job_done("c", "n2", T0 + 2.5)
    s.tick(T0 + 3, {("c", ""): 1, ("c", "n1"): 1})
    got = s.query("c", now=T0 + 4)
    assert got["step"] == 1 and got["end"] == T0 + 4
    # from the first sample on: the seconds before it are not known
    assert got["done"] == [2, 0, 1, 0, 0]
    # busy holds its last sample until the next one
    assert got["busy"] == [2.0, 2.0, 2.0, 1.0, 1.0]
    assert s.query("c", "n1", now=T0 + 4)["done"] == [2, 0, 0, 0, 0]
    assert s.query("c", "n2", now=T0 + 4)["done"] == [1, 0, 0]  # n2 first seen at T0 + 2


def test_the_ring_keeps_only_the_last_seconds():
    s = Series(seconds=5)
    for t in range(20):
        s.job_done("c", "n1", T0 + t)
    got = s.query("c", now=T0 + 21)
    assert got["done"] == [1, 1, 1, 0, 0]  # seconds 17..21 and len(got["busy"]) == 5
    # a long quiet spell empties it
    assert s.query("c", now=T0 + 1000)["done"] == [0] * 5


def test_combined_adds_clusters_and_a_node_across_clusters():
    s = Series(seconds=3)
    s.tick(T0, {("a", ""): 1, ("a", "n1"): 1, ("b", ""): 3, ("b", "n1"): 2, ("b", "n2"): 1})
    s.job_done("a", "n1", T0)
    s.job_done("b", "n1", T0)
    s.job_done("b", "n2", T0)
    assert s.query(now=T0) == {"step": 1, "end": T0, "done": [3], "busy": [4.0]}
    assert s.query(node="n1", now=T0)["done"] == [2]
    assert s.query(node="n1", now=T0)["busy"] == [3.0]
    assert s.query(now=T0 + 2)["done"] == [3, 0, 0]
    assert s.query("nope", now=T0) == {"step": 1, "end": T0, "done": [], "busy": []}


def test_minutes_aggregate_and_go_to_listeners():
    s = Series(seconds=10, minutes=5, node_minutes=3)
    points = []
    s.listeners.append(points.append)
    for t in range(0, 60):  # one minute: busy 2 for 30 ticks, then 0
        s.tick(T0 + t, {("c", ""): 2 if t < 30 else 0, ("c", "n1"): 2 if t < 30 else 0})
    for _ in range(7):
        s.job_done("c", "n1", T0 + 10)
    s.tick(T0 + 60, {("c", ""): 0, ("c", "n1"): 0})  # the next minute closes the first
    assert sorted(points) == sorted([MinutePoint(T0, "c", "", 7, 1.0), MinutePoint(T0, "c", "n1", 7, 1.0)])
    got = s.query("c", step=60)  # the current minute is the last bucket, as far as it has gone
    assert got["step"] == 60 and got["end"] == T0 + 60 and got["done"] == [7, 0]
    assert got["busy"] == [1.0, 0.0]
    assert s.query("c", "n1", step=60)["done"] == [7, 0]
    for m in range(2, 5):  # idle minutes are known minutes: they count, up to the node's 3
        s.tick(T0 + m * 60, {("c", ""): 0, ("c", "n1"): 0})
    assert s.query("c", step=60)["done"] == [7, 0, 0, 0, 0]
    assert s.query("c", "n1", step=60)["done"] == [0, 0, 0]
    with pytest.raises(ValueError):
        s.query(step=5)


def test_minutes_load_back_and_idle_minutes_are_not_kept():
    s = Series(minutes=10)
    s.load([MinutePoint(T0 - 120, "c", "", 5, 1.5), MinutePoint(T0 - 60, "c", "", 3, 0.5)])
    s.tick(T0, {("c", ""): 0})
    got = s.query("c", step=60)
    assert got["end"] == T0 and got["done"][-3:] == [5, 3, 0] and got["busy"][-3:] == [1.5, 0.5, 0.0]
    points = []
    s.listeners.append(points.append)
    s.tick(T0 + 60, {("c", ""): 0})
    assert points == []  # an idle minute costs no row


async def test_the_hub_gives_subscribers_each_batch_after_the_state_in_order():
    import asyncio

    hub = Hub(asyncio.get_running_loop())
    seen = []
    hub.subscribe(lambda batch, state: seen.extend((type(e).__name__, "c" in state.clusters) for e in batch))
    hub.feed(attached("c", nodes=[(node("127.0.0.2", busy=1), ev.NODE_INITIALIZED)]))
    hub.feed(status("c", ev.NODE_AVAIL_INFO, node("127.0.0.2", busy=1)))  # the state's alone
    hub.feed(ev.HealthCheck(T0))
    state = await hub.settle()
    assert [name for name, _ in seen] == ["ClusterAttached", "HealthCheck"]
    assert seen[0][1]  # the state had applied the events when the subscriber ran
    assert busy_sample(state) == {("c", "127.0.0.2"): 1, ("c", ""): 1}


def test_busy_sample_reads_every_cluster():
    state = State()
    state.apply(attached("a", nodes=[(node("127.0.0.2", busy=2), ev.NODE_INITIALIZED)]))
    state.apply(attached("b", nodes=[(node("127.0.0.2", busy=1), ev.NODE_INITIALIZED),
                                     (node("127.0.0.3", busy=1), ev.NODE_INITIALIZED)]))  # fmt: skip
    state.apply(status("b", ev.NODE_AVAIL_INFO, node("127.0.0.3", busy=0)))
    assert busy_sample(state) == {("a", "127.0.0.2"): 2, ("a", ""): 2, ("b", "127.0.0.2"): 1,
                                  ("b", "127.0.0.3"): 0, ("b", ""): 1}  # fmt: skip


def test_a_minute_split_by_a_restart_adds_up():
    s = Series()
    s.load([MinutePoint(T0, "c", "", 4, 2.0)])  # the previous run's part of this minute
    s.job_done("c", "n1", T0 + 30)
    s.tick(T0 + 31, {("c", ""): 1})
    got = s.query("c", step=60)
    assert got["end"] == T0 and got["done"][-1] == 5 and got["busy"][-1] == 2.0
    s.tick(T0 + 60, {("c", ""): 0})  # closed: still the sum of both parts
    assert s.query("c", step=60)["done"][-2:] == [5, 0]


def test_busy_counts_are_charted_as_dispy_gives_them_even_below_zero():
    # dispy's busy count goes below zero after its short-job race; the chart
    # shows it, and the second's sample of every other node and of the
    # cluster is still taken (an overflow used to stop the whole tick).
    s = Series(seconds=10)
    s.tick(T0, {("c", "127.0.0.2"): -1, ("c", "127.0.0.3"): 2, ("c", ""): 1})
    s.tick(T0 + 1, {("c", "127.0.0.2"): 70_000, ("c", "127.0.0.3"): 3, ("c", ""): 70_003})
    assert s.query("c", "127.0.0.2", now=T0 + 1)["busy"][-2:] == [-1, 32_767]  # beyond a bucket: cut to its range
    assert s.query("c", "127.0.0.3", now=T0 + 1)["busy"][-2:] == [2, 3]
    assert s.query("c", now=T0 + 1)["busy"][-2:] == [1, 70_003]
    assert s.close_minute() and s.minute is not None


def test_nothing_before_the_server_or_the_attach_is_drawn_as_idle():
    """Issue 15: a fresh server's chart drew ten minutes of zeros before its start."""
    s = Series()  # 600 seconds, 1440 minutes
    for t in range(30):  # the server's first 30 seconds, cluster "a" busy
        s.tick(T0 + t, {("a", ""): 2, ("a", "n1"): 2})
        s.job_done("a", "n1", T0 + t)
    got = s.query("a", now=T0 + 29)
    assert got["end"] == T0 + 29 and got["done"] == [1] * 30 and got["busy"] == [2.0] * 30
    # cluster "b" attaches at T0 + 20: its own chart starts there, the combined one at T0
    for t in range(20, 30):
        s.tick(T0 + t, {("b", ""): 1})
    assert s.query("b", now=T0 + 29)["busy"] == [1.0] * 10
    combined = s.query(now=T0 + 29)
    assert combined["done"] == [1] * 30 and combined["busy"] == [2.0] * 20 + [3.0] * 10
    # a node first seen later starts later too; one never seen has no data at all
    s.tick(T0 + 30, {("a", ""): 2, ("a", "n1"): 2, ("a", "n2"): 0})
    assert s.query("a", "n2", now=T0 + 31)["busy"] == [0.0, 0.0]
    assert s.query("a", "n9", now=T0 + 31)["done"] == []
    # per minute: only the current one so far, not 1439 idle minutes before it
    minutes = s.query("a", step=60)
    assert minutes["end"] == T0 and minutes["done"] == [30]
    # once the server has run longer than the window, the whole window
    s.tick(T0 + 1000, {("a", ""): 0, ("a", "n1"): 0})
    assert len(s.query("a", now=T0 + 1000)["done"]) == 600
    assert s.query("a", step=60)["done"] == [30] + [0] * 16


def test_the_known_minutes_reach_back_to_a_loaded_minute():
    s = Series(seconds=20)
    s.tick(T0 + 10, {("c", ""): 1})
    assert s.query("c", step=60)["done"] == [0]
    s.load([MinutePoint(T0 - 180, "c", "", 2, 1.0)])  # an earlier run's minute: known
    assert s.query("c", step=60)["done"] == [2, 0, 0, 0]
