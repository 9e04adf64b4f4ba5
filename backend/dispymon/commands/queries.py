"""The read-only commands: history, history_summary, series (also read by the REST API's routes)."""

from __future__ import annotations

from typing import Any

from dispymon.commands.registry import Check, CommandError, Commands, command, integer, text
from dispymon.features.history import OUTCOMES
from dispymon.features.insight import Insight
from dispymon.features.persist import Store
from dispymon.transport.codec import Packed

# -- arguments (shared by the REST API and the WebSocket commands) -----------------------


def one_of(values: tuple[str, ...]) -> Check:
    def check(name: str, value: Any) -> str:
        if value not in values:
            raise CommandError("invalid", f"{name} must be one of {', '.join(values)}")
        return value

    return check


NAME = text(200)
HISTORY_ARGS: dict[str, Check] = {
    "outcome": one_of(OUTCOMES),
    "node": text(64),
    "cluster": NAME,
    "text": text(200),
    "limit": integer(1, 1000),
    "offset": integer(0, 10_000_000),
}
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


def _summary(insight: Insight, store: dict[str, Any] | None = None) -> dict[str, Any]:
    """The history's summary, and how its database is doing (null without --history-db)."""
    return {**insight.history.summary(), "store": store if store is not None else store_status(insight.store)}


def store_status(store: Store | None) -> dict[str, Any] | None:
    """What the History page shows of the database: not its path (a viewer may read this)."""
    if store is None:
        return None
    status = store.status()
    return {key: status[key] for key in ("healthy", "errors", "dropped", "reopened", "last_error")}


@command("history_summary", read_only=True)
async def history_summary_command(cmds: Commands, who: str | None) -> Packed:
    insight = _of(cmds)
    # The database's state is part of the question: its writer thread changes it with no
    # event applied, and a Refresh the moment the file is written again must not get the
    # answer shared from before (Insight.answer keys by events applied and the second).
    store = store_status(insight.store)
    question = ("history_summary", tuple(store.values()) if store is not None else None)
    return insight.answer(question, lambda: _summary(insight, store))


@command("series", optional=SERIES_ARGS, read_only=True)
async def series_command(cmds: Commands, who: str | None, **args: Any) -> Packed:
    insight = _of(cmds)
    return insight.answer(("series", *sorted(args.items())), lambda: _series(insight, **args))
