"""Per-browser views: snapshot + deltas rebuild exactly the server's state."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispymon.model import events as ev
from dispymon.model.events import AvailInfo, ClusterDetached, HealthCheck, SettingChanged
from dispymon.model.jobtext import node_jobs
from dispymon.model.state import State
from dispymon.model.views import ClientView
from factories import applied, attached, job, node, status
from mirror import GapError, Mirror

IPS = [f"127.0.0.{i}" for i in range(2, 6)]
CLUSTERS = ["a", "b"]

# a node's fields as the events carry them: a few values each, so that
# successive events change some fields and keep others (deltas carry only the
# fields that changed)
node_st = st.builds(
    lambda ip, busy, done, avail: node(ip, busy=busy, jobs_done=done, cpu_time=float(done), avail=avail),
    st.sampled_from(IPS),
    st.integers(0, 3),
    st.integers(0, 3),
    st.sampled_from([None, AvailInfo(50.0, 1000, 2000, 10.0), AvailInfo(20.0, 1000, 2000, 10.0)]),
)

event_st = st.one_of(
    st.builds(lambda c: attached(c), st.sampled_from(CLUSTERS)),
    st.builds(ClusterDetached, st.sampled_from(CLUSTERS)),
    st.builds(HealthCheck, st.floats(0, 2000)),
    st.builds(
        lambda c, code, n: status(c, code, n),
        st.sampled_from(CLUSTERS),
        st.sampled_from([ev.NODE_INITIALIZED, ev.NODE_CLOSED, ev.NODE_AVAIL_INFO]),
        node_st,
    ),
    st.builds(
        lambda c, code, n, uid, exc: status(c, code, n if code != ev.JOB_CREATED else None,
                                            job(uid, n.ip_addr, exception=exc)),
        st.sampled_from(CLUSTERS),
        st.sampled_from([ev.JOB_CREATED, ev.JOB_RUNNING, ev.JOB_FINISHED, ev.JOB_TERMINATED,
                         ev.JOB_CANCELLED, ev.JOB_ABANDONED, ev.JOB_PROVISIONAL_RESULT]),
        node_st,
        st.integers(0, 30),
        st.sampled_from([None, "ValueError: x"]),
    ),
)  # fmt: skip

# each step: apply an event, flush / resync a client, make a client watch a
# node (or none), or flip the server-wide show_job_args setting. Events and
# flushes come most often, as in a real stream.
event_step = st.tuples(st.just("event"), event_st)
flush_step = st.tuples(st.just("flush"), st.integers(0, 2))
step_st = st.one_of(
    event_step,
    event_step,
    event_step,
    flush_step,
    flush_step,
    st.tuples(st.just("resync"), st.integers(0, 2)),
    st.tuples(st.just("watch"), st.tuples(st.integers(0, 2), st.sampled_from([None, *IPS]))),
    st.tuples(st.just("setting"), st.booleans()),
    st.tuples(st.just("reconnect"), st.integers(0, 2)),
)

# 1,000 generated cases in the normal run; DISPYMON_PROPERTY_EXAMPLES=20000 (say) for a nightly one
EXAMPLES = int(os.environ.get("DISPYMON_PROPERTY_EXAMPLES", "1000"))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(step_st, min_size=10, max_size=80))
def test_every_view_rebuilds_the_server_state(steps):
    """Random event streams; three browsers flushing at random moments (their
    intervals), pausing (no flush for a while), watching nodes, disconnecting
    and reconnecting: each ends with exactly the server's state."""
    state = State()
    views = [ClientView(state, 1.0) for _ in range(3)]
    mirrors = [Mirror() for _ in range(3)]
    for v, m in zip(views, mirrors):
        m.apply(v.snapshot())
    for kind, arg in steps:
        if kind == "event":
            applied(state, arg)
        elif kind == "setting":
            applied(state, SettingChanged("show_job_args", arg))
        elif kind == "flush":
            msg = views[arg].delta()
            if msg is not None:
                mirrors[arg].apply(msg)
        elif kind == "reconnect":  # a new connection: a new view, a fresh snapshot
            views[arg] = ClientView(state, 1.0)
            mirrors[arg] = Mirror()
            mirrors[arg].apply(views[arg].snapshot())
        elif kind == "watch":
            i, ip = arg
            views[i].watch(ip)
            mirrors[i].apply(views[i].snapshot())  # as the server does on a node change
        else:
            mirrors[arg].apply(views[arg].snapshot())
    for v, m in zip(views, mirrors):
        msg = v.delta()
        if msg is not None:
            m.apply(msg)
        body = state.snapshot()[0]
        assert (m.clusters, m.settings, m.audit) == (body["clusters"], body["settings"], body["audit"])
        if v.node is None:
            assert m.node_jobs is None
        else:
            assert m.node_jobs == {"ip_addr": v.node, "jobs": node_jobs(state, v.node)}


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


def test_mirror_detects_a_gap():
    state = State()
    view = ClientView(state, 1.0)
    m = Mirror()
    m.apply(view.snapshot())
    applied(state, attached("a"))
    view.delta()  # lost on the way
    applied(state, attached("b"))
    with pytest.raises(GapError):
        m.apply(view.delta())


def test_only_a_view_watching_a_node_receives_its_jobs():
    state = State()
    monitor, node_page = ClientView(state, 1.0), ClientView(state, 1.0)
    node_page.watch("127.0.0.2")
    assert monitor.snapshot()["node_jobs"] is None
    assert node_page.snapshot()["node_jobs"] == {"ip_addr": "127.0.0.2", "jobs": {}}
    applied(state, attached("a"))
    applied(state, status("a", ev.JOB_RUNNING, node("127.0.0.2", busy=1), job(7, "127.0.0.2", args=("x", 3))))
    applied(state, status("a", ev.JOB_RUNNING, node("127.0.0.3", busy=1), job(8, "127.0.0.3")))
    assert "node_jobs" not in monitor.delta()
    jobs = node_page.delta()["node_jobs"]["jobs"]
    assert list(jobs) == ["7"]
    assert jobs["7"] == {"uid": 7, "cluster": "a", "id": "job-7", "args": "x, 3", "kwargs": "",
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
