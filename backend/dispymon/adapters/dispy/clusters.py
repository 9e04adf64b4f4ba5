"""Recognising dispy's clusters, making and closing one, and finding the one an event belongs to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dispy

# dispyscheduler's record of one client's computation (its `_Cluster`, a class of
# the script dispyscheduler runs as `__main__`), registered by `dispymon scheduler`
# (entry/scheduler.py) when dispyscheduler hands it its first one.
_scheduler_cluster_types: set[type] = set()


def register_scheduler_cluster(cls: type) -> None:
    """Take instances of `cls` (dispyscheduler's `_Cluster`) for clusters."""
    _scheduler_cluster_types.add(cls)


def is_scheduler_cluster(obj: object) -> bool:
    """A client's computation as dispyscheduler holds it (not the client's SharedJobCluster)."""
    return type(obj) in _scheduler_cluster_types


def is_cluster(obj: object) -> bool:
    return isinstance(obj, dispy.JobCluster) or is_scheduler_cluster(obj)


def cluster_kind(cluster: Any) -> str:
    # a computation in dispyscheduler is a client's SharedJobCluster seen from the scheduler
    shared = isinstance(cluster, dispy.SharedJobCluster) or is_scheduler_cluster(cluster)
    return "SharedJobCluster" if shared else "JobCluster"


def dispy_scheduler(cluster: Any) -> Any:
    """The object that schedules `cluster`'s jobs (its `_sched_jobs`, `_nodes`, `pycos`), or None.

    A client's cluster keeps it as `_cluster` (the process's `dispy._Cluster`);
    dispyscheduler's record of a computation as `scheduler` (its `_Scheduler`).
    """
    if is_scheduler_cluster(cluster):
        return getattr(cluster, "scheduler", None)
    return getattr(cluster, "_cluster", None)


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
