"""Reading the dashboard's data without a WebSocket: the REST API and /metrics.

`install` wires the job history, the chart series, the optional SQLite
store and the metrics into one server: one hub subscriber (insight.py) feeds
history and series each drained batch, in the order the state applied it;
it registers the REST routes (`/api/...`, JSON, GET only) and `/metrics`,
and the read-only WebSocket commands (commands/queries.py) read the same
insight. Every route goes through server.py's `guard`, like the pages and
`/ws`: a viewer may read.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from dispymon.commands.alerts import HISTORY_ARGS as ALERTS_HISTORY_ARGS
from dispymon.commands.alerts import history_value as alerts_history_value
from dispymon.commands.jobs import JOBS_ARGS, KEY, jobs_value
from dispymon.commands.jobs import job_value as job_query_value
from dispymon.commands.queries import HISTORY_ARGS, SERIES_ARGS, _series, _summary
from dispymon.commands.registry import CommandError, Commands
from dispymon.commands.resources import RESOURCES_ARGS, RESOURCES_LISTS, resources_value
from dispymon.commands.timeline import TIMELINE_ARGS, TIMELINE_REQUIRED, timeline_value
from dispymon.features.alerts import AlertEngine, AlertsConfig
from dispymon.features.alerts.rules import job_ref
from dispymon.features.bulk import BulkRunner
from dispymon.features.export import make_handlers as export_handlers
from dispymon.features.export import parse as parse_query
from dispymon.features.history import History
from dispymon.features.insight import Insight
from dispymon.features.jobs import JobsFeature
from dispymon.features.metrics import CONTENT_TYPE, DurationHistogram, render
from dispymon.features.persist import Store
from dispymon.features.resources import Resources
from dispymon.features.series import Series
from dispymon.model.events import JobInfo
from dispymon.model.jobtext import node_jobs
from dispymon.runtime.guard import Guard
from dispymon.runtime.hub import Hub
from dispymon.transport.limits import GATE

INSIGHT = web.AppKey("insight", Insight)
CMDS = web.AppKey("rest_commands", Commands)  # the job routes answer with the job commands' functions
JOBS = web.AppKey("jobs", JobsFeature)
ALERTS = web.AppKey("alerts", AlertEngine)
RESOURCES = web.AppKey("resources", Resources)


def install(
    app: web.Application,
    hub: Hub,
    commands: Commands,
    stats: Any,
    connections: weakref.WeakSet,
    history_size: int = 10_000,
    history_db: str | Path | None = None,
    outputs_budget: int = 64 * 2**20,
    resubmit_budget: int = 64 * 2**20,
    history_bytes: int = 256 * 2**20,
    alerts: AlertsConfig | None = None,
) -> Insight:
    """Wire history, series, persistence, the jobs feature, the REST API and /metrics into `app`
    (before its catch-all route). `history_bytes` bounds the database file (package D's Store)."""
    history = History(history_size)
    series = Series()
    durations = DurationHistogram()
    store = None
    if history_db is not None:
        store = Store(history_db, keep_jobs=history_size, keep_minutes=series.minutes, history_bytes=history_bytes)
        history.load(store.load_jobs(history_size))
        series.load(store.load_minutes(time.time() - series.minutes * 60))
        history.listeners.append(store.add_job)
        series.listeners.append(store.add_minute)
    insight = Insight(hub, history, series, durations, stats, connections, store)
    hub.subscribe(insight.take)
    # Each node's resources over time (features/resources.py): the state collects the pulses'
    # avail info for it; with --history-db its closed minutes are kept in the same file.
    resources = Resources()
    hub.read().avail_log = []
    if store is not None:
        resources.load(store.load_resources(time.time() - resources.minutes * 60))
        resources.listeners.append(store.add_resources)
    hub.subscribe(resources.take)
    commands.resources = resources
    app[RESOURCES] = resources
    # The jobs feature after Insight: the history has taken a drain's ended events when it
    # moves their outputs out of them (features/jobs.py); users' code runs on the guard's pool.
    guard = Guard(hub.feed)
    jobs = JobsFeature(outputs_budget, resubmit_budget, guard, store, history)
    if store is not None and hasattr(store, "max_key"):
        jobs.first_key = store.max_key() + 1  # keys below are from before this start
    history.links = jobs.links
    insight.jobs = jobs
    hub.subscribe(jobs.take)
    state = hub.read()
    jobs.want_left(state)
    state.job_texts.guard = guard  # the Node page's texts of ids and arguments: off the loop too
    commands.jobs = jobs
    app[JOBS] = jobs
    app.on_cleanup.append(_close_guard)
    commands.insight = insight
    app[INSIGHT] = insight
    app[CMDS] = commands
    commands.bulk = BulkRunner(commands)
    app.on_cleanup.append(_close_bulk)
    app.cleanup_ctx.append(_store_lifecycle)
    _install_alerts(app, hub, commands, store, alerts)
    for path, handler in (
        ("/metrics", metrics_handler),
        ("/api/clusters", clusters_handler),
        ("/api/clusters/{name}/nodes", cluster_nodes_handler),
        ("/api/nodes/{ip}", node_handler),
        ("/api/history", history_handler),
        ("/api/history/summary", history_summary_handler),
        ("/api/series", series_handler),
        ("/api/resources", resources_handler),
        ("/api/jobs", jobs_handler),
        ("/api/jobs/{cluster}/{id}", job_handler),
        ("/api/alerts", alerts_handler),
        ("/api/timeline", timeline_handler),  # issue 19: the job timeline
        *export_handlers(INSIGHT, CMDS).items(),
    ):
        app.router.add_get(path, handler)
    app.router.add_route("*", "/api/{tail:.*}", unknown_api_handler)
    return insight


async def _store_lifecycle(app: web.Application) -> AsyncIterator[None]:
    insight = app[INSIGHT]
    if insight.store is not None:
        insight.store.start()
    yield
    if insight.store is not None:
        insight.series.close_minute()  # what the current minute has so far
        app[RESOURCES].close_all()  # likewise each node's resources
        await asyncio.to_thread(insight.store.close)


async def _close_bulk(app: web.Application) -> None:
    app[CMDS].bulk.close()


async def _close_guard(app: web.Application) -> None:
    app[JOBS].guard.close()


# -- alerts (issue 19) ---------------------------------------------------------------------


def _install_alerts(
    app: web.Application, hub: Hub, commands: Commands, store: Store | None, config: AlertsConfig | None
) -> None:
    """The alerts engine: a hub subscriber (after the history: it reads the same batches), the
    commands' `alerts`, long_job's terminate through the cluster control, webhooks' tasks."""
    state = hub.read()
    engine = AlertEngine(hub.feed, config, store, state.stale_after, state.stuck_after)
    hub.subscribe(engine.take)
    commands.alerts = engine
    app[ALERTS] = engine
    if commands.control is not None:

        async def terminate(cluster: str, job: JobInfo) -> str:
            ref = job_ref(job)
            try:
                code = await commands.blocking(commands.cluster_control.cancel, cluster, job.handle)
            except CommandError as exc:
                code, why = -1, exc.message
            else:
                why = "dispy refused (the job may have ended)"
            ok = code == 0
            await commands.audit(
                "terminate_jobs",
                f"job {ref['id']}",
                cluster,
                "ok" if ok else "failed",
                "terminated by the long_job alert" if ok else f"the long_job alert could not terminate it: {why}",
                "alerts",
            )
            return "terminated" if ok else "terminate failed"

        engine.terminate = terminate
    engine.publish()  # the rules are in the first snapshot
    app.cleanup_ctx.append(_alerts_lifecycle)


async def _alerts_lifecycle(app: web.Application) -> AsyncIterator[None]:
    app[ALERTS].start()
    yield
    await app[ALERTS].close()


def _whole(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """A query string's number arrives as text."""

    def parse(name: str, value: Any) -> Any:
        try:
            return check(name, int(value))
        except ValueError:
            raise CommandError("invalid", f"{name} must be a whole number") from None

    return parse


_ALERTS_QUERY = {name: _whole(check) for name, check in ALERTS_HISTORY_ARGS.items()}


async def alerts_handler(request: web.Request) -> web.Response:
    """`/api/alerts?before=&limit=`: `alerts_history`'s value."""
    cmds = request.app[CMDS]
    try:
        return web.json_response(alerts_history_value(cmds, **parse_query(request, _ALERTS_QUERY)))
    except CommandError as exc:
        return _error(404 if exc.code == "not_found" else 400, exc.code, exc.message)


# -- REST ----------------------------------------------------------------------------------


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _read(handler: Callable[[web.Request, Insight], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
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
    jobs = sorted(node_jobs(state, ip).values(), key=lambda j: (j["start_time"] or 0, j["uid"]))
    return {"ip_addr": ip, "clusters": found, "jobs": jobs}


@_read
def history_handler(request: web.Request, insight: Insight) -> dict[str, Any]:
    return insight.history.query(**parse_query(request, HISTORY_ARGS))


@_read
def history_summary_handler(request: web.Request, insight: Insight) -> dict[str, Any]:
    parse_query(request, {})
    return _summary(insight)


@_read
def series_handler(request: web.Request, insight: Insight) -> dict[str, Any]:
    return _series(insight, **parse_query(request, SERIES_ARGS))


async def resources_handler(request: web.Request) -> web.Response:
    """`/api/resources?node=&span=` or `?nodes=a,b&span=10m`: the `node_resources` query's value."""
    try:
        args = parse_query(request, RESOURCES_ARGS, RESOURCES_LISTS)
        return web.json_response(resources_value(request.app[RESOURCES], request.app[INSIGHT].hub.read(), **args))
    except CommandError as exc:
        return _error(400, exc.code, exc.message)


def _jobs_route(
    handler: Callable[[web.Request, Commands], Awaitable[dict[str, Any]]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapped(request: web.Request) -> web.Response:
        cmds = request.app[CMDS]
        cmds.hub.read()  # what was fed before the request is in the answer
        try:
            return web.json_response(await handler(request, cmds))
        except CommandError as exc:
            return _error(404 if exc.code == "not_found" else 400, exc.code, exc.message)

    return wrapped


@_jobs_route
async def job_handler(request: web.Request, cmds: Commands) -> dict[str, Any]:
    """`/api/jobs/{cluster}/{id}`, `?key=` picking one: the `job` query's value."""
    args = parse_query(request, {"key": KEY})
    if "key" in args:
        return await job_query_value(cmds, request.match_info["cluster"], key=args["key"])
    return await job_query_value(cmds, request.match_info["cluster"], job_id=request.match_info["id"])


@_jobs_route
async def jobs_handler(request: web.Request, cmds: Commands) -> dict[str, Any]:
    """`/api/jobs?...`: the `jobs` query's value (`states` comma-separated)."""
    if cmds.jobs is None:
        raise CommandError("not_found", "this server keeps no jobs")
    return await jobs_value(cmds, parse_query(request, JOBS_ARGS, frozenset({"states"})))


def _seconds(check: Any) -> Any:
    """A number parameter of a GET route (it arrives as text), then the command's own check."""

    def parsed(name: str, raw: Any) -> Any:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise CommandError("invalid", f"{name} must be a number (seconds since the epoch)") from None
        return check(name, value)

    return parsed


TIMELINE_QUERY = {
    **TIMELINE_ARGS,
    "cluster": TIMELINE_REQUIRED["cluster"],
    "start": _seconds(TIMELINE_REQUIRED["start"]),
    "end": _seconds(TIMELINE_REQUIRED["end"]),
}


@_jobs_route
async def timeline_handler(request: web.Request, cmds: Commands) -> dict[str, Any]:
    """`/api/timeline?cluster=&start=&end=&node=&limit=`: the `timeline` query's value."""
    args = parse_query(request, TIMELINE_QUERY)
    missing = [name for name in TIMELINE_REQUIRED if name not in args]
    if missing:
        raise CommandError("invalid", f"{missing[0]} is required")
    return timeline_value(cmds, **args)


async def unknown_api_handler(request: web.Request) -> web.Response:
    if request.method != "GET":
        return _error(405, "not_allowed", "the API is read-only: GET only")
    return _error(404, "not_found", f"no API route {request.path[:100]!r}")


async def metrics_handler(request: web.Request) -> web.Response:
    insight = request.app[INSIGHT]
    body = render(
        insight.hub.read(),
        insight.durations,
        insight.stats,
        insight.clients(),
        insight.hub.events_applied,
        insight.store.status() if insight.store is not None else None,
        request.app[JOBS].stats() if JOBS in request.app else None,
        request.app.get(ALERTS),
    )
    if RESOURCES in request.app:
        body += request.app[RESOURCES].metrics_text()
    if GATE in request.app:
        body += request.app[GATE].metrics_text()
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
