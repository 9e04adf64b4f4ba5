"""Reading the dashboard's data without a WebSocket, and the read-only commands.

`install` wires the job history, the chart series, the optional SQLite
store and the metrics into one server: one hub observer feeds history and
series the same events, in the same order, as the state; it registers the
REST routes (`/api/...`, JSON, GET only), `/metrics`, and the read-only
WebSocket commands `history`, `history_summary` and `series`. Every route
goes through server.py's `guard`, like the pages and `/ws`: a viewer may read.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import operator
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from dispymon.transport.codec import Packed, pack
from dispymon.commands.registry import CommandError, Commands, Check, command, integer, text
from dispymon.model.events import ClusterAttached, ClusterDetached, HealthCheck, StatusEvent
from dispymon.model.state import State
from dispymon.features.history import OUTCOMES, History
from dispymon.runtime.hub import Batch, Hub
from dispymon.transport.limits import GATE
from dispymon.features.metrics import CONTENT_TYPE, DurationHistogram, render
from dispymon.features.persist import Store
from dispymon.features.series import Series, busy_sample


# an ended job's event's cluster and job, and a job's node: read by C loops
_CLUSTER = operator.attrgetter("cluster")
_JOB = operator.attrgetter("job")
_NODE = operator.attrgetter("ip_addr")


@dataclass
class Insight:
    hub: Hub
    history: History
    series: Series
    durations: DurationHistogram
    stats: Any  # server.Stats
    connections: weakref.WeakSet
    store: Store | None = None
    clock: Callable[[], float] = field(default=time.time)
    # Encoded answers of the read-only commands (`answer`), newest last
    answers: collections.OrderedDict[tuple, Packed] = field(default_factory=collections.OrderedDict)
    answers_bytes: int = 0

    MAX_ANSWERS = 16
    MAX_ANSWERS_BYTES = 8 * 2**20

    def answer(self, question: tuple, make: Callable[[], Any]) -> Packed:
        """`make()`, encoded, shared by every asker of `question` while its data is unchanged.

        Browsers asking the same (a page of the history, a chart) while nothing
        changed get the bytes made for the first of them: a flood of queries
        costs a dictionary lookup each, not a scan and an encoding each. The
        history, series and summary change only with events the hub applies
        (api.Insight.flush, observe), and step 1 series with the clock's
        second: both are in the key. Bounded in entries and bytes."""
        key = (self.hub.events_applied, int(self.clock()), question)
        answers = self.answers
        found = answers.get(key)
        if found is not None:
            answers.move_to_end(key)
            return found
        found = answers[key] = pack(make())
        self.answers_bytes += len(found)
        while len(answers) > self.MAX_ANSWERS or (self.answers_bytes > self.MAX_ANSWERS_BYTES and len(answers) > 1):
            self.answers_bytes -= len(answers.popitem(last=False)[1])
        return found

    def take(self, batch: Batch, state: State) -> None:
        """The hub's subscriber: each drained batch, after the state has applied it.

        Runs of ended jobs become history records and count in the durations
        and the series, a run at a time; a clock tick, an attach or a detach
        moves the series, after the jobs that ended before it."""
        now = self.clock()
        for kind, run in itertools.groupby(batch, type):  # C-speed runs: nearly all are ended jobs
            if kind is StatusEvent:
                self._ended(list(run), now)
                continue
            for event in run:
                if kind is HealthCheck:
                    self.series.tick(event.now, busy_sample(state))
                elif kind is ClusterDetached:
                    self.series.forget(event.cluster)
                elif kind is ClusterAttached:
                    # A first busy sample now: the chart starts at the attach, and
                    # each node's rings are made with its cluster (memory per node
                    # taken at once, not as jobs first end on each node).
                    self.series.tick(self.clock(), busy_sample(state))

    def _ended(self, ended: list[StatusEvent], now: float) -> None:
        self.history.take(ended, now)
        for cluster, run in itertools.groupby(ended, _CLUSTER):  # runs of one cluster
            jobs = list(map(_JOB, run))
            self.durations.add_jobs(cluster, jobs, now)
            self.series.jobs_done(cluster, map(_NODE, jobs), now)

    def clients(self) -> int:
        return sum(1 for conn in self.connections if not conn.ws.closed)


INSIGHT = web.AppKey("insight", Insight)


def install(app: web.Application, hub: Hub, commands: Commands, stats: Any, connections: weakref.WeakSet,
            history_size: int = 10_000, history_db: str | Path | None = None) -> Insight:  # fmt: skip
    """Wire history, series, persistence, the REST API and /metrics into `app` (before its catch-all route)."""
    history = History(history_size)
    series = Series()
    durations = DurationHistogram()
    store = None
    if history_db is not None:
        store = Store(history_db, keep_jobs=history_size, keep_minutes=series.minutes)
        history.load(store.load_jobs(history_size))
        series.load(store.load_minutes(time.time() - series.minutes * 60))
        history.listeners.append(store.add_job)
        series.listeners.append(store.add_minute)
    insight = Insight(hub, history, series, durations, stats, connections, store)
    hub.subscribe(insight.take)
    commands.insight = insight
    app[INSIGHT] = insight
    app.cleanup_ctx.append(_store_lifecycle)
    for path, handler in (
        ("/metrics", metrics_handler),
        ("/api/clusters", clusters_handler),
        ("/api/clusters/{name}/nodes", cluster_nodes_handler),
        ("/api/nodes/{ip}", node_handler),
        ("/api/history", history_handler),
        ("/api/history/summary", history_summary_handler),
        ("/api/series", series_handler),
    ):
        app.router.add_get(path, handler)
    app.router.add_route("*", "/api/{tail:.*}", unknown_api_handler)
    return insight


async def _store_lifecycle(app: web.Application):
    insight = app[INSIGHT]
    if insight.store is not None:
        insight.store.start()
    yield
    if insight.store is not None:
        insight.series.close_minute()  # what the current minute has so far
        await asyncio.to_thread(insight.store.close)


# -- arguments (shared by the REST API and the WebSocket commands) -----------------------


def one_of(values: tuple[str, ...]) -> Check:
    def check(name: str, value: Any) -> str:
        if value not in values:
            raise CommandError("invalid", f"{name} must be one of {', '.join(values)}")
        return value

    return check


NAME = text(200)
HISTORY_ARGS: dict[str, Check] = {
    "outcome": one_of(OUTCOMES), "node": text(64), "cluster": NAME, "text": text(200),
    "limit": integer(1, 1000), "offset": integer(0, 10_000_000),
}  # fmt: skip
SERIES_ARGS: dict[str, Check] = {"cluster": NAME, "node": text(64), "step": integer(1, 60)}
INTEGER_ARGS = {"limit", "offset", "step"}


def _series(insight: Insight, cluster: str | None = None, node: str | None = None, step: int = 1) -> dict[str, Any]:
    if step not in (1, 60):
        raise CommandError("invalid", "step must be 1 or 60")
    return insight.series.query(cluster, node, step)


def _of(cmds: Commands) -> Insight:
    if cmds.insight is None:  # Commands made without an app (install was not called)
        raise CommandError("not_allowed", "this server keeps no history")
    return cmds.insight


@command("history", optional=HISTORY_ARGS, read_only=True)
async def history_command(cmds: Commands, who: str | None, **args: Any) -> Packed:
    insight = _of(cmds)
    return insight.answer(("history", *sorted(args.items())), lambda: insight.history.query(**args))


def _summary(insight: Insight) -> dict[str, Any]:
    """The history's summary, and how its database is doing (null without --history-db)."""
    return {**insight.history.summary(), "store": store_status(insight.store)}


def store_status(store: Store | None) -> dict[str, Any] | None:
    """What the History page shows of the database: not its path (a viewer may read this)."""
    if store is None:
        return None
    status = store.status()
    return {key: status[key] for key in ("healthy", "errors", "dropped", "reopened", "last_error")}


@command("history_summary", read_only=True)
async def history_summary_command(cmds: Commands, who: str | None) -> Packed:
    insight = _of(cmds)
    return insight.answer(("history_summary",), lambda: _summary(insight))


@command("series", optional=SERIES_ARGS, read_only=True)
async def series_command(cmds: Commands, who: str | None, **args: Any) -> Packed:
    insight = _of(cmds)
    return insight.answer(("series", *sorted(args.items())), lambda: _series(insight, **args))


# -- REST ----------------------------------------------------------------------------------


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _query_args(request: web.Request, schema: dict[str, Check]) -> dict[str, Any]:
    """The query string checked against a command schema (numbers arrive as text)."""
    out: dict[str, Any] = {}
    for key, value in request.query.items():
        if key == "token":
            continue
        check = schema.get(key)
        if check is None:
            raise CommandError("invalid", f"unexpected parameter {key[:40]!r}")
        if key in INTEGER_ARGS:
            try:
                value = int(value)
            except ValueError:
                raise CommandError("invalid", f"{key} must be a whole number") from None
        out[key] = check(key, value)
    return out


def _read(handler: Callable[[web.Request, Insight], Any]):
    async def wrapped(request: web.Request) -> web.Response:
        insight = request.app[INSIGHT]
        insight.hub.read()  # what was fed before the request is in the answer
        try:
            return web.json_response(handler(request, insight))
        except CommandError as exc:
            return _error(404 if exc.code == "not_found" else 400, exc.code, exc.message)

    return wrapped


@_read
def clusters_handler(request: web.Request, insight: Insight) -> dict[str, Any]:
    state = insight.hub.read()
    return {
        "clusters": [
            {"name": name, "kind": c.kind, "jobs": c.jobs_record(), "nodes": len(c.nodes)}
            for name, c in state.clusters.items()
        ]
    }


@_read
def cluster_nodes_handler(request: web.Request, insight: Insight) -> dict[str, Any]:
    name = request.match_info["name"]
    c = insight.hub.read().clusters.get(name)
    if c is None:
        raise CommandError("not_found", f"no cluster {name[:200]!r}")
    return {"cluster": name, "nodes": [c.node(ip) for ip in c.nodes]}


@_read
def node_handler(request: web.Request, insight: Insight) -> dict[str, Any]:
    ip = request.match_info["ip"]
    state = insight.hub.read()
    found = {name: c.node(ip) for name, c in state.clusters.items() if ip in c.nodes}
    if not found:
        raise CommandError("not_found", f"no node {ip[:64]!r} in any cluster")
    jobs = sorted(state.node_jobs(ip).values(), key=lambda j: (j["start_time"] or 0, j["uid"]))
    return {"ip_addr": ip, "clusters": found, "jobs": jobs}


@_read
def history_handler(request: web.Request, insight: Insight) -> dict[str, Any]:
    return insight.history.query(**_query_args(request, HISTORY_ARGS))


@_read
def history_summary_handler(request: web.Request, insight: Insight) -> dict[str, Any]:
    _query_args(request, {})
    return _summary(insight)


@_read
def series_handler(request: web.Request, insight: Insight) -> dict[str, Any]:
    return _series(insight, **_query_args(request, SERIES_ARGS))


async def unknown_api_handler(request: web.Request) -> web.Response:
    if request.method != "GET":
        return _error(405, "not_allowed", "the API is read-only: GET only")
    return _error(404, "not_found", f"no API route {request.path[:100]!r}")


async def metrics_handler(request: web.Request) -> web.Response:
    insight = request.app[INSIGHT]
    body = render(insight.hub.read(), insight.durations, insight.stats, insight.clients(), insight.hub.events_applied,
                  insight.store.status() if insight.store is not None else None)  # fmt: skip
    if GATE in request.app:
        body += request.app[GATE].metrics_text()
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
