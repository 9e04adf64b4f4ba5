"""The built-in alert rules: their tunables, their checks, and the pure evaluation of each.

Pure: no loop, no I/O. `evaluate` reads the state (and the engine's small
windows: failures per cluster, the last time each queue moved) at a time
`now` and answers the conditions that hold, each under a key that stays the
same while the condition lasts (a node, a cluster, a job); the engine
(engine.py) turns a new key into a firing alert and a key gone into a
resolved one. Rule names are the protocol's (protocol.ALERT_RULES).

Thresholds compare the time since the last sign of life with the rule's
`seconds`: a node's avail info (node_stale), a job starting or ending on a
busy node (node_stuck; the state keeps both times, model/state.py
NodeHealth), a job's start (long_job), a job starting in a cluster with
queued jobs (queue_stalled).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dispymon.model.events import JobInfo
from dispymon.model.state import CLOSED, State
from dispymon.model.text import Late
from dispymon.transport.protocol import ALERT_RULES

DAY = 86_400.0


class Param(NamedTuple):
    kind: type  # float, int or bool
    default: float | int | bool
    low: float = 0.0
    high: float = 0.0
    what: str = ""

    def check(self, value: Any) -> float | int | bool:
        """The value, checked (ValueError saying what it must be)."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"must be a number from {self.low:g} to {self.high:g}")
        if self.kind is int and value != int(value):
            raise ValueError(f"must be a whole number from {self.low:g} to {self.high:g}")
        if not self.low <= value <= self.high:
            raise ValueError(f"must be from {self.low:g} to {self.high:g}")
        return int(value) if self.kind is int else value


class RuleSpec(NamedTuple):
    name: str
    title: str
    severity: str
    params: dict[str, Param]
    per_cluster: bool  # may a cluster override its params


SECONDS = Param(float, 60.0, 1, 30 * DAY, "seconds")
SPECS: dict[str, RuleSpec] = {
    spec.name: spec
    for spec in (
        RuleSpec(
            "node_closed", "A node closed (not by a command)", "critical", {"seconds": Param(float, 5.0, 0, DAY)}, False
        ),
        RuleSpec(
            "node_stale",
            "A node stale: its pulses stopped",
            "warning",
            {"seconds": SECONDS._replace(default=30.0)},
            True,
        ),
        RuleSpec(
            "node_stuck",
            "A node busy with no job starting or ending",
            "warning",
            {"seconds": SECONDS._replace(default=300.0)},
            True,
        ),
        RuleSpec(
            "failure_rate",
            "A cluster's failure rate",
            "warning",
            {
                "percent": Param(float, 20.0, 0.1, 100),
                "min_jobs": Param(int, 10, 1, 1_000_000),
                "minutes": Param(int, 5, 1, 1440),
            },
            True,
        ),
        RuleSpec(
            "long_job",
            "A job running longer than its limit",
            "warning",
            {"seconds": SECONDS._replace(default=3600.0), "terminate": Param(bool, False)},
            True,
        ),
        RuleSpec(
            "queue_stalled",
            "A queue not draining (jobs queued, none started)",
            "warning",
            {"seconds": SECONDS._replace(default=300.0)},
            True,
        ),
        RuleSpec("history_db", "The history database failing to write", "critical", {}, False),
    )
}
assert tuple(SPECS) == ALERT_RULES


def check_params(rule: str, params: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """`params` checked against the rule's tunables: ValueError naming the key (`where` + name)."""
    spec = SPECS[rule]
    out: dict[str, Any] = {}
    for name, value in params.items():
        param = spec.params.get(name)
        if param is None:
            known = ", ".join(spec.params) or "none"
            raise ValueError(f"{where}{name}: {rule} has no such setting (settings: {known})")
        try:
            out[name] = param.check(value)
        except ValueError as exc:
            raise ValueError(f"{where}{name}: {exc}") from None
    return out


@dataclass
class RuleState:
    """A rule as set now: on or off, its params and each cluster's overrides."""

    name: str
    enabled: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of(self, cluster: str) -> dict[str, Any]:
        """The params that apply to `cluster`."""
        override = self.clusters.get(cluster)
        return {**self.params, **override} if override else self.params


def default_rules(stale_after: float = 30.0, stuck_after: float = 300.0) -> dict[str, RuleState]:
    """Every rule, on, with its defaults (node_stale/node_stuck: the state's --stale-after/--stuck-after)."""
    rules = {
        name: RuleState(name, True, {p: v.default for p, v in spec.params.items()}) for name, spec in SPECS.items()
    }
    rules["node_stale"].params["seconds"] = stale_after
    rules["node_stuck"].params["seconds"] = stuck_after
    return rules


# -- the engine's windows -----------------------------------------------------------------

BUCKET = 10  # seconds per failure-rate bucket: at most 1440 * 6 per cluster


class FailureWindow:
    """A cluster's ended jobs and failures in BUCKET-second buckets (the last day at most)."""

    __slots__ = ("buckets",)

    def __init__(self) -> None:
        self.buckets: collections.deque[list[int]] = collections.deque()  # [bucket start, ended, failed]

    def add(self, now: float, ended: int, failed: int) -> None:
        start = int(now) // BUCKET * BUCKET
        buckets = self.buckets
        if buckets and buckets[-1][0] == start:
            buckets[-1][1] += ended
            buckets[-1][2] += failed
        else:
            buckets.append([start, ended, failed])
            while buckets and buckets[0][0] < start - DAY:
                buckets.popleft()

    def counts(self, now: float, minutes: int) -> tuple[int, int]:
        """(ended, failed) in the last `minutes` (to the bucket)."""
        since = now - minutes * 60
        ended = failed = 0
        for start, e, f in reversed(self.buckets):
            if start + BUCKET <= since:
                break
            ended += e
            failed += f
        return ended, failed


@dataclass
class QueueWatch:
    """When a cluster's queue last moved: a job started, or nothing was queued."""

    started: int = 0  # jobs that started (ended after running, counted by the engine, + running now)
    moved: float = 0.0


def _status(state: State, key: tuple[str, str]) -> str | None:
    c = state.clusters.get(key[0])
    held = c.nodes.get(key[1]) if c is not None else None
    return held[1] if held is not None else None


SKEW = 5.0  # seconds a job's start may be before the event that tells it started


@dataclass
class LongScan:
    """long_job's last look at a cluster's running jobs. Reading 30,000 running jobs' starts takes
    tens of ms on this machine, so it is done only when some job may have gone over the limit: at
    `due`, the earliest start of the jobs under the limit then (or the scan's own time, less SKEW,
    for jobs that start later) plus the limit. Between scans only the jobs over it are looked at."""

    due: float
    limit: float
    over: list[int]


def _over(
    running: dict[int, JobInfo], now: float, limit: float, scans: dict[str, LongScan] | None, name: str
) -> list[JobInfo]:
    """The running jobs that started more than `limit` seconds before `now`."""
    scan = scans.get(name) if scans is not None else None
    if scan is None or scan.limit != limit or now >= scan.due:
        oldest = now - limit
        over = []
        earliest = now - SKEW
        for uid, job in running.items():
            start = job.start_time
            if start is None:
                continue
            if start < oldest:
                over.append(uid)
            elif start < earliest:
                earliest = start
        scan = LongScan(earliest + limit, limit, over)
        if scans is not None:
            scans[name] = scan
    oldest = now - limit  # a uid run again (rescheduled) since the scan has a later start
    return [job for job in map(running.get, scan.over) if job is not None and (job.start_time or now) < oldest]


# -- evaluation ------------------------------------------------------------------------------


class Condition(NamedTuple):
    severity: str
    cluster: str | None
    node: str | None
    job: dict[str, Any] | None
    summary: str
    handle: Any = None  # long_job: the job (for terminate)


class LongJob:
    """long_job's condition for one job, its words made only when read: a cluster may have
    hundreds of thousands of jobs over the limit (`demo --simulate 100000`), every one
    evaluated each second, and the engine reads a condition only when it fires."""

    __slots__ = ("info", "cluster", "now", "limit", "terminate")
    severity = "warning"

    def __init__(self, info: JobInfo, cluster: str, now: float, limit: float, terminate: bool) -> None:
        self.info, self.cluster, self.now, self.limit, self.terminate = info, cluster, now, limit, terminate

    @property
    def node(self) -> str | None:
        return self.info.ip_addr

    @property
    def job(self) -> dict[str, Any]:
        return job_ref(self.info)

    @property
    def summary(self) -> str:
        info = self.info
        running = self.now - (info.start_time or self.now)
        return f"job {self.job['id']} on {info.ip_addr} running for {_seconds(running)} (limit {_seconds(self.limit)})"

    @property
    def handle(self) -> Any:
        return self.info if self.terminate else None


def job_ref(job: JobInfo) -> dict[str, Any]:
    """The job as an Alert names it: its key and its id as text (text only when making it runs no user code)."""
    value = job.id.current() if isinstance(job.id, Late) else job.id
    text = str(value)[:200] if type(value) in (int, str, float) else f"#{job.key or job.uid}"
    return {"key": job.key or job.uid, "id": text}


def _seconds(value: float) -> str:
    return f"{value:.0f} s"


def evaluate(
    state: State,
    now: float,
    rules: Mapping[str, RuleState],
    failures: Mapping[str, FailureWindow],
    queues: Mapping[str, QueueWatch],
    store: Mapping[str, Any] | None = None,
    scans: dict[str, LongScan] | None = None,
    closed_since: dict[tuple[str, str], float] | None = None,
) -> dict[tuple, Condition | LongJob]:
    """Every condition that holds at `now`, by key (see the module's doc). `scans` and
    `closed_since` (when each closed node was first seen closed) are the engine's, kept between
    calls; without them every call looks as if it were the first (node_closed: closed since now)."""
    out: dict[tuple, Condition | LongJob] = {}
    if closed_since is not None:  # forget the nodes no longer closed
        for key in [k for k in closed_since if _status(state, k) != CLOSED]:
            del closed_since[key]
    closed_rule, stale_rule, stuck_rule = rules["node_closed"], rules["node_stale"], rules["node_stuck"]
    by_command = state.audit_log.closed_by_command
    for name, c in state.clusters.items():
        # -- the nodes: a comprehension per rule (10,000 nodes a second: the alerts benchmark), then a
        # look at the few that match. Closed nodes are neither stale nor stuck (state.py).
        nodes, health = c.nodes, c.health
        closed = [ip for ip, held in nodes.items() if held[1] == CLOSED]
        if closed_rule.enabled:
            # closed for `seconds` first: a program that closes its cluster (every node Closed) and
            # detaches it at its end fires nothing
            grace = closed_rule.params["seconds"]
            for ip in closed:
                since = now if closed_since is None else closed_since.setdefault((name, ip), now)
                if now - since >= grace and (name, ip) not in by_command:
                    out[("node_closed", name, ip)] = Condition(
                        "critical", name, ip, None, f"node {ip} closed (cluster {name})"
                    )
        if stale_rule.enabled:
            cut = now - stale_rule.of(name)["seconds"]
            for ip in [ip for ip, h in health.items() if h.avail is not None and h.avail < cut]:
                held = nodes.get(ip)
                if held is not None and held[1] != CLOSED:
                    seconds = now - health[ip].avail  # type: ignore[operator]
                    out[("node_stale", name, ip)] = Condition(
                        "warning", name, ip, None, f"node {ip} stale: no pulse for {_seconds(seconds)}"
                    )
        if stuck_rule.enabled:
            # `progress` follows idle nodes (state.py): only a busy node falls behind
            cut = now - stuck_rule.of(name)["seconds"]
            for ip in [ip for ip, h in health.items() if h.progress < cut]:
                held = nodes.get(ip)
                if held is not None and held[1] != CLOSED:
                    seconds = now - health[ip].progress
                    out[("node_stuck", name, ip)] = Condition(
                        "warning", name, ip, None, f"node {ip} busy, no job started or ended for {_seconds(seconds)}"
                    )
        # -- the cluster's jobs
        rule = rules["failure_rate"]
        window = failures.get(name)
        if rule.enabled and window is not None:
            p = rule.of(name)
            ended, failed = window.counts(now, p["minutes"])
            if ended >= p["min_jobs"] and failed * 100 >= p["percent"] * ended:
                out[("failure_rate", name)] = Condition(
                    "warning",
                    name,
                    None,
                    None,
                    f"cluster {name}: {failed} of {ended} jobs failed ({failed * 100 / ended:.0f} %) "
                    f"in the last {p['minutes']} min",
                )
        rule = rules["long_job"]
        if rule.enabled and c.running:
            p = rule.of(name)
            limit = p["seconds"]
            terminate = bool(p["terminate"])
            for job in _over(c.running, now, limit, scans, name):
                out[("long_job", name, job.key or job.uid)] = LongJob(job, name, now, limit, terminate)
        rule = rules["queue_stalled"]
        watch = queues.get(name)
        if rule.enabled and watch is not None:
            limit = rule.of(name)["seconds"]
            queued = c.jobs_record()["queued"]
            if queued > 0 and now - watch.moved > limit:
                out[("queue_stalled", name)] = Condition(
                    "warning",
                    name,
                    None,
                    None,
                    f"cluster {name}: {queued} jobs queued and none started for {_seconds(now - watch.moved)}",
                )
    if rules["history_db"].enabled and store is not None and not store.get("healthy", True):
        out[("history_db",)] = Condition(
            "critical",
            None,
            None,
            None,
            f"the history database fails to write: {store.get('last_error') or 'unknown error'}",
        )
    return out


def watch_queues(state: State, now: float, queues: dict[str, QueueWatch], started: Mapping[str, int]) -> None:
    """Move each cluster's QueueWatch: `started` counts the jobs that ended after running (engine's)."""
    for name, c in state.clusters.items():
        watch = queues.get(name)
        total = started.get(name, 0) + len(c.running)
        if watch is None:
            queues[name] = QueueWatch(total, now)
            continue
        if total > watch.started or c.jobs_record()["queued"] == 0:
            watch.moved = now
        watch.started = total
    for name in [n for n in queues if n not in state.clusters]:
        del queues[name]
