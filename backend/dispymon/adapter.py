"""The dispy adapter: the only module that imports dispy.

It chains each attached cluster's `cluster_status` callback with a tap that
copies the few fields the dashboard needs into event tuples and hands them to
`feed` (the hub). The tap does O(1) work on dispy's callback thread: attribute
reads and one deque append; no str() of user objects, no locks, no I/O.
"""

from __future__ import annotations

import inspect
import logging
import threading
import types
from collections import namedtuple
from typing import Any, Callable

import dispy

from .events import (
    NODE_CLOSED,
    NODE_INITIALIZED,
    AvailInfo,
    ClusterAttached,
    ClusterDetached,
    Event,
    JobInfo,
    NodeInfo,
    StatusEvent,
)

log = logging.getLogger(__name__)

Feed = Callable[[Event], None]
StatusCallback = Callable[[Any, Any, Any], None]

# -- Python 3.11 compatibility -------------------------------------------------
#
# dispy 4.15.2 validates `cluster_status=` / `job_status=` with
# inspect.getargspec, which Python 3.11 removed, so passing either to
# JobCluster(...) fails with 'Invalid "cluster_status" function'. We give dispy
# (only dispy: its module-level name `inspect`, not the standard library's
# module) a view of `inspect` that has getargspec again, built on
# getfullargspec with the old field names.

_ArgSpec = namedtuple("ArgSpec", "args varargs keywords defaults")


def _getargspec(func: Callable[..., Any]) -> _ArgSpec:
    spec = inspect.getfullargspec(func)
    return _ArgSpec(spec.args, spec.varargs, spec.varkw, spec.defaults)


class _InspectWithGetargspec(types.ModuleType):
    def __init__(self) -> None:
        super().__init__("inspect")
        self.getargspec = _getargspec

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)


def install_compat() -> None:
    """Idempotent; done on import of this module."""
    if not hasattr(dispy.inspect, "getargspec"):
        dispy.inspect = _InspectWithGetargspec()


install_compat()

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


def job_info(job: Any) -> JobInfo:
    # dispy hands us a shallow copy; `_args`/`_kwargs` are the user's objects,
    # kept by reference (they are only turned into text for viewed jobs).
    return JobInfo(
        job._uid,
        job.id,
        job.ip_addr,
        job.start_time,
        job.end_time,
        job._args,
        job._kwargs,
        job.exception,
        job,  # the handle dispy's cancel() needs (a copy sharing the job's internals)
    )


def _make_tap(feed: Feed, name: str, chained: StatusCallback | None) -> StatusCallback:
    def tap(status: int, node: Any, job: Any) -> None:
        try:
            feed(
                StatusEvent(
                    name,
                    status,
                    node_info(node) if node is not None else None,
                    job_info(job) if job is not None else None,
                )
            )
        except Exception:  # never let the dashboard break dispy's thread
            log.exception("dispymon could not record a status event of %s", name)
        if chained is not None:
            chained(status, node, job)

    tap.__dispymon_chained__ = chained  # type: ignore[attr-defined]
    return tap


# -- attaching -----------------------------------------------------------------


class DispyAdapter:
    """Attaches dispy clusters to a feed; keeps what it needs to detach them."""

    def __init__(self, feed: Feed) -> None:
        self._feed = feed
        self._lock = threading.Lock()  # attach/detach may come from any thread
        self._clusters: dict[str, Any] = {}

    def clusters(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._clusters)

    def name_of(self, cluster: Any) -> str | None:
        with self._lock:
            for name, c in self._clusters.items():
                if c is cluster:
                    return name
        return None

    def attach(self, cluster: Any) -> str:
        """Start monitoring `cluster`; returns the name the dashboard shows."""
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
        # Install the tap first, then read what the cluster already has: nodes
        # that initialised before we attached are not missed, and anything
        # newer arrives through the tap after the seed.
        cluster.cluster_status = _make_tap(self._feed, name, cluster.cluster_status)
        nodes, running, pending = _seed(cluster)
        self._feed(ClusterAttached(name, cluster_kind(cluster), nodes, running, pending))
        return name

    def detach(self, cluster: Any) -> bool:
        name = self.name_of(cluster)
        if name is None:
            return False
        with self._lock:
            self._clusters.pop(name, None)
        tap = cluster.cluster_status
        # Put back what the user had, unless someone chained on top of our tap.
        if hasattr(tap, "__dispymon_chained__"):
            cluster.cluster_status = tap.__dispymon_chained__
        self._feed(ClusterDetached(name))
        return True

    def detach_all(self) -> None:
        for cluster in self.clusters().values():
            self.detach(cluster)


def _seed(cluster: Any) -> tuple[tuple[tuple[NodeInfo, int], ...], tuple[JobInfo, ...], int]:
    """What a cluster already has when we attach, read from dispy's internals.

    Best effort by design: these are private attributes of dispy 4.15.2, so
    a missing one degrades to "seen from now on", never to an error.
    """
    nodes: list[tuple[NodeInfo, int]] = []
    for node in list(getattr(cluster, "_dispy_nodes", {}).values()):
        status = NODE_CLOSED if getattr(node, "status", None) == NODE_CLOSED else NODE_INITIALIZED
        nodes.append((node_info(node), status))
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
    return tuple(nodes), tuple(running), int(pending)


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

    def add_node(self, cluster: str, host: str, cpus: int) -> int:
        return self._cluster(cluster).allocate_node(dispy.NodeAllocate(host, cpus=cpus))

    def set_node_cpus(self, cluster: str, ip: str, cpus: int) -> int:
        return self._cluster(cluster).set_node_cpus(ip, cpus)

    def allocate_node(self, cluster: str, ip: str) -> int:
        return self._cluster(cluster).allocate_node(ip)

    def deallocate_node(self, cluster: str, ip: str) -> int:
        return self._cluster(cluster).deallocate_node(ip)

    def close_node(self, cluster: str, ip: str, terminate_pending: bool) -> int:
        return self._cluster(cluster).close_node(ip, terminate_pending=terminate_pending)
