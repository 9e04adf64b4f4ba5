"""`/metrics`: the state in Prometheus' text exposition format (version 0.0.4).

Written by hand, so the product needs no Prometheus library: `render` reads
the state, the job-duration histogram and the WebSocket counters, and
returns the text. Counters are per process (they restart at zero with the
server, which Prometheus' rate() handles).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterable
from typing import Any

from dispymon.features.history import OUTCOMES
from dispymon.model.events import JobInfo
from dispymon.model.state import CLOSED, NODE_STATUSES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class DurationHistogram:
    """Job durations (start to end, jobs that ran), per cluster; a History listener."""

    def __init__(self, buckets: tuple[float, ...] = DURATION_BUCKETS) -> None:
        self.buckets = buckets
        # cluster -> [counts per bucket (not cumulative), sum, count]
        self.clusters: dict[str, list[Any]] = {}

    def add_jobs(self, cluster: str, jobs: list[JobInfo], seen: float) -> None:
        """Jobs of `cluster` that ended (seen at `seen`): each duration as the
        history records it (history.job_record: end or `seen`, minus start;
        0 if negative; jobs that never ran have none).

        A drain ends hundreds of jobs: their durations are sorted once and
        each bucket's count read by bisection (C loops), rather than each
        duration placed on its own."""
        durations = [
            (seen if j.end_time is None else j.end_time) - j.start_time for j in jobs if j.start_time is not None
        ]
        if not durations:
            return
        durations.sort()
        held = self.clusters.get(cluster)
        if held is None:
            held = self.clusters[cluster] = [[0] * len(self.buckets), 0.0, 0]
        counts = held[0]
        below = 0  # durations up to the previous bound (negative ones count as 0: the first bucket)
        for i, bound in enumerate(self.buckets):
            upto = bisect.bisect_right(durations, bound)
            counts[i] += upto - below
            below = upto
        held[1] += math.fsum(durations[bisect.bisect_left(durations, 0.0) :])
        held[2] += len(durations)

    def ran(self, cluster: str) -> int:
        """How many jobs of `cluster` ended after running (each one counted above)."""
        held = self.clusters.get(cluster)
        return 0 if held is None else held[2]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]], suffix: str = ""
    ) -> None:
        # a counter's family is named with its _total in format 0.0.4 (as prometheus_client writes it)
        name += suffix
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def written(self, name: str, kind: str, help_text: str, samples: list[str]) -> None:
        """A family whose samples are written already, each as `{labels} value` (labels escaped)."""
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        self.lines += [name + sample for sample in samples]

    def histogram(self, name: str, help_text: str, hist: DurationHistogram) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} histogram")
        for cluster, (counts, total, count) in sorted(hist.clusters.items()):
            cumulative = 0
            for bound, n in zip(hist.buckets, counts, strict=True):
                cumulative += n
                self.lines.append(f"{name}_bucket{_labels({'cluster': cluster, 'le': _number(bound)})} {cumulative}")
            self.lines.append(f"{name}_bucket{_labels({'cluster': cluster, 'le': '+Inf'})} {count}")
            self.lines.append(f"{name}_sum{_labels({'cluster': cluster})} {_number(total)}")
            self.lines.append(f"{name}_count{_labels({'cluster': cluster})} {count}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render(
    state: Any,
    durations: DurationHistogram,
    stats: Any,
    clients: int,
    events_applied: int = 0,
    store: dict[str, Any] | None = None,
    jobs: dict[str, int] | None = None,
    alerts: Any = None,
) -> str:
    """The exposition text. `stats`: the server's WebSocket counters (server.Stats);
    `store`: the history database's `Store.status()` (None without --history-db: no such families);
    `jobs`: the jobs feature's `stats()` (kept outputs and arguments, the guard)."""
    out = Exposition()
    _cluster_families(out, state)
    _alerting_families(out, state, durations, time.time())
    _server_families(out, durations, stats, clients, events_applied)
    if jobs is not None:
        _jobs_families(out, jobs)
    if store is not None:
        _store_families(out, store)
    if alerts is not None:
        _alerts_families(out, alerts)
    fleet = getattr(state, "fleet", None)
    if fleet is not None:
        _fleet_families(out, fleet)
    return out.text()


def _alerts_families(out: Exposition, engine: Any) -> None:
    """The alerts engine (features/alerts): what fires by rule, and the webhooks' deliveries."""
    out.family(
        "dispymon_alerts_firing",
        "gauge",
        "Alerts firing now, by rule (dispymon's own rules; see the Alerts page).",
        [({"rule": rule}, n) for rule, n in engine.firing_by_rule().items()],
    )
    hooks = engine.webhooks
    out.family(
        "dispymon_webhook_deliveries",
        "counter",
        "Alert webhook deliveries, by outcome (failed: after every retry; dropped: the queue was full).",
        [
            ({"outcome": o}, n)
            for o, n in (("delivered", hooks.delivered), ("failed", hooks.failed), ("dropped", hooks.dropped))
        ],
        "_total",
    )


def _fleet_families(out: Exposition, fleet: dict[str, Any]) -> None:
    """The fleet (docs/fleet.md): the broker, and a program's drops or a central's programs."""
    out.family("dispymon_fleet_broker_reachable", "gauge", "1 while the fleet's broker answers.",
               [({}, int(bool(fleet.get("reachable"))))])  # fmt: skip
    if fleet.get("role") == "program":
        out.family(
            "dispymon_fleet_dropped_events",
            "counter",
            "Events this program's publisher dropped from a full backlog (a snapshot republished covers them).",
            [({}, int(fleet.get("dropped", 0)))],
            "_total",
        )
        return
    programs = sorted((fleet.get("programs") or {}).items())
    out.family("dispymon_fleet_program_online", "gauge", "1 while a program's heartbeat comes.",
               [({"program": p}, int(bool(v["online"]))) for p, v in programs])  # fmt: skip
    out.family("dispymon_fleet_program_resyncs", "counter", "Times this central resynced a program from a snapshot.",
               [({"program": p}, int(v["resyncs"])) for p, v in programs], "_total")  # fmt: skip
    out.family("dispymon_fleet_program_dropped_events", "counter",
               "Events a program's publisher dropped (its heartbeat's count).",
               [({"program": p}, int(v["dropped"])) for p, v in programs], "_total")  # fmt: skip


def _jobs_families(out: Exposition, jobs: dict[str, int]) -> None:
    """What ended jobs leave in memory (features/jobs.py) and the guard of users' code (runtime/guard.py)."""
    out.family(
        "dispymon_outputs_bytes",
        "gauge",
        "Bytes of ended jobs' outputs, tracebacks and texts kept in memory (at most --outputs-budget).",
        [({}, jobs["outputs_bytes"])],
    )
    out.family(
        "dispymon_resubmit_args_bytes",
        "gauge",
        "Bytes of pickled arguments kept to resubmit ended jobs (at most --resubmit-budget).",
        [({}, jobs["resubmit_args_bytes"])],
    )
    out.family(
        "dispymon_job_details_kept",
        "gauge",
        "Ended jobs whose details (outputs, traceback, texts) are kept in memory.",
        [({}, jobs["details_kept"])],
    )
    out.family(
        "dispymon_job_details_evicted",
        "counter",
        "Ended jobs' details let go to stay within --outputs-budget.",
        [({}, jobs["details_evicted"])],
        "_total",
    )
    out.family(
        "dispymon_job_texts_dropped",
        "counter",
        "Texts of results and arguments not made (the guard was behind, off, or cut a call off).",
        [({}, jobs["texts_dropped"])],
        "_total",
    )
    out.family(
        "dispymon_guard_stuck_threads",
        "gauge",
        "Threads stuck in a user's __str__/__repr__ or pickling that does not return.",
        [({}, jobs["guard_stuck_threads"])],
    )


def _cluster_families(out: Exposition, state: Any) -> None:
    """Nodes and jobs, per cluster."""
    clusters = sorted(state.clusters.items())
    nodes_by_status = []
    cpus, busy = [], []
    for name, c in clusters:
        counts = dict.fromkeys(NODE_STATUSES, 0)
        for ip, (info, status) in sorted(c.nodes.items()):
            counts[status] = counts.get(status, 0) + 1
            cpus.append(({"cluster": name, "node": ip}, info.cpus))
            busy.append(({"cluster": name, "node": ip}, info.busy))
        nodes_by_status += [({"cluster": name, "status": s}, n) for s, n in counts.items()]
    out.family("dispymon_nodes", "gauge", "Nodes of a cluster, by status.", nodes_by_status)
    out.family("dispymon_node_cpus", "gauge", "CPUs dispy uses on a node.", cpus)
    out.family("dispymon_node_busy", "gauge", "CPUs of a node running jobs now.", busy)
    jobs = [(name, c.jobs_record()) for name, c in clusters]
    out.family(
        "dispymon_jobs_submitted",
        "counter",
        "Jobs submitted to a cluster (seen by dispymon).",
        [({"cluster": name}, j["submitted"]) for name, j in jobs],
        "_total",
    )
    out.family(
        "dispymon_jobs",
        "counter",
        "Jobs done, by outcome.",
        [({"cluster": name, "outcome": o}, j[o]) for name, j in jobs for o in OUTCOMES],
        "_total",
    )
    out.family(
        "dispymon_jobs_running", "gauge", "Jobs running now.", [({"cluster": name}, j["running"]) for name, j in jobs]
    )
    out.family(
        "dispymon_jobs_queued",
        "gauge",
        "Jobs submitted and not yet running.",
        [({"cluster": name}, j["queued"]) for name, j in jobs],
    )


def _alerting_families(out: Exposition, state: Any, durations: DurationHistogram, now: float) -> None:
    """What deploy/prometheus/alerts.yml needs beyond the families above: each
    node's closed/stuck/stale flags (the state's, as the pages show them), the
    jobs that started (for "a queue not draining") and the oldest running job's
    age (for "a job running longer than T"). Read at scrape time only: the hot
    path keeps no extra counter.

    Three lines per node: each node's labels are written once and shared by
    its three lines, which are plain strings (10,000 nodes: no dict or tuple
    per line for the escaping and the garbage collector to go through)."""
    closed: list[str] = []
    stuck: list[str] = []
    stale: list[str] = []
    started, oldest = [], []
    for name, c in sorted(state.clusters.items()):
        cluster = _escape(name)
        nodes, health = c.nodes, c.health
        for ip in sorted(nodes):
            labels = f'{{cluster="{cluster}",node="{_escape(ip)}"}} '
            h = health.get(ip)
            closed.append(labels + ("1" if nodes[ip][1] == CLOSED else "0"))
            stuck.append(labels + ("1" if h is not None and h.stuck else "0"))
            stale.append(labels + ("1" if h is not None and h.stale else "0"))
        # A job that started has either ended after running (the durations
        # histogram counts it: it has a start time) or is running now.
        started.append(({"cluster": name}, durations.ran(name) + len(c.running)))
        starts = [j.start_time for j in c.running.values() if j.start_time is not None]
        oldest.append(({"cluster": name}, max(now - min(starts), 0.0) if starts else 0))
    out.written("dispymon_node_closed", "gauge", "1 if dispy reports the node closed, else 0.", closed)
    out.written(
        "dispymon_node_stuck", "gauge", "1 if the node is busy with no job starting or ending for --stuck-after.", stuck
    )
    out.written("dispymon_node_stale", "gauge", "1 if the node's CPU/memory info stopped for --stale-after.", stale)
    out.family(
        "dispymon_jobs_started",
        "counter",
        "Jobs that started running (those running now and those that ended after running).",
        started,
        "_total",
    )
    out.family(
        "dispymon_job_oldest_running_seconds",
        "gauge",
        "How long the longest-running job now running has run (0 with none running).",
        oldest,
    )


def _server_families(
    out: Exposition, durations: DurationHistogram, stats: Any, clients: int, events_applied: int
) -> None:
    """Job durations, browsers and events: the server's own."""
    out.histogram("dispymon_job_duration_seconds", "Time from a job's start to its end (jobs that ran).", durations)
    out.family("dispymon_websocket_clients", "gauge", "Browsers connected now.", [({}, clients)])
    out.family(
        "dispymon_websocket_connections",
        "counter",
        "WebSocket connections accepted.",
        [({}, stats.connections)],
        "_total",
    )
    out.family(
        "dispymon_websocket_closed_for_abuse",
        "counter",
        "Connections closed for flooding or not reading their results.",
        [({}, stats.closed_for_abuse)],
        "_total",
    )
    out.family(
        "dispymon_websocket_bad_frames",
        "counter",
        "Frames that were not protocol messages (connection closed).",
        [({}, stats.bad_frames)],
        "_total",
    )
    out.family(
        "dispymon_websocket_resyncs",
        "counter",
        "Fresh snapshots asked for by browsers (resync).",
        [({}, getattr(stats, "resyncs", 0))],
        "_total",
    )
    out.family("dispymon_events", "counter", "Cluster events applied to the state.", [({}, events_applied)], "_total")


def _store_families(out: Exposition, store: dict[str, Any]) -> None:
    """The history database (--history-db)."""
    out.family(
        "dispymon_history_db_healthy",
        "gauge",
        "1 if the last write to the history database succeeded, else 0.",
        [({}, store["healthy"])],
    )
    out.family(
        "dispymon_history_db_rows_written",
        "counter",
        "Rows written to the history database.",
        [({}, store["rows_written"])],
        "_total",
    )
    out.family(
        "dispymon_history_db_errors",
        "counter",
        "Failed attempts to open or write the history database.",
        [({}, store["errors"])],
        "_total",
    )
    out.family(
        "dispymon_history_db_dropped",
        "counter",
        "Rows that will never reach the history database (queue full, or refused by it).",
        [({}, store["dropped"])],
        "_total",
    )
    out.family(
        "dispymon_history_db_reopened",
        "counter",
        "Times the history database's file was found deleted or replaced and opened again.",
        [({}, store["reopened"])],
        "_total",
    )
    out.family(
        "dispymon_history_db_queued",
        "gauge",
        "Rows waiting to be written to the history database.",
        [({}, store["queued"])],
    )
    if "bytes" in store:  # issue 18's store (job details on disk, within --history-bytes)
        out.family(
            "dispymon_history_db_bytes",
            "gauge",
            "Bytes of the history database's file (at most --history-bytes).",
            [({}, store["bytes"])],
        )
        out.family(
            "dispymon_history_db_details_kept",
            "gauge",
            "Ended jobs' details (outputs, traceback, texts) in the history database.",
            [({}, store.get("details_kept", 0))],
        )
        out.family(
            "dispymon_history_db_details_dropped",
            "counter",
            "Job details dropped from the history database or before reaching it (budget, queue full).",
            [({}, store.get("details_dropped", 0))],
            "_total",
        )
