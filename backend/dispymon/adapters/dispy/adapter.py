"""DispyAdapter: attaches dispy clusters to a feed, and routes events a user's callback hands over."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

import dispy

from dispymon.adapters.dispy.clusters import _owner, is_cluster, scheduler_pseudo_node
from dispymon.adapters.dispy.queue import direct_queue as _direct_queue
from dispymon.adapters.dispy.seed import _queue_marker, announce
from dispymon.adapters.dispy.tap import Feed, _Attached, _make_tap, _record, chained_of
from dispymon.model.events import JOB_DONE_STATUSES, ClusterDetached
from dispymon.model.jobkeys import JobKeys

log = logging.getLogger("dispymon.adapters.dispy")


class DispyAdapter:
    """Attaches dispy clusters to a feed; keeps what it needs to detach them."""

    def __init__(self, feed: Feed, defer: bool = False, patch_queue: bool = False, keys: JobKeys | None = None) -> None:
        """`defer`: `feed` is a hub's, which takes deferred events (see `_record`).

        `patch_queue` (with `defer`; an explicit opt-in): wrap each attached
        scheduler's `worker_Q.put` so the deferred tap takes its events as
        dispy queues them, skipping dispy's worker thread (queue.py).
        `keys`: the jobs' keys, shared with the runtime's other parts (its own if not given).
        """
        self._feed = feed
        self.keys = keys if keys is not None else JobKeys()
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
            attached.tap = _make_tap(
                self._feed, name, cluster.cluster_status, hidden, self._defer, attached, direct, self.keys
            )
            cluster.cluster_status = attached.tap
        with self._lock:
            self._routes = (*self._routes, attached)
        announce(self._feed, attached, via_worker=not direct, keys=self.keys)
        return name

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
                cluster.cluster_status = chained_of(tap)
        elif hasattr(tap, "__dispymon_chained__"):
            cluster.cluster_status = tap.__dispymon_chained__
        if announce:
            self._feed(ClusterDetached(name))
        # Its jobs' live keys go (a job that ends later reads as one never seen);
        # a deferred event still in the hub's inbox may make one again, once.
        self.keys.forget(name)
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
                    _record(self._feed, target.name, status, node, job, target.hidden, self._defer, self.keys)

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
            if uid is not None:
                if status in JOB_DONE_STATUSES:
                    self._job_routes.pop(uid, None)
                else:
                    self._job_routes[uid] = target.name
        return target
