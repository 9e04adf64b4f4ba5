"""One browser's view of the state: its sequence numbers and what it has seen.

Pure bookkeeping, no I/O, so the snapshot/delta rules test without sockets.
Between flushes a view holds no queue: "what changed" is read from the
state's change log, so a slow or paused browser costs no more than a fast
one. A view that watches a node (its Node page) also remembers which of that
node's running jobs it has sent — bounded by the jobs on one node — and only
such a view ever receives job details. A view that follows a job (its job
page) gets that job's detail again whenever the version the jobs feature
gives it moves (`job_source`), at the view's interval like everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dispymon.model.jobtext import job_record, node_jobs
from dispymon.model.state import State

# the protocol's shapes and constants are defined once, in a pure leaf module
from dispymon.transport import protocol
from dispymon.transport.protocol import effective_interval

# (state, cluster, key) -> (a version that moves when the detail does, the JobDetail or None)
JobSource = Callable[[State, str, int], tuple[Any, dict[str, Any] | None]]


class ClientView:
    def __init__(self, state: State, interval: float, job_source: JobSource | None = None) -> None:
        self.state = state
        self.job_source = job_source
        self.job: tuple[str, int] | None = None  # (cluster, key) of the job this view follows
        self._job_version: Any = None  # the version of the job's detail last sent
        self.interval = effective_interval(interval)
        self.node: str | None = None
        self.seq = 0
        self.sent_version = -1
        # uid (text) -> the texts sent of each running job of the watched node: a text
        # made off the loop after it was sent ('…' until then, jobtext.py) is sent again
        self._sent_jobs: dict[str, tuple[Any, ...]] = {}
        self._sent_show_args: bool | None = None
        # What identifies the last message's shared part (all but type, seq
        # and node_jobs): views with equal keys got equal parts, which the
        # server encodes once for all of them.
        self.frame_key: tuple | None = None

    def watch(self, node: str | None) -> None:
        """Change the watched node; the caller then sends a snapshot."""
        self.node = node

    def follow(self, job: tuple[str, int] | None) -> None:
        """Change the followed job; the caller then sends a snapshot."""
        self.job = job
        self._job_version = None

    def _job_detail(self) -> tuple[Any, dict[str, Any] | None]:
        if self.job is None or self.job_source is None:
            return None, None
        return self.job_source(self.state, *self.job)

    def snapshot(self) -> dict[str, Any]:
        body, version = self.state.snapshot()
        self.seq += 1
        self.sent_version = version
        self.frame_key = (self.state, "snapshot", version)
        message = protocol.snapshot(self.seq, body)
        if self.node is not None:
            jobs = node_jobs(self.state, self.node)
            self._sent_jobs = {uid: _texts(job) for uid, job in jobs.items()}
            message["node_jobs"] = {"ip_addr": self.node, "jobs": jobs}
        else:
            self._sent_jobs = {}
        self._sent_show_args = self.state.settings["show_job_args"]
        self._job_version, message["job"] = self._job_detail()
        return message

    def delta(self) -> dict[str, Any] | None:
        """The next delta, or None when nothing this view shows changed."""
        if self.sent_version < 0:
            raise RuntimeError("a view sends its snapshot before any delta")
        message: dict[str, Any] = {}
        if self.job is not None:
            # a detail changes with the state (the job starts, ends) and without
            # it (its texts made off the loop): asked whatever the state's version
            version, detail = self._job_detail()
            if version != self._job_version:
                self._job_version = version
                message["job"] = detail
        if self.state.version == self.sent_version:
            if not message:
                return None
            self.frame_key = (self.state, "delta", self.sent_version, self.sent_version)  # no shared part
            self.seq += 1
            return protocol.delta(self.seq, message)
        since = self.sent_version
        changes = self.state.changes_since(since)
        self.frame_key = (self.state, "delta", self.sent_version, changes.version)
        self.sent_version = changes.version
        if changes.settings is not None:
            message["settings"] = changes.settings
        if changes.clusters:
            message["clusters"] = changes.clusters
        if changes.audit is not None:
            message["audit"] = changes.audit
        if changes.actions is not None:
            message["actions"] = changes.actions
        if changes.fleet is not None:
            message["fleet"] = changes.fleet
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
        sent = self._sent_jobs
        now: dict[str, tuple[Any, ...]] = {}
        out: dict[str, Any] = {}
        for uid, c in running.items():
            key = str(uid)
            record = job_record(self.state, c.running[uid], c.name)  # its texts made once (jobtext.py)
            now[key] = texts = _texts(record)
            if resend_all or sent.get(key) != texts:
                out[key] = record
        for key in sent.keys() - now.keys():
            out[key] = None
        self._sent_jobs = now
        return out


def _texts(record: dict[str, Any]) -> tuple[Any, ...]:
    """What of a running job's record can change while it runs: its texts (made off the
    loop after a first '…'), and its start when dispy runs it again."""
    return (record["id"], record["args"], record["kwargs"], record["start_time"])
