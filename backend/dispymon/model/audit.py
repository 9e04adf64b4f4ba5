"""The audit log: what commands did (and what dispy did on its own), with add-node watches.

Pure, as the rest of the model: the state applies AuditAdded/AuditUpdated
events here and tells it of nodes that initialise or are set up again; each
method answers whether the log changed, so the state notes the change.
"""

from __future__ import annotations

import collections
import fnmatch
from typing import Any

from dispymon.model.events import AuditAdded, NodeInfo
from dispymon.model.text import count_text

AUDIT_LIMIT = 200


class AuditLog:
    def __init__(self) -> None:
        self.entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=AUDIT_LIMIT)
        # audit entries waiting for a node to initialise: id -> (clusters, pattern,
        # the wait in seconds). An entry whose wait ran out keeps its watch (as
        # long as the entry is in the log): a node that joins later turns it ok.
        self.watches: dict[int, tuple[frozenset[str], str, float | None]] = {}
        # (cluster, ip) of the nodes closed by a command: one that dispy sets up
        # again is told in the audit log (see reopened)
        self.closed_by_command: set[tuple[str, str]] = set()
        self._last_id = 0

    def new_id(self) -> int:
        """An id for a new entry (the commands' and the state's own share one sequence)."""
        self._last_id += 1
        return self._last_id

    def add(self, ev: AuditAdded) -> None:
        self._last_id = max(self._last_id, ev.entry_id)
        self.entries.append(
            {
                "id": ev.entry_id,
                "time": ev.time,
                "action": ev.action,
                "target": ev.target,
                "cluster": ev.cluster,
                "state": ev.state,
                "message": ev.message,
                "who": ev.who,
            }
        )
        if ev.watch is not None and ev.watch[0] == "node":
            clusters, pattern = ev.watch[1], ev.watch[2]
            wait = ev.watch[3] if len(ev.watch) > 3 else None
            self.watches[ev.entry_id] = (frozenset(clusters), pattern, wait)
        if len(self.watches) > AUDIT_LIMIT:  # bounded: watches of entries no longer in the log go
            kept = {e["id"] for e in self.entries}
            self.watches = {i: w for i, w in self.watches.items() if i in kept}

    def entry(self, entry_id: int) -> dict[str, Any] | None:
        for entry in reversed(self.entries):
            if entry["id"] == entry_id:
                return entry
        return None

    def update(self, entry_id: int, state: str, message: str, only_if_pending: bool = False) -> bool:
        """Whether the entry changed."""
        entry = self.entry(entry_id)
        changed = False
        if entry is not None:
            if only_if_pending and entry["state"] != "pending":
                return False
            entry["state"], entry["message"] = state, message
            changed = True
        # The wait of an added node running out (only_if_pending) is not the
        # end: dispy keeps the address and takes the node whenever it starts.
        if state != "pending" and not (only_if_pending and entry is not None and entry_id in self.watches):
            self.watches.pop(entry_id, None)
        return changed

    def node_initialised(self, cluster: str, node: NodeInfo) -> bool:
        """A node initialised: the add-node entries watching for it turn ok. Whether the log changed."""
        changed = False
        for entry_id, (clusters, pattern, wait) in list(self.watches.items()):
            if cluster in clusters and fnmatch.fnmatchcase(node.ip_addr, pattern):
                entry = self.entry(entry_id)
                cpus = count_text(node.cpus, "CPU")
                if entry is not None and entry["state"] == "failed":  # joined after the wait ran out
                    after = max(0.0, (node.update_time or entry["time"]) - entry["time"])
                    waited = f" (after the {wait:g} s wait had run out)" if wait is not None else ""
                    message = f"node {node.ip_addr} joined {after:.0f} s after it was added{waited}, with {cpus}"
                else:
                    message = f"node {node.ip_addr} initialised with {cpus}"
                changed = self.update(entry_id, "ok", message) or changed
                self.watches.pop(entry_id, None)
        return changed

    def reopened(self, cluster: str, node: NodeInfo) -> bool:
        """dispy set up again a node closed by a command: the close did not hold.

        dispymon keeps closed nodes closed where dispy lets it (DispyControl);
        should dispy still take one back (a SharedJobCluster's scheduler, or the
        program's own allocate_node), the log says so rather than keep quiet.
        Whether the log changed.
        """
        if (cluster, node.ip_addr) not in self.closed_by_command:
            return False
        self.closed_by_command.discard((cluster, node.ip_addr))
        when = node.update_time or (self.entries[-1]["time"] if self.entries else 0.0)
        self.add(
            AuditAdded(
                self.new_id(),
                when,
                "node_reopened",
                node.ip_addr,
                cluster,
                "failed",
                f"node {node.ip_addr} was closed, but dispy set it up again: it takes jobs again",
                None,
            )
        )
        return True

    def forget_cluster(self, name: str) -> None:
        self.closed_by_command = {k for k in self.closed_by_command if k[0] != name}
