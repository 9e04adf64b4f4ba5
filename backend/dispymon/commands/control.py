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
"""

from __future__ import annotations

from typing import Any, Protocol


class ClusterControl(Protocol):
    def cancel(self, cluster: str, handle: Any) -> int:
        """Terminate a running job (or cancel a queued one): 0 when sent."""

    def resolve(self, host: str) -> str | None:
        """A host name's IP address, the address itself, or None."""

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
