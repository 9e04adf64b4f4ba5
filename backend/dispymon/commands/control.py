"""What commands may ask of a cluster: the adapter's side of the command channel.

The commands module talks to this interface, never to dispy; the dispy
adapter implements it (and a simulated cluster can). Every method may block
(dispy's management calls wait for the node), so callers run them in a worker
thread with a timeout.

What a command changes and the cluster does not report as an event (a
node's CPUs, allocate/deallocate/close: dispy 4.15.2 sends no status for
them) is the adapter's to report: after a call that succeeded, it feeds the
hub the node's change (NodeChanged) before returning, so the commands stay
cluster-agnostic and every browser sees the change.

What a cluster cannot do well (dispy 4.15.2 re-enables a closed node without
the computation) is the adapter's to refuse: `check_node_action`, asked
before a node action touches any cluster, raises `ControlRefused`, which the
commands answer as an error (and audit where the action is audited).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class ControlRefused(Exception):
    """The cluster refuses an action it cannot do well; `code` is a protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ClusterControl(Protocol):
    def cancel(self, cluster: str, handle: Any) -> int:
        """Terminate a running job (or cancel a queued one): 0 when sent."""

    def resolve(self, host: str) -> str | None:
        """A host name's IP address, the address itself, or None."""

    def check_node_action(self, action: str, ip: str, statuses: Mapping[str, str | None]) -> None:
        """Raise ControlRefused if the clusters refuse `action` ("add_node",
        "allocate_node") on node `ip`; `statuses`: the node's status in each
        target cluster as the dashboard shows it (None: not known there).
        Does not block: it decides from what it is given and what the adapter knows."""

    def add_node(self, cluster: str, host: str, cpus: int) -> int:
        """Ask the cluster to use a node (IP or wildcard); 0 when accepted."""

    def set_node_cpus(self, cluster: str, ip: str, cpus: int) -> int:
        """The CPUs now in effect (reported as NodeChanged(cpus=...)), or < 0 on failure."""

    def allocate_node(self, cluster: str, ip: str) -> int:
        """0 when done (reported as NodeChanged(status="initialized"))."""

    def deallocate_node(self, cluster: str, ip: str) -> int:
        """0 when done (reported as NodeChanged(status="deallocated"))."""

    def close_node(self, cluster: str, ip: str, terminate_pending: bool) -> int:
        """0 when done (reported as NodeChanged(status="closed"))."""

    def submit(self, cluster: str, payload: bytes, node: str | None) -> int:
        """Submit a job again: `payload` is `pickle.dumps((args, kwargs))` as the jobs
        feature kept it; `node` set: `submit_node` to that node. The new job's key
        (jobkeys.py); raises ControlRefused("cluster_error", why) when dispy refuses."""
