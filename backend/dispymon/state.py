"""The authoritative model of every attached cluster, with a change log.

Pure: no sockets, no threads, no dispy. `apply(event)` is the only way the
model changes. Each change bumps `version` and records, per record key, the
version at which it last changed, in change order. A browser's view asks for
`changes_since(v)`, which walks that log from the newest end and stops at the
first entry not newer than `v`: the cost is proportional to what changed, and
the log never holds more than one entry per record, so memory is bounded by
the state size whatever the event rate.

Record keys:
    (cluster,)               the cluster itself (attached, detached)
    (cluster, "jobs")        its job counters
    (cluster, "node", ip)    one node
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .events import (
    JOB_ABANDONED,
    JOB_CANCELLED,
    JOB_CREATED,
    JOB_FINISHED,
    JOB_RUNNING,
    JOB_TERMINATED,
    NODE_CLOSED,
    NODE_INITIALIZED,
    ClusterAttached,
    ClusterDetached,
    Event,
    JobInfo,
    NodeInfo,
    StatusEvent,
)

INITIALIZED = "initialized"
CLOSED = "closed"

Key = tuple


def node_status_name(status: int, previous: str | None) -> str:
    """A node event's status, or the node's previous one for job/avail events."""
    if status == NODE_CLOSED:
        return CLOSED
    if status == NODE_INITIALIZED:
        return INITIALIZED
    return previous or INITIALIZED


def node_record(info: NodeInfo, status: str) -> dict[str, Any]:
    avail = info.avail_info
    return {
        "ip_addr": info.ip_addr,
        "name": info.name,
        "cpus": info.cpus,
        "avail_cpus": info.avail_cpus,
        "busy": info.busy,
        "jobs_done": info.jobs_done,
        "cpu_time": info.cpu_time,
        "tx": info.tx,
        "rx": info.rx,
        "update_time": info.update_time,
        "avail_info": avail._asdict() if avail is not None else None,
        "status": status,
    }


@dataclass
class ClusterState:
    name: str
    kind: str
    submitted: int = 0
    finished: int = 0
    failed: int = 0
    cancelled: int = 0
    terminated: int = 0
    abandoned: int = 0
    # ip -> (latest copy of the node's fields, status name)
    nodes: dict[str, tuple[NodeInfo, str]] = field(default_factory=dict)
    # job uid -> job, for jobs running now
    running: dict[int, JobInfo] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return self.finished + self.failed + self.cancelled + self.terminated + self.abandoned

    def jobs_record(self) -> dict[str, int]:
        running = len(self.running)
        done = self.done
        return {
            "submitted": self.submitted,
            "queued": max(self.submitted - done - running, 0),
            "running": running,
            "done": done,
            "finished": self.finished,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "terminated": self.terminated,
            "abandoned": self.abandoned,
        }

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "jobs": self.jobs_record(),
            "nodes": {ip: node_record(info, st) for ip, (info, st) in self.nodes.items()},
        }


class State:
    def __init__(self) -> None:
        self.clusters: dict[str, ClusterState] = {}
        self.version = 0
        # key -> version of its last change; dict order is change order
        # (a changed key is popped and re-inserted at the end).
        self._changes: dict[Key, int] = {}

    # -- changes -----------------------------------------------------------

    def _touch(self, key: Key) -> None:
        self.version += 1
        changes = self._changes
        changes.pop(key, None)
        changes[key] = self.version

    def apply(self, event: Event) -> None:
        if type(event) is StatusEvent:
            self._apply_status(event)
        elif type(event) is ClusterAttached:
            self._attach(event)
        elif type(event) is ClusterDetached:
            self._detach(event.cluster)
        else:
            raise TypeError(f"not a dispymon event: {event!r}")

    def _attach(self, ev: ClusterAttached) -> None:
        c = ClusterState(ev.cluster, ev.kind)
        for info, status in ev.nodes:
            c.nodes[info.ip_addr] = (info, node_status_name(status, None))
        for job in ev.running:
            c.running[job.uid] = job
        # dispy does not count jobs submitted before we attached; what it has
        # pending (queued + running) is the best lower bound.
        c.submitted = max(ev.pending, len(c.running))
        self._drop_keys_of(ev.cluster)
        self.clusters[ev.cluster] = c
        self._touch((ev.cluster,))

    def _detach(self, name: str) -> None:
        if self.clusters.pop(name, None) is None:
            return
        self._drop_keys_of(name)
        self._touch((name,))  # the tombstone tells views the cluster is gone

    def _drop_keys_of(self, name: str) -> None:
        for key in [k for k in self._changes if k[0] == name and len(k) > 1]:
            del self._changes[key]

    def _apply_status(self, ev: StatusEvent) -> None:
        c = self.clusters.get(ev.cluster)
        if c is None:  # an event still in flight for a detached cluster
            return
        node = ev.node
        if node is not None:
            previous = c.nodes.get(node.ip_addr)
            c.nodes[node.ip_addr] = (
                node,
                node_status_name(ev.status, previous[1] if previous else None),
            )
            self._touch((ev.cluster, "node", node.ip_addr))
        job = ev.job
        if job is None:
            return
        status = ev.status
        if status == JOB_CREATED:
            c.submitted += 1
        elif status == JOB_RUNNING:
            c.running[job.uid] = job
        elif status == JOB_FINISHED:
            c.running.pop(job.uid, None)
            c.finished += 1
        elif status == JOB_TERMINATED:
            c.running.pop(job.uid, None)
            # dispy reports a computation that raised as Terminated with the
            # exception attached; a job killed on request has none.
            if job.exception:
                c.failed += 1
            else:
                c.terminated += 1
        elif status == JOB_CANCELLED:
            c.running.pop(job.uid, None)
            c.cancelled += 1
        elif status == JOB_ABANDONED:
            c.running.pop(job.uid, None)
            c.abandoned += 1
        else:  # provisional results change no counter
            return
        # Jobs submitted before we attached may finish after; keep the counters
        # consistent (submitted >= done + running) rather than negative queues.
        floor = c.done + len(c.running)
        if c.submitted < floor:
            c.submitted = floor
        self._touch((ev.cluster, "jobs"))

    # -- reading -------------------------------------------------------------

    def snapshot(self) -> tuple[dict[str, Any], int]:
        return {name: c.record() for name, c in self.clusters.items()}, self.version

    def changes_since(self, version: int) -> tuple[dict[str, Any], int]:
        """Records changed after `version`, as a protocol delta's `clusters`."""
        out: dict[str, Any] = {}
        whole: set[str] = set()  # clusters sent whole (or as removed)
        changes = self._changes
        for key in reversed(changes):
            if changes[key] <= version:
                break
            name = key[0]
            if name in whole:
                continue
            c = self.clusters.get(name)
            if len(key) == 1:
                out[name] = c.record() if c is not None else None
                whole.add(name)
                continue
            if c is None:
                continue
            entry = out.setdefault(name, {})
            if key[1] == "jobs":
                entry["jobs"] = c.jobs_record()
            else:
                ip = key[2]
                held = c.nodes.get(ip)
                entry.setdefault("nodes", {})[ip] = node_record(*held) if held else None
        return out, self.version
