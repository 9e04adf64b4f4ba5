"""Per-browser views: sequence numbers, and what each view is sent."""

from __future__ import annotations

import pytest

from dispymon.model import events as ev
from dispymon.model.events import SettingChanged
from dispymon.model.state import State
from dispymon.model.views import ClientView
from factories import applied, attached, job, node, status

# That snapshot + deltas rebuild the server's state, for browsers with
# different intervals and watched nodes, is checked on the golden frames
# (test_golden.py) by the browser's own reducers (frontend core/golden.test.ts).


def test_sequence_numbers_are_consecutive_and_empty_deltas_are_not_sent():
    state = State()
    view = ClientView(state, 1.0)
    assert view.snapshot()["seq"] == 1
    assert view.delta() is None
    applied(state, attached("a"))
    first = view.delta()
    assert first["seq"] == 2 and first["clusters"]["a"]["kind"] == "JobCluster"
    assert view.delta() is None
    applied(state, status("a", ev.NODE_INITIALIZED, node()))
    assert view.delta()["seq"] == 3
    assert view.snapshot()["seq"] == 4


def test_a_delta_before_the_snapshot_is_a_programming_error():
    with pytest.raises(RuntimeError):
        ClientView(State(), 1.0).delta()


def test_only_a_view_watching_a_node_receives_its_jobs():
    state = State()
    monitor, node_page = ClientView(state, 1.0), ClientView(state, 1.0)
    node_page.watch("127.0.0.2")
    assert monitor.snapshot()["node_jobs"] is None
    assert node_page.snapshot()["node_jobs"] == {"ip_addr": "127.0.0.2", "jobs": {}}
    applied(state, attached("a"))
    seven = job(7, "127.0.0.2", args=("x", 3))._replace(key=70)  # a key unlike its uid: the job page's ?key=
    applied(state, status("a", ev.JOB_RUNNING, node("127.0.0.2", busy=1), seven))
    applied(state, status("a", ev.JOB_RUNNING, node("127.0.0.3", busy=1), job(8, "127.0.0.3")))
    assert "node_jobs" not in monitor.delta()
    jobs = node_page.delta()["node_jobs"]["jobs"]
    assert list(jobs) == ["7"]
    assert jobs["7"] == {"uid": 7, "key": 70, "cluster": "a", "id": "job-7", "args": "x, 3", "kwargs": "",
                         "start_time": 1000.0, "ip_addr": "127.0.0.2"}  # fmt: skip
    applied(state, SettingChanged("show_job_args", False))
    hidden = node_page.delta()
    assert hidden["settings"] == {"show_job_args": False}
    assert hidden["node_jobs"]["jobs"]["7"]["args"] is None
    applied(state, status("a", ev.JOB_FINISHED, node("127.0.0.2"), job(7, "127.0.0.2")))
    assert node_page.delta()["node_jobs"]["jobs"] == {"7": None}


def test_text_is_made_once_per_job_and_only_when_viewed():
    calls = []

    class Loud:
        def __str__(self):
            calls.append(1)
            return "loud"

    state = State()
    applied(state, attached("a"))
    applied(state, status("a", ev.JOB_RUNNING, node(busy=1), job(1, args=(Loud(),))))
    monitor = ClientView(state, 1.0)
    monitor.snapshot()
    assert calls == []  # nobody watches the node: no str()
    viewers = [ClientView(state, 1.0) for _ in range(3)]
    for v in viewers:
        v.watch("127.0.0.2")
        assert v.snapshot()["node_jobs"]["jobs"]["1"]["args"] == "loud"
    assert calls == [1]


def test_a_delta_carries_only_the_fields_of_a_node_that_changed():
    state = State()
    early, late = ClientView(state, 1.0), ClientView(state, 1.0)
    early.snapshot()
    applied(state, attached("a"))
    applied(state, status("a", ev.NODE_INITIALIZED, node("127.0.0.2")))
    # new to this browser: the cluster arrives whole, its node complete
    whole = early.delta()["clusters"]["a"]
    assert whole["nodes"]["127.0.0.2"]["ip_addr"] == "127.0.0.2" and len(whole["nodes"]["127.0.0.2"]) == 14
    late.snapshot()

    applied(state, status("a", ev.JOB_RUNNING, node("127.0.0.2", busy=1), job(1)))
    assert early.delta()["clusters"]["a"]["nodes"] == {"127.0.0.2": {"busy": 1}}
    applied(state, status("a", ev.JOB_FINISHED, node("127.0.0.2", busy=0, jobs_done=1, cpu_time=2.5), job(1)))
    assert early.delta()["clusters"]["a"]["nodes"] == {"127.0.0.2": {"busy": 0, "jobs_done": 1, "cpu_time": 2.5}}
    # a browser that missed both changes gets every field that moved since its
    # copy (busy went 0 → 1 → 0: sent again, as only its last move is kept)
    assert late.delta()["clusters"]["a"]["nodes"] == {"127.0.0.2": {"busy": 0, "jobs_done": 1, "cpu_time": 2.5}}
    # an event that changes none of the node's fields sends nothing about it
    applied(state, status("a", ev.NODE_AVAIL_INFO, node("127.0.0.2", busy=0, jobs_done=1, cpu_time=2.5)))
    assert early.delta() is None
    # a node new to the cluster arrives complete in a delta
    applied(state, status("a", ev.NODE_INITIALIZED, node("127.0.0.3")))
    assert early.delta()["clusters"]["a"]["nodes"]["127.0.0.3"]["name"] == "host-127.0.0.3"


def test_a_positive_interval_below_the_minimum_counts_as_the_minimum():
    from dispymon.transport.protocol import MIN_INTERVAL, effective_interval

    assert [effective_interval(x) for x in (0.001, 0.05, 0.2, 0.0, -1.0)] == [MIN_INTERVAL, 0.05, 0.2, 0.0, -1.0]
    assert ClientView(State(), 0.0001).interval == MIN_INTERVAL
