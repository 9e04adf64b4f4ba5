"""The WebSocket protocol, defined once on the server (docs/protocol.md describes it).

Message shapes and their constructors, the closed set of error codes, the
close codes with their reasons, and the constants a browser is told in
`hello`. A pure leaf: it imports nothing of dispymon, so the model's views
(which number snapshots and deltas) and the transport share it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Final, NamedTuple

PROTOCOL_VERSION: Final = 1

# The shortest interval between a browser's deltas, "live": 20 a second. A
# shorter positive interval is raised to it (a browser asking for 0.001 s
# would otherwise keep the server building and sending frames in a loop).
MIN_INTERVAL: Final = 0.05


def effective_interval(seconds: float) -> float:
    """The interval a browser gets for the one it asked: ≤ 0 stops automatic deltas."""
    return seconds if seconds <= 0 else max(seconds, MIN_INTERVAL)


# -- jobs (job pages, the Jobs view, resubmit, bulk actions) ---------------------

OUTPUT_TAIL: Final = 65536  # bytes of a job's stdout/stderr kept (the last ones), and characters of its traceback
RESULT_LIMIT: Final = 4096  # characters of a result's repr kept
BULK_MAX: Final = 10_000  # jobs one bulk action may act on
BULK_PREVIEW_ROWS: Final = 20  # rows a bulk preview shows
ACTIONS_KEPT: Final = 8  # bulk actions listed in snapshots and deltas (`actions`)
JOBS_PAGE_MAX: Final = 1000  # rows per `jobs` / `bulk_outcomes` page
JOB_STATES: Final = ("queued", "running", "finished", "failed", "terminated", "cancelled", "abandoned")
BULK_ACTIONS: Final = ("terminate", "resubmit")
# the states a bulk action acts on: terminate queued and running jobs, resubmit ended ones
BULK_ELIGIBLE: Final = {"terminate": JOB_STATES[:2], "resubmit": JOB_STATES[2:]}
# a bulk action's per-job outcomes (`bulk_outcomes`), and an action's own states (BulkAction.state)
BULK_OUTCOMES: Final = {
    "terminate": ("terminated", "already_finished", "not_found", "failed", "cancelled"),
    "resubmit": ("resubmitted", "not_kept", "not_found", "failed_to_submit", "cancelled"),
}
BULK_STATES: Final = ("running", "cancelling", "cancelled", "done")
OUTCOMES_PAGE_MAX: Final = JOBS_PAGE_MAX
CHOICES_MAX: Final = 50  # jobs listed when a `job` query's id is not unique

# -- the job timeline (issue 19: the `timeline` query, features/timeline.py) --------

# the bars' outcomes, by index in the answer's `bars.outcome` ("running": no end yet)
TIMELINE_OUTCOMES: Final = ("finished", "failed", "cancelled", "terminated", "abandoned", "running")
TIMELINE_LIMIT_MAX: Final = 100_000  # bars one answer holds at most (`limit`)
TIMELINE_LIMIT: Final = 20_000  # without a `limit`
TIMELINE_QUEUED_MARKS: Final = 1_000  # queued jobs' submit times sent at most (the newest)


# -- error codes (of `error` messages, of failed `result`s and of /api/ answers) --

INVALID: Final = "invalid"  # a malformed message or argument
UNKNOWN_COMMAND: Final = "unknown_command"
NOT_FOUND: Final = "not_found"  # no such cluster, node or route
NOT_ALLOWED: Final = "not_allowed"  # a viewer's command, no cluster, a rule of the cluster
CLUSTER_ERROR: Final = "cluster_error"  # the cluster raised or refused
TIMEOUT: Final = "timeout"  # the cluster did not answer in time; the action may still happen
RATE_LIMITED: Final = "rate_limited"  # too many messages
BUSY: Final = "busy"  # one query at a time per browser

ERROR_CODES: Final = frozenset(
    {INVALID, UNKNOWN_COMMAND, NOT_FOUND, NOT_ALLOWED, CLUSTER_ERROR, TIMEOUT, RATE_LIMITED, BUSY}
)
# result codes of a command refused before it reached the cluster: nothing changed
REFUSED: Final = frozenset({INVALID, UNKNOWN_COMMAND, NOT_ALLOWED, RATE_LIMITED})


# -- close codes (RFC 6455 numbers, as aiohttp's WSCloseCode names them) ---------


class Close(NamedTuple):
    code: int
    reason: bytes


GOING_AWAY: Final = 1001
UNSUPPORTED_DATA: Final = 1003
POLICY_VIOLATION: Final = 1008

SERVER_SHUTDOWN: Final = Close(GOING_AWAY, b"server shutdown")
TOO_MANY_MESSAGES: Final = Close(POLICY_VIOLATION, b"too many messages")
RESULTS_NOT_READ: Final = Close(POLICY_VIOLATION, b"results not read")
TEXT_FRAME: Final = Close(UNSUPPORTED_DATA, b"text frames are not part of the protocol")


def bad_frame(reason: str) -> Close:
    """A frame the codec refused: its reason, cut to fit a close frame."""
    return Close(UNSUPPORTED_DATA, reason.encode()[:120])


# -- messages from the server ---------------------------------------------------


def hello(*, server: str, poll_sec: float, show_job_args: bool, role: str) -> dict[str, Any]:
    return {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "server": server,
        "poll_sec": poll_sec,
        "min_interval": MIN_INTERVAL,
        "show_job_args": show_job_args,
        "role": role,
    }


def snapshot(seq: int, body: dict[str, Any]) -> dict[str, Any]:
    """A whole state (`node_jobs` and `job` filled in by the view that watches a node, a job)."""
    return {"type": "snapshot", "seq": seq, **body, "node_jobs": None, "job": None}


def bulk_action(
    action_id: int,
    action: str,
    who: str | None,
    flt: dict[str, Any],
    total: int,
    done: int,
    state: str,
    counts: dict[str, int],
    started: float,
    ended: float | None,
    audit_id: int,
) -> dict[str, Any]:
    """A BulkAction, as the `actions` part lists it."""
    return {
        "id": action_id,
        "action": action,
        "who": who,
        "filter": flt,
        "total": total,
        "done": done,
        "state": state,
        "counts": counts,
        "started": started,
        "ended": ended,
        "audit_id": audit_id,
    }


def bulk_outcome(
    key: int, job_id: str, cluster: str, outcome: str, reason: str | None = None, new_key: int | None = None
) -> dict[str, Any]:
    """One job's outcome in a bulk action (`bulk_outcomes`' items)."""
    return {"key": key, "id": job_id, "cluster": cluster, "outcome": outcome, "reason": reason, "new_key": new_key}


def delta(seq: int, parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "delta", "seq": seq, **parts}


def result(cid: Hashable, value: Any) -> dict[str, Any]:
    return {"type": "result", "id": cid, "ok": True, "value": value}


def failed(cid: Hashable, code: str, message: str) -> dict[str, Any]:
    """A command's result that is an error."""
    assert code in ERROR_CODES, code
    return {"type": "result", "id": cid, "ok": False, "error": {"code": code, "message": message}}


def error(code: str, message: str) -> dict[str, Any]:
    """An error not tied to a command id."""
    assert code in ERROR_CODES, code
    return {"type": "error", "code": code, "message": message}


def refused(message: dict[str, Any]) -> bool:
    """True when a command's answer says it was refused before it reached the cluster."""
    return message.get("type") != "result" or message.get("error", {}).get("code") in REFUSED


# -- alerts (issue 19: features/alerts, the `alerts` part) ------------------------

ALERT_RULES: Final = (
    "node_closed",
    "node_stale",
    "node_stuck",
    "failure_rate",
    "long_job",
    "queue_stalled",
    "history_db",
)
ALERT_SEVERITIES: Final = ("warning", "critical")
ALERT_EVENTS: Final = ("firing", "resolved")  # a webhook's `event`
ALERTS_FIRING_MAX: Final = 500  # firing alerts listed in the `alerts` part (then `firing_total` says how many)
ALERTS_HISTORY_MAX: Final = 500  # alerts per `alerts_history` page
ALERTS_HISTORY_DEFAULT: Final = 100


def alert(
    alert_id: int,
    rule: str,
    severity: str,
    cluster: str | None,
    node: str | None,
    job: dict[str, Any] | None,
    summary: str,
    started: float,
    resolved: float | None,
    action: str | None,
) -> dict[str, Any]:
    """An Alert, as the `alerts` part, `alerts_history` and the webhooks give it."""
    return {
        "id": alert_id,
        "rule": rule,
        "severity": severity,
        "cluster": cluster,
        "node": node,
        "job": job,
        "summary": summary,
        "started": started,
        "resolved": resolved,
        "action": action,
    }


def alert_rule(
    name: str, title: str, enabled: bool, params: dict[str, Any], clusters: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """A Rule of the `alerts` part (and `set_alert_rule`'s value)."""
    return {"name": name, "title": title, "enabled": enabled, "params": params, "clusters": clusters}


def alerts_part(
    firing: list[dict[str, Any]], firing_total: int, rules: list[dict[str, Any]], webhooks: dict[str, Any]
) -> dict[str, Any]:
    """The `alerts` part of snapshots and deltas (sent whole when it changed)."""
    return {"firing": firing, "firing_total": firing_total, "rules": rules, "webhooks": webhooks}


def webhooks_status(
    targets: int = 0,
    delivered: int = 0,
    failed: int = 0,
    dropped: int = 0,
    queued: int = 0,
    last_error: str | None = None,
    last_error_at: float | None = None,
) -> dict[str, Any]:
    """The `webhooks` of the `alerts` part: the deliveries' counters."""
    return {
        "targets": targets,
        "delivered": delivered,
        "failed": failed,
        "dropped": dropped,
        "queued": queued,
        "last_error": last_error,
        "last_error_at": last_error_at,
    }
