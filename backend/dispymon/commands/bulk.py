"""The bulk commands: preview, start and cancel an action on every job a filter selects; read its outcomes.

The runner is features/bulk.py (`cmds.bulk`); the selection comes from the
jobs feature, restricted to the states the action applies to (terminate:
queued and running; resubmit: ended).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dispymon.commands.jobs import feature, filter_map, filter_record, job_filter, rows_of
from dispymon.commands.queries import one_of
from dispymon.commands.registry import CommandError, Commands, command, integer
from dispymon.features.bulk import BulkRunner
from dispymon.features.jobs import JobFilter
from dispymon.model.text import count_text
from dispymon.transport.protocol import (
    BULK_ACTIONS,
    BULK_ELIGIBLE,
    BULK_MAX,
    BULK_OUTCOMES,
    BULK_PREVIEW_ROWS,
    OUTCOMES_PAGE_MAX,
)

ACTION = one_of(BULK_ACTIONS)
ACTION_ID = integer(1, 2**62)
ALL_OUTCOMES = tuple(dict.fromkeys(o for outcomes in BULK_OUTCOMES.values() for o in outcomes))


def runner(cmds: Commands) -> BulkRunner:
    if cmds.bulk is None:
        cmds.bulk = BulkRunner(cmds)
    runner: BulkRunner = cmds.bulk
    return runner


def eligible_filter(action: str, flt: JobFilter) -> JobFilter | None:
    """`flt` restricted to the states `action` applies to; None when it selects none of them."""
    eligible = BULK_ELIGIBLE[action]
    states = tuple(s for s in (flt.states or eligible) if s in eligible)
    return replace(flt, states=states) if states else None


@command("bulk_preview", action=ACTION, filter=filter_map(), read_only=True)
async def bulk_preview(cmds: Commands, who: str | None, action: str, filter: dict[str, Any]) -> dict[str, Any]:
    jobs = feature(cmds)
    state = cmds.hub.read()
    flt = job_filter(filter)
    every = await jobs.select(state, flt)
    restricted = eligible_filter(action, flt)
    if restricted is None:
        return {"count": len(every.refs), "eligible": 0, "over_limit": False, "first": [], "not_kept": 0}
    sel = every if restricted == flt else await jobs.select(cmds.hub.read(), restricted)
    not_kept = 0
    if action == "resubmit":
        not_kept = sum(1 for cluster, key in sel.refs[:BULK_MAX] if _not_kept(jobs, cluster, key))
    return {
        "count": len(every.refs),
        "eligible": len(sel.refs),
        "over_limit": len(sel.refs) > BULK_MAX,
        "first": await rows_of(cmds, sel.refs[:BULK_PREVIEW_ROWS]),
        "not_kept": not_kept,
    }


def _not_kept(jobs: Any, cluster: str, key: int) -> bool:
    kept = jobs.payload(key)
    return kept is None or kept[0] != cluster


@command("bulk_start", action=ACTION, filter=filter_map(), optional={"expect": integer(0, 10_000_000)})
async def bulk_start(
    cmds: Commands, who: str | None, action: str, filter: dict[str, Any], expect: int | None = None
) -> dict[str, Any]:
    jobs = feature(cmds)
    bulk = runner(cmds)
    if bulk.running is not None:
        raise CommandError("not_allowed", f"bulk action {bulk.running.id} is running: one at a time")
    flt = eligible_filter(action, job_filter(filter))
    sel = None if flt is None else await jobs.select(cmds.hub.read(), flt)
    refs = [] if sel is None else sel.refs
    if not refs:
        raise CommandError("not_found", "no job matches the filter")
    if len(refs) > BULK_MAX:
        raise CommandError("invalid", f"{len(refs):,} jobs match; at most {BULK_MAX:,}")
    if expect is not None and len(refs) > expect:  # what was confirmed: never act on more (fewer: some ended)
        raise CommandError(
            "invalid", f"{len(refs):,} jobs match now, more than the {expect:,} confirmed: preview again"
        )
    if bulk.running is not None:  # another started while this one selected
        raise CommandError("not_allowed", f"bulk action {bulk.running.id} is running: one at a time")
    record = filter_record(flt) if flt is not None else {}
    act = bulk.start(action, who, record, list(refs), sel)
    clusters = sorted({c for c, _ in refs})
    act.audit_id = await cmds.audit(
        f"bulk_{action}",
        count_text(len(refs), "job"),
        clusters[0] if len(clusters) == 1 else None,
        "pending",
        f"0 of {len(refs)}",
        who,
    )
    bulk.launch(act)
    return {"action_id": act.id}


@command("bulk_cancel", action_id=ACTION_ID)
async def bulk_cancel(cmds: Commands, who: str | None, action_id: int) -> dict[str, Any]:
    act = runner(cmds).get(action_id)
    if act is None:
        raise CommandError("not_found", f"no bulk action {action_id}")
    runner(cmds).cancel(act)
    return {"state": act.state}


@command(
    "bulk_outcomes",
    action_id=ACTION_ID,
    optional={
        "outcome": one_of(ALL_OUTCOMES),
        "offset": integer(0, 10_000_000),
        "limit": integer(1, OUTCOMES_PAGE_MAX),
    },
    read_only=True,
)
async def bulk_outcomes(
    cmds: Commands, who: str | None, action_id: int, outcome: str | None = None, offset: int = 0, limit: int = 100
) -> dict[str, Any]:
    act = runner(cmds).get(action_id)
    if act is None:
        raise CommandError("not_found", f"no bulk action {action_id} (the last few are kept)")
    items = act.outcomes if outcome is None else [o for o in act.outcomes if o["outcome"] == outcome]
    return {"total": len(items), "items": items[offset : offset + limit]}
