"""The aiohttp app with events fed directly into its hub (no dispy here)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import WSMsgType

from dispymon.model import events as ev
from dispymon.runtime.hub import Hub
from dispymon.transport.server import CONNECTIONS, MissingFrontendError, ServerConfig, create_app
from conftest import WSClient
from factories import attached, job, node, status


@pytest.fixture
async def served(aiohttp_client, static_dir):
    async def make(poll_sec: float = 0.05):
        hub = Hub(asyncio.get_running_loop())
        app = create_app(hub, ServerConfig(poll_sec=poll_sec, static_dir=static_dir))
        client = await aiohttp_client(app)
        return hub, client

    return make


async def connect(client) -> WSClient:
    ws = WSClient(await client.ws_connect("/ws"))
    hello = await ws.recv()
    assert hello["type"] == "hello" and hello["protocol"] == 1
    snap = await ws.recv()
    assert snap["type"] == "snapshot"
    return ws


async def test_hello_snapshot_then_deltas_in_sequence(served):
    hub, client = await served(poll_sec=0.05)
    hub.feed(attached("c", nodes=[(node("127.0.0.2"), ev.NODE_INITIALIZED)]))
    ws = await connect(client)
    assert ws.hello["poll_sec"] == 0.05 and ws.hello["show_job_args"] is True
    await ws.until(lambda m: "c" in m.clusters, what="cluster c")
    for uid in range(5):
        hub.feed(status("c", ev.JOB_CREATED, None, job(uid, None)))
        hub.feed(status("c", ev.JOB_RUNNING, node(busy=1), job(uid)))
        hub.feed(status("c", ev.JOB_FINISHED, node(jobs_done=uid + 1), job(uid)))
    await ws.until(lambda m: m.clusters["c"]["jobs"]["done"] == 5, what="5 jobs done")
    assert ws.clusters == hub.read().snapshot()[0]["clusters"]
    seqs = [m["seq"] for m in ws.messages if m["type"] in ("snapshot", "delta")]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_two_browsers_both_see_the_full_state(served):
    hub, client = await served()
    a, b = await connect(client), await connect(client)
    hub.feed(attached("c"))
    for i in range(2, 12):
        hub.feed(status("c", ev.NODE_INITIALIZED, node(f"127.0.0.{i}")))
    for ws in (a, b):
        await ws.until(lambda m: len(m.clusters.get("c", {}).get("nodes", {})) == 10, what="10 nodes")
        assert ws.clusters == hub.read().snapshot()[0]["clusters"]


async def test_interval_zero_pauses_until_flush(served):
    hub, client = await served(poll_sec=0.05)
    hub.feed(attached("c"))
    ws = await connect(client)
    await ws.until(lambda m: "c" in m.clusters)
    await ws.send({"type": "view", "interval": 0})
    # messages are handled in order: once this snapshot arrives, the pause holds
    await ws.send({"type": "resync"})
    await ws.until(lambda m: m.seq is not None and ws.messages[-1]["type"] == "snapshot" and len(ws.messages) > 2, fresh=False)
    hub.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.2")))
    await hub.settle()
    # paused: the change stays on the server until asked for
    with pytest.raises(asyncio.TimeoutError):
        while True:
            msg = await ws.recv(timeout=0.5)
            assert "127.0.0.2" not in msg.get("clusters", {}).get("c", {}).get("nodes", {})
    assert "127.0.0.2" not in ws.clusters["c"]["nodes"]
    await ws.send({"type": "flush"})
    await ws.until(lambda m: m.last_sent("c", "nodes", "127.0.0.2"), timeout=5, what="flushed node", fresh=False)


async def test_resync_sends_a_fresh_snapshot(served):
    hub, client = await served()
    ws = await connect(client)
    await ws.send({"type": "resync"})
    msg = await ws.recv()
    assert msg["type"] == "snapshot" and msg["seq"] == 2


async def test_bad_messages_get_errors_and_garbage_closes(served):
    hub, client = await served()
    ws = await connect(client)
    await ws.send({"type": "teleport"})
    err = await ws.recv()
    assert err == {"type": "error", "code": "invalid", "message": "unknown message type 'teleport'"}
    await ws.send({"type": "view", "interval": "fast"})
    assert (await ws.recv())["code"] == "invalid"
    await ws.ws.send_bytes(b"\xc1\xc1")
    msg = await ws.ws.receive(timeout=5)
    assert msg.type == WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.UNSUPPORTED_DATA
    # the server is unaffected: a new browser still connects
    await connect(client)


async def test_text_frames_are_refused_with_a_reason(served):
    _, client = await served()
    ws = await connect(client)
    await ws.ws.send_str('{"type": "flush"}')
    msg = await ws.ws.receive(timeout=5)
    assert msg.type == WSMsgType.CLOSE and "text frames" in msg.extra


async def test_assets_and_the_page_go_precompressed_when_the_browser_accepts_gzip(served, static_dir):
    # the build writes a .gz beside each file (frontend/vite.config.ts)
    import gzip

    body = "console.log('dispymon');" * 200
    (static_dir / "assets" / "big.js").write_text(body)
    (static_dir / "assets" / "big.js.gz").write_bytes(gzip.compress(body.encode()))
    (static_dir / "index.html.gz").write_bytes(gzip.compress((static_dir / "index.html").read_bytes()))
    _, client = await served()
    for path, text in (("/assets/big.js", body), ("/", "dispymon test"), ("/node/127.0.0.2", "dispymon test")):
        resp = await client.get(path, headers={"Accept-Encoding": "gzip"})
        assert resp.status == 200 and resp.headers.get("Content-Encoding") == "gzip", path
        assert text in await resp.text()  # the client inflates it
        plain = await client.get(path, headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers and text in await plain.text()
    wire = await client.get("/assets/big.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert len(await wire.read()) < len(body) / 10


async def test_spa_routes_serve_index_and_nothing_outside_the_build(served):
    _, client = await served()
    for path in ("/", "/node/127.0.0.2", "/manage"):
        resp = await client.get(path)
        assert resp.status == 200 and "dispymon test" in await resp.text()
    resp = await client.get("/assets/app.js")
    assert resp.status == 200 and "dispymon" in await resp.text()
    resp = await client.get("/favicon.svg")
    assert resp.status == 200 and "<svg" in await resp.text()
    for path in ("/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/../secret.txt", "/%2e%2e/secret.txt"):
        resp = await client.get(path)
        assert "outside the build" not in await resp.text(), path


def test_missing_build_says_how_to_build(tmp_path):
    with pytest.raises(MissingFrontendError, match="npm ci && npm run build"):
        create_app(Hub(asyncio.new_event_loop()), ServerConfig(static_dir=tmp_path))


async def test_a_browser_that_stops_reading_slows_nobody(served):
    hub, client = await served(poll_sec=0.01)
    stalled = await client.ws_connect("/ws")  # never reads from here on
    live = await connect(client)
    hub.feed(attached("c"))
    n = 30_000
    for uid in range(n):
        ip = f"10.0.{uid % 200 // 100}.{uid % 100}"
        hub.feed(status("c", ev.JOB_CREATED, None, job(uid, None)))
        hub.feed(status("c", ev.JOB_RUNNING, node(ip, busy=1), job(uid, ip)))
        hub.feed(status("c", ev.JOB_FINISHED, node(ip, jobs_done=uid), job(uid, ip)))
        if uid % 1000 == 0:
            await asyncio.sleep(0)  # let the loop run, as dispy's thread would
    await live.until(lambda m: m.clusters.get("c", {}).get("jobs", {}).get("done") == n, timeout=60, what="all jobs")
    assert live.clusters == hub.read().snapshot()[0]["clusters"]
    # no browser holds a queue on the server (a view is a few integers)
    conns = list(client.app[CONNECTIONS])
    assert len(conns) == 2 and all(c.outbox == [] for c in conns)
    await stalled.close()


async def test_readers_drain_what_the_hub_has_not_taken_yet(served, monkeypatch):
    # While events keep coming the hub takes them only every BATCH_DELAY; a
    # browser's frame, a REST answer and a command must still show what was
    # fed before them. An hour's delay: nothing but a reader can take them.
    monkeypatch.setattr("dispymon.runtime.hub.BATCH_DELAY", 3600.0)
    hub, client = await served(poll_sec=0.05)
    hub.feed(attached("c"))
    await hub.settle()  # a drain that found events: the next timed one is an hour away
    ws = await connect(client)

    def waiting(*events) -> None:
        for event in events:
            hub.feed(event)
        assert hub._state.version == version  # still in the inbox (peeking: a read would take it)

    version = hub.read().version
    waiting(status("c", ev.NODE_INITIALIZED, node("127.0.0.2")))
    await ws.until(lambda m: "127.0.0.2" in m.clusters["c"]["nodes"], timeout=5, what="the node in a delta")

    version = hub.read().version
    waiting(status("c", ev.NODE_INITIALIZED, node("127.0.0.3")))
    nodes = await (await client.get("/api/clusters/c/nodes")).json()
    assert "127.0.0.3" in {n["ip_addr"] for n in nodes["nodes"]}

    version = hub.read().version
    waiting(status("c", ev.NODE_INITIALIZED, node("127.0.0.4")))
    assert 'node="127.0.0.4"' in await (await client.get("/metrics")).text()

    version = hub.read().version
    waiting(status("c", ev.JOB_CREATED, None, job(7, None)), status("c", ev.JOB_RUNNING, node(busy=1), job(7)),
            status("c", ev.JOB_FINISHED, node(jobs_done=1), job(7)))  # fmt: skip
    await ws.send({"type": "command", "id": 1, "name": "history", "args": {}})
    while (result := await ws.recv())["type"] != "result":
        pass
    assert result["ok"] and [j["uid"] for j in result["value"]["jobs"]] == [7]



async def pause(ws: WSClient) -> None:
    """Interval 0; returns once the pause holds (messages are handled in order)."""
    await ws.send({"type": "view", "interval": 0})
    await ws.send({"type": "resync"})
    before = len(ws.messages)
    await ws.until(lambda m: any(x["type"] == "snapshot" for x in ws.messages[before:]), what="the snapshot after the pause", fresh=False)


async def answer(ws: WSClient, cid: int, name: str, args: dict | None = None) -> list[dict]:
    """Send a command; every message received until its result, the result last."""
    await ws.send({"type": "command", "id": cid, "name": name, "args": args or {}})
    got = []
    while True:
        msg = await ws.recv()
        got.append(msg)
        if msg["type"] == "result" and msg["id"] == cid:
            return got


def states(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["type"] in ("snapshot", "delta")]


async def test_a_paused_browser_gets_query_results_and_no_state_with_them(served):
    hub, client = await served(poll_sec=0.05)
    hub.feed(attached("c"))
    ws = await connect(client)
    await ws.until(lambda m: "c" in m.clusters)
    await pause(ws)
    hub.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.2")))
    await hub.settle()
    # the chart asks for its series, the history page for its jobs: answered
    # at once, and the node stays on the server until Update. A delta sent with
    # a result is in the socket before the next command's result, so this
    # needs no waiting.
    first = await answer(ws, 1, "series", {"cluster": "c"})
    assert first[-1]["ok"] is True and first[-1]["value"]["step"] == 1
    second = await answer(ws, 2, "history", {"limit": 5})
    assert second[-1]["ok"] is True and second[-1]["value"]["total"] == 0
    third = await answer(ws, 3, "history_summary")
    assert states(first + second + third) == []
    assert "127.0.0.2" not in ws.clusters["c"]["nodes"]
    await ws.send({"type": "flush"})
    await ws.until(lambda m: m.last_sent("c", "nodes", "127.0.0.2"), timeout=5, what="the flushed node", fresh=False)
    assert ws.last_sent("c", "nodes", "127.0.0.2") == hub.read().snapshot()[0]["clusters"]["c"]["nodes"]["127.0.0.2"]


async def test_an_action_updates_its_paused_commander_once_and_no_other_browser(served):
    hub, client = await served(poll_sec=0.05)
    hub.feed(attached("c"))
    a, b = await connect(client), await connect(client)
    for ws in (a, b):
        await ws.until(lambda m: "c" in m.clusters)
        await pause(ws)
    hub.feed(status("c", ev.NODE_INITIALIZED, node("127.0.0.2")))
    await hub.settle()
    acted = await answer(a, 1, "set_show_job_args", {"value": False})
    assert acted[-1] == {"type": "result", "id": 1, "ok": True, "value": {"show_job_args": False}}
    after = await answer(a, 2, "history_summary")  # anything sent after the result is before this
    (update,) = states(acted + after)
    # as if it had pressed Update: everything changed so far, its own action too
    assert update["type"] == "delta" and update["settings"] == {"show_job_args": False}
    assert update["clusters"] == {"c": {"nodes": hub.read().snapshot()[0]["clusters"]["c"]["nodes"]}}
    # the other paused browser got nothing, until its own Update
    other = await answer(b, 1, "history_summary") + await answer(b, 2, "history_summary")
    assert states(other) == [] and b.settings == {"show_job_args": True}
    assert "127.0.0.2" not in b.clusters["c"]["nodes"]
    await b.send({"type": "flush"})
    await b.until(lambda m: m.messages[-1]["settings"] == {"show_job_args": False}
                  and "127.0.0.2" in m.messages[-1]["clusters"]["c"]["nodes"], timeout=5, fresh=False)  # fmt: skip
