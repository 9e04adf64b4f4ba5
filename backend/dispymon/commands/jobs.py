"""The job commands: `job` (a job page), `jobs` (a page of the Jobs view), `resubmit`.

They read the jobs feature (features/jobs.py, `cmds.jobs`), which knows each
job by its key (model/jobkeys.py); the REST API's `/api/jobs...` routes and
the CSV export answer with the same functions. `resubmit` goes through
`ClusterControl.submit` in a worker thread, as every action does.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from dispymon.commands.registry import CLUSTER, IP, Check, CommandError, Commands, command, integer, list_of, text
from dispymon.features.jobs import JobFilter, Selection
from dispymon.model.events import ResubmitLinked
from dispymon.transport.protocol import CHOICES_MAX, JOB_STATES, JOBS_PAGE_MAX

KEY = integer(-(2**62), 2**62)  # keys of jobs loaded from an old database are negative (persist.py)


def number() -> Check:
    def check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CommandError("invalid", f"{name} must be a number (seconds since the epoch)")
        return float(value)

    return check


def state_name(name: str, value: Any) -> str:
    if value not in JOB_STATES:
        raise CommandError("invalid", f"{name} must be one of {', '.join(JOB_STATES)}")
    return value


# The JobFilter's fields, as command arguments (also the REST API's parameters)
FILTER_ARGS: dict[str, Check] = {
    "cluster": CLUSTER,
    "states": list_of(state_name, 1, len(JOB_STATES)),
    "node": IP,
    "exception": text(200),
    "text": text(200),
    "since": number(),
    "until": number(),
}
JOBS_ARGS: dict[str, Check] = {
    **FILTER_ARGS,
    "offset": integer(0, 10_000_000),
    "limit": integer(1, JOBS_PAGE_MAX),
    "selection": integer(0, 2**62),
}


def filter_map() -> Check:
    """A JobFilter given as one map argument (bulk actions): the same checks, field by field."""

    def check(name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise CommandError("invalid", f"{name} must be a map")
        unknown = sorted(set(map(str, value)) - set(FILTER_ARGS))
        if unknown:
            raise CommandError("invalid", f"unexpected field {unknown[0][:40]!r} in {name}")
        return {k: FILTER_ARGS[k](f"{name}.{k}", v) for k, v in value.items() if v is not None}

    return check


def job_filter(args: dict[str, Any]) -> JobFilter:
    """The JobFilter of checked arguments (other keys ignored)."""
    states = args.get("states")
    return JobFilter(
        cluster=args.get("cluster"),
        states=tuple(dict.fromkeys(states)) if states else (),
        node=args.get("node"),
        exception=args.get("exception"),
        text=args.get("text"),
        since=args.get("since"),
        until=args.get("until"),
    )


def filter_record(flt: JobFilter) -> dict[str, Any]:
    """A JobFilter in the protocol's shape: only the fields set."""
    out: dict[str, Any] = {}
    for name in ("cluster", "states", "node", "exception", "text", "since", "until"):
        value = getattr(flt, name)
        if value is not None and value != ():
            out[name] = list(value) if name == "states" else value
    return out


async def settled(value: Any) -> Any:
    """A jobs feature's answer, awaited if it is one (details read from the database are)."""
    return await value if inspect.isawaitable(value) else value


def feature(cmds: Commands) -> Any:
    if cmds.jobs is None:  # Commands made without an app (install was not called)
        raise CommandError("not_allowed", "this server keeps no job details")
    return cmds.jobs


# -- the values, shared with the REST API ---------------------------------------


async def job_value(cmds: Commands, cluster: str, key: int | None = None, job_id: str | None = None) -> dict[str, Any]:
    """The `job` query's value: {job} or {choices, more}; not_found."""
    jobs = feature(cmds)
    if (key is None) == (job_id is None):
        raise CommandError("invalid", "give either key or id")
    state = cmds.hub.read()
    if key is None:
        assert job_id is not None
        find = getattr(jobs, "find_stored", None) or jobs.find  # with the database's matches, if any
        keys = list(await settled(find(state, cluster, job_id)))
        if not keys:
            raise CommandError("not_found", f"no job {job_id[:200]!r} in cluster {cluster[:200]!r}")
        if len(keys) > 1:
            rows = [await settled(jobs.row(state, cluster, k)) for k in keys[:CHOICES_MAX]]
            return {"choices": [r for r in rows if r is not None], "more": max(0, len(keys) - CHOICES_MAX)}
        key = keys[0]
    read = getattr(jobs, "detail_stored", None) or jobs.detail  # from the database when no longer in memory
    detail = await settled(read(cmds.hub.read(), cluster, key))
    if detail is None:
        raise CommandError("not_found", f"no job with key {key} in cluster {cluster[:200]!r}")
    return {"job": detail}


async def selection_for(cmds: Commands, flt: JobFilter, selection: int | None = None) -> Selection:
    """The frozen selection `selection` if it is still kept and is of `flt`, else a new one."""
    jobs = feature(cmds)
    if selection is not None:
        found = jobs.selection(selection)
        if found is not None and found.filter == flt:
            return found
    return await jobs.select(cmds.hub.read(), flt)


async def rows_of(cmds: Commands, refs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """The current rows of `refs` (jobs forgotten since the selection was frozen are left out)."""
    jobs = feature(cmds)
    state = cmds.hub.read()
    rows = [await settled(jobs.row(state, cluster, key)) for cluster, key in refs]
    return [r for r in rows if r is not None]


async def jobs_value(cmds: Commands, args: dict[str, Any]) -> dict[str, Any]:
    """The `jobs` query's value: a page of a frozen selection."""
    sel = await selection_for(cmds, job_filter(args), args.get("selection"))
    offset, limit = args.get("offset", 0), args.get("limit", 100)
    return {
        "selection": sel.id,
        "total": len(sel.refs),
        "counts": dict(sel.counts),
        "unlisted": sel.unlisted,
        "jobs": await rows_of(cmds, sel.refs[offset : offset + limit]),
    }


# -- the commands -----------------------------------------------------------------


@command("job", cluster=CLUSTER, optional={"key": KEY, "id": text(200)}, read_only=True)
async def job_command(
    cmds: Commands, who: str | None, cluster: str, key: int | None = None, id: str | None = None
) -> dict[str, Any]:
    return await job_value(cmds, cluster, key, id)


@command("jobs", optional=JOBS_ARGS, read_only=True)
async def jobs_command(cmds: Commands, who: str | None, **args: Any) -> dict[str, Any]:
    return await jobs_value(cmds, args)


async def resubmit_one(cmds: Commands, cluster: str, key: int) -> int:
    """Submit `key`'s kept arguments again (blocking part in a worker thread); the new key.

    CommandError not_found / not_allowed (with the reason) before the cluster
    is asked; ControlRefused from the cluster. The link is fed once submitted."""
    jobs = feature(cmds)
    kept = jobs.payload(key)
    if kept is None or kept[0] != cluster:
        state = cmds.hub.read()
        if await settled(jobs.row(state, cluster, key)) is None:
            raise CommandError("not_found", f"no job with key {key} in cluster {cluster[:200]!r}")
        raise CommandError("not_allowed", f"cannot resubmit: {jobs.why_not(key)}")
    _, node, payload = kept
    new_key = await cmds.blocking(cmds.cluster_control.submit, cluster, payload, node)
    await cmds.change(ResubmitLinked(cluster, key, new_key))
    return int(new_key)


@command("resubmit", cluster=CLUSTER, key=KEY)
async def resubmit_command(cmds: Commands, who: str | None, cluster: str, key: int) -> dict[str, Any]:
    jobs = feature(cmds)
    state = cmds.hub.read()
    row = await settled(jobs.row(state, cluster, key))
    target = f"job {row['id']}" if row is not None else f"job key {key}"
    try:
        new_key = await resubmit_one(cmds, cluster, key)
    except CommandError as exc:
        if exc.code not in ("not_found", "invalid"):
            await cmds.audit("resubmit", target, cluster, "failed", exc.message, who)
        raise
    except Exception as exc:  # ControlRefused (the cluster refused), or a dispy surprise
        await cmds.audit("resubmit", target, cluster, "failed", getattr(exc, "message", str(exc))[:300], who)
        raise
    new = await settled(jobs.row(cmds.hub.read(), cluster, new_key))
    new_id = new["id"] if new is not None else ""
    await cmds.audit("resubmit", target, cluster, "ok", f"resubmitted as key {new_key}", who)
    return {"key": new_key, "id": new_id}
