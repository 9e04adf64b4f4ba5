"""The dispy adapter: the only module that imports dispy.

It chains each attached cluster's `cluster_status` callback with a tap that
copies the few fields the dashboard needs into event tuples and hands them to
`feed` (the hub). The tap does O(1) work on dispy's callback thread: attribute
reads and one deque append; no str() of user objects, no locks, no I/O. A
deferred tap (`defer=True`, as `dispymon serve` uses) only appends; with
`patch_queue=True` (an explicit opt-in) it runs on dispy's scheduler thread as
dispy queues the event (queue.py).

The drop-in `dispymon.entry.httpd.DispyHTTPServer` follows dispy's documented rule
instead: the tap is installed only on a cluster without a callback; a user's
own callback passes the events on by calling the server's
`cluster_status(status, node, job)`, which `DispyAdapter.route_status` sends
to the cluster they belong to.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any, Callable, Mapping

import dispy

from dispymon.model.events import (
    JOB_DONE_STATUSES,
    NODE_CLOSED,
    NODE_INITIALIZED,
    AvailInfo,
    ClusterAttached,
    ClusterDetached,
    Event,
    Deferred,
    JobInfo,
    NodeChanged,
    NodeInfo,
    StatusEvent,
)
from dispymon.model.state import CLOSED, DEALLOCATED, INITIALIZED
from dispymon.adapters.dispy import compat
from dispymon.adapters.dispy.queue import direct_queue as _direct_queue
from dispymon.adapters.dispy.shared import install_shared_watch
from dispymon.adapters.rules import closed_stays_closed

from dispymon.features.history import TRACEBACK_KEEP, brief_exception
from dispymon.model.text import LIMIT, safe_str

log = logging.getLogger(__name__)

# Deferred's fields without NamedTuple's Python-level constructor: this runs
# for every event on dispy's thread (see Deferred)
_new_tuple = tuple.__new__

Feed = Callable[[Event], None]
# How long attaching waits for dispy's pycos thread to read the seed (see DispyAdapter._announce)
SEED_WAIT = 10.0
StatusCallback = Callable[[Any, Any, Any], None]

# Python 3.11 compatibility (getargspec) lives in compat.py; `import dispymon`
# installs it, and so does importing this adapter.
install_compat = compat.install
install_compat()
install_shared_watch()  # a SharedJobCluster that cannot reach its scheduler says so (shared.py)

# -- recognising clusters ------------------------------------------------------


def is_cluster(obj: object) -> bool:
    return isinstance(obj, dispy.JobCluster)


def cluster_kind(cluster: Any) -> str:
    return "SharedJobCluster" if isinstance(cluster, dispy.SharedJobCluster) else "JobCluster"


def job_cluster(computation: Callable[..., Any], quiet: bool = True, **kwargs: Any) -> Any:
    """Create a dispy JobCluster (for the demo, which must not import dispy)."""
    if quiet:
        kwargs.setdefault("loglevel", dispy.logger.WARNING)
    return dispy.JobCluster(computation, **kwargs)


def close_cluster(cluster: Any) -> None:
    """Close a cluster for good: terminate what is pending, stop its scheduler.

    Blocking (dispy waits for its nodes): call it off the event loop. Shutting
    the scheduler down here, not in dispy's atexit hook, keeps that hook from
    writing its recovery file after the program has cleaned its directory.
    """
    cluster.close(timeout=0, terminate=True)
    cluster.shutdown()


# -- copying dispy's objects -----------------------------------------------------


def node_info(node: Any) -> NodeInfo:
    avail = node.avail_info
    return NodeInfo(
        node.ip_addr,
        node.name or "",
        node.cpus,
        node.avail_cpus,
        node.busy,
        node.jobs_done,
        node.cpu_time,
        node.tx,
        node.rx,
        node.update_time or 0.0,
        AvailInfo(avail.cpu, avail.memory, avail.disk, avail.swap) if avail is not None else None,
    )


class _LateId:
    """The id of the user's own job object, read when the id is shown.

    dispy's status events carry a copy of the job made when the event fired;
    programs (the seeds' examples among them) set `job.id = i` right after
    `submit()`, often after the job started, so the copy still has the id
    dispy gave it (a counter from 1). The original DispyJob is reachable
    through the copy until the job ends; its id is read (and str()-ed,
    guarded) only when a browser shows the job.
    """

    __slots__ = ("_job",)

    def __init__(self, job: Any) -> None:
        self._job = job

    def __str__(self) -> str:
        return str(self._job.id)


def _job_id(job: Any) -> Any:
    original = getattr(getattr(job, "_dispy_job_", None), "job", None)
    return _LateId(original) if original is not None and original is not job else job.id


def job_info(job: Any) -> JobInfo:
    # dispy hands us a shallow copy; `_args`/`_kwargs` are the user's objects,
    # kept by reference (they are only turned into text for viewed jobs).
    return JobInfo(
        job._uid,
        _job_id(job),
        job.ip_addr,
        job.start_time,
        job.end_time,
        job._args,
        job._kwargs,
        job.exception,
        job,  # the handle dispy's cancel() needs (a copy sharing the job's internals)
    )


_NO_KWARGS: dict = {}


def ended_job_info(job: Any) -> JobInfo:
    """What the dashboard keeps of a job that ended: bounded text and numbers, none of the user's objects.

    The history keeps the events of the last --history-size jobs that ended
    (history.py; 10,000 by default), unread for as long as nobody looks. A
    JobInfo as `job_info` makes it would hold the arguments, the job itself
    (`handle`, with its result) and, through `_LateId`, the user's own job:
    150 jobs with 2 MiB arguments and results kept 302 MB. So an ended job
    carries its id as text (guarded, cut as the history shows it) or a plain int, no
    arguments and no handle (nothing acts on an ended job), and its
    traceback shortened (history.brief_exception).
    """
    job_id = _job_id(job)
    kind = type(job_id)
    if kind is not int and (kind is not str or len(job_id) > LIMIT):  # dispy's default id, a number, stays one
        job_id = safe_str(job_id)
    exception = job.exception
    if exception:
        exception = brief_exception(exception if isinstance(exception, str) else safe_str(exception, TRACEBACK_KEEP))
    return JobInfo(job._uid, job_id, job.ip_addr, job.start_time, job.end_time, (), _NO_KWARGS, exception or None, None)


def status_event(name: str, status: int, node: Any, job: Any, hidden: Any = None) -> StatusEvent | None:
    """One status event of cluster `name`; `hidden`: a node never shown."""
    if node is not None and node is hidden:
        node = None
        if job is None:
            return None
    return StatusEvent(
        name,
        status,
        node_info(node) if node is not None else None,
        (ended_job_info(job) if status in JOB_DONE_STATUSES else job_info(job)) if job is not None else None,
    )


def _record(feed: Feed, name: str, status: int, node: Any, job: Any, hidden: Any = None, defer: bool = False) -> None:
    """Feed one status event of cluster `name`; `hidden`: a node never shown.

    `defer`: hand the hub dispy's objects and let its loop copy them
    (`status_event`), so dispy's thread only appends (see hub.py). The node
    is then read when the loop drains, at most `hub.BATCH_DELAY` later and
    always before a browser is sent the event: it is dispy's live object, as
    it already is when a queued callback runs, and the dashboard shows a
    node's latest values anyway. The job is dispy's copy, made at the event.
    """
    try:
        if defer:
            feed(_new_tuple(Deferred, (status_event, (name, status, node, job, hidden))))
            return
        event = status_event(name, status, node, job, hidden)
        if event is not None:
            feed(event)
    except Exception:  # never let the dashboard break dispy's thread
        log.exception("dispymon could not record a status event of %s", name)


def _make_tap(feed: Feed, name: str, chained: StatusCallback | None, hidden: Any = None,
              defer: bool = False, attached: _Attached | None = None, direct: bool = True) -> StatusCallback:  # fmt: skip
    """`direct` (with `defer`): the tap may run where dispy queues it, on a patched queue (queue.py)."""
    if defer:
        # _record's deferred path, inlined: this runs for every event on dispy's thread
        def record(status: int, node: Any, job: Any) -> None:
            try:
                feed(_new_tuple(Deferred, (status_event, (name, status, node, job, hidden))))
            except Exception:  # never let the dashboard break dispy's thread
                log.exception("dispymon could not record a status event of %s", name)

        def tap(status: int, node: Any, job: Any) -> None:
            record(status, node, job)
            if chained is not None:
                chained(status, node, job)

        if direct:
            # Only appends: safe to run where dispy decides on the event (see queue.py)
            tap.__dispymon_direct__ = record  # type: ignore[attr-defined]
    else:

        def tap(status: int, node: Any, job: Any) -> None:
            # on dispy's worker thread: what came before the seed's marker is in the seed
            if attached is None:
                _record(feed, name, status, node, job, hidden)
            else:
                with attached.lock:
                    if not attached.in_seed():
                        _record(feed, name, status, node, job, hidden)
            if chained is not None:
                chained(status, node, job)

    tap.__dispymon_chained__ = chained  # type: ignore[attr-defined]
    return tap


def scheduler_pseudo_node(cluster: Any) -> Any:
    """A SharedJobCluster's stand-in node for its dispyscheduler, or None.

    dispy 4.15.2 puts `DispyNode(<scheduler's address>, None, 0)` in a shared
    cluster's `_dispy_nodes` (no name, no CPUs); it is not a compute node, so
    the dashboard never lists it. Identified by identity, not by address: a
    real dispynode on the scheduler's host replaces it there and is shown.
    """
    if not isinstance(cluster, dispy.SharedJobCluster):
        return None
    node = getattr(cluster, "_dispy_nodes", {}).get(getattr(cluster, "scheduler_ip_addr", None))
    return node if node is not None and node.name is None and not node.cpus else None


class _Attached:
    """What the adapter keeps of one attached cluster."""

    __slots__ = ("name", "cluster", "hidden", "compute_id", "tap", "catching_up", "worker", "lock")

    def __init__(self, name: str, cluster: Any, hidden: Any, tap: StatusCallback | None = None) -> None:
        self.name = name
        self.cluster = cluster
        self.hidden = hidden
        self.compute_id = getattr(getattr(cluster, "_compute", None), "id", None)
        self.tap = tap
        # True from the attach until dispy's worker thread reaches the marker
        # queued with the seed (see DispyAdapter._announce): the events it
        # runs meanwhile were queued before the seed was read, which has them.
        self.catching_up = False
        self.worker: Any = None  # dispy's worker thread
        # Held while the seed is read and by the worker thread from deciding
        # to feed an event to feeding it, so no event slips in between.
        self.lock = threading.Lock()

    def in_seed(self) -> bool:
        """Whether the event being handed over now is one the seed already holds."""
        return self.catching_up and threading.current_thread() is self.worker

    def caught_up(self) -> None:
        self.catching_up = False


# -- attaching -----------------------------------------------------------------


class DispyAdapter:
    """Attaches dispy clusters to a feed; keeps what it needs to detach them."""

    def __init__(self, feed: Feed, defer: bool = False, patch_queue: bool = False) -> None:
        """`defer`: `feed` is a hub's, which takes deferred events (see `_record`).

        `patch_queue` (with `defer`; an explicit opt-in): wrap each attached
        scheduler's `worker_Q.put` so the deferred tap takes its events as
        dispy queues them, skipping dispy's worker thread (queue.py).
        """
        self._feed = feed
        self._defer = defer
        self._patch_queue = defer and patch_queue
        self._lock = threading.Lock()  # attach/detach may come from any thread
        self._clusters: dict[str, Any] = {}
        # Read lock-free by route_status on dispy's thread: replaced, never mutated.
        self._routes: tuple[_Attached, ...] = ()
        # uid -> cluster name of jobs in flight that came through route_status:
        # dispy clears `job._dispy_job_` before it reports a job's end.
        self._job_routes: dict[int, str] = {}
        # clusters detached on purpose: route_status does not take them back
        self._detached: weakref.WeakSet[Any] = weakref.WeakSet()

    def clusters(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._clusters)

    def name_of(self, cluster: Any) -> str | None:
        with self._lock:
            for name, c in self._clusters.items():
                if c is cluster:
                    return name
        return None

    def attach(self, cluster: Any, chain: bool = True) -> str:
        """Start monitoring `cluster`; returns the name the dashboard shows.

        `chain=True` (dispymon serve): the tap goes in front of whatever
        callback the cluster has. `chain=False` (the drop-in DispyHTTPServer,
        as dispy documents it): the tap is installed only when the cluster has
        no callback; otherwise that callback is expected to pass the events on
        through `route_status`. Either way the state is seeded from the cluster.
        """
        if not is_cluster(cluster):
            raise TypeError(f"not a dispy JobCluster or SharedJobCluster: {cluster!r}")
        with self._lock:
            for name, c in self._clusters.items():
                if c is cluster:
                    return name
            name = base = str(cluster.name)
            n = 2
            while name in self._clusters:  # two clusters of one computation
                name = f"{base} #{n}"
                n += 1
            self._clusters[name] = cluster
            self._detached.discard(cluster)
        hidden = scheduler_pseudo_node(cluster)
        attached = _Attached(name, cluster, hidden)
        # Install the tap first, then read what the cluster already has: nodes
        # that initialised before we attached are not missed, and anything
        # newer arrives through the tap after the seed.
        direct = False
        if chain or cluster.cluster_status is None:
            if self._patch_queue:
                direct = _direct_queue(getattr(cluster, "_cluster", None))
            attached.tap = _make_tap(self._feed, name, cluster.cluster_status, hidden, self._defer, attached, direct)
            cluster.cluster_status = attached.tap
        with self._lock:
            self._routes = (*self._routes, attached)
        self._announce(attached, via_worker=not direct)
        return name

    def _announce(self, attached: _Attached, via_worker: bool) -> None:
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
        scheduler = getattr(cluster, "_cluster", None)
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
                nodes, running, pending, ended = _seed(cluster, hidden)
                self._feed(ClusterAttached(name, cluster_kind(cluster), nodes, running, pending, ended))
                if marker:
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
                log.warning('dispymon: dispy did not answer within %g s; cluster "%s" seeded as it is now',
                            SEED_WAIT, name)  # fmt: skip
        announce(marker and on_pycos)

    def detach(self, cluster: Any, announce: bool = True) -> bool:
        """Stop monitoring `cluster` and put its own callback back.

        `announce=False` leaves the cluster on the dashboard (a server that is
        closing keeps showing the last state).
        """
        name = self.name_of(cluster)
        if name is None:
            return False
        with self._lock:
            self._clusters.pop(name, None)
            self._detached.add(cluster)
            attached = next((a for a in self._routes if a.name == name), None)
            self._routes = tuple(a for a in self._routes if a.name != name)
            self._job_routes = {uid: n for uid, n in self._job_routes.items() if n != name}
        tap = cluster.cluster_status
        # Put back what the user had, unless someone chained on top of our tap.
        if attached is not None:
            if attached.tap is not None and tap is attached.tap:
                cluster.cluster_status = tap.__dispymon_chained__
        elif hasattr(tap, "__dispymon_chained__"):
            cluster.cluster_status = tap.__dispymon_chained__
        if announce:
            self._feed(ClusterDetached(name))
        return True

    def detach_all(self, announce: bool = True) -> None:
        for cluster in self.clusters().values():
            self.detach(cluster, announce)

    def wait_for_callbacks(self, timeout: float) -> bool:
        """Wait until dispy has run every status callback it has decided on so far.

        dispy 4.15.2 wakes `cluster.wait()` (on its pycos thread) just before
        it queues the last job's `Finished` callback for its worker thread, so
        a program that calls `wait()` then `shutdown()` would lose that event.
        A marker queued by a pycos task (which runs after the step in flight)
        and run by the worker thread (after the callbacks queued before it)
        tells when they have gone through. False after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        found = (getattr(c, "_cluster", None) for c in self.clusters().values())
        schedulers = {id(s): s for s in found if s is not None}  # one per process, in practice
        for scheduler in schedulers.values():
            worker = getattr(scheduler, "worker_thread", None)
            queue = getattr(scheduler, "worker_Q", None)
            if queue is None or worker is None or not worker.is_alive() or worker is threading.current_thread():
                continue
            reached = threading.Event()
            try:
                dispy.Task(_queue_marker, queue, reached.set)
            except Exception:  # no pycos scheduler any more: queue it from here
                queue.put((reached.set, ()))
            if not reached.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    # -- events handed over by a user's callback ---------------------------------

    def route_status(self, status: int, node: Any, job: Any) -> None:
        """One `cluster_status(status, node, job)` call whose cluster is unknown.

        Runs on dispy's callback thread. The cluster is found by the job's
        computation id, by a job id seen earlier (dispy has dropped the
        computation id when it reports a job's end), or by the node object
        (each cluster holds its own DispyNode objects). A dispy cluster that
        reports here without having been added is attached on the fly, as
        the seed's "pass cluster_status=http_server.cluster_status to other
        clusters" asks; the '* Combined' view then adds them up. An event no
        cluster claims goes to the first attached cluster.
        """
        try:
            target = self._route(status, node, job)
        except Exception:
            log.exception("dispymon could not route a status event")
            return
        if target is not None:
            with target.lock:
                if not target.in_seed():
                    _record(self._feed, target.name, status, node, job, target.hidden, self._defer)

    def _route(self, status: int, node: Any, job: Any) -> _Attached | None:
        routes = self._routes
        target: _Attached | None = None
        owner: Any = None  # the dispy cluster an unknown event belongs to
        if job is not None:
            uid = getattr(job, "_uid", None)
            compute_id = getattr(getattr(job, "_dispy_job_", None), "compute_id", None)
            if compute_id is not None:
                target = next((a for a in routes if a.compute_id == compute_id), None)
                if target is None:
                    owner = _owner(lambda c: c._compute.id == compute_id)
            elif uid is not None:
                name = self._job_routes.get(uid)
                target = next((a for a in routes if a.name == name), None) if name else None
        if target is None and owner is None and node is not None:
            ip = getattr(node, "ip_addr", None)
            target = next((a for a in routes if a.cluster._dispy_nodes.get(ip) is node), None)
            if target is None:
                owner = _owner(lambda c: c._dispy_nodes.get(ip) is node)
        if owner is not None:
            if owner in self._detached:  # deleted on purpose: its events are dropped
                return None
            name = self.attach(owner, chain=False)
            log.info('dispy cluster "%s" reports to dispymon through cluster_status: added', name)
            target = next((a for a in self._routes if a.name == name), None)
        if target is None:
            routes = self._routes
            target = routes[0] if routes else None
        if job is not None and target is not None:
            uid = getattr(job, "_uid", None)
            if status in JOB_DONE_STATUSES:
                self._job_routes.pop(uid, None)
            elif uid is not None:
                self._job_routes[uid] = target.name
        return target


def _queue_marker(queue: Any, marker: Callable[[], None], task: Any = None) -> Any:
    # a pycos task (a generator): runs on dispy's pycos thread, between its steps
    queue.put((marker, ()))
    yield None


def _in_one_step(func: Callable[[bool], None], arg: bool, task: Any = None) -> Any:
    # a pycos task (a generator): `func` runs within one step of dispy's pycos thread
    func(arg)
    yield None


def _owner(belongs: Callable[[Any], bool]) -> Any:
    """The dispy cluster of this process for which `belongs` holds, or None."""
    scheduler = dispy.Singleton.instance(dispy._Cluster)
    for cluster in list(getattr(scheduler, "_clusters", {}).values()):
        try:
            if belongs(cluster):
                return cluster
        except AttributeError:
            continue
    return None


def _seed(cluster: Any, hidden: Any = None) -> tuple[tuple[tuple[NodeInfo, int], ...], tuple[JobInfo, ...], int, int]:
    """What a cluster already has when we attach, read from dispy's internals:
    its nodes, its running jobs, its pending jobs (queued or running) and the
    jobs its nodes have done (dispy keeps no count of the jobs submitted: these
    two added up are the submitted jobs that dispymon can know of).

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
    try:
        compute_id = cluster._compute.id
        for _job in list(cluster._cluster._sched_jobs.values()):
            job = _job.job
            if _job.compute_id == compute_id and job is not None and job.status == dispy.DispyJob.Running:
                running.append(job_info(job))
    except AttributeError:
        pass
    pending = getattr(cluster, "_pending_jobs", 0) or 0
    return tuple(nodes), tuple(running), int(pending), int(ended)


# The nodes closed through dispymon, per JobCluster (weakly: a cluster that is
# gone takes its set with it).
_closed_nodes: "weakref.WeakKeyDictionary[Any, set[str]]" = weakref.WeakKeyDictionary()


def _refuses_closed(node_alloc: Any) -> None:
    """Make a NodeAllocate answer 0 CPUs (dispy's "not for this cluster") for
    a node closed through dispymon.

    dispy 4.15.2 forgets a close: its `allocate_node` (any "Add node") runs
    `add_cluster`, which sets up again every known node that the cluster is
    not using and that one of its NodeAllocates accepts, a closed node
    included; so does a node's rediscovery (`add_node`) and a node offering
    more CPUs. Every such path asks `NodeAllocate.allocate`, the method dispy
    documents for overriding, so asking it keeps a closed node closed. The
    cluster's list of NodeAllocates is dispy's own (`_node_allocs`); each is
    wrapped once, on its instance, and keeps dispy's (or the user's) answer
    for every other node.
    """
    if getattr(node_alloc.allocate, "_dispymon_refuses_closed", False):
        return
    original = node_alloc.allocate

    def allocate(cluster: Any, ip_addr: str, *args: Any, **kwargs: Any) -> int:
        closed = _closed_nodes.get(cluster)
        if closed and ip_addr in closed:
            return 0
        return original(cluster, ip_addr, *args, **kwargs)

    allocate._dispymon_refuses_closed = True  # type: ignore[attr-defined]
    node_alloc.allocate = allocate


def _keep_closed(cluster: Any, new: Any = None) -> None:
    """Have every NodeAllocate of `cluster` (and `new`, one about to be added) refuse its closed nodes."""
    for node_alloc in [*getattr(cluster, "_node_allocs", ()), *([new] if new is not None else [])]:
        _refuses_closed(node_alloc)


class DispyControl:
    """The command channel's access to attached dispy clusters (blocking calls)."""

    def __init__(self, adapter: DispyAdapter) -> None:
        self._adapter = adapter

    def _cluster(self, name: str) -> Any:
        cluster = self._adapter.clusters().get(name)
        if cluster is None:
            raise LookupError(f"no cluster {name!r}")
        return cluster

    def cancel(self, cluster: str, handle: Any) -> int:
        return self._cluster(cluster).cancel(handle)

    def resolve(self, host: str) -> str | None:
        return dispy._node_ipaddr(host)

    def check_node_action(self, action: str, ip: str, statuses: Mapping[str, str | None]) -> None:
        closed_stays_closed(action, ip, statuses)  # dispy 4.15.2's quirk (rules.py)

    def add_node(self, cluster: str, host: str, cpus: int) -> int:
        c = self._cluster(cluster)
        node_alloc = dispy.NodeAllocate(host, cpus=cpus)
        if c in _closed_nodes:  # dispy's allocate_node re-offers every known node (see _refuses_closed)
            _keep_closed(c, node_alloc)
        return c.allocate_node(node_alloc)

    # dispy 4.15.2 sends no status event after set_node_cpus, allocate_node,
    # deallocate_node or close_node: the adapter reports what succeeded itself

    def set_node_cpus(self, cluster: str, ip: str, cpus: int) -> int:
        got = self._cluster(cluster).set_node_cpus(ip, cpus)
        if got is not None and got >= 0:
            self._adapter._feed(NodeChanged(cluster, ip, cpus=got))
        return got

    def allocate_node(self, cluster: str, ip: str) -> int:
        return self._report(cluster, ip, self._cluster(cluster).allocate_node(ip), INITIALIZED)

    def deallocate_node(self, cluster: str, ip: str) -> int:
        return self._report(cluster, ip, self._cluster(cluster).deallocate_node(ip), DEALLOCATED)

    def _report(self, cluster: str, ip: str, code: int, status: str) -> int:
        if code >= 0:
            self._adapter._feed(NodeChanged(cluster, ip, status=status))
        return code

    def close_node(self, cluster: str, ip: str, terminate_pending: bool) -> int:
        c = self._cluster(cluster)
        if cluster_kind(c) == "JobCluster":  # a SharedJobCluster's nodes are its scheduler's to allocate
            _closed_nodes.setdefault(c, set()).add(ip)
            _keep_closed(c)
        code = c.close_node(ip, terminate_pending=terminate_pending)
        # SharedJobCluster.close_node answers None when the scheduler closed the
        # node (its generator returns nothing), -1 when it could not.
        return self._report(cluster, ip, 0 if code is None else code, CLOSED)
