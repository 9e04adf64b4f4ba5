"""The fleet's events and snapshots as plain values (lists, strings, numbers), both ways.

A program turns the events its hub applied, and its whole state, into
plain values (`event_value`, `snapshot_value`); fleetcodec packs them. A
central turns them back into `model.events` tuples for its own hub
(`Translator`), under its own names: the program's cluster `X` becomes
`P/X`, and each job gets the central's own uid and key, mapped from the
program's. No user object crosses: a job's id goes as an int or a text;
arguments, outputs and results stay in the program (docs/fleet.md).
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterator
from typing import Any

from dispymon.model.events import (
    JOB_DONE_STATUSES,
    JOB_RUNNING,
    NODE_CLOSED,
    NODE_INITIALIZED,
    AvailInfo,
    ClusterAttached,
    ClusterDetached,
    Event,
    JobInfo,
    NodeChanged,
    NodeInfo,
    StatusEvent,
)
from dispymon.model.jobkeys import JobKeys
from dispymon.model.state import CLOSED, DEALLOCATED, State
from dispymon.model.text import safe_str

STATUS, ATTACHED, DETACHED, NODE_CHANGED = 0, 1, 2, 3
QUEUED_IN_SNAPSHOT = 10_000  # queued jobs listed per cluster in a snapshot (the rest are counted)
TEXT_LIMIT = 2000  # characters of a job's id text and exception text
UIDS_KEPT = 1_000_000  # program uids mapped at once per program (live jobs; the oldest go first beyond)


# -- the program's side: events and state to values -------------------------------


def _node(info: NodeInfo | None) -> list[Any] | None:
    if info is None:
        return None
    avail = info.avail_info
    return [*info[:10], list(avail) if avail is not None else None]


def _job_id(value: Any) -> Any:
    if type(value) is int and -(2**63) <= value < 2**64:
        return value
    return safe_str(value, TEXT_LIMIT)


def _job(job: JobInfo | None) -> list[Any] | None:
    if job is None:
        return None
    exc = job.exception
    return [
        job.uid,
        _job_id(job.id),
        job.ip_addr,
        job.start_time,
        job.end_time,
        exc[-TEXT_LIMIT:] if exc else exc,
        job.key,
        job.created,
        job.pinned,
        job.depends,
    ]


def event_value(event: Event) -> list[Any] | None:
    """An event the program applied, as a plain value; None: not for the fleet (a
    setting, the audit log, a clock tick: each dashboard has its own)."""
    kind = type(event)
    if kind is StatusEvent:
        return [STATUS, event.cluster, event.status, _node(event.node), _job(event.job)]  # type: ignore[union-attr]
    if kind is ClusterAttached:
        ev: ClusterAttached = event  # type: ignore[assignment]
        return [
            ATTACHED,
            ev.cluster,
            ev.kind,
            [[_node(n), s] for n, s in ev.nodes],
            [_job(j) for j in ev.running],
            ev.pending,
            ev.done,
            [_job(j) for j in ev.queued[:QUEUED_IN_SNAPSHOT]],
            None,
        ]
    if kind is ClusterDetached:
        return [DETACHED, event.cluster]  # type: ignore[union-attr]
    if kind is NodeChanged:
        nc: NodeChanged = event  # type: ignore[assignment]
        return [NODE_CHANGED, nc.cluster, nc.ip_addr, nc.status, nc.cpus]
    return None


def snapshot_value(state: State) -> list[list[Any]]:
    """The program's whole state: one `ATTACHED` value per cluster, with its counters."""
    out = []
    for c in state.clusters.values():
        nodes = []
        for info, status in c.nodes.values():
            nodes.append([_node(info), NODE_CLOSED if status == CLOSED else NODE_INITIALIZED, status])
        queued = list(itertools.islice(c.queued.values(), QUEUED_IN_SNAPSHOT))
        counts = [c.submitted, c.finished, c.failed, c.cancelled, c.terminated, c.abandoned, c.earlier]
        running = [_job(j) for j in c.running.values()]
        out.append([ATTACHED, c.name, c.kind, nodes, running, 0, 0, [_job(j) for j in queued], counts])
    return out


# -- the central's side: values to events, under the central's names ---------------


def cluster_name(program: str, cluster: str) -> str:
    return f"{program}/{cluster}"


class WireError(ValueError):
    """A value that is not what a dispymon program publishes."""


class Translator:
    """One program's values into the central's events (names, uids and keys mapped)."""

    _uids = itertools.count(1)  # one sequence for every program: uids are unique on the central

    def __init__(self, program: str, keys: JobKeys) -> None:
        self.program = program
        self.keys = keys
        # the program's uid -> the central's, for the jobs it has live (bounded)
        self._uid: collections.OrderedDict[int, int] = collections.OrderedDict()
        # the central's uid -> (program's cluster, program's key): what a command names
        self.origin: dict[int, tuple[str, int]] = {}
        self.clusters: set[str] = set()  # the program's clusters, by the central's names

    def reset(self) -> None:
        """A new epoch or a snapshot: the program's uids start over."""
        for uid in self._uid.values():
            self.origin.pop(uid, None)
        self._uid.clear()

    def _central_uid(self, uid: int, ended: bool) -> int:
        mine = self._uid.pop(uid, None) if ended else self._uid.get(uid)
        if mine is None:
            mine = next(self._uids)
            if not ended:
                self._uid[uid] = mine
                if len(self._uid) > UIDS_KEPT:
                    _, old = self._uid.popitem(last=False)
                    self.origin.pop(old, None)
        return mine

    def _node(self, value: Any) -> NodeInfo | None:
        if value is None:
            return None
        avail = value[10]
        return NodeInfo._make([*value[:10], AvailInfo(*avail) if avail is not None else None])

    def _job(self, value: Any, cluster: str, status: int | None) -> JobInfo | None:
        if value is None:
            return None
        uid, job_id, ip, start, end, exc, key, created, pinned, depends = value
        ended = status in JOB_DONE_STATUSES
        mine = self._central_uid(uid, ended)
        name = cluster_name(self.program, cluster)
        my_key = self.keys.end(mine, created, name) if ended else self.keys.key(mine, created, name)
        if ended:
            self.origin.pop(mine, None)
        else:
            self.origin[mine] = (cluster, key)
        return JobInfo(
            mine, job_id, ip, start, end, (), {}, exc, handle=(self.program, cluster, key), key=my_key,
            created=created, pinned=pinned, depends=bool(depends),
        )  # fmt: skip

    def events(self, values: list[Any]) -> Iterator[Event]:
        for value in values:
            try:
                yield from self._event(value)
            except (TypeError, ValueError, IndexError) as exc:
                raise WireError(f"a bad event from program {self.program!r}: {type(exc).__name__}: {exc}") from None

    def _event(self, value: list[Any]) -> Iterator[Event]:
        kind = value[0]
        if kind == STATUS:
            _, cluster, status, node, job = value
            yield StatusEvent(
                cluster_name(self.program, cluster),
                status,
                self._node(node),
                self._job(job, cluster, status if job is not None else None),
            )
        elif kind == ATTACHED:
            yield from self._attached(value)
        elif kind == DETACHED:
            name = cluster_name(self.program, value[1])
            self.clusters.discard(name)
            self.keys.forget(name)
            yield ClusterDetached(name)
        elif kind == NODE_CHANGED:
            _, cluster, ip, status, cpus = value
            yield NodeChanged(cluster_name(self.program, cluster), ip, status, cpus)
        else:
            raise WireError(f"unknown event kind {kind!r}")

    def _attached(self, value: list[Any]) -> Iterator[Event]:
        _, cluster, kind, nodes, running, pending, done, queued, counts = value
        name = cluster_name(self.program, cluster)
        self.clusters.add(name)
        deallocated = []
        node_infos = []
        for item in nodes:
            info = self._node(item[0])
            assert info is not None
            node_infos.append((info, int(item[1])))
            if len(item) > 2 and item[2] == DEALLOCATED:
                deallocated.append(info.ip_addr)
        running_jobs = tuple(j for j in (self._job(v, cluster, JOB_RUNNING) for v in running) if j is not None)
        queued_jobs = tuple(j for j in (self._job(v, cluster, None) for v in queued) if j is not None)
        yield ClusterAttached(
            name, kind, tuple(node_infos), running_jobs, int(pending), int(done), queued_jobs,
            program=self.program, counts=tuple(counts) if counts is not None else None,
        )  # fmt: skip
        for ip in deallocated:
            yield NodeChanged(name, ip, status=DEALLOCATED)

    def snapshot(self, values: list[Any]) -> Iterator[Event]:
        """A snapshot: the program's clusters replaced by those it lists."""
        self.reset()
        before = set(self.clusters)
        for name in before:  # their live jobs' keys: the snapshot's jobs get new ones
            self.keys.forget(name)
        self.clusters.clear()
        attached = list(self.events(values))
        for name in sorted(before - self.clusters):
            yield ClusterDetached(name)
        yield from attached

    def forget(self) -> Iterator[Event]:
        """The program is gone: its clusters leave."""
        self.reset()
        for name in sorted(self.clusters):
            self.keys.forget(name)
            yield ClusterDetached(name)
        self.clusters.clear()
