"""The command channel: one registry, one schema per command, one error mapping.

A browser sends {type: "command", id, name, args}; `Commands.execute` answers
with exactly one {type: "result", id, ok, value | error}. Arguments are
validated before anything reaches a cluster. Cluster calls go through the
`ClusterControl` interface in a worker thread with a timeout, so a slow
dispy call never stalls the event loop or other browsers. The commands
themselves are in cluster.py (actions) and queries.py (read-only).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from dispymon.commands.control import ClusterControl, ControlRefused
from dispymon.model.events import AuditAdded
from dispymon.runtime.hub import Hub
from dispymon.transport import protocol
from dispymon.transport.protocol import ERROR_CODES

log = logging.getLogger(__name__)

MAX_ID_LEN = 64


class CommandError(Exception):
    def __init__(self, code: str, message: str) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code
        self.message = message


# -- argument schemas ------------------------------------------------------------

Check = Callable[[str, Any], Any]


def _invalid(name: str, what: str) -> CommandError:
    return CommandError("invalid", f"{name} must be {what}")


def boolean() -> Check:
    def check(name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise _invalid(name, "true or false")
        return value

    return check


def integer(low: int, high: int) -> Check:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _invalid(name, f"a whole number from {low} to {high}")
        return value

    return check


def text(max_len: int, pattern: str | None = None, what: str = "") -> Check:
    regex = re.compile(pattern) if pattern else None

    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= max_len:
            raise _invalid(name, f"a text of 1 to {max_len} characters")
        value = value.strip()
        if regex is not None and not regex.fullmatch(value):
            raise _invalid(name, what or f"a text matching {pattern}")
        return value

    return check


def list_of(item: Check, min_len: int, max_len: int) -> Check:
    def check(name: str, value: Any) -> list[Any]:
        if not isinstance(value, list) or not min_len <= len(value) <= max_len:
            raise _invalid(name, f"a list of {min_len} to {max_len} items")
        return [item(f"{name}[{i}]", v) for i, v in enumerate(value)]

    return check


IP = text(64, r"[0-9A-Fa-f.:]+", "an IP address")
HOST = text(253, r"[A-Za-z0-9.*:_-]+", "a host name, an IP address or a wildcard such as 192.168.1.*")
CLUSTER = text(200)


@dataclass
class Spec:
    handler: Callable[..., Awaitable[Any]]
    required: dict[str, Check]
    optional: dict[str, Check]
    read_only: bool = False  # changes nothing: a viewer may run it, and it needs no cluster


REGISTRY: dict[str, Spec] = {}

_Handler = TypeVar("_Handler", bound=Callable[..., Awaitable[Any]])


def command(
    name: str, optional: dict[str, Check] | None = None, read_only: bool = False, **required: Check
) -> Callable[[_Handler], _Handler]:
    def register(handler: _Handler) -> _Handler:
        REGISTRY[name] = Spec(handler, required, optional or {}, read_only)
        return handler

    return register


def is_action(name: Any) -> bool:
    """True for a registered command that may change the state (not history, series)."""
    spec = REGISTRY.get(name) if isinstance(name, str) else None
    return spec is not None and not spec.read_only


def is_query(message: dict[str, Any]) -> bool:
    """A `command` message naming a read-only command (a query), with an id its result can carry."""
    name, cid = message.get("name"), message.get("id")
    spec = REGISTRY.get(name) if isinstance(name, str) else None
    return (
        spec is not None
        and spec.read_only
        and not isinstance(cid, bool)
        and (isinstance(cid, int) or (isinstance(cid, str) and len(cid) <= MAX_ID_LEN))
    )


def validate(spec: Spec, args: Any) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise CommandError("invalid", "args must be a map")
    unknown = sorted(set(map(str, args)) - set(spec.required) - set(spec.optional))
    if unknown:
        raise CommandError("invalid", f"unexpected argument {unknown[0][:40]!r}")
    out = {}
    for key, check in spec.required.items():
        if args.get(key) is None:
            raise CommandError("invalid", f"{key} is required")
        out[key] = check(key, args[key])
    for key, check in spec.optional.items():
        if args.get(key) is not None:
            out[key] = check(key, args[key])
    return out


# -- execution -------------------------------------------------------------------


class Commands:
    """Runs commands for every connection of one server."""

    def __init__(
        self, hub: Hub, control: ClusterControl | None, timeout: float = 15.0, add_node_wait: float = 20.0
    ) -> None:
        self.hub = hub
        self.control = control
        self.timeout = timeout
        self.add_node_wait = add_node_wait
        self.insight: Any = None  # history and series, for the read-only commands (api.py)
        self.jobs: Any = None  # the jobs feature (features/jobs.py): job pages, the Jobs view, resubmit
        self.bulk: Any = None  # the bulk actions' runner (features/bulk.py)
        self.alerts: Any = None  # the alerts engine (features/alerts)
        self.resources: Any = None  # each node's resources over time (features/resources.py)

    @property
    def cluster_control(self) -> ClusterControl:
        """`control` for an action's handler: execute() has refused the action already if there is none."""
        if self.control is None:
            raise CommandError("not_allowed", "this server has no cluster to command")
        return self.control

    async def execute(self, message: dict[str, Any], who: str | None = None, role: str = "operator") -> dict[str, Any]:
        """The answer to one `command` message: a `result`, or an `error` if its id is unusable."""
        cid = message.get("id")
        if isinstance(cid, bool) or not isinstance(cid, (int, str)) or (isinstance(cid, str) and len(cid) > MAX_ID_LEN):
            return protocol.error(protocol.INVALID, "a command needs an id: an integer or a short text")
        try:
            name = message.get("name")
            spec = REGISTRY.get(name) if isinstance(name, str) else None
            if spec is None:
                shown = name[:40] if isinstance(name, str) else name
                raise CommandError("unknown_command", f"no command {shown!r}")
            if role != "operator" and not spec.read_only:
                raise CommandError("not_allowed", "a viewer may look but not command: ask for the operator token")
            if self.control is None and name not in ("set_show_job_args", "set_alert_rule") and not spec.read_only:
                raise CommandError("not_allowed", "this server has no cluster to command")
            args = validate(spec, message.get("args", {}))
            self.hub.read()  # a command acts on, and a query reads, what was fed before it
            value = await spec.handler(self, who=who, **args)
        except (CommandError, ControlRefused) as exc:  # ControlRefused: the cluster's own refusal (control.py)
            return protocol.failed(cid, exc.code, exc.message)
        except Exception as exc:  # a bug or a dispy surprise: say so, keep serving
            log.exception("command %r failed", message.get("name"))
            return protocol.failed(cid, protocol.CLUSTER_ERROR, f"{type(exc).__name__}: {exc}"[:300])
        return protocol.result(cid, value)

    # helpers for handlers

    async def blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            value = await asyncio.wait_for(asyncio.to_thread(fn, *args), self.timeout)
        except TimeoutError:
            raise CommandError(
                "timeout", f"the cluster did not answer within {self.timeout:g} s; the action may still happen"
            ) from None
        self.hub.read()  # what the cluster fed during the call is in the state the handler reads next
        return value

    async def change(self, *events: Any) -> None:
        for event in events:
            self.hub.feed(event)
        await self.hub.settle()

    async def audit(
        self,
        action: str,
        target: str,
        cluster: str | None,
        state: str,
        message: str,
        who: str | None,
        watch: tuple | None = None,
    ) -> int:
        entry_id = self.hub.read().new_audit_id()  # one sequence with the state's own entries
        await self.change(AuditAdded(entry_id, time.time(), action, target, cluster, state, message, who, watch))
        return entry_id

    def clusters_for(self, cluster: str | None, ip: str | None = None) -> list[str]:
        """The clusters a command acts on: the one named, or every one (with that node)."""
        state = self.hub.read()
        if cluster is not None:
            if cluster not in state.clusters:
                raise CommandError("not_found", f"no cluster {cluster!r}")
            names = [cluster]
        else:
            names = list(state.clusters)
        if ip is not None:
            names = [n for n in names if ip in state.clusters[n].nodes]
            if not names:
                where = f"cluster {cluster!r}" if cluster else "any cluster"
                raise CommandError("not_found", f"no node {ip} in {where}")
        if not names:
            raise CommandError("not_found", "there is no cluster")
        return names
