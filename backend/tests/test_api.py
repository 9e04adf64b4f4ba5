"""The REST API, /metrics and the read-only WebSocket commands, with events fed into the hub."""

from __future__ import annotations

import asyncio

import pytest

from dispymon.model import events as ev
from dispymon.model.events import JobInfo
from dispymon.runtime.hub import Hub
from dispymon.transport.security import Access
from dispymon.features.rest import INSIGHT
from dispymon.transport.server import CONNECTIONS, ServerConfig, create_app
from conftest import WSClient
from factories import attached, node, status

FAIL = 'Traceback (most recent call last):\n  File "x", line 1\nZeroDivisionError: division by zero\n'


def job(uid, ip="127.0.0.2", start=1000.0, end=None, exception=None, job_id=None):
    return JobInfo(uid, job_id or f"job-{uid}", ip, start, end, (uid,), {}, exception)


async def feed_cluster(hub: Hub) -> None:
    """Cluster c: two nodes; 4 jobs done (2 finished, 1 failed, 1 cancelled), 2 running on 127.0.0.2."""
    hub.feed(attached("c", nodes=[(node("127.0.0.2"), ev.NODE_INITIALIZED), (node("127.0.0.3"), ev.NODE_INITIALIZED)]))
    for uid in range(1, 7):
        hub.feed(status("c", ev.JOB_CREATED, None, job(uid, None, start=None)))
    for uid, ip in ((1, "127.0.0.2"), (2, "127.0.0.3"), (3, "127.0.0.3"), (5, "127.0.0.2"), (6, "127.0.0.2")):
        hub.feed(status("c", ev.JOB_RUNNING, node(ip, busy=1), job(uid, ip)))
    hub.feed(status("c", ev.JOB_FINISHED, node("127.0.0.2", busy=2, jobs_done=1), job(1, end=1000.5)))
    hub.feed(status("c", ev.JOB_FINISHED, node("127.0.0.3", busy=1, jobs_done=1), job(2, "127.0.0.3", end=1003.0)))
    hub.feed(status("c", ev.JOB_TERMINATED, node("127.0.0.3", busy=0, jobs_done=2),
                    job(3, "127.0.0.3", end=1002.0, exception=FAIL)))  # fmt: skip
    hub.feed(status("c", ev.JOB_CANCELLED, None, job(4, None, start=None)))
    await hub.settle()


@pytest.fixture
async def served(aiohttp_client, static_dir):
    async def make(access: Access = Access(), **config):
        hub = Hub(asyncio.get_running_loop())
        app = create_app(hub, ServerConfig(poll_sec=0.05, static_dir=static_dir, access=access, **config))
        return hub, await aiohttp_client(app)

    return make


async def test_clusters_nodes_and_a_node_with_its_running_jobs(served):
    hub, client = await served()
    await feed_cluster(hub)
    r = await client.get("/api/clusters")
    assert r.status == 200 and r.content_type == "application/json"
    body = await r.json()
    assert body == {"clusters": [{"name": "c", "kind": "JobCluster", "nodes": 2, "jobs": {
        "submitted": 6, "queued": 0, "running": 2, "done": 4, "finished": 2, "failed": 1, "cancelled": 1,
        "terminated": 0, "abandoned": 0}}]}  # fmt: skip
    nodes = await (await client.get("/api/clusters/c/nodes")).json()
    assert nodes["cluster"] == "c"
    assert {n["ip_addr"]: n["busy"] for n in nodes["nodes"]} == {"127.0.0.2": 2, "127.0.0.3": 0}
    assert nodes["nodes"][0] == hub.read().clusters["c"].node(nodes["nodes"][0]["ip_addr"])
    one = await (await client.get("/api/nodes/127.0.0.2")).json()
    assert one["ip_addr"] == "127.0.0.2" and one["clusters"]["c"]["jobs_done"] == 1
    assert [(j["uid"], j["id"], j["args"], j["cluster"]) for j in one["jobs"]] == [(5, "job-5", "5", "c"), (6, "job-6", "6", "c")]


async def test_history_and_its_summary(served):
    hub, client = await served()
    await feed_cluster(hub)
    body = await (await client.get("/api/history")).json()
    assert body["total"] == 4
    # newest end first; the cancelled job has no end from dispy: the time it was seen (now)
    assert [j["uid"] for j in body["jobs"]] == [4, 2, 3, 1]
    failed = await (await client.get("/api/history", params={"outcome": "failed"})).json()
    assert failed["total"] == 1 and failed["jobs"][0]["exception_type"] == "ZeroDivisionError"
    assert failed["jobs"][0]["exception_message"] == "division by zero" and failed["jobs"][0]["node"] == "127.0.0.3"
    page = await (await client.get("/api/history?node=127.0.0.3&limit=1&offset=1")).json()
    assert page["total"] == 2 and [j["uid"] for j in page["jobs"]] == [3]
    assert (await (await client.get("/api/history?text=JOB-4&cluster=c")).json())["total"] == 1
    summary = await (await client.get("/api/history/summary")).json()
    assert summary["outcomes"] == {"finished": 2, "failed": 1, "cancelled": 1, "terminated": 0, "abandoned": 0}
    assert [(f["type"], f["count"], f["last_message"]) for f in summary["failures"]] == [
        ("ZeroDivisionError", 1, "division by zero")]  # fmt: skip


async def test_series_over_rest(served):
    hub, client = await served()
    await feed_cluster(hub)
    hub.feed(ev.HealthCheck(__import__("time").time()))
    await hub.settle()
    body = await (await client.get("/api/series?cluster=c")).json()
    assert body["step"] == 1 and sum(body["done"]) == 4 and body["busy"][-1] == 2
    # only the seconds since the cluster was attached (this test's few), not 600
    assert 1 <= len(body["done"]) == len(body["busy"]) < 600
    node = await (await client.get("/api/series", params={"node": "127.0.0.3"})).json()
    assert sum(node["done"]) == 2 and node["busy"][-1] == 0
    # the minute(s) since then, not 1440
    assert len((await (await client.get("/api/series?step=60")).json())["done"]) in (1, 2)


async def test_the_chart_starts_when_a_cluster_is_attached(served):
    # the first busy sample is taken at the attach, not at the next clock tick
    # (and every node's rings are made with its cluster)
    hub, client = await served()
    hub.feed(attached("c", nodes=[(node("127.0.0.2", busy=3), ev.NODE_INITIALIZED),
                                  (node("127.0.0.3", busy=1), ev.NODE_INITIALIZED)]))  # fmt: skip
    await hub.settle()
    body = await (await client.get("/api/series?cluster=c")).json()
    assert body["busy"][-1] == 4 and sum(body["done"]) == 0
    for ip, busy in (("127.0.0.2", 3), ("127.0.0.3", 1)):
        assert (await (await client.get("/api/series", params={"node": ip})).json())["busy"][-1] == busy


@pytest.mark.parametrize("url, status, code", [
    ("/api/clusters/nope/nodes", 404, "not_found"),
    ("/api/nodes/10.9.9.9", 404, "not_found"),
    ("/api/history?outcome=exploded", 400, "invalid"),
    ("/api/history?limit=zero", 400, "invalid"),
    ("/api/history?limit=0", 400, "invalid"),
    ("/api/history?limit=1001", 400, "invalid"),
    ("/api/history?colour=red", 400, "invalid"),
    ("/api/history/summary?x=1", 400, "invalid"),
    ("/api/series?step=5", 400, "invalid"),
    ("/api/nothing", 404, "not_found"),
])  # fmt: skip
async def test_bad_requests_get_a_json_error(served, url, status, code):
    _, client = await served()
    r = await client.get(url)
    assert r.status == status
    assert (await r.json())["error"]["code"] == code


async def test_the_api_is_read_only(served):
    _, client = await served()
    for method in ("POST", "PUT", "DELETE"):
        r = await client.request(method, "/api/history")
        assert r.status == 405 and (await r.json())["error"]["code"] == "not_allowed"


async def test_tokens_guard_the_api_and_metrics_and_a_viewer_may_read(served):
    access = Access(operator_token="op-secret", viewer_token="view-secret")
    hub, client = await served(access=access)
    await feed_cluster(hub)
    for url in ("/api/clusters", "/api/history", "/api/nodes/127.0.0.2", "/metrics"):
        assert (await client.get(url)).status == 401
        assert (await client.get(url, headers={"Authorization": "Bearer wrong"})).status == 401
        for token in ("view-secret", "op-secret"):
            r = await client.get(url, headers={"Authorization": f"Bearer {token}"})
            assert r.status == 200, (url, token)
    # the Host check applies too (DNS rebinding)
    assert (await client.get("/api/clusters", headers={"Host": "evil.example", "Authorization": "Bearer op-secret"})).status == 403


async def test_read_only_commands_over_the_websocket_also_for_viewers(served):
    access = Access(operator_token="op-secret", viewer_token="view-secret")
    hub, client = await served(access=access)
    await feed_cluster(hub)
    ws = WSClient(await client.ws_connect("/ws", headers={"Authorization": "Bearer view-secret"}))
    assert (await ws.recv())["role"] == "viewer"
    await ws.recv()

    async def run(cid, name, args=None):
        await ws.send({"type": "command", "id": cid, "name": name, "args": args or {}})
        while True:
            message = await ws.recv()
            if message["type"] == "result" and message["id"] == cid:
                return message

    r = await run(1, "history", {"outcome": "finished", "limit": 10})
    assert r["ok"] and r["value"]["total"] == 2 and {j["uid"] for j in r["value"]["jobs"]} == {1, 2}
    r = await run(2, "history_summary")
    assert r["ok"] and r["value"]["failures"][0]["type"] == "ZeroDivisionError"
    r = await run(3, "series", {"cluster": "c"})
    assert r["ok"] and r["value"]["step"] == 1 and sum(r["value"]["done"]) == 4
    r = await run(4, "history", {"limit": "ten"})
    assert not r["ok"] and r["error"]["code"] == "invalid" and "limit" in r["error"]["message"]
    r = await run(5, "series", {"step": 7})
    assert not r["ok"] and r["error"]["code"] == "invalid"
    # a viewer still may not command
    r = await run(6, "set_show_job_args", {"value": False})
    assert not r["ok"] and r["error"]["code"] == "not_allowed"


async def test_history_size_bounds_the_history(served):
    hub, client = await served(history_size=2)
    await feed_cluster(hub)
    body = await (await client.get("/api/history")).json()
    assert body["total"] == 2


async def test_read_only_commands_need_no_cluster_and_say_so_without_a_history():
    from dispymon.commands.registry import Commands

    hub = Hub(asyncio.get_running_loop())
    bare = Commands(hub, control=None)  # no app: nothing installed
    r = await bare.execute({"id": 1, "name": "history", "args": {}}, role="viewer")
    assert r["ok"] is False and r["error"]["code"] == "not_allowed" and "no history" in r["error"]["message"]


async def fill_history(hub: Hub, jobs: int) -> None:
    """Cluster c with one node; `jobs` finished jobs with distinct ids, fed as dispy would."""
    hub.feed(attached("c", nodes=[(node("127.0.0.2"), ev.NODE_INITIALIZED)]))
    for uid in range(1, jobs + 1):
        hub.feed(status("c", ev.JOB_CREATED, None, job(uid, None, start=None)))
        hub.feed(status("c", ev.JOB_RUNNING, node(busy=1), job(uid)))
        hub.feed(status("c", ev.JOB_FINISHED, node(jobs_done=uid), job(uid, end=1000.0 + uid)))
        if uid % 1000 == 0:
            await hub.settle()
    await hub.settle()


async def test_a_connection_runs_one_query_at_a_time_and_others_get_busy(served):
    hub, client = await served()
    await fill_history(hub, 2000)
    ws = WSClient(await client.ws_connect("/ws"))
    await ws.recv(), await ws.recv()  # hello, snapshot
    ids = list(range(1, 21))
    for cid in ids:  # sent at once: each arrives while the first is still running or unsent
        await ws.send({"type": "command", "id": cid, "name": "history", "args": {"limit": 1000, "offset": cid}})
    results = {}
    while len(results) < len(ids):
        message = await ws.recv()
        if message["type"] == "result":
            assert message["id"] not in results, "one result per command"
            results[message["id"]] = message
    busy = [cid for cid, r in results.items() if not r["ok"]]
    assert busy and all(results[cid]["error"]["code"] == "busy" for cid in busy)
    assert results[1]["ok"] and results[1]["value"]["total"] == 2000
    assert [j["uid"] for j in results[1]["value"]["jobs"]] == list(range(1999, 999, -1))  # newest end first, offset 1
    # one after the other: every one is answered, with what the history holds
    for cid in (101, 102, 103):
        await ws.send({"type": "command", "id": cid, "name": "history_summary", "args": {}})
        while (message := await ws.recv())["type"] != "result":
            pass
        assert message["id"] == cid and message["ok"] and message["value"]["outcomes"]["finished"] == 2000
    await ws.ws.close()


async def test_a_query_answer_is_encoded_once_while_its_data_is_unchanged(served):
    hub, client = await served()
    await fill_history(hub, 50)
    insight = client.app[INSIGHT]
    insight.clock = lambda: 5000.0  # the same second throughout
    answers = []
    for cid in (1, 2):
        ws = WSClient(await client.ws_connect("/ws"))
        await ws.recv(), await ws.recv()
        await ws.send({"type": "command", "id": cid, "name": "history", "args": {"outcome": "finished"}})
        while (message := await ws.recv())["type"] != "result":
            pass
        answers.append(message)
        await ws.ws.close()
    assert answers[0]["value"] == answers[1]["value"] == insight.history.query(outcome="finished")
    assert len(insight.answers) == 1  # the second asker got the first one's bytes
    # a job more: a new answer
    hub.feed(status("c", ev.JOB_CREATED, None, job(99, None, start=None)))
    hub.feed(status("c", ev.JOB_FINISHED, node(jobs_done=51), job(99, end=5000.0)))
    ws = WSClient(await client.ws_connect("/ws"))
    await ws.recv(), await ws.recv()
    await ws.send({"type": "command", "id": 3, "name": "history", "args": {"outcome": "finished"}})
    while (message := await ws.recv())["type"] != "result":
        pass
    assert message["value"]["total"] == 51 and message["value"]["jobs"][0]["uid"] == 99
    assert len(insight.answers) == 2
    await ws.ws.close()


async def test_a_flood_of_queries_leaves_memory_and_the_other_browsers_alone(served):
    # 40 viewers each asking for 1,000 jobs 45 times a second (under the rate
    # limit) for 10 s, from another process, against a full history; meanwhile
    # one more browser watches a node that keeps changing. Before: the
    # answers piled up by the thousand (here RSS 61 -> 191 MB within the 10 s).
    import gc
    import sys

    import psutil

    from dispymon.features import memory
    from dispymon.transport.server import Connection

    from conftest import REPO

    hub, client = await served()
    await fill_history(hub, 12_000)
    other = WSClient(await client.ws_connect("/ws"))
    await other.recv(), await other.recv()
    await other.send({"type": "view", "interval": 0.25})
    me = psutil.Process()
    gc.collect()
    memory.trim()
    start = me.memory_info().rss
    frames: list[float] = []
    loop = asyncio.get_running_loop()

    async def watch() -> None:
        while True:
            if (await other.recv(timeout=60))["type"] in ("snapshot", "delta"):
                frames.append(loop.time())

    async def changes() -> None:
        for i in range(1, 1_000_000):
            hub.feed(status("c", ev.NODE_INITIALIZED, node(cpu_time=float(i))))
            await asyncio.sleep(0.05)

    tasks = [asyncio.create_task(watch()), asyncio.create_task(changes())]
    flood = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.hostile_queries", "--flood-only", "--port", str(client.port),
        "--connections", "40", "--rate", "45", "--seconds", "10", cwd=REPO, stdout=asyncio.subprocess.PIPE)  # fmt: skip
    peak = start
    began = loop.time()
    while flood.returncode is None:
        peak = max(peak, me.memory_info().rss)
        for conn in list(client.app[CONNECTIONS]):
            assert len(conn.outbox) <= Connection.MAX_OUTBOX and conn.outbox_bytes <= Connection.MAX_OUTBOX_BYTES
        try:
            await asyncio.wait_for(asyncio.shield(flood.wait()), 0.1)
        except TimeoutError:
            pass
    ended = loop.time()
    out, _ = await flood.communicate()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    counts = __import__("json").loads(out.decode().strip().splitlines()[-1])
    assert peak - start < 100 * 2**20, f"RSS {start / 2**20:.0f} MB, peak {peak / 2**20:.0f} MB"
    assert counts["sent"] > 5_000 and counts["busy"] > 0 and counts["ok"] > 0, counts
    # every query got its one result (the pump of a connection whose first
    # result came while its snapshot went out used to stop for good)
    assert counts["ok"] + counts["busy"] == counts["sent"] and counts["unanswered"] == 0, counts
    # the other browser kept receiving frames all along (each half of the flood had some)
    middle = (began + ended) / 2
    assert any(began <= t < middle for t in frames) and any(middle <= t <= ended for t in frames), (began, ended, frames)
    await other.ws.close()


async def test_a_result_queued_while_the_snapshot_goes_out_does_not_stop_the_updates(served):
    # A big snapshot is compressed off the loop; a query sent with the
    # handshake is answered meanwhile, so the pump finds a result queued
    # right after its first frame (before its first clock tick).
    hub, client = await served()
    hub.feed(attached("c", nodes=[(node(f"10.0.{i // 250}.{i % 250}"), ev.NODE_INITIALIZED) for i in range(2000)]))
    await hub.settle()
    for attempt in range(5):
        ws = WSClient(await client.ws_connect("/ws", compress=15))
        await ws.send({"type": "command", "id": 1, "name": "history_summary", "args": {}})
        await ws.until(lambda m: "c" in m.clusters, what="the snapshot")
        ip = f"10.0.0.{attempt}"
        hub.feed(status("c", ev.NODE_INITIALIZED, node(ip, jobs_done=attempt + 1)))
        await ws.until(lambda m: m.clusters["c"]["nodes"][ip]["jobs_done"] == attempt + 1, timeout=10,
                       what="a delta after the first result")  # fmt: skip
        assert any(m["type"] == "result" and m["id"] == 1 and m["ok"] for m in ws.messages)
        await ws.ws.close()
