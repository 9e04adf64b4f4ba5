"""DispyControl: the command channel's access to attached dispy clusters.

It applies dispy's silent effects itself (dispy 4.15.2 sends no event after
set_node_cpus, allocate/deallocate_node or close_node: it feeds NodeChanged)
and dispy's closed-node rules: a node closed through dispymon is refused by
the cluster's NodeAllocates (dispy would set it up again), and adding or
allocating a closed node is refused (adapters/rules.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

import dispy

from dispymon.adapters.dispy.adapter import DispyAdapter
from dispymon.adapters.dispy.clusters import cluster_kind, is_scheduler_cluster
from dispymon.adapters.payload import unpickle_args
from dispymon.adapters.rules import closed_stays_closed
from dispymon.commands.control import ControlRefused
from dispymon.model.events import NodeChanged
from dispymon.model.state import CLOSED, DEALLOCATED, INITIALIZED

# The nodes closed through dispymon, per JobCluster (weakly: a cluster that is
# gone takes its set with it).
_closed_nodes: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


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


# What dispyscheduler's record of a computation (`dispymon scheduler`) offers:
# `cancel` alone among the actions (no submit, no close/deallocate; its
# allocate_node and set_node_cpus are the client's or the scheduler's options).
_SCHEDULER_ONLY_TERMINATE = (
    "a computation in dispyscheduler can only have its jobs terminated here: "
    "its client (the SharedJobCluster program) submits, and manages its nodes"
)


def _cancel_in_scheduler(cluster: Any, handle: Any, task: Any = None) -> Any:
    # a pycos task (a generator) on dispyscheduler's thread: `cancel_job` changes
    # the scheduler's lists, which only that thread may touch
    yield None
    return cluster.cancel(handle)


class DispyControl:
    """The command channel's access to attached dispy clusters (blocking calls)."""

    def __init__(self, adapter: DispyAdapter) -> None:
        self._adapter = adapter

    def _cluster(self, name: str, action: str | None = None) -> Any:
        """The cluster `name`; with `action`, refused (not_allowed) on a dispyscheduler's computation."""
        cluster = self._adapter.clusters().get(name)
        if cluster is None:
            raise LookupError(f"no cluster {name!r}")
        if action is not None and is_scheduler_cluster(cluster):
            raise ControlRefused("not_allowed", f"{action}: {_SCHEDULER_ONLY_TERMINATE}")
        return cluster

    def cancel(self, cluster: str, handle: Any) -> int:
        c = self._cluster(cluster)
        if is_scheduler_cluster(c):  # dispyscheduler's `_Cluster.cancel` runs on the caller's thread
            return dispy.Task(_cancel_in_scheduler, c, handle).value()
        return c.cancel(handle)

    def submit(self, cluster: str, payload: bytes, node: str | None) -> int:
        """Submit `pickle.loads(payload)` = (args, kwargs) again; the new job's key.

        Runs on the caller's worker thread (never the loop): unpickling runs
        the user's classes' code, and dispy's submit waits for its scheduler
        (a SharedJobCluster's, a TCP round trip to dispyscheduler). `node`:
        `submit_node` to that node (an IP address; dispy answers None when
        the node is not in the cluster). The key is taken while this thread
        holds the new DispyJob, so its uid cannot be reused meanwhile; a job
        that has already ended finds its key among the recent ones.
        """
        c = self._cluster(cluster, "resubmit")
        args, kwargs = unpickle_args(payload)
        if node:
            job = c.submit_node(node, *args, **kwargs)
            why = f"node {node} is not in the cluster"
        else:
            job = c.submit(*args, **kwargs)
            why = "dispy did not take the job (see its log)"
        if job is None:
            raise ControlRefused("cluster_error", why)
        return self._adapter.keys.key(job._uid, job.submit_time, cluster)

    def resolve(self, host: str) -> str | None:
        return dispy._node_ipaddr(host)

    def check_node_action(self, action: str, ip: str, statuses: Mapping[str, str | None]) -> None:
        closed_stays_closed(action, ip, statuses)  # dispy 4.15.2's quirk (rules.py)

    def add_node(self, cluster: str, host: str, cpus: int) -> int:
        c = self._cluster(cluster, "add node")
        node_alloc = dispy.NodeAllocate(host, cpus=cpus)
        if c in _closed_nodes:  # dispy's allocate_node re-offers every known node (see _refuses_closed)
            _keep_closed(c, node_alloc)
        return c.allocate_node(node_alloc)

    # dispy 4.15.2 sends no status event after set_node_cpus, allocate_node,
    # deallocate_node or close_node: the adapter reports what succeeded itself

    def set_node_cpus(self, cluster: str, ip: str, cpus: int) -> int:
        got = self._cluster(cluster, "set node CPUs").set_node_cpus(ip, cpus)
        if got is not None and got >= 0:
            self._adapter._feed(NodeChanged(cluster, ip, cpus=got))
        return got

    def allocate_node(self, cluster: str, ip: str) -> int:
        return self._report(cluster, ip, self._cluster(cluster, "allocate node").allocate_node(ip), INITIALIZED)

    def deallocate_node(self, cluster: str, ip: str) -> int:
        return self._report(cluster, ip, self._cluster(cluster, "deallocate node").deallocate_node(ip), DEALLOCATED)

    def _report(self, cluster: str, ip: str, code: int, status: str) -> int:
        if code >= 0:
            self._adapter._feed(NodeChanged(cluster, ip, status=status))
        return code

    def close_node(self, cluster: str, ip: str, terminate_pending: bool) -> int:
        c = self._cluster(cluster, "close node")
        if cluster_kind(c) == "JobCluster":  # a SharedJobCluster's nodes are its scheduler's to allocate
            _closed_nodes.setdefault(c, set()).add(ip)
            _keep_closed(c)
        code = c.close_node(ip, terminate_pending=terminate_pending)
        # SharedJobCluster.close_node answers None when the scheduler closed the
        # node (its generator returns nothing), -1 when it could not.
        return self._report(cluster, ip, 0 if code is None else code, CLOSED)
