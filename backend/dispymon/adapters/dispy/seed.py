"""Reading what dispy knows of a cluster when it is attached, in one pycos step.

Best effort by design: `_seed` reads private attributes of dispy 4.15.2, so a
missing one degrades to "seen from now on", never to an error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import dispy

from dispymon.adapters.dispy.clusters import cluster_kind, dispy_scheduler, is_scheduler_cluster
from dispymon.adapters.dispy.tap import Feed, _Attached, job_info, node_info
from dispymon.model.events import NODE_CLOSED, NODE_INITIALIZED, ClusterAttached, JobInfo, NodeInfo
from dispymon.model.jobkeys import JobKeys
from dispymon.model.state import MAX_QUEUED_TRACKED

log = logging.getLogger("dispymon.adapters.dispy")

# How long attaching waits for dispy's pycos thread to read the seed (see announce)
SEED_WAIT = 10.0


def announce(feed: Feed, attached: _Attached, via_worker: bool, keys: JobKeys | None = None) -> None:
    """Seed the state with what the cluster has, counting each of its events once.

    The seed and the events must not overlap: an event whose effect the
    seed already holds (a job's `Created` when dispy's pending jobs
    already count it, a `Finished` when its node's jobs done do) would be
    counted twice. dispy changes its state and queues the event for it
    in one step of its pycos thread, so the seed is read in a pycos step
    of its own, which cuts the event stream exactly: the ClusterAttached
    fed there comes after every event the seed holds and before every
    other. Events a direct tap feeds (on the pycos thread) are thus
    split by the order of the hub's inbox (the state drops a cluster's
    events until its ClusterAttached). Events that reach us through
    dispy's worker thread (a user's callback passing them on, as the
    seed's "combined status" recipe does, or a tap that is not direct)
    are split by a marker queued for that thread in the same step: the
    ones it runs before the marker are in the seed and are not fed.
    """
    cluster, name, hidden = attached.cluster, attached.name, attached.hidden
    scheduler = dispy_scheduler(cluster)
    pycos = getattr(scheduler, "pycos", None)
    queue = getattr(scheduler, "worker_Q", None)
    worker = getattr(scheduler, "worker_thread", None)
    done = threading.Event()
    lock = threading.Lock()

    def announce(marker: bool) -> None:
        with lock, attached.lock:  # once: in the pycos step, or here if that never comes
            if done.is_set():
                return
            if marker:
                attached.worker, attached.catching_up = worker, True
            nodes, running, pending, ended, queued = _seed(cluster, hidden, keys, name)
            feed(ClusterAttached(name, cluster_kind(cluster), nodes, running, pending, ended, queued))
            if marker:
                assert queue is not None, "a marker is only queued where dispy has a worker queue"
                queue.put((attached.caught_up, ()))
            done.set()

    marker = via_worker and queue is not None and worker is not None and worker.is_alive()
    on_pycos = pycos is None or dispy.Pycos.scheduler() is not None
    if not on_pycos:
        try:
            dispy.Task(_in_one_step, announce, marker)
        except Exception:  # dispy's scheduler has stopped: nothing changes any more
            pass
        if not done.wait(SEED_WAIT):
            log.warning('dispymon: dispy did not answer within %g s; cluster "%s" seeded as it is now', SEED_WAIT, name)
    announce(marker and on_pycos)


def _queue_marker(queue: Any, marker: Callable[[], None], task: Any = None) -> Any:
    # a pycos task (a generator): runs on dispy's pycos thread, between its steps
    queue.put((marker, ()))
    yield None


def _in_one_step(func: Callable[[bool], None], arg: bool, task: Any = None) -> Any:
    # a pycos task (a generator): `func` runs within one step of dispy's pycos thread
    func(arg)
    yield None


Seed = tuple[tuple[tuple[NodeInfo, int], ...], tuple[JobInfo, ...], int, int, tuple[JobInfo, ...]]


def _seed(cluster: Any, hidden: Any = None, keys: JobKeys | None = None, name: str = "") -> Seed:
    """What a cluster already has when we attach, read from dispy's internals:
    its nodes, its running jobs, its pending jobs (queued or running), the
    jobs its nodes have done (dispy keeps no count of the jobs submitted: these
    two added up are the submitted jobs that dispymon can know of), and its
    queued jobs (created, not running; at most MAX_QUEUED_TRACKED: the state
    lists no more). `keys` gives the jobs theirs; `name` is the cluster's there.

    dispy 4.15.2 holds a JobCluster's queued jobs in three places: its own
    `_jobs` (submitted with `submit`), the pending list of the scheduler's
    node a job was pinned to (`submit_node`; the lists are per node, shared
    by every cluster there), and `_sched_jobs` for a job just taken off
    either and not yet sent (still `Created` until `run_job` marks it
    Running). A SharedJobCluster's client lists every job it submitted in
    `_sched_jobs` (its scheduler has the rest), `Created` until the
    scheduler reports it running. dispyscheduler's record of a computation
    keeps the same lists, on its `_Scheduler`, and counts its pending jobs
    in `pending_jobs`. This is O(pending), once per attach.

    Best effort by design: these are private attributes of dispy 4.15.2, so
    a missing one degrades to "seen from now on", never to an error.
    """
    nodes: list[tuple[NodeInfo, int]] = []
    ended = 0
    for node in list(getattr(cluster, "_dispy_nodes", {}).values()):
        if node is hidden:
            continue
        status = NODE_CLOSED if getattr(node, "status", None) == NODE_CLOSED else NODE_INITIALIZED
        info = node_info(node)
        nodes.append((info, status))
        ended += info.jobs_done
    running: list[JobInfo] = []
    queued: list[JobInfo] = []
    created, started = dispy.DispyJob.Created, dispy.DispyJob.Running
    try:
        compute_id = cluster._compute.id
        scheduler = dispy_scheduler(cluster)
        for _job in list(scheduler._sched_jobs.values()):
            job = _job.job
            if _job.compute_id != compute_id or job is None:
                continue
            if job.status == started:
                seen = job_info(job, keys, name)
                if seen.ip_addr is None and _job.node is not None:  # dispyscheduler's jobs (see status_event)
                    seen = seen._replace(ip_addr=_job.node.ip_addr)
                running.append(seen)
            elif job.status == created and len(queued) < MAX_QUEUED_TRACKED:
                queued.append(job_info(job, keys, name))
        waiting = [*getattr(cluster, "_jobs", ())]
        for node in list(getattr(scheduler, "_nodes", {}).values()):
            waiting.extend(_job for _job in getattr(node, "pending_jobs", ()) if _job.compute_id == compute_id)
        for _job in waiting:
            if len(queued) >= MAX_QUEUED_TRACKED:
                break
            job = _job.job
            if job is not None and job.status == created:
                queued.append(job_info(job, keys, name))
    except AttributeError:
        pass
    pending_name = "pending_jobs" if is_scheduler_cluster(cluster) else "_pending_jobs"
    pending = getattr(cluster, pending_name, 0) or 0
    return tuple(nodes), tuple(running), int(pending), int(ended), tuple(queued)
