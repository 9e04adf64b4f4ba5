"""The dispy adapter against dispy's own classes (no nodes needed here)."""

from __future__ import annotations

import dispy
import pytest

from dispymon.adapters import dispy as adapter
from dispymon.model import events as ev
from dispymon.model.events import Deferred, ClusterAttached, ClusterDetached, StatusEvent


def test_status_numbers_agree_with_dispy():
    assert (ev.NODE_INITIALIZED, ev.NODE_CLOSED, ev.NODE_AVAIL_INFO) == (
        dispy.DispyNode.Initialized, dispy.DispyNode.Closed, dispy.DispyNode.AvailInfo)
    assert (ev.JOB_CREATED, ev.JOB_RUNNING, ev.JOB_PROVISIONAL_RESULT, ev.JOB_CANCELLED,
            ev.JOB_TERMINATED, ev.JOB_ABANDONED, ev.JOB_FINISHED) == (
        dispy.DispyJob.Created, dispy.DispyJob.Running, dispy.DispyJob.ProvisionalResult,
        dispy.DispyJob.Cancelled, dispy.DispyJob.Terminated, dispy.DispyJob.Abandoned,
        dispy.DispyJob.Finished)  # fmt: skip


def test_node_and_job_copies_take_every_field():
    node = dispy.DispyNode("127.0.0.2", "n2", 4)
    node.busy, node.jobs_done, node.cpu_time, node.tx, node.rx, node.update_time = 1, 7, 3.5, 11, 12, 99.0
    node.avail_info = dispy.DispyNodeAvailInfo(75.0, 1000, 2000, 3.0)
    info = adapter.node_info(node)
    assert info == ("127.0.0.2", "n2", 4, 4, 1, 7, 3.5, 11, 12, 99.0, (75.0, 1000, 2000, 3.0))
    arg = object()
    job = dispy.DispyJob("my-id", (arg,), {"k": 2})
    j = adapter.job_info(job)
    assert j.uid == job._uid and j.id == "my-id" and j.args[0] is arg and j.kwargs == {"k": 2}


def test_an_ended_job_keeps_nothing_of_the_users_objects():
    import gc
    import weakref

    class Arg:  # weakly referable, unlike bytes
        def __str__(self) -> str:
            return "the argument"

    class Id:
        def __str__(self) -> str:
            return "x" * 10_000

    arg, result, job_id = Arg(), Arg(), Id()
    job = dispy.DispyJob(job_id, (arg,), {"k": arg})
    job.result, job.ip_addr, job.start_time, job.end_time = result, "127.0.0.2", 1.0, 2.0
    job.exception = "Traceback (most recent call last):\n  ...\nValueError: " + "y" * 3_000_000
    event = adapter.status_event("c", ev.JOB_TERMINATED, None, job)
    refs = [weakref.ref(o) for o in (arg, result, job_id)]
    # The result rides in the event's JobEnd until the jobs feature takes it,
    # in the drain that applies the event (features/jobs.py): then nothing is left
    assert event.job.extra.result is result
    event.job.extra.clear()
    del arg, result, job_id, job  # the job itself is not weakly referable: its result stands for it
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
    info = event.job
    assert info.id.startswith("x" * 200) and len(info.id) < 300 and info.args == () and not info.kwargs and info.handle is None
    assert info.exception.startswith("ValueError: yyy") and len(info.exception) < 1000


def compute(n):
    return n


def make_cluster(**kwargs):
    # No node runs at 127.0.0.250: the cluster is created and closed without work.
    return dispy.JobCluster(compute, nodes=["127.0.0.250"], host="127.0.0.1",
                            dispy_port=kwargs.pop("dispy_port"), loglevel=dispy.logger.WARNING, **kwargs)  # fmt: skip


def test_cluster_status_keyword_works_on_python_311_and_is_chained(dispy_port):
    seen_by_user = []

    def user_status(status, node, job):
        seen_by_user.append(status)

    cluster = make_cluster(cluster_status=user_status, dispy_port=dispy_port)  # failed before the shim
    try:
        fed = []
        a = adapter.DispyAdapter(fed.append)
        name = a.attach(cluster)
        assert isinstance(fed[0], ClusterAttached) and fed[0].cluster == name == "compute"
        # dispy calls whatever is in cluster.cluster_status: our tap, then the user's
        node = dispy.DispyNode("127.0.0.2", "n", 2)
        cluster.cluster_status(dispy.DispyNode.Initialized, node, None)
        assert isinstance(fed[1], StatusEvent) and fed[1].node.ip_addr == "127.0.0.2"
        assert seen_by_user == [dispy.DispyNode.Initialized]
        assert a.detach(cluster)
        assert cluster.cluster_status is user_status
        assert isinstance(fed[-1], ClusterDetached)
    finally:
        cluster.close(timeout=0, terminate=True)


def test_a_failing_tap_never_breaks_dispys_thread_or_the_users_callback(dispy_port):
    calls = []

    def broken_feed(event):
        raise RuntimeError("queue exploded")

    cluster = make_cluster(dispy_port=dispy_port)
    try:
        cluster.cluster_status = lambda s, n, j: calls.append(s)
        a = adapter.DispyAdapter(lambda e: None)
        a.attach(cluster)
        a._feed = broken_feed  # the tap captured the working one; build a broken tap directly
        tap = adapter._make_tap(broken_feed, "compute", cluster.cluster_status)
        tap(dispy.DispyNode.Initialized, dispy.DispyNode("127.0.0.2", "n", 1), None)
        assert calls == [dispy.DispyNode.Initialized]
    finally:
        cluster.close(timeout=0, terminate=True)


def test_two_clusters_of_one_computation_get_distinct_names(dispy_port):
    c1 = make_cluster(dispy_port=dispy_port)
    c2 = make_cluster(dispy_port=dispy_port)
    try:
        a = adapter.DispyAdapter(lambda e: None)
        assert (a.attach(c1), a.attach(c2), a.attach(c1)) == ("compute", "compute #2", "compute")
    finally:
        for c in (c1, c2):
            c.close(timeout=0, terminate=True)


def test_attach_refuses_what_is_not_a_cluster():
    with pytest.raises(TypeError):
        adapter.DispyAdapter(lambda e: None).attach(object())


def test_a_deferred_tap_takes_its_events_as_dispy_queues_them_and_the_users_callback_keeps_its_thread(dispy_port):
    import threading

    user_threads = []
    done = threading.Event()

    def user_status(status, node, job):
        user_threads.append(threading.current_thread())
        done.set()

    cluster = make_cluster(dispy_port=dispy_port)
    try:
        cluster.cluster_status = user_status
        fed = []
        a = adapter.DispyAdapter(fed.append, defer=True, patch_queue=True)
        a.attach(cluster)
        scheduler = cluster._cluster
        node = dispy.DispyNode("127.0.0.2", "n", 2)
        # what dispy's scheduler does for every event (dispy/__init__.py: worker_Q.put)
        scheduler.worker_Q.put((cluster.cluster_status, (dispy.DispyNode.Initialized, node, None)))
        # ours is in the hub's inbox before put returns, not after a hop to dispy's worker thread
        assert len(fed) == 2 and type(fed[1]) is Deferred and fed[1][1:4] == ("compute", dispy.DispyNode.Initialized, node)
        assert done.wait(10), "the user's callback never ran"
        assert user_threads == [scheduler.worker_thread]  # still on dispy's worker thread
        event = fed[1][0](*fed[1][1:])  # what the hub's loop makes of it
        assert isinstance(event, StatusEvent) and event.node.ip_addr == "127.0.0.2"
        # detached: the user's callback is back and goes through the queue as before
        assert a.detach(cluster) and cluster.cluster_status is user_status
        done.clear()
        scheduler.worker_Q.put((cluster.cluster_status, (dispy.DispyNode.Initialized, node, None)))
        assert done.wait(10) and len(user_threads) == 2 and isinstance(fed[-1], ClusterDetached)
    finally:
        cluster.close(timeout=0, terminate=True)


def test_the_queue_patch_is_an_explicit_opt_in(dispy_port):
    """Without `patch_queue`, a deferred tap takes dispy's worker thread as any callback does.

    (dispy's scheduler lives as long as the process, so another test may have
    patched its queue already: what matters is whether this tap runs there.)
    """
    cluster = make_cluster(dispy_port=dispy_port)
    try:
        fed = []
        a = adapter.DispyAdapter(fed.append, defer=True)
        a.attach(cluster)
        assert not hasattr(cluster.cluster_status, "__dispymon_direct__")
        a.detach(cluster)
        b = adapter.DispyAdapter(fed.append, defer=True, patch_queue=True)
        b.attach(cluster)
        assert hasattr(cluster.cluster_status, "__dispymon_direct__") and cluster._cluster.worker_Q.__dispymon_direct__
        b.detach(cluster)
    finally:
        cluster.close(timeout=0, terminate=True)


def test_output_tails_are_cut_at_64_KiB_on_a_character_boundary():
    from dispymon.adapters.dispy.tap import output_tail
    from dispymon.transport.protocol import OUTPUT_TAIL

    assert output_tail(None) == (None, 0, None)
    assert output_tail("héllo") == ("héllo".encode(), 5, "str")
    assert output_tail(b"\xff\x00raw") == (b"\xff\x00raw", 5, "bytes")
    text = "€" * 100_000  # 3 bytes each: the last 65,536 characters are 196,608 bytes
    tail, length, kind = output_tail(text)
    assert length == 100_000 and kind == "str" and len(tail) == OUTPUT_TAIL - OUTPUT_TAIL % 3
    assert tail.decode("utf-8") == "€" * (OUTPUT_TAIL // 3)
    lone = "a\udcff" * 10  # a lone surrogate (undecodable bytes read as str) is kept, escaped
    assert output_tail(lone)[0] == b"a\\udcff" * 10
    raw = bytes(range(256)) * 1000
    assert output_tail(raw) == (raw[-OUTPUT_TAIL:], 256_000, "bytes")

    class Odd:  # never str()-ed on dispy's thread
        def __str__(self) -> str:
            raise AssertionError("user code ran")

    assert output_tail(Odd()) == (None, 0, None)


def test_job_info_reads_pinning_depends_and_the_key_from_dispys_job(tmp_path):
    from dispymon.model.jobkeys import JobKeys

    dep = tmp_path / "data.txt"
    dep.write_text("x")
    _job = dispy._DispyJob_(1, None, (1,), {"dispy_job_depends": [str(dep)]})
    node = dispy._Node("127.0.0.7", 0, 1, "", "", platform="", keyfile=None, certfile=None)
    _job.pinned = node  # as dispy's submit_job does for submit_node
    keys = JobKeys(start=5)
    copy = __import__("copy").copy(_job.job)  # the copy a status event carries
    info = adapter.job_info(copy, keys, "c")
    assert (info.key, info.created, info.pinned, info.depends) == (5, _job.job.submit_time, "127.0.0.7", True)
    assert info.kwargs == {}  # dispy popped dispy_job_depends
    assert adapter.job_info(copy, keys, "c").key == 5  # Running: the same job, the same key
    plain = dispy._DispyJob_(1, None, (2,), {})
    assert adapter.job_info(plain.job, keys, "c")[10:13] == (plain.job.submit_time, None, False)
    ended = adapter.ended_job_info(copy, keys, "c")
    assert ended.key == 5 and keys.live() == 1  # only `plain` is live now


def test_a_detached_clusters_live_keys_are_forgotten(dispy_port):
    from conftest import wait_until
    from dispymon.model.jobkeys import JobKeys

    cluster = make_cluster(dispy_port=dispy_port)  # no node answers: the job stays queued
    try:
        fed: list = []
        keys = JobKeys()
        a = adapter.DispyAdapter(fed.append, keys=keys)
        name = a.attach(cluster)
        job = cluster.submit(1)
        created = wait_until(lambda: next((e for e in fed if isinstance(e, StatusEvent) and e.job), None),
                             what="the Created event")  # fmt: skip
        assert created.status == ev.JOB_CREATED and created.job.created == job.submit_time
        assert keys.peek(job._uid, job.submit_time) == created.job.key > 0 and keys.live() == 1
        a.detach(cluster)
        assert keys.live() == 0 and name not in a.clusters()
    finally:
        cluster.close(timeout=0, terminate=True)
