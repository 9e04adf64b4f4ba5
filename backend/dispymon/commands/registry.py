"""The command channel: one registry, one schema per command, one error mapping.

A browser sends {type: "command", id, name, args}; `Commands.execute` answers
with exactly one {type: "result", id, ok, value | error}. Arguments are
validated before anything reaches a cluster. Cluster calls go through the
`ClusterControl` interface in a worker thread with a timeout, so a slow
dispy call never stalls the event loop or other browsers. State changes that
dispy does not report itself (CPUs, deallocate, close) are applied here, so
every browser sees them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from dispymon.commands.control import ClusterControl
from dispymon.model.events import AuditAdded, AuditUpdated, NodeChanged, SettingChanged
from dispymon.runtime.hub import Hub
from dispymon.model.state import CLOSED, DEALLOCATED, INITIALIZED
from dispymon.model.text import count_text
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


def command(name: str, optional: dict[str, Check] | None = None, read_only: bool = False, **required: Check):
    def register(handler: Callable[..., Awaitable[Any]]):
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
    return (spec is not None and spec.read_only and not isinstance(cid, bool)
            and (isinstance(cid, int) or (isinstance(cid, str) and len(cid) <= MAX_ID_LEN)))  # fmt: skip


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

    def __init__(self, hub: Hub, control: ClusterControl | None, timeout: float = 15.0,
                 add_node_wait: float = 20.0) -> None:  # fmt: skip
        self.hub = hub
        self.control = control
        self.timeout = timeout
        self.add_node_wait = add_node_wait
        self.insight: Any = None  # history and series, for the read-only commands (api.py)

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
            if self.control is None and name != "set_show_job_args" and not spec.read_only:
                raise CommandError("not_allowed", "this server has no cluster to command")
            args = validate(spec, message.get("args", {}))
            self.hub.read()  # a command acts on, and a query reads, what was fed before it
            value = await spec.handler(self, who=who, **args)
        except CommandError as exc:
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
            raise CommandError("timeout", f"the cluster did not answer within {self.timeout:g} s; the action may still happen") from None
        self.hub.read()  # what the cluster fed during the call is in the state the handler reads next
        return value

    async def change(self, *events: Any) -> None:
        for event in events:
            self.hub.feed(event)
        await self.hub.settle()

    async def audit(self, action: str, target: str, cluster: str | None, state: str, message: str,
                    who: str | None, watch: tuple | None = None) -> int:  # fmt: skip
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


def _shared(cmds: Commands, name: str) -> bool:
    return cmds.hub.read().clusters[name].kind == "SharedJobCluster"


def _joined(names: list[str]) -> str | None:
    return names[0] if len(names) == 1 else None


# -- the commands ---------------------------------------------------------------


@command("set_show_job_args", value=boolean())
async def set_show_job_args(cmds: Commands, who: str | None, value: bool) -> dict[str, Any]:
    await cmds.change(SettingChanged("show_job_args", value))
    return {"show_job_args": cmds.hub.read().settings["show_job_args"]}


@command("terminate_jobs", uids=list_of(integer(0, 2**64 - 1), 1, 1000))
async def terminate_jobs(cmds: Commands, who: str | None, uids: list[int]) -> dict[str, Any]:
    state = cmds.hub.read()
    results: dict[str, str] = {}
    calls = []
    for uid in dict.fromkeys(uids):  # once each, in order
        found = state.running_job(uid)
        if found is None:
            results[str(uid)] = "already_finished" if state.recently_done(uid) else "not_found"
        else:
            calls.append((uid, found[0], found[1].handle))

    async def cancel(uid: int, cluster: str, handle: Any) -> None:
        try:
            code = await cmds.blocking(cmds.control.cancel, cluster, handle)
        except CommandError:
            code = -1
        if code == 0:
            results[str(uid)] = "terminated"
        else:  # dispy refuses a job that finished meanwhile
            results[str(uid)] = "already_finished" if state.running_job(uid) is None else "failed"

    await asyncio.gather(*(cancel(*call) for call in calls))
    counts: dict[str, int] = {}
    for outcome in results.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    summary = ", ".join(f"{n} {outcome.replace('_', ' ')}" for outcome, n in sorted(counts.items()))
    clusters = sorted({c for _, c, _ in calls})
    await cmds.audit("terminate_jobs", count_text(len(results), "job"), _joined(clusters), "ok" if "failed" not in counts else "failed",
                     summary, who)  # fmt: skip
    return {"results": {str(uid): results[str(uid)] for uid in dict.fromkeys(uids)}}


@command("add_node", host=HOST, optional={"cpus": integer(0, 100_000), "cluster": CLUSTER})
async def add_node(cmds: Commands, who: str | None, host: str, cpus: int = 0, cluster: str | None = None) -> dict[str, Any]:
    names = cmds.clusters_for(cluster)
    wildcard = "*" in host
    if wildcard:
        pattern = host
    else:
        ip = await cmds.blocking(cmds.control.resolve, host)
        if not ip:
            await cmds.audit("add_node", host, _joined(names), "failed", f"cannot resolve host {host!r}", who)
            raise CommandError("not_found", f"cannot resolve host {host!r}")
        pattern = ip
    state = cmds.hub.read()
    closed = [] if wildcard else [n for n in names if state.node_status(n, pattern) == CLOSED]
    if closed:
        # dispy would put the node back in use without the computation (every
        # job sent there comes back Cancelled): a closed node stays closed
        message = (f"{pattern} was closed in {', '.join(closed)}; a closed node stays closed while this program runs. "
                   "Add a fresh dispynode at another address instead")  # fmt: skip
        await cmds.audit("add_node", host, _joined(names), "failed", message, who)
        raise CommandError("not_allowed", message)
    cpus_ignored = cpus > 0 and (wildcard or any(_shared(cmds, n) for n in names))
    refused = []
    for name in names:
        use_cpus = 0 if wildcard or _shared(cmds, name) else cpus
        if await cmds.blocking(cmds.control.add_node, name, host if wildcard else pattern, use_cpus) < 0:
            refused.append(name)
    if refused:
        message = f"dispy refused {host} for {', '.join(refused)}"
        await cmds.audit("add_node", host, _joined(names), "failed", message, who)
        raise CommandError("cluster_error", message)
    already = not wildcard and all(state.node_status(n, pattern) == INITIALIZED for n in names)
    if already:
        entry = await cmds.audit("add_node", host, _joined(names), "ok", f"node {pattern} is already in use", who)
    else:
        entry = await cmds.audit(
            "add_node", host, _joined(names), "pending",
            f"waiting up to {cmds.add_node_wait:g} s for a dispynode at {pattern}", who,
            ("node", tuple(names), pattern, cmds.add_node_wait),
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        loop.call_later(
            cmds.add_node_wait, cmds.hub.feed,
            AuditUpdated(entry, "failed", f"no dispynode answered at {pattern} within {cmds.add_node_wait:g} s "
                         "(dispy keeps the address: the entry turns ok if the node joins later)", True),
        )  # fmt: skip
    return {"audit_id": entry, "clusters": names, "cpus_ignored": cpus_ignored}


@command("set_node_cpus", ip=IP, cpus=integer(0, 100_000), optional={"cluster": CLUSTER})
async def set_node_cpus(cmds: Commands, who: str | None, ip: str, cpus: int, cluster: str | None = None) -> dict[str, Any]:
    names = cmds.clusters_for(cluster, ip)
    job_clusters = [n for n in names if not _shared(cmds, n)]
    if not job_clusters:
        raise CommandError("not_allowed", "a SharedJobCluster's node CPUs are managed by its dispyscheduler")
    effective: dict[str, int] = {}
    for name in job_clusters:
        got = await cmds.blocking(cmds.control.set_node_cpus, name, ip, cpus)
        if got is None or got < 0:
            await cmds.audit("set_node_cpus", ip, name, "failed", f"dispy refused {count_text(cpus, 'CPU')}", who)
            raise CommandError("cluster_error", f"dispy refused to set {count_text(cpus, 'CPU')} on {ip}")
        effective[name] = got
        # dispy emits no event for this: apply the effective value ourselves
        await cmds.change(NodeChanged(name, ip, cpus=got))
    if len(set(effective.values())) == 1:  # the cluster column names the cluster(s)
        shown = f"now uses {count_text(next(iter(effective.values())), 'CPU')}"
    else:
        shown = "now uses " + ", ".join(f"{count_text(c, 'CPU')} in {n}" for n, c in effective.items())
    await cmds.audit("set_node_cpus", ip, _joined(job_clusters), "ok", f"node {ip} {shown}", who)
    return {"cpus": effective}


async def _node_action(cmds: Commands, who: str | None, action: str, ip: str, cluster: str | None,
                       call: Callable[[str], Any], new_status: str) -> dict[str, Any]:  # fmt: skip
    names = cmds.clusters_for(cluster, ip)
    for name in names:
        if await cmds.blocking(call, name) < 0:
            await cmds.audit(action, ip, name, "failed", "dispy refused", who)
            raise CommandError("cluster_error", f"dispy refused to {action.split('_')[0]} {ip} in {name}")
        # no status event comes from dispy for this: show the effect ourselves
        await cmds.change(NodeChanged(name, ip, status=new_status))
    await cmds.audit(action, ip, _joined(names), "ok", f"node {new_status}", who)
    return {"clusters": names}


@command("allocate_node", ip=IP, optional={"cluster": CLUSTER})
async def allocate_node(cmds: Commands, who: str | None, ip: str, cluster: str | None = None) -> dict[str, Any]:
    names = cmds.clusters_for(cluster, ip)
    if any(cmds.hub.read().node_status(n, ip) == CLOSED for n in names):
        raise CommandError(
            "not_allowed",
            f"{ip} was closed; dispy 4.15.2 would cancel every job sent to it, so a closed node stays closed while "
            "this program runs. Add a fresh dispynode at another address instead",
        )
    return await _node_action(cmds, who, "allocate_node", ip, cluster,
                              lambda n: cmds.control.allocate_node(n, ip), INITIALIZED)  # fmt: skip


@command("deallocate_node", ip=IP, optional={"cluster": CLUSTER})
async def deallocate_node(cmds: Commands, who: str | None, ip: str, cluster: str | None = None) -> dict[str, Any]:
    return await _node_action(cmds, who, "deallocate_node", ip, cluster,
                              lambda n: cmds.control.deallocate_node(n, ip), DEALLOCATED)  # fmt: skip


@command("close_node", ip=IP, optional={"cluster": CLUSTER, "terminate_pending": boolean()})
async def close_node(cmds: Commands, who: str | None, ip: str, cluster: str | None = None,
                     terminate_pending: bool = False) -> dict[str, Any]:  # fmt: skip
    return await _node_action(cmds, who, "close_node", ip, cluster,
                              lambda n: cmds.control.close_node(n, ip, terminate_pending), CLOSED)  # fmt: skip
