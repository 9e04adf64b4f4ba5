"""CSV export of the history, the Jobs view and the nodes: `/api/history.csv`, `/api/jobs.csv`, `/api/nodes.csv`.

The same filters as the JSON routes, checked before anything is sent (a bad
one is a 400 with the usual JSON error, not a broken download). What to
write is frozen first, as references only (the history's records, a
selection's keys, the nodes' addresses); rows are then made, written with
`csv.writer` and sent CHUNK at a time with `await resp.write()`, so a slow
reader holds back the writing and the server keeps about one chunk of text.
A cell of text that starts with = + - @ tab or CR gets a leading `'`: ids are
users' text, and a spreadsheet would read such a cell as a formula.
Times are Unix seconds, as in the JSON, each with an ISO 8601 `_utc` column.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from dispymon.commands.jobs import FILTER_ARGS, job_filter, rows_of, selection_for
from dispymon.commands.queries import INTEGER_ARGS, NAME, one_of
from dispymon.commands.registry import Check, CommandError, Commands, text
from dispymon.features.history import CLUSTER, ID, NODE, OUTCOME, OUTCOMES, as_dict

CHUNK = 1000  # rows per write
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

HISTORY_COLUMNS = [
    "key",
    "id",
    "cluster",
    "node",
    "outcome",
    "exception_type",
    "exception_message",
    "created",
    "start_time",
    "end_time",
    "duration",
    "resubmit_of",
]
JOBS_COLUMNS = [
    "key",
    "id",
    "cluster",
    "state",
    "node",
    "exception_type",
    "created",
    "start_time",
    "end_time",
    "duration",
    "resubmit_of",
]
NODES_COLUMNS = [
    "cluster",
    "ip_addr",
    "name",
    "status",
    "cpus",
    "avail_cpus",
    "busy",
    "jobs_done",
    "cpu_time",
    "tx",
    "rx",
    "update_time",
    "avail_cpu",
    "avail_memory",
    "avail_disk",
    "avail_swap",
    "stuck",
    "stale",
]
TIMES = frozenset({"created", "start_time", "end_time", "update_time"})
HISTORY_ARGS: dict[str, Check] = {"outcome": one_of(OUTCOMES), "node": text(64), "cluster": NAME, "text": text(200)}
NODE_STATUSES = ("initialized", "closed", "deallocated", "abandoned", "alive")
NODES_ARGS: dict[str, Check] = {"cluster": NAME, "status": text(40)}


def cell(value: Any) -> Any:
    """A value as a CSV cell: text that a spreadsheet would run as a formula is quoted with '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def utc(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return ""


def header(columns: list[str]) -> list[str]:
    """The columns, each time followed by its `_utc` column."""
    out: list[str] = []
    for c in columns:
        out.append(c)
        if c in TIMES:
            out.append(f"{c}_utc")
    return out


def line(record: dict[str, Any], columns: list[str]) -> list[Any]:
    out: list[Any] = []
    for c in columns:
        value = record.get(c)
        out.append(cell(value))
        if c in TIMES:
            out.append(utc(value))
    return out


def filename(what: str, now: float) -> str:
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"dispymon-{what}-{stamp}.csv"


WHOLE_NUMBERS = frozenset({*INTEGER_ARGS, "selection", "key"})  # query parameters that are whole numbers


def parse(request: web.Request, schema: dict[str, Check], lists: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The query string checked against `schema` (numbers and comma-separated lists arrive as text):
    the one parser of every GET route's parameters, JSON and CSV alike."""
    out: dict[str, Any] = {}
    for key, raw in request.query.items():
        if key == "token":
            continue
        check = schema.get(key)
        if check is None:
            raise CommandError("invalid", f"unexpected parameter {key[:40]!r}")
        value: Any = raw
        if key in lists:
            value = [v for v in raw.split(",") if v]
        elif key in ("since", "until"):
            try:
                value = float(raw)
            except ValueError:
                raise CommandError("invalid", f"{key} must be a number") from None
        elif key in WHOLE_NUMBERS:
            try:
                value = int(raw)
            except ValueError:
                raise CommandError("invalid", f"{key} must be a whole number") from None
        out[key] = check(key, value)
    return out


async def stream(
    request: web.Request,
    what: str,
    columns: list[str],
    items: list[Any],
    rows: Callable[[list[Any]], Any],
) -> web.StreamResponse:
    """Send `items` as CSV, CHUNK at a time; `rows(chunk)` makes (or awaits) their records."""
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename(what, time.time())}"',
            "Cache-Control": "no-store",
        }
    )
    await resp.prepare(request)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header(columns))
    for start in range(0, max(len(items), 1), CHUNK):
        made = rows(items[start : start + CHUNK])
        records: Iterable[dict[str, Any]] = await made if hasattr(made, "__await__") else made
        for record in records:
            writer.writerow(line(record, columns))
        await resp.write(buf.getvalue().encode())
        buf.seek(0)
        buf.truncate()
    await resp.write_eof()
    return resp


def _error(status: int, exc: CommandError) -> web.Response:
    return web.json_response({"error": {"code": exc.code, "message": exc.message}}, status=status)


def history_records(insight: Any, outcome: str | None = None, node: str | None = None, cluster: str | None = None,
                    text: str | None = None) -> list[tuple]:  # fmt: skip
    """The history's records matching the filters, newest end first (as the `history` query)."""
    needle = text.casefold() if text else None
    return [
        r
        for r in insight.history.by_end()
        if (outcome is None or r[OUTCOME] == outcome)
        and (node is None or r[NODE] == node)
        and (cluster is None or r[CLUSTER] == cluster)
        and (needle is None or needle in str(r[ID]).casefold())
    ]


def make_handlers(insight_key: Any, commands_key: Any) -> dict[str, Callable[[web.Request], Any]]:
    """The three routes' handlers, reading the app's insight and commands under these keys."""

    async def history_csv(request: web.Request) -> web.StreamResponse:
        insight = request.app[insight_key]
        insight.hub.read()
        try:
            args = parse(request, HISTORY_ARGS)
        except CommandError as exc:
            return _error(400, exc)
        records = history_records(insight, **args)
        return await stream(request, "history", HISTORY_COLUMNS, records, lambda chunk: map(as_dict, chunk))

    async def jobs_csv(request: web.Request) -> web.StreamResponse:
        cmds: Commands = request.app[commands_key]
        cmds.hub.read()
        try:
            args = parse(request, FILTER_ARGS, frozenset({"states"}))
            if cmds.jobs is None:
                raise CommandError("not_found", "this server keeps no jobs")
            sel = await selection_for(cmds, job_filter(args))
        except CommandError as exc:
            return _error(404 if exc.code == "not_found" else 400, exc)
        refs = list(sel.refs)
        return await stream(request, "jobs", JOBS_COLUMNS, refs, lambda chunk: rows_of(cmds, chunk))

    async def nodes_csv(request: web.Request) -> web.StreamResponse:
        cmds: Commands = request.app[commands_key]
        state = cmds.hub.read()
        try:
            args = parse(request, NODES_ARGS)
            cluster = args.get("cluster")
            if cluster is not None and cluster not in state.clusters:
                raise CommandError("not_found", f"no cluster {cluster!r}")
        except CommandError as exc:
            return _error(404 if exc.code == "not_found" else 400, exc)
        status = args.get("status")
        refs = [(name, ip) for name, c in state.clusters.items() if cluster in (None, name) for ip in c.nodes]

        def records(chunk: list[tuple[str, str]]) -> list[dict[str, Any]]:
            now = cmds.hub.read()
            out = []
            for name, ip in chunk:
                c = now.clusters.get(name)
                record = c.node(ip) if c is not None else None
                if record is None or (status is not None and record.get("status") != status):
                    continue
                avail = record.get("avail_info") or {}
                out.append({"cluster": name, **record, **{f"avail_{k}": v for k, v in avail.items()}})
            return out

        return await stream(request, "nodes", NODES_COLUMNS, refs, records)

    return {"/api/history.csv": history_csv, "/api/jobs.csv": jobs_csv, "/api/nodes.csv": nodes_csv}
