"""What the dispy adapter captures of jobs (issue 18, package A), against real dispynode processes.

The adapter feeds a State as the hub would (deferred events made on the
reader's side, here the test's thread); each check compares what the state
holds with what dispy itself reports: its job objects (`stdout`, `stderr`,
`exception`, `result`, `status`, `_args`) and the jobs the user's own
`cluster_status` callback saw.
"""

from __future__ import annotations

import collections
import pickle
import threading
from typing import Any

import dispy
import pytest

from dispymon.adapters.dispy import DispyAdapter, DispyControl
from dispymon.commands.control import ControlRefused
from dispymon.features.history import brief_exception
from dispymon.model.events import JOB_FINISHED, JOB_TERMINATED, ClusterAttached, JobInfo, StatusEvent
from dispymon.model.jobkeys import JobKeys
from dispymon.model.state import State
from dispymon.transport.protocol import OUTPUT_TAIL
from conftest import wait_until
from test_httpd import new_cluster  # noqa: F401 - fixture

pytestmark = pytest.mark.cluster


def noisy(out, err, fail):
    import sys

    sys.stdout.write(out)
    sys.stderr.write(err)
    if fail:
        raise ValueError(f"boom after {len(out)} characters")
    return len(out)


def nap(seconds):
    import time

    time.sleep(seconds)
    return seconds


class Capture:
    """An adapter feeding a State, drained on the test's thread as the hub's loop would."""

    def __init__(self) -> None:
        self.inbox: collections.deque[Any] = collections.deque()
        self.keys = JobKeys()
        self.adapter = DispyAdapter(self.inbox.append, defer=True, keys=self.keys)
        self.state = State()
        self.state.ended, self.state.left = [], []
        self.ended: dict[int, StatusEvent] = {}  # key -> the ended event
        self.left: dict[int, JobInfo] = {}  # key -> the JobInfo the state let go of
        self.attached: list[ClusterAttached] = []
        self.lock = threading.Lock()

    def drain(self) -> Capture:
        with self.lock:
            state = self.state
            while self.inbox:
                item = self.inbox.popleft()
                if type(item) is tuple:  # a Deferred: made here, as on the hub's loop
                    item = item[0](*item[1:])
                    if item is None:
                        continue
                if type(item) is ClusterAttached:
                    self.attached.append(item)
                state.apply(item)
                for c in state.clusters.values():  # a job is queued or running, never both
                    assert not (c.queued.keys() & c.running.keys())
            assert state.ended is not None and state.left is not None
            for ev in state.ended:
                self.ended[ev.job.key] = ev
            for info in state.left:
                self.left[info.key] = info
            state.ended.clear()
            state.left.clear()
        return self

    def cluster(self, name: str):
        return self.drain().state.clusters[name]


@pytest.fixture
def capture():
    made: list[Capture] = []

    def make() -> Capture:
        made.append(Capture())
        return made[-1]

    yield make
    for cap in made:
        cap.adapter.detach_all()


def test_a_job_that_prints_and_raises_ends_with_both_outputs_and_its_traceback(local_nodes, new_cluster, capture):  # noqa: F811
    nodes = local_nodes(1, cpus=1, first=36)
    cluster = new_cluster(noisy, [n.ip for n in nodes.nodes])
    cap = capture()
    name = cap.adapter.attach(cluster)
    out = "to stdout: é\n" * 3
    job = cluster.submit(out, "to stderr: ü\n", True)
    job()
    assert job.status == dispy.DispyJob.Terminated and job.exception  # dispy's report of a job that raised
    ended = wait_until(lambda: next(iter(cap.drain().ended.values()), None), what="the ended event")
    info = ended.job
    assert ended.status == JOB_TERMINATED and info.key > 0 and info.created == job.submit_time
    end = info.extra
    assert end is not None
    assert (end.stdout, end.stdout_len, end.stdout_kind) == (job.stdout.encode(), len(job.stdout), "str")
    assert (end.stderr, end.stderr_len, end.stderr_kind) == (job.stderr.encode(), len(job.stderr), "str")
    assert end.traceback == job.exception and end.traceback_len == len(job.exception)
    assert f"ValueError: boom after {len(out)} characters" in end.traceback
    assert end.result is None and job.result is None
    assert info.exception == brief_exception(job.exception)  # the history's field, as before
    c = cap.cluster(name)
    assert c.failed == 1 and not c.queued and not c.running
    # its JobInfo while it ran (with the arguments: dispy cleared the ended copy's) left the state
    assert cap.left[info.key].args == (out, "to stderr: ü\n", True)


def test_a_job_printing_more_than_64_KiB_keeps_its_last_64_KiB(local_nodes, new_cluster, capture):  # noqa: F811
    nodes = local_nodes(1, cpus=1, first=37)
    cluster = new_cluster(noisy, [n.ip for n in nodes.nodes])
    cap = capture()
    cap.adapter.attach(cluster)
    out = "".join(f"line {i:06d} é€\n" for i in range(20_000))  # 340,000 characters, 440,000 bytes
    job = cluster.submit(out, "", False)
    job()
    assert job.status == dispy.DispyJob.Finished and job.stdout == out
    ended = wait_until(lambda: next(iter(cap.drain().ended.values()), None), what="the ended event")
    assert ended.status == JOB_FINISHED
    end = ended.job.extra
    full = job.stdout.encode()
    assert end.stdout_len == len(job.stdout) > OUTPUT_TAIL
    assert OUTPUT_TAIL - 4 < len(end.stdout) <= OUTPUT_TAIL and full.endswith(end.stdout)
    end.stdout.decode("utf-8")  # cut at a character's boundary
    assert end.stderr == b"" and end.stderr_len == 0
    assert end.result == job.result == len(out)  # the result itself, by reference


def test_queued_jobs_are_listed_until_they_start_and_cancelled_ones_leave(local_nodes, new_cluster, capture):  # noqa: F811
    nodes = local_nodes(1, cpus=1, first=38)
    cluster = new_cluster(nap, [n.ip for n in nodes.nodes])
    cap = capture()
    name = cap.adapter.attach(cluster)
    jobs = [cluster.submit(60) for _ in range(3)]

    def agrees() -> bool:
        # the state's queued and running jobs are those dispy reports Created and Running
        c = cap.cluster(name)
        created = {j._uid for j in jobs if j.status == dispy.DispyJob.Created}
        running = {j._uid for j in jobs if j.status == dispy.DispyJob.Running}
        return len(running) == 1 and set(c.queued) == created and set(c.running) == running

    wait_until(agrees, what="one job running and two queued, as dispy says")
    c = cap.cluster(name)
    assert len(c.queued) == 2 and c.queued_unlisted == 0
    for info in c.queued.values():
        job = next(j for j in jobs if j._uid == info.uid)
        assert info.args == (60,) and info.created == job.submit_time and info.key > 0 and info.pinned is None
    first = next(j for j in jobs if j.status == dispy.DispyJob.Running)
    first_key = c.running[first._uid].key
    # the running job is terminated: the next one starts and leaves the queue
    assert cluster.cancel(first) == 0
    wait_until(agrees, what="the next job running, one queued")
    assert len(cap.cluster(name).queued) == 1 and cap.left[first_key].args == (60,)
    # a queued job cancelled: dispy's Cancelled event (node None) takes it out, with its arguments
    queued = next(j for j in jobs if j.status == dispy.DispyJob.Created)
    key = cap.cluster(name).queued[queued._uid].key
    assert cluster.cancel(queued) == 0
    wait_until(lambda: key in cap.drain().ended, what="the cancelled job's end")
    assert queued.status == dispy.DispyJob.Cancelled
    assert not cap.cluster(name).queued and cap.left[key].args == (60,) and cap.state.clusters[name].cancelled == 1


def test_the_seed_lists_the_jobs_queued_before_the_attach(local_nodes, new_cluster, capture):  # noqa: F811
    nodes = local_nodes(1, cpus=1, first=39)
    cluster = new_cluster(nap, [n.ip for n in nodes.nodes])
    jobs = [cluster.submit(60) for _ in range(3)]
    wait_until(lambda: any(j.status == dispy.DispyJob.Running for j in jobs), what="a job running")
    pinned = cluster.submit_node(nodes.nodes[0].ip, 60)  # the node has joined: dispy knows it
    assert pinned is not None
    jobs.append(pinned)
    cap = capture()
    name = cap.adapter.attach(cluster)
    created = {j._uid: j for j in jobs if j.status == dispy.DispyJob.Created}
    running = {j._uid for j in jobs if j.status == dispy.DispyJob.Running}
    seed = cap.drain().attached[0]
    assert {j.uid for j in seed.queued} == set(created) and len(created) == 3  # one runs, the rest wait
    assert {j.uid for j in seed.running} == running
    for info in seed.queued:
        job = created[info.uid]
        assert info.created == job.submit_time and info.args == (60,)
        assert info.pinned == (nodes.nodes[0].ip if job is pinned else None)
    assert len({j.key for j in (*seed.queued, *seed.running)}) == 4  # one key each
    c = cap.cluster(name)
    assert set(c.queued) == set(created) and c.jobs_record()["queued"] == 3
    # dispy 4.15.2's close(terminate=True) leaves a pinned queued job in its node's
    # list, and its scheduler then fails on it for every later cluster of the process
    assert cluster.cancel(pinned) == 0


def test_submit_runs_a_new_job_with_the_pickled_arguments(local_nodes, new_cluster, capture):  # noqa: F811
    nodes = local_nodes(1, cpus=2, first=26)
    ip = nodes.nodes[0].ip
    seen: list[tuple[int, Any]] = []  # the cluster's own callback: dispy's job copies

    def user_status(status, node, job):
        if job is not None:
            seen.append((status, job))

    cluster = new_cluster(nap, [ip], cluster_status=user_status)
    cap = capture()
    name = cap.adapter.attach(cluster)
    control = DispyControl(cap.adapter)
    wait_until(lambda: ip in cap.cluster(name).nodes, what="the node set up (dispy's Initialized event)")
    key = control.submit(name, pickle.dumps(((0.2,), {}), pickle.HIGHEST_PROTOCOL), None)
    pinned_key = control.submit(name, pickle.dumps(((0.3,), {}), pickle.HIGHEST_PROTOCOL), ip)
    assert key > 0 and pinned_key > 0 and key != pinned_key
    wait_until(lambda: {key, pinned_key} <= cap.drain().ended.keys(), what="both jobs ended")
    for k, seconds, node in ((key, 0.2, None), (pinned_key, 0.3, ip)):
        ended = cap.ended[k].job
        assert ended.extra.result == seconds and ended.pinned == node
        # the job dispy reported: its own copies at Created carry the arguments, at the end its status
        created = [j for s, j in seen if s == dispy.DispyJob.Created and j._uid == ended.uid]
        finished = [j for s, j in seen if s == dispy.DispyJob.Finished and j._uid == ended.uid]
        assert len(created) == 1 and created[0]._args == (seconds,) and created[0].submit_time == ended.created
        assert len(finished) == 1 and finished[0].result == seconds and finished[0].ip_addr == ip
        assert cap.left[k].args == (seconds,) and cap.left[k].pinned == node
    with pytest.raises(ControlRefused) as refused:
        control.submit(name, pickle.dumps(((0.1,), {})), "127.0.0.250")
    assert refused.value.code == "cluster_error" and "127.0.0.250" in refused.value.message
