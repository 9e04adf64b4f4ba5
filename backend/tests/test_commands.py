"""The command channel over a real WebSocket: validation, error codes, effects.

The cluster side here is a small recording control (dispy itself is in
test_cluster_commands.py); what is tested is everything before and after it.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from dispymon.adapters.rules import closed_stays_closed
from dispymon.model import events as ev
from dispymon.runtime.hub import Hub
from dispymon.transport.server import ServerConfig, create_app
from conftest import WSClient
from factories import attached, job, node, status


class RecordingControl:
    """Records the calls; reports what succeeded as an adapter must (commands/control.py)."""

    def __init__(self, feed) -> None:
        self.feed = feed
        self.calls: list[tuple] = []
        self.release = threading.Event()
        self.release.set()
        self.cpus_answer = 1

    def cancel(self, cluster, handle):
        self.calls.append(("cancel", cluster, handle))
        return 0

    def resolve(self, host):
        return {"node-a": "127.0.0.9"}.get(host, host if host[0].isdigit() else None)

    def check_node_action(self, action, ip, statuses):
        closed_stays_closed(action, ip, statuses)  # the rule every adapter applies (adapters/rules.py)

    def add_node(self, cluster, host, cpus):
        self.calls.append(("add_node", cluster, host, cpus))
        return 0

    def set_node_cpus(self, cluster, ip, cpus):
        self.release.wait(30)
        self.calls.append(("set_node_cpus", cluster, ip, cpus))
        if self.cpus_answer is not None and self.cpus_answer >= 0:
            self.feed(ev.NodeChanged(cluster, ip, cpus=self.cpus_answer))
        return self.cpus_answer

    def allocate_node(self, cluster, ip):
        self.calls.append(("allocate_node", cluster, ip))
        self.feed(ev.NodeChanged(cluster, ip, status="initialized"))
        return 0

    def deallocate_node(self, cluster, ip):
        self.calls.append(("deallocate_node", cluster, ip))
        self.feed(ev.NodeChanged(cluster, ip, status="deallocated"))
        return 0

    def close_node(self, cluster, ip, terminate_pending):
        self.calls.append(("close_node", cluster, ip, terminate_pending))
        self.feed(ev.NodeChanged(cluster, ip, status="closed"))
        return 0


@pytest.fixture
async def served(aiohttp_client, static_dir):
    hub = Hub(asyncio.get_running_loop())
    control = RecordingControl(hub.feed)
    config = ServerConfig(poll_sec=0.05, static_dir=static_dir, command_timeout=1.0, add_node_wait=0.5)
    client = await aiohttp_client(create_app(hub, config, control))
    hub.feed(attached("jc", nodes=[(node("127.0.0.2", busy=2), ev.NODE_INITIALIZED), (node("127.0.0.3"), ev.NODE_INITIALIZED)]))
    hub.feed(attached("sc", kind="SharedJobCluster", nodes=[(node("127.0.0.3"), ev.NODE_INITIALIZED)]))
    await hub.settle()

    async def connect() -> WSClient:
        ws = WSClient(await client.ws_connect("/ws"))
        await ws.recv()
        await ws.recv()
        return ws

    return hub, control, connect


async def call(ws: WSClient, cid, name, args=None, **extra):
    await ws.send({"type": "command", "id": cid, "name": name, "args": args if args is not None else {}, **extra})
    await ws.until(lambda m: cid in m.results, timeout=10, what=f"result {cid}", fresh=False)
    return ws.results[cid]


def error_of(result):
    assert result["ok"] is False, result
    return result["error"]["code"], result["error"]["message"]


@pytest.mark.parametrize(
    "name, args, code, text",
    [
        ("fly", {}, "unknown_command", "no command 'fly'"),
        ("terminate_jobs", {}, "invalid", "uids is required"),
        ("terminate_jobs", {"uids": "1,2"}, "invalid", "uids must be a list of 1 to 1000 items"),
        ("terminate_jobs", {"uids": []}, "invalid", "uids must be a list of 1 to 1000 items"),
        ("terminate_jobs", {"uids": [1, "two"]}, "invalid", "uids[1] must be a whole number"),
        ("terminate_jobs", {"uids": list(range(1001))}, "invalid", "1 to 1000 items"),
        ("set_show_job_args", {"value": "yes"}, "invalid", "value must be true or false"),
        ("set_show_job_args", {"value": True, "extra": 1}, "invalid", "unexpected argument 'extra'"),
        ("set_node_cpus", {"ip": "127.0.0.2", "cpus": -1}, "invalid", "cpus must be a whole number from 0"),
        ("set_node_cpus", {"ip": "127.0.0.2", "cpus": True}, "invalid", "cpus must be a whole number"),
        ("set_node_cpus", {"ip": "127.0.0.99", "cpus": 1}, "not_found", "no node 127.0.0.99 in any cluster"),
        ("set_node_cpus", {"ip": "127.0.0.2", "cpus": 1, "cluster": "nope"}, "not_found", "no cluster 'nope'"),
        ("set_node_cpus", {"ip": "127.0.0.3", "cpus": 1, "cluster": "sc"}, "not_allowed", "managed by its dispyscheduler"),
        ("add_node", {"host": "bad host!"}, "invalid", "host must be a host name"),
        ("add_node", {"host": "x" * 300}, "invalid", "1 to 253 characters"),
        ("add_node", {"host": "no-such-host"}, "not_found", "cannot resolve host 'no-such-host'"),
        ("deallocate_node", {"ip": "<script>"}, "invalid", "ip must be an IP address"),
    ],
)
async def test_bad_commands_get_one_error_result_each(served, name, args, code, text):
    hub, control, connect = served
    ws = await connect()
    got_code, message = error_of(await call(ws, 1, name, args))
    assert got_code == code and text in message
    assert control.calls == []  # nothing reached the cluster


async def test_command_without_usable_id_gets_an_error_message(served):
    _, _, connect = served
    ws = await connect()
    await ws.send({"type": "command", "name": "set_show_job_args", "args": {"value": False}})
    msg = await ws.recv()
    while msg["type"] != "error":
        msg = await ws.recv()
    assert msg["code"] == "invalid" and "id" in msg["message"]
    assert (await call(ws, "ok-1", "set_show_job_args", {"value": True}))["ok"]


async def test_show_job_args_reaches_every_browser(served):
    hub, _, connect = served
    a, b = await connect(), await connect()
    assert a.settings == {"show_job_args": True}
    result = await call(a, 7, "set_show_job_args", {"value": False})
    assert result == {"type": "result", "id": 7, "ok": True, "value": {"show_job_args": False}}
    await b.until(lambda m: m.settings == {"show_job_args": False}, what="the setting in the other browser")


async def test_terminate_reports_each_job(served):
    hub, control, connect = served
    hub.feed(status("jc", ev.JOB_RUNNING, node("127.0.0.2", busy=1), job(11, "127.0.0.2")))
    hub.feed(status("jc", ev.JOB_RUNNING, node("127.0.0.2", busy=2), job(12, "127.0.0.2")))
    hub.feed(status("jc", ev.JOB_FINISHED, node("127.0.0.2", busy=1), job(12, "127.0.0.2")))
    ws = await connect()
    result = await call(ws, 1, "terminate_jobs", {"uids": [11, 12, 13]})
    assert result["value"] == {"results": {"11": "terminated", "12": "already_finished", "13": "not_found"}}
    assert [c[:2] for c in control.calls] == [("cancel", "jc")]
    await ws.until(lambda m: m.audit and m.audit[-1]["action"] == "terminate_jobs", what="audit entry")
    assert ws.audit[-1]["message"] == "1 already finished, 1 not found, 1 terminated"


async def test_node_actions_show_their_effect_though_dispy_sends_no_event(served):
    hub, control, connect = served
    ws, other = await connect(), await connect()
    assert (await call(ws, 1, "set_node_cpus", {"ip": "127.0.0.2", "cpus": 1, "cluster": "jc"}))["value"] == {"cpus": {"jc": 1}}
    assert (await call(ws, 2, "deallocate_node", {"ip": "127.0.0.3"}))["value"] == {"clusters": ["jc", "sc"]}
    assert (await call(ws, 3, "close_node", {"ip": "127.0.0.2"}))["ok"]
    code, message = error_of(await call(ws, 4, "allocate_node", {"ip": "127.0.0.2"}))
    assert code == "not_allowed" and "fresh dispynode" in message
    assert (await call(ws, 5, "allocate_node", {"ip": "127.0.0.3", "cluster": "jc"}))["ok"]

    def shown(m) -> bool:
        jc, sc = m.clusters["jc"]["nodes"], m.clusters["sc"]["nodes"]
        return (jc["127.0.0.2"]["cpus"], jc["127.0.0.2"]["status"], jc["127.0.0.3"]["status"], sc["127.0.0.3"]["status"]) == (
            1, "closed", "initialized", "deallocated")  # fmt: skip

    await other.until(shown, what="the effects in another browser")
    actions = [(e["action"], e["target"], e["state"]) for e in other.audit]
    assert actions == [("set_node_cpus", "127.0.0.2", "ok"), ("deallocate_node", "127.0.0.3", "ok"),
                       ("close_node", "127.0.0.2", "ok"), ("allocate_node", "127.0.0.3", "ok")]  # fmt: skip
    assert other.audit[0]["message"] == "node 127.0.0.2 now uses 1 CPU"  # plain English
    # a closed address cannot be added again either (dispy would re-enable it without the computation)
    code, message = error_of(await call(ws, 6, "add_node", {"host": "127.0.0.2", "cluster": "jc"}))
    assert code == "not_allowed" and "stays closed" in message
    assert not any(c[0] == "add_node" for c in control.calls)


async def test_add_node_is_pending_until_the_node_initialises_or_fails_after_the_wait(served):
    hub, control, connect = served
    ws = await connect()
    first = await call(ws, 1, "add_node", {"host": "node-a", "cpus": 2, "cluster": "jc"})
    assert first["value"]["clusters"] == ["jc"] and first["value"]["cpus_ignored"] is False
    assert ("add_node", "jc", "127.0.0.9", 2) in control.calls
    wild = await call(ws, 2, "add_node", {"host": "127.0.1.*", "cpus": 4})
    assert wild["value"]["cpus_ignored"] is True and ("add_node", "sc", "127.0.1.*", 0) in control.calls
    hub.feed(status("jc", ev.NODE_INITIALIZED, node("127.0.0.9", cpus=2)))

    def entries(m):
        return {e["id"]: (e["state"], e["message"]) for e in m.audit}

    await ws.until(lambda m: entries(m).get(first["value"]["audit_id"], ("",))[0] == "ok", what="added node ok")
    assert entries(ws)[first["value"]["audit_id"]][1] == "node 127.0.0.9 initialised with 2 CPUs"
    await ws.until(lambda m: entries(m).get(wild["value"]["audit_id"], ("",))[0] == "failed", what="wildcard timed out")
    assert entries(ws)[wild["value"]["audit_id"]][1].startswith("no dispynode answered at 127.0.1.* within 0.5 s")


async def test_a_slow_cluster_call_times_out_without_stalling_other_browsers(served):
    hub, control, connect = served
    control.release.clear()  # set_node_cpus blocks until released
    try:
        ws, watcher = await connect(), await connect()
        pending = asyncio.create_task(call(ws, 1, "set_node_cpus", {"ip": "127.0.0.2", "cpus": 1}))
        hub.feed(status("jc", ev.NODE_INITIALIZED, node("127.0.0.7")))
        await watcher.until(lambda m: "127.0.0.7" in m.clusters["jc"]["nodes"], timeout=5, what="update meanwhile")
        assert not pending.done()
        code, message = error_of(await pending)
        assert code == "timeout" and "within 1 s" in message
    finally:
        control.release.set()
