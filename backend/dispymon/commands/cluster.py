"""The actions on a cluster: terminate jobs, add a node, set its CPUs, allocate/deallocate/close it, show job args.

Each goes through `ClusterControl` (cmds.control), never to dispy itself;
the adapter reports the changes that dispy does not (control.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from dispymon.commands.control import ControlRefused
from dispymon.commands.registry import CLUSTER, HOST, IP, CommandError, Commands, boolean, command, integer, list_of
from dispymon.model.events import AuditUpdated, SettingChanged
from dispymon.model.state import CLOSED, DEALLOCATED, INITIALIZED
from dispymon.model.text import count_text


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
            code = await cmds.blocking(cmds.cluster_control.cancel, cluster, handle)
        except (CommandError, ControlRefused) as exc:
            if exc.code == "timeout":  # no answer in time (dispy, or a fleet program): the outcome is unknown
                results[str(uid)] = "timeout"
                return
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
    await cmds.audit(
        "terminate_jobs",
        count_text(len(results), "job"),
        _joined(clusters),
        "ok" if "failed" not in counts and "timeout" not in counts else "failed",
        summary,
        who,
    )
    return {"results": {str(uid): results[str(uid)] for uid in dict.fromkeys(uids)}}


@command("add_node", host=HOST, optional={"cpus": integer(0, 100_000), "cluster": CLUSTER})
async def add_node(
    cmds: Commands, who: str | None, host: str, cpus: int = 0, cluster: str | None = None
) -> dict[str, Any]:
    names = cmds.clusters_for(cluster)
    wildcard = "*" in host
    if wildcard:
        pattern = host
    else:
        ip = await cmds.blocking(cmds.cluster_control.resolve, host)
        if not ip:
            await cmds.audit("add_node", host, _joined(names), "failed", f"cannot resolve host {host!r}", who)
            raise CommandError("not_found", f"cannot resolve host {host!r}")
        pattern = ip
    state = cmds.hub.read()
    if not wildcard:
        try:  # the cluster may refuse the node for what the dashboard knows of it (control.py)
            cmds.cluster_control.check_node_action(
                "add_node", pattern, {n: state.node_status(n, pattern) for n in names}
            )
        except ControlRefused as exc:
            await cmds.audit("add_node", host, _joined(names), "failed", exc.message, who)
            raise
    cpus_ignored = cpus > 0 and (wildcard or any(_shared(cmds, n) for n in names))
    refused = []
    for name in names:
        use_cpus = 0 if wildcard or _shared(cmds, name) else cpus
        if await cmds.blocking(cmds.cluster_control.add_node, name, host if wildcard else pattern, use_cpus) < 0:
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
            "add_node",
            host,
            _joined(names),
            "pending",
            f"waiting up to {cmds.add_node_wait:g} s for a dispynode at {pattern}",
            who,
            ("node", tuple(names), pattern, cmds.add_node_wait),
        )
        loop = asyncio.get_running_loop()
        loop.call_later(
            cmds.add_node_wait,
            cmds.hub.feed,
            AuditUpdated(
                entry,
                "failed",
                f"no dispynode answered at {pattern} within {cmds.add_node_wait:g} s "
                "(dispy keeps the address: the entry turns ok if the node joins later)",
                True,
            ),
        )
    return {"audit_id": entry, "clusters": names, "cpus_ignored": cpus_ignored}


@command("set_node_cpus", ip=IP, cpus=integer(0, 100_000), optional={"cluster": CLUSTER})
async def set_node_cpus(
    cmds: Commands, who: str | None, ip: str, cpus: int, cluster: str | None = None
) -> dict[str, Any]:
    names = cmds.clusters_for(cluster, ip)
    job_clusters = [n for n in names if not _shared(cmds, n)]
    if not job_clusters:
        raise CommandError("not_allowed", "a SharedJobCluster's node CPUs are managed by its dispyscheduler")
    effective: dict[str, int] = {}
    for name in job_clusters:
        got = await cmds.blocking(cmds.cluster_control.set_node_cpus, name, ip, cpus)
        if got is None or got < 0:
            await cmds.audit("set_node_cpus", ip, name, "failed", f"dispy refused {count_text(cpus, 'CPU')}", who)
            raise CommandError("cluster_error", f"dispy refused to set {count_text(cpus, 'CPU')} on {ip}")
        effective[name] = got  # the adapter has reported the node's change (control.py)
    if len(set(effective.values())) == 1:  # the cluster column names the cluster(s)
        shown = f"now uses {count_text(next(iter(effective.values())), 'CPU')}"
    else:
        shown = "now uses " + ", ".join(f"{count_text(c, 'CPU')} in {n}" for n, c in effective.items())
    await cmds.audit("set_node_cpus", ip, _joined(job_clusters), "ok", f"node {ip} {shown}", who)
    return {"cpus": effective}


async def _node_action(
    cmds: Commands,
    who: str | None,
    action: str,
    ip: str,
    cluster: str | None,
    call: Callable[[str], Any],
    new_status: str,
) -> dict[str, Any]:
    names = cmds.clusters_for(cluster, ip)
    for name in names:
        if await cmds.blocking(call, name) < 0:
            await cmds.audit(action, ip, name, "failed", "dispy refused", who)
            raise CommandError("cluster_error", f"dispy refused to {action.split('_')[0]} {ip} in {name}")
        # the adapter has reported the node's new status (control.py): `blocking` read it
    await cmds.audit(action, ip, _joined(names), "ok", f"node {new_status}", who)
    return {"clusters": names}


@command("allocate_node", ip=IP, optional={"cluster": CLUSTER})
async def allocate_node(cmds: Commands, who: str | None, ip: str, cluster: str | None = None) -> dict[str, Any]:
    names = cmds.clusters_for(cluster, ip)
    state = cmds.hub.read()
    cmds.cluster_control.check_node_action("allocate_node", ip, {n: state.node_status(n, ip) for n in names})
    return await _node_action(
        cmds, who, "allocate_node", ip, cluster, lambda n: cmds.cluster_control.allocate_node(n, ip), INITIALIZED
    )


@command("deallocate_node", ip=IP, optional={"cluster": CLUSTER})
async def deallocate_node(cmds: Commands, who: str | None, ip: str, cluster: str | None = None) -> dict[str, Any]:
    return await _node_action(
        cmds, who, "deallocate_node", ip, cluster, lambda n: cmds.cluster_control.deallocate_node(n, ip), DEALLOCATED
    )


@command("close_node", ip=IP, optional={"cluster": CLUSTER, "terminate_pending": boolean()})
async def close_node(
    cmds: Commands, who: str | None, ip: str, cluster: str | None = None, terminate_pending: bool = False
) -> dict[str, Any]:
    return await _node_action(
        cmds,
        who,
        "close_node",
        ip,
        cluster,
        lambda n: cmds.cluster_control.close_node(n, ip, terminate_pending),
        CLOSED,
    )
