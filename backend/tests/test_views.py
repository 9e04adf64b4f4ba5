"""Per-browser views: snapshot + deltas rebuild exactly the server's state."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispymon import events as ev
from dispymon.events import ClusterDetached
from dispymon.state import State
from dispymon.views import ClientView
from factories import attached, job, node, status
from mirror import GapError, Mirror

IPS = [f"127.0.0.{i}" for i in range(2, 6)]
CLUSTERS = ["a", "b"]

event_st = st.one_of(
    st.builds(lambda c: attached(c), st.sampled_from(CLUSTERS)),
    st.builds(ClusterDetached, st.sampled_from(CLUSTERS)),
    st.builds(
        lambda c, code, ip, busy: status(c, code, node(ip, busy=busy)),
        st.sampled_from(CLUSTERS),
        st.sampled_from([ev.NODE_INITIALIZED, ev.NODE_CLOSED, ev.NODE_AVAIL_INFO]),
        st.sampled_from(IPS),
        st.integers(0, 4),
    ),
    st.builds(
        lambda c, code, ip, uid, exc: status(c, code, node(ip) if code != ev.JOB_CREATED else None,
                                             job(uid, ip, exception=exc)),
        st.sampled_from(CLUSTERS),
        st.sampled_from([ev.JOB_CREATED, ev.JOB_RUNNING, ev.JOB_FINISHED, ev.JOB_TERMINATED,
                         ev.JOB_CANCELLED, ev.JOB_ABANDONED, ev.JOB_PROVISIONAL_RESULT]),
        st.sampled_from(IPS),
        st.integers(0, 30),
        st.sampled_from([None, "ValueError: x"]),
    ),
)  # fmt: skip

# each step: apply an event, or flush one client, or resync one client
step_st = st.one_of(
    st.tuples(st.just("event"), event_st),
    st.tuples(st.just("flush"), st.integers(0, 2)),
    st.tuples(st.just("resync"), st.integers(0, 2)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(step_st, max_size=80))
def test_every_view_rebuilds_the_server_state(steps):
    state = State()
    views = [ClientView(state, 1.0) for _ in range(3)]
    mirrors = [Mirror() for _ in range(3)]
    for v, m in zip(views, mirrors):
        m.apply(v.snapshot())
    for kind, arg in steps:
        if kind == "event":
            state.apply(arg)
        elif kind == "flush":
            msg = views[arg].delta()
            if msg is not None:
                mirrors[arg].apply(msg)
        else:
            mirrors[arg].apply(views[arg].snapshot())
    for v, m in zip(views, mirrors):
        msg = v.delta()
        if msg is not None:
            m.apply(msg)
        assert m.clusters == state.snapshot()[0]


def test_sequence_numbers_are_consecutive_and_empty_deltas_are_not_sent():
    state = State()
    view = ClientView(state, 1.0)
    assert view.snapshot()["seq"] == 1
    assert view.delta() is None
    state.apply(attached("a"))
    first = view.delta()
    assert first["seq"] == 2 and first["clusters"]["a"]["kind"] == "JobCluster"
    assert view.delta() is None
    state.apply(status("a", ev.NODE_INITIALIZED, node()))
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
    state.apply(attached("a"))
    view.delta()  # lost on the way
    state.apply(attached("b"))
    with pytest.raises(GapError):
        m.apply(view.delta())
