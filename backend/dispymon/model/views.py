"""One browser's view of the state: its sequence numbers and what it has seen.

Pure bookkeeping, no I/O, so the snapshot/delta rules test without sockets.
Between flushes a view holds no queue: "what changed" is read from the
state's change log, so a slow or paused browser costs no more than a fast
one. A view that watches a node (its Node page) also remembers which of that
node's running jobs it has sent — bounded by the jobs on one node — and only
such a view ever receives job details.
"""

from __future__ import annotations

from typing import Any

from dispymon.model.jobtext import job_record, node_jobs
from dispymon.model.state import State

# the protocol's shapes and constants are defined once, in a pure leaf module
from dispymon.transport import protocol
from dispymon.transport.protocol import effective_interval


class ClientView:
    def __init__(self, state: State, interval: float) -> None:
        self.state = state
        self.interval = effective_interval(interval)
        self.node: str | None = None
        self.seq = 0
        self.sent_version = -1
        self._sent_jobs: set[str] = set()
        self._sent_show_args: bool | None = None
        # What identifies the last message's shared part (all but type, seq
        # and node_jobs): views with equal keys got equal parts, which the
        # server encodes once for all of them.
        self.frame_key: tuple | None = None

    def watch(self, node: str | None) -> None:
        """Change the watched node; the caller then sends a snapshot."""
        self.node = node

    def snapshot(self) -> dict[str, Any]:
        body, version = self.state.snapshot()
        self.seq += 1
        self.sent_version = version
        self.frame_key = (self.state, "snapshot", version)
        message = protocol.snapshot(self.seq, body)
        if self.node is not None:
            jobs = node_jobs(self.state, self.node)
            self._sent_jobs = set(jobs)
            message["node_jobs"] = {"ip_addr": self.node, "jobs": jobs}
        else:
            self._sent_jobs = set()
        self._sent_show_args = self.state.settings["show_job_args"]
        return message

    def delta(self) -> dict[str, Any] | None:
        """The next delta, or None when nothing this view shows changed."""
        if self.sent_version < 0:
            raise RuntimeError("a view sends its snapshot before any delta")
        if self.state.version == self.sent_version:
            return None
        since = self.sent_version
        changes = self.state.changes_since(since)
        self.frame_key = (self.state, "delta", self.sent_version, changes.version)
        self.sent_version = changes.version
        message: dict[str, Any] = {}
        if changes.settings is not None:
            message["settings"] = changes.settings
        if changes.clusters:
            message["clusters"] = changes.clusters
        if changes.audit is not None:
            message["audit"] = changes.audit
        if self.node is not None:
            node_jobs = self._node_jobs_delta(changes.node_jobs and self.state.node_jobs_changed(self.node, since))
            if node_jobs:
                message["node_jobs"] = {"ip_addr": self.node, "jobs": node_jobs}
        if not message:
            return None
        self.seq += 1
        return protocol.delta(self.seq, message)

    def _node_jobs_delta(self, jobs_changed: bool) -> dict[str, Any]:
        show = self.state.settings["show_job_args"]
        resend_all = show != self._sent_show_args  # the argument columns changed
        if not (jobs_changed or resend_all):
            return {}
        self._sent_show_args = show
        running = self.state.running_by_ip.get(self.node or "", {})
        now = {str(uid) for uid in running}
        out: dict[str, Any] = {key: None for key in self._sent_jobs - now}
        for uid, c in running.items():
            key = str(uid)
            if resend_all or key not in self._sent_jobs:
                out[key] = job_record(self.state, c.running[uid], c.name)
        self._sent_jobs = now
        return out
