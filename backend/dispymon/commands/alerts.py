"""The alerts' commands: `set_alert_rule` (an operator's, audited) and `alerts_history` (read-only).

Both read the server's alerts engine (features/alerts), which features/rest.py
puts on the registry (`cmds.alerts`); `GET /api/alerts` answers
`alerts_history`'s value.
"""

from __future__ import annotations

from typing import Any

from dispymon.commands.registry import Check, CommandError, Commands, boolean, command, integer, text
from dispymon.transport.protocol import ALERT_RULES, ALERTS_HISTORY_DEFAULT, ALERTS_HISTORY_MAX


def _params(name: str, value: Any) -> dict[str, Any]:
    # the names and ranges are the rule's own: checked by the engine, which knows the rule
    if not isinstance(value, dict) or len(value) > 10 or not all(isinstance(k, str) for k in value):
        raise CommandError("invalid", f"{name} must be a map of a rule's settings")
    return value


HISTORY_ARGS: dict[str, Check] = {"before": integer(1, 2**53), "limit": integer(1, ALERTS_HISTORY_MAX)}


def _engine(cmds: Commands) -> Any:
    if cmds.alerts is None:
        raise CommandError("not_allowed", "this server has no alerts engine")
    return cmds.alerts


def _shown(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in params.items())


@command(
    "set_alert_rule",
    rule=text(40),
    optional={"enabled": boolean(), "params": _params, "cluster": text(200)},
)
async def set_alert_rule(
    cmds: Commands,
    who: str | None,
    rule: str,
    enabled: bool | None = None,
    params: dict[str, Any] | None = None,
    cluster: str | None = None,
) -> dict[str, Any]:
    engine = _engine(cmds)
    if rule not in ALERT_RULES:
        raise CommandError("invalid", f"rule must be one of {', '.join(ALERT_RULES)}")
    try:
        record = engine.set_rule(rule, enabled, params, cluster)
    except ValueError as exc:
        raise CommandError("invalid", str(exc)) from None
    parts = []
    if enabled is not None:
        parts.append("enabled" if enabled else "disabled")
    if params is not None:
        parts.append(_shown(params) if params else "cluster settings removed")
    where = f" for cluster {cluster}" if cluster is not None else ""
    await cmds.audit("set_alert_rule", rule, cluster, "ok", (", ".join(parts) or "unchanged") + where, who)
    return {"rule": record}


def history_value(cmds: Commands, before: int | None = None, limit: int = ALERTS_HISTORY_DEFAULT) -> dict[str, Any]:
    return _engine(cmds).history_page(before, limit)


@command("alerts_history", optional=HISTORY_ARGS, read_only=True)
async def alerts_history(cmds: Commands, who: str | None, **args: Any) -> dict[str, Any]:
    return history_value(cmds, **args)
