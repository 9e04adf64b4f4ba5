from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dispymon.model import events as ev
from dispymon.model.events import AvailInfo, ClusterAttached, ClusterDetached, HealthCheck, NodeInfo
from dispymon.model.changelog import info_diff
from dispymon.model.state import State
from factories import applied, attached, job, node, status


def jobs(state: State, name: str = "c") -> dict:
    return state.snapshot()[0]["clusters"][name]["jobs"]


def test_node_events_record_every_field_and_status():
    s = State()
    applied(s, attached())
    applied(s, status("c", ev.NODE_INITIALIZED, node(avail=AvailInfo(87.5, 1 << 30, 5 << 30, 1.5))))
    rec = s.snapshot()[0]["clusters"]["c"]["nodes"]["127.0.0.2"]
    assert rec == {
        "ip_addr": "127.0.0.2", "name": "host-127.0.0.2", "cpus": 2, "avail_cpus": 2, "busy": 0,
        "jobs_done": 0, "cpu_time": 0.0, "tx": 10, "rx": 20, "update_time": 1000.0,
        "avail_info": {"cpu": 87.5, "memory": 1 << 30, "disk": 5 << 30, "swap": 1.5},
        "status": "initialized", "stuck": False, "stale": False,
    }  # fmt: skip
    applied(s, status("c", ev.NODE_CLOSED, node()))
    assert s.snapshot()[0]["clusters"]["c"]["nodes"]["127.0.0.2"]["status"] == "closed"
    # a later job/avail event on a closed node keeps it closed
    applied(s, status("c", ev.NODE_AVAIL_INFO, node()))
    assert s.snapshot()[0]["clusters"]["c"]["nodes"]["127.0.0.2"]["status"] == "closed"


def test_job_lifecycle_counters():
    s = State()
    applied(s, attached())
    for uid in range(1, 7):
        applied(s, status("c", ev.JOB_CREATED, None, job(uid, ip=None)))
    assert jobs(s) == dict(submitted=6, queued=6, running=0, done=0, finished=0, failed=0,
                           cancelled=0, terminated=0, abandoned=0)  # fmt: skip
    for uid in range(1, 6):
        applied(s, status("c", ev.JOB_RUNNING, node(busy=1), job(uid)))
    applied(s, status("c", ev.JOB_PROVISIONAL_RESULT, node(busy=1), job(1)))
    assert jobs(s)["running"] == 5 and jobs(s)["queued"] == 1
    applied(s, status("c", ev.JOB_FINISHED, node(), job(1)))
    applied(s, status("c", ev.JOB_TERMINATED, node(), job(2, exception="Traceback ... ValueError: boom")))
    applied(s, status("c", ev.JOB_TERMINATED, node(), job(3)))
    applied(s, status("c", ev.JOB_ABANDONED, None, job(4)))
    applied(s, status("c", ev.JOB_CANCELLED, None, job(6, ip=None)))  # cancelled while queued
    assert jobs(s) == dict(submitted=6, queued=0, running=1, done=5, finished=1, failed=1,
                           cancelled=1, terminated=1, abandoned=1)  # fmt: skip


def test_jobs_finishing_that_were_submitted_before_attach_raise_submitted():
    s = State()
    applied(s, attached(pending=1, running=[job(9)]))
    assert jobs(s)["submitted"] == 1 and jobs(s)["running"] == 1
    applied(s, status("c", ev.JOB_FINISHED, node(), job(9)))
    applied(s, status("c", ev.JOB_FINISHED, node(), job(10)))  # never seen before
    assert jobs(s)["submitted"] == 2 and jobs(s)["done"] == 2 and jobs(s)["queued"] == 0


def test_attach_seeds_nodes_and_events_for_unknown_clusters_are_ignored():
    s = State()
    applied(s, status("ghost", ev.NODE_INITIALIZED, node()))
    assert s.snapshot()[0]["clusters"] == {}
    applied(s, attached(nodes=[(node("127.0.0.5"), ev.NODE_INITIALIZED), (node("127.0.0.6"), ev.NODE_CLOSED)]))
    nodes = s.snapshot()[0]["clusters"]["c"]["nodes"]
    assert {ip: n["status"] for ip, n in nodes.items()} == {"127.0.0.5": "initialized", "127.0.0.6": "closed"}


def test_changes_since_returns_only_what_changed():
    s = State()
    applied(s, attached(nodes=[(node("127.0.0.2"), 4), (node("127.0.0.3"), 4)]))
    _, v = s.snapshot()
    applied(s, status("c", ev.JOB_RUNNING, node("127.0.0.3", busy=1), job(1, "127.0.0.3")))
    changes = s.changes_since(v)
    delta, v2 = changes.clusters, changes.version
    assert changes.node_jobs and changes.settings is None and changes.audit is None
    assert s.node_jobs_changed("127.0.0.3", v) and not s.node_jobs_changed("127.0.0.2", v)
    assert not s.node_jobs_changed("127.0.0.3", changes.version)
    assert set(delta) == {"c"}
    assert set(delta["c"]) == {"jobs", "nodes"}
    assert list(delta["c"]["nodes"]) == ["127.0.0.3"]
    assert delta["c"]["nodes"]["127.0.0.3"]["busy"] == 1
    assert not s.changes_since(v2)


def test_detach_sends_a_tombstone_and_reattach_sends_the_whole_cluster():
    s = State()
    applied(s, attached("a", nodes=[(node(), 4)]))
    applied(s, attached("b"))
    _, v = s.snapshot()
    applied(s, ClusterDetached("a"))
    changes = s.changes_since(v)
    delta, v = changes.clusters, changes.version
    assert delta == {"a": None}
    applied(s, attached("a", kind="SharedJobCluster"))
    applied(s, status("a", ev.NODE_INITIALIZED, node("127.0.0.9")))
    delta = s.changes_since(v).clusters
    assert delta["a"]["kind"] == "SharedJobCluster"
    assert list(delta["a"]["nodes"]) == ["127.0.0.9"]


def test_change_log_is_bounded_by_state_size_not_event_count():
    s = State()
    s.apply(attached(nodes=[(node(f"127.0.0.{i}"), 4) for i in range(2, 5)]))
    for uid in range(20_000):
        ip = f"127.0.0.{2 + uid % 3}"
        s.apply(status("c", ev.JOB_CREATED, None, job(uid, None)))
        s.apply(status("c", ev.JOB_RUNNING, node(ip, busy=1), job(uid, ip)))
        s.apply(status("c", ev.JOB_FINISHED, node(ip), job(uid, ip)))
    # one entry per record: the cluster, its jobs, three nodes, their job sets,
    # both in the keys changed since the last settling and, once settled, in the log
    assert s.unsettled() == 8
    assert s.version == 0  # a plain read: settling is the explicit step
    s.settle()
    assert s.version == 8 and len(s._changes) == 8
    assert jobs(s)["done"] == 20_000 and s.clusters["c"].running == {}


def flags(s: State, ip: str = "127.0.0.2") -> tuple[bool, bool]:
    n = s.snapshot()[0]["clusters"]["c"]["nodes"][ip]
    return n["stuck"], n["stale"]


def test_a_busy_node_that_completes_nothing_is_flagged_stuck_then_cleared():
    s = State(stuck_after=60, stale_after=1000)
    applied(s, attached(nodes=[(node(), 4)]))
    applied(s, status("c", ev.JOB_RUNNING, node(busy=1), job(1)))
    applied(s, HealthCheck(1000.0))  # progress seen: the clock starts here
    applied(s, HealthCheck(1059.0))
    assert flags(s) == (False, False)
    _, before = s.snapshot()
    applied(s, HealthCheck(1061.0))
    assert flags(s) == (True, False)
    assert "127.0.0.2" in s.changes_since(before).clusters["c"]["nodes"]  # browsers are told
    applied(s, status("c", ev.JOB_FINISHED, node(busy=0, jobs_done=1), job(1)))
    applied(s, HealthCheck(1062.0))
    assert flags(s) == (False, False)


def test_an_idle_node_is_never_stuck_and_a_long_job_is_only_stuck_after_the_limit():
    s = State(stuck_after=60, stale_after=1000)
    applied(s, attached(nodes=[(node(busy=0), 4)]))
    for t in (0.0, 100.0, 1000.0):
        applied(s, HealthCheck(t))
    assert flags(s) == (False, False)
    applied(s, status("c", ev.JOB_RUNNING, node(busy=1), job(1)))
    applied(s, HealthCheck(1001.0))
    applied(s, HealthCheck(1050.0))
    assert flags(s) == (False, False)


def test_avail_info_that_stops_arriving_is_flagged_stale():
    s = State(stuck_after=1000, stale_after=10)
    applied(s, attached(nodes=[(node(), 4)]))
    applied(s, HealthCheck(0.0))
    applied(s, HealthCheck(100.0))
    assert flags(s) == (False, False)  # never sent any: nothing to be stale
    avail = AvailInfo(50.0, 1, 1, 100.0)
    applied(s, status("c", ev.NODE_AVAIL_INFO, node(avail=avail)))
    applied(s, HealthCheck(101.0))
    applied(s, HealthCheck(110.0))
    assert flags(s) == (False, False)
    applied(s, HealthCheck(112.0))
    assert flags(s) == (False, True)
    applied(s, status("c", ev.NODE_AVAIL_INFO, node(avail=avail)))
    applied(s, HealthCheck(113.0))
    assert flags(s) == (False, False)
    applied(s, status("c", ev.NODE_CLOSED, node(avail=avail)))
    applied(s, HealthCheck(200.0))
    assert flags(s) == (False, False)  # a closed node is just closed


def test_a_node_that_comes_back_is_not_stale_for_the_pulses_it_missed_while_away():
    s = State(stuck_after=1000, stale_after=10)
    applied(s, attached(nodes=[(node(), 4)]))
    avail = AvailInfo(50.0, 1, 1, 100.0)
    applied(s, status("c", ev.NODE_AVAIL_INFO, node(avail=avail)))
    applied(s, HealthCheck(100.0))
    applied(s, status("c", ev.NODE_CLOSED, node(avail=avail)))  # killed: dispy closes it
    applied(s, HealthCheck(150.0))
    assert flags(s) == (False, False)
    applied(s, status("c", ev.NODE_INITIALIZED, node(avail=avail)))  # restarted, no pulse yet
    applied(s, HealthCheck(151.0))
    assert flags(s) == (False, False)
    applied(s, status("c", ev.NODE_AVAIL_INFO, node(avail=avail)))
    applied(s, HealthCheck(152.0))
    applied(s, HealthCheck(163.0))
    assert flags(s) == (False, True)  # its pulses stopped again: stale as ever


_avail = st.none() | st.builds(AvailInfo, st.floats(0, 100), st.integers(0, 2**40), st.integers(0, 2**40), st.floats(0, 100))
_info = st.builds(
    NodeInfo, st.just("127.0.0.2"), st.sampled_from(["a", "b"]), st.integers(1, 4), st.integers(0, 4),
    st.integers(0, 4), st.integers(0, 9), st.floats(0, 9), st.integers(0, 9), st.integers(0, 9), st.floats(0, 9), _avail,
)  # fmt: skip


@given(_info, _info)
def test_the_written_out_node_diff_agrees_with_a_loop_over_every_field(new, old):
    want = {f: a for f, a, b in zip(NodeInfo._fields, new, old) if a != b}
    if want.get("avail_info") is not None:
        want["avail_info"] = want["avail_info"]._asdict()
    assert info_diff(new, old) == want


def test_finished_jobs_are_remembered_for_at_least_the_last_limit():
    from dispymon.model.state import RECENTLY_DONE_LIMIT

    s = State()
    applied(s, attached(nodes=[(node(), ev.NODE_INITIALIZED)]))
    count = 2 * RECENTLY_DONE_LIMIT + 5
    for uid in range(count):
        applied(s, status("c", ev.JOB_RUNNING, node(), job(uid)))
        applied(s, status("c", ev.JOB_FINISHED, node(), job(uid)))
    assert all(s.recently_done(uid) for uid in range(count - RECENTLY_DONE_LIMIT, count))
    assert not s.recently_done(0)  # bounded: the oldest are forgotten
    assert not s.recently_done(count)  # never seen


def test_a_node_running_jobs_is_stuck_even_when_dispys_busy_count_is_below_zero():
    # dispy's busy count can go below zero (its short-job race); the jobs
    # running there, as their events tell, still make the node not idle.
    s = State(stuck_after=60, stale_after=1000)
    applied(s, attached(nodes=[(node(), 4)]))
    applied(s, status("c", ev.JOB_RUNNING, node(busy=1), job(1)))
    applied(s, status("c", ev.JOB_FINISHED, node(busy=-1, jobs_done=1), job(2)))  # a job dispy counted off twice
    applied(s, HealthCheck(1000.0))
    applied(s, HealthCheck(1061.0))
    assert flags(s) == (True, False)
    assert s.snapshot()[0]["clusters"]["c"]["nodes"]["127.0.0.2"]["busy"] == -1  # as dispy says
    applied(s, status("c", ev.JOB_FINISHED, node(busy=-2, jobs_done=2), job(1)))
    applied(s, HealthCheck(1062.0))
    applied(s, HealthCheck(2000.0))
    assert flags(s) == (False, False)  # nothing runs there any more


def test_an_added_node_that_joins_after_the_wait_turns_its_failed_entry_ok_with_when():
    s = State()
    applied(s, attached("c"))
    applied(s, ev.AuditAdded(1, 1000.0, "add_node", "127.0.0.5", "c", "pending", "waiting", None,
                          ("node", ("c",), "127.0.0.5", 20.0)))  # fmt: skip
    applied(s, ev.AuditUpdated(1, "failed", "no dispynode answered", True))
    assert s.audit[-1]["state"] == "failed"
    applied(s, status("c", ev.NODE_INITIALIZED, node("127.0.0.6", update_time=1031.0)))  # another node
    assert s.audit[-1]["state"] == "failed"
    applied(s, status("c", ev.NODE_INITIALIZED, node("127.0.0.5", cpus=1, update_time=1031.0)))
    assert s.audit[-1]["state"] == "ok"
    assert s.audit[-1]["message"] == "node 127.0.0.5 joined 31 s after it was added (after the 20 s wait had run out), with 1 CPU"
    assert not s.audit_log.watches


def test_watches_of_failed_entries_are_bounded_by_the_audit_log():
    s = State()
    applied(s, attached("c"))
    for i in range(1, 3 * 200):
        applied(s, ev.AuditAdded(i, 1000.0, "add_node", "10.0.0.1", "c", "pending", "waiting", None, ("node", ("c",), "10.0.0.1")))
        applied(s, ev.AuditUpdated(i, "failed", "no answer", True))
    assert len(s.audit_log.watches) <= 201
    assert set(s.audit_log.watches) <= {e["id"] for e in s.audit} | {3 * 200 - 1}


def test_a_node_closed_by_a_command_that_dispy_sets_up_again_is_audited():
    s = State()
    applied(s, attached("c", nodes=[(node("127.0.0.5"), ev.NODE_INITIALIZED), (node("127.0.0.6"), ev.NODE_INITIALIZED)]))
    applied(s, ev.AuditAdded(s.new_audit_id(), 1000.0, "close_node", "127.0.0.5", "c", "ok", "node closed", None))
    applied(s, ev.NodeChanged("c", "127.0.0.5", status="closed"))
    # a node dispy itself closed and set up again (a restarted dispynode) is dispy's business
    applied(s, status("c", ev.NODE_CLOSED, node("127.0.0.6")))
    applied(s, status("c", ev.NODE_INITIALIZED, node("127.0.0.6")))
    assert len(s.audit) == 1
    applied(s, status("c", ev.NODE_INITIALIZED, node("127.0.0.5", update_time=1050.0)))
    assert s.node_status("c", "127.0.0.5") == "initialized"
    entry = s.audit[-1]
    assert (entry["id"], entry["action"], entry["target"], entry["state"], entry["time"]) == (2, "node_reopened", "127.0.0.5", "failed", 1050.0)
    assert "takes jobs again" in entry["message"]
    assert s.new_audit_id() == 3


def test_queued_jobs_are_listed_until_they_run_and_ended_ones_leave_with_their_args():
    s = State()
    s.ended, s.left = [], []
    applied(s, attached())
    for uid in (1, 2, 3):
        applied(s, status("c", ev.JOB_CREATED, None, job(uid, ip=None, args=(uid, "a"))._replace(key=uid * 10)))
    c = s.clusters["c"]
    assert list(c.queued) == [1, 2, 3] and c.queued[2].args == (2, "a") and c.queued_unlisted == 0
    applied(s, status("c", ev.JOB_RUNNING, node(busy=1), job(1, args=(1, "a"))._replace(key=10)))
    assert list(c.queued) == [2, 3] and list(c.running) == [1] and not s.left
    # ends: the JobInfo the state held goes to `left` (the ended event's own has no args, as dispy's)
    applied(s, status("c", ev.JOB_FINISHED, node(), job(1, args=())._replace(key=10)))
    applied(s, status("c", ev.JOB_CANCELLED, None, job(3, ip=None, args=())._replace(key=30)))  # while queued
    assert [(j.key, j.args) for j in s.left] == [(10, (1, "a")), (30, (3, "a"))]
    assert [e.job.key for e in s.ended] == [10, 30]
    assert list(c.queued) == [2] and not c.running
    assert jobs(s) == dict(submitted=3, queued=1, running=0, done=2, finished=1, failed=0,
                           cancelled=1, terminated=0, abandoned=0)  # fmt: skip
    applied(s, status("c", ev.JOB_FINISHED, node(), job(99)))  # never seen: nothing to hand on
    assert len(s.left) == 2


def test_left_stays_none_until_a_subscriber_wants_it():
    s = State()
    applied(s, attached(), status("c", ev.JOB_CREATED, None, job(1, ip=None)))
    applied(s, status("c", ev.JOB_RUNNING, node(busy=1), job(1)), status("c", ev.JOB_FINISHED, node(), job(1)))
    assert s.left is None and not s.clusters["c"].queued and not s.clusters["c"].running


def test_the_attach_seed_lists_queued_jobs():
    s = State()
    queued = (job(5, ip=None)._replace(key=1), job(6, ip=None)._replace(key=2))
    applied(s, ClusterAttached("c", "JobCluster", (), (job(4)._replace(key=3),), 3, 0, queued))
    c = s.clusters["c"]
    assert list(c.queued) == [5, 6] and list(c.running) == [4] and jobs(s)["queued"] == 2
    applied(s, status("c", ev.JOB_RUNNING, node(busy=2), job(5)._replace(key=1)))
    assert list(c.queued) == [6] and set(c.running) == {4, 5}


def test_queued_jobs_beyond_the_cap_are_counted_not_listed(monkeypatch):
    from dispymon.model import state as state_module

    monkeypatch.setattr(state_module, "MAX_QUEUED_TRACKED", 3)
    s = State()
    applied(s, attached())
    for uid in range(1, 6):
        applied(s, status("c", ev.JOB_CREATED, None, job(uid, ip=None)))
    c = s.clusters["c"]
    assert list(c.queued) == [1, 2, 3] and c.queued_unlisted == 2 and jobs(s)["queued"] == 5
    applied(s, status("c", ev.JOB_RUNNING, node(busy=1), job(4)))  # an unlisted one starts
    assert c.queued_unlisted == 1 and list(c.queued) == [1, 2, 3]
    applied(s, status("c", ev.JOB_CREATED, None, job(6, ip=None)))
    assert list(c.queued) == [1, 2, 3] and c.queued_unlisted == 2


def test_a_pinned_jobs_end_says_its_node():
    # dispy drops `_dispy_job_` (where pinning is read) before it reports an end
    s = State()
    s.ended, s.left = [], []
    applied(s, attached())
    pinned = job(1, ip=None)._replace(key=7, pinned="127.0.0.2")
    applied(s, status("c", ev.JOB_CREATED, None, pinned))
    applied(s, status("c", ev.JOB_RUNNING, node(busy=1), job(1)._replace(key=7, pinned="127.0.0.2")))
    applied(s, status("c", ev.JOB_FINISHED, node(), job(1)._replace(key=7)))
    assert s.ended[0].job.pinned == "127.0.0.2" and s.ended[0].job.key == 7
    applied(s, status("c", ev.JOB_CREATED, None, job(2, ip=None)), status("c", ev.JOB_CANCELLED, None, job(2, ip=None)))
    assert s.ended[1].job.pinned is None
