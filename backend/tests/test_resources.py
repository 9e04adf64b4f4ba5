"""Each node's resources over time (features/resources.py): rings, minutes, budget, query, persistence.

Explicit times, no waiting; the real cluster's test is test_resources_cluster.py.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from dispymon.features.persist import Store
from dispymon.features.resources import (
    DISK_STEP,
    MEMORY_STEP,
    NODE_BYTES,
    ResourceMinute,
    Resources,
    quantise,
)
from dispymon.model import events as ev
from dispymon.model.events import AvailInfo, HealthCheck
from dispymon.model.state import State
from dispymon.runtime.hub import Hub
from factories import attached, node, status

T0 = 1_700_000_040  # a minute boundary
GiB = 2**30


def sample(r: Resources, ip: str, t: float, cpu: float = 50.0, memory: int = 4 * GiB, disk: int = 100 * GiB,
           swap: float = 90.0) -> bool:  # fmt: skip
    return r.add(ip, t, cpu, memory, disk, swap)


def test_each_pulse_is_a_point_of_its_second_and_seconds_without_one_are_left_out():
    r = Resources(seconds=60)
    sample(r, "n1", T0 + 0.3, cpu=12.34, memory=3 * GiB + 5 * MEMORY_STEP, disk=7 * DISK_STEP, swap=99.5)
    sample(r, "n1", T0 + 2.1, cpu=80.0)
    sample(r, "n1", T0 + 2.9, cpu=81.5)  # two in one second: the later is the second's
    got = r.query("n1", "10m", now=T0 + 4)
    assert got["kept"] and got["step"] == 1 and got["end"] == T0 + 4
    assert got["times"] == [T0, T0 + 2]
    assert got["cpu"] == [12.34, 81.5]
    assert got["memory"][0] == 3 * GiB + 5 * MEMORY_STEP and got["disk"][0] == 7 * DISK_STEP
    assert got["swap"] == [99.5, 90.0]
    # the ring keeps 60 seconds here: later, the first point is gone
    assert r.query("n1", "10m", now=T0 + 61)["times"] == [T0 + 2]
    assert r.query("n1", "10m", now=T0 + 100)["times"] == []


def test_the_seconds_ring_is_whole_minutes_since_the_minutes_are_read_from_it():
    with pytest.raises(ValueError):
        Resources(seconds=90)


def test_values_are_kept_to_their_quantum_and_odd_values_do_not_break_the_ring():
    assert quantise(12.345678, 1000, 3 * DISK_STEP + 1, 100.0) == (1235, 1, 3, 10000)
    assert quantise(-5, -1, 0, 250.0) == (0, 0, 0, 10000)  # cut to the range
    none = quantise(None, float("nan"), "x", float("inf"))
    r = Resources(seconds=60)
    r.add("n1", T0, None, float("nan"), 5 * DISK_STEP, 50)
    got = r.query("n1", "10m", now=T0)
    assert none[0] == 0xFFFF and got["cpu"] == [None] and got["memory"] == [None] and got["disk"] == [5 * DISK_STEP]


def test_minutes_are_the_mean_of_their_samples_and_go_to_listeners_once_a_minute():
    r = Resources(seconds=60, minutes=5)
    batches: list[list[ResourceMinute]] = []
    r.listeners.append(batches.append)
    r.tick(T0)
    for i, cpu in enumerate((10.0, 20.0, 30.0)):
        sample(r, "n1", T0 + i * 10, cpu=cpu)
        sample(r, "n2", T0 + i * 10, cpu=100.0)
    assert r.tick(T0 + 59) == [] and batches == []
    day = r.query("n1", "day", now=T0 + 59)
    assert day["step"] == 60 and day["times"] == [T0] and day["cpu"] == [20.0]  # the minute so far
    sample(r, "n1", T0 + 61, cpu=70.0)  # n1's first minute closes with its first pulse of the next
    closed = r.tick(T0 + 62)
    assert batches == [closed] and [(p.node, p.minute, p.cpu) for p in closed] == [("n1", T0, 2000)]
    day = r.query("n1", "day", now=T0 + 62)
    assert day["times"] == [T0, T0 + 60] and day["cpu"] == [20.0, 70.0]
    assert r.query("n2", "day", now=T0 + 62)["cpu"] == [100.0]  # still being built: silent this minute
    # a node silent for a whole minute: its minute closes at the tick after
    closed = r.tick(T0 + 121)
    assert [(p.node, p.minute, p.cpu) for p in closed] == [("n2", T0, 10000)]
    # five minutes kept
    assert r.query("n1", "day", now=T0 + 60 * 5)["times"] == [T0 + 60]
    assert r.query("n1", "day", now=T0 + 60 * 6)["times"] == []


def test_past_the_budget_new_nodes_are_not_kept_and_say_why_unless_a_node_was_silent_a_day():
    r = Resources(budget=2 * NODE_BYTES)
    assert r.max_nodes == 2
    assert sample(r, "n1", T0) and sample(r, "n2", T0 + 1)
    assert not sample(r, "n3", T0 + 2)
    assert r.memory_bytes() == 2 * NODE_BYTES <= r.budget
    got = r.query("n3", "10m", now=T0 + 3)
    assert not got["kept"] and "budget" in got["note"] and got["times"] == []
    assert r.status()["refused"] == 1 and 'dispymon_resource_nodes{state="over_budget"} 1' in r.metrics_text()
    assert "psutil" in r.query("n9", "10m", now=T0 + 3)["note"]  # never reported: not the budget
    # n2 goes on reporting; n1 falls silent for a day: its rings go to the next new node
    sample(r, "n2", T0 + 86_000)
    assert sample(r, "n3", T0 + 86_401)
    assert set(r.nodes) == {"n2", "n3"} and not r.kept("n1")


class CountingNodes(dict):
    """The kept nodes, counting how often they are all looked through (`items`)."""

    scans = 0

    def items(self):  # type: ignore[override]
        self.scans += 1
        return super().items()


def test_past_the_budget_a_refused_node_s_samples_do_not_each_look_through_every_kept_node():
    # Found by benchmarks/b_fleet.py: a central with 5,000 nodes (the budget keeps 2,741)
    # spent a third of its CPU looking for a node silent a day, at every sample of a refused one.
    r = Resources(budget=50 * NODE_BYTES)
    r.nodes = CountingNodes()
    for i in range(50):
        assert sample(r, f"n{i}", T0 + i)
    for t in range(T0 + 60, T0 + 60 + 1000):  # a refused node pulses every second, for 1,000 s
        assert not sample(r, "late", t)
    assert r.nodes.scans <= 1, f"every kept node looked through {r.nodes.scans} times"
    assert r.status()["refused"] == 1
    # and the rings still go to it once a kept node has been silent a day (n0: the first)
    for i in range(1, 50):
        sample(r, f"n{i}", T0 + 86_000)
    assert not sample(r, "late", T0 + 86_399)
    assert sample(r, "late", T0 + 86_401)
    assert "late" in r.nodes and "n0" not in r.nodes


def test_sparklines_are_ten_second_means_of_cpu_for_each_node_asked():
    r = Resources()
    now = T0 + 600
    for t in range(T0 + 1, now + 1):
        sample(r, "n1", t, cpu=40.0 if t < T0 + 300 else 60.0)
    sample(r, "n2", now - 5, cpu=33.3)
    got = r.sparks(["n1", "n2", "n3"], now=now)
    assert got["step"] == 10 and got["end"] == now
    n1 = got["nodes"]["n1"]
    assert len(n1) == 60 and n1[0] == 40 and n1[-1] == 60
    assert got["nodes"]["n2"][-2] == 33 and got["nodes"]["n2"][:-2] == [None] * 58
    assert got["nodes"]["n3"] is None


async def test_the_state_collects_pulses_and_the_hub_subscriber_keeps_them_timed_by_dispy():
    hub = Hub(asyncio.get_running_loop(), State())
    r = Resources()
    hub.read().avail_log = []
    hub.subscribe(r.take)
    hub.feed(attached("c", nodes=[(node("127.0.0.2"), ev.NODE_INITIALIZED)]))
    import time

    now = time.time()
    pulses = [(now - 3, AvailInfo(10.0, 1 * GiB, 2 * GiB, 100.0)), (now - 1, AvailInfo(30.0, 3 * GiB, 4 * GiB, 99.0))]
    for t, avail in pulses:
        hub.feed(status("c", ev.NODE_AVAIL_INFO, node("127.0.0.2", avail=avail, update_time=t)))
    # a job event carries the node's last avail info too: not a new sample
    hub.feed(status("c", ev.JOB_RUNNING, node("127.0.0.2", avail=pulses[1][1], update_time=now), None))
    hub.feed(HealthCheck(now))
    await hub.settle()
    got = r.query("127.0.0.2", "10m")
    assert got["times"] == [int(t) for t, _ in pulses]
    assert got["cpu"] == [a.cpu for _, a in pulses] and got["memory"] == [a.memory for _, a in pulses]
    assert hub.read().avail_log == []


def test_minutes_persist_in_the_history_database_and_load_back(tmp_path):
    store = Store(tmp_path / "h.db", keep_minutes=3, batch_delay=0.01)
    store.start()
    r = Resources(minutes=3)
    r.listeners.append(store.add_resources)
    for m in range(5):
        sample(r, "n1", T0 + m * 60, cpu=10.0 * m)
        r.tick(T0 + m * 60 + 1)
    r.close_all()
    store.close()
    assert store.status()["dropped"] == 0
    reopened = Store(tmp_path / "h.db", keep_minutes=3)
    points = reopened.load_resources(0)
    # the file keeps keep_minutes + 1 minutes back from its newest (as the job series' minutes)
    assert [p.minute for p in points] == [T0 + m * 60 for m in range(1, 5)]
    again = Resources(minutes=3)
    again.load(points)
    got = again.query("n1", "day", now=T0 + 4 * 60 + 1)
    assert got["times"] == [T0 + m * 60 for m in range(2, 5)] and got["cpu"] == [20.0, 30.0, 40.0]


def test_the_resource_rows_on_disk_are_bounded_by_rows_too(tmp_path):
    store = Store(tmp_path / "h.db", keep_minutes=1440, batch_delay=0.01, keep_resource_rows=10)
    store.start()
    for m in range(6):
        store.add_resources([ResourceMinute(T0 + m * 60, f"n{i}", 1, 2, 3, 4) for i in range(4)])
    store.close()
    rows = Store(tmp_path / "h.db").load_resources(0)
    assert len(rows) <= 10 + 4 and {p.minute for p in rows} >= {T0 + 5 * 60}


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
