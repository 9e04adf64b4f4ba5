"""Access control and hostile input at the HTTP/WebSocket edge."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import WSMsgType

from dispymon.transport.codec import encode
from dispymon.runtime.hub import Hub
from dispymon.transport.security import COOKIE, Access, TokenBucket, host_of, is_loopback, make_access
from dispymon.transport.server import ServerConfig, create_app
from conftest import WSClient
from factories import attached


@pytest.fixture
def serve(aiohttp_client, static_dir):
    async def make(access: Access = Access(), **config):
        hub = Hub(asyncio.get_running_loop())
        hub.feed(attached("c"))
        app = create_app(hub, ServerConfig(poll_sec=0.05, static_dir=static_dir, access=access, **config))
        return await aiohttp_client(app)

    return make


TOKENS = Access(operator_token="op-secret", viewer_token="view-secret")


async def hello(ws) -> dict:
    client = WSClient(ws)
    msg = await client.recv()
    assert msg["type"] == "hello"
    return msg


def test_loopback_and_host_parsing():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.3.4.5")
    assert not is_loopback("0.0.0.0") and not is_loopback("") and not is_loopback("192.168.1.5")
    assert host_of("Example.com:8181") == "example.com" and host_of("[::1]:80") == "::1" and host_of("10.0.0.1") == "10.0.0.1"


def test_a_token_is_generated_only_beyond_loopback():
    assert make_access("127.0.0.1").operator_token is None
    wide = make_access("0.0.0.0")
    assert wide.generated and len(wide.operator_token) >= 32 and wide.required
    given = make_access("0.0.0.0", operator_token="mine-long-enough-16")
    assert given.operator_token == "mine-long-enough-16" and not given.generated


async def test_dns_rebinding_host_is_refused(serve):
    client = await serve()
    resp = await client.get("/", headers={"Host": "attacker.example:8181"})
    assert resp.status == 403 and "not allowed" in await resp.text()
    assert (await client.get("/", headers={"Host": "localhost:8181"})).status == 200
    extra = await serve(Access(allowed_hosts=frozenset({"dash.lan"})))
    assert (await extra.get("/", headers={"Host": "dash.lan"})).status == 200


async def test_cross_origin_websocket_is_refused(serve):
    client = await serve()
    host = f"{client.host}:{client.port}"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", headers={"Origin": "http://attacker.example"})
    assert refused.value.status == 403
    ws = await client.ws_connect("/ws", headers={"Origin": f"http://{host}"})
    assert (await hello(ws))["role"] == "operator"
    await ws.close()


async def test_pages_and_websocket_need_a_token_when_tokens_are_set(serve):
    client = await serve(TOKENS)
    page = await client.get("/", headers={"Accept": "text/html"})
    assert page.status == 401 and "needs a token" in await page.text()
    assert (await client.get("/assets/app.js")).status == 200  # code, no data
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws")
    assert refused.value.status == 401
    bad = await client.get("/node/1.2.3.4?token=wrong", headers={"Accept": "text/html"})
    assert bad.status == 401


async def test_a_token_in_the_url_becomes_a_cookie_and_leaves_the_url(serve):
    client = await serve(TOKENS)
    resp = await client.get("/node/127.0.0.2?token=op-secret&x=1", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/node/127.0.0.2?x=1"
    cookie = resp.cookies[COOKIE]
    # Lax: the printed link is opened from other sites' pages (see security.keep_token)
    assert cookie.value == "op-secret" and cookie["httponly"] and cookie["samesite"] == "Lax"
    followed = await client.get("/node/127.0.0.2?x=1")  # the client's cookie jar now has it
    assert followed.status == 200 and "dispymon test" in await followed.text()
    ws = await client.ws_connect("/ws")
    assert (await hello(ws))["role"] == "operator"
    await ws.close()


async def test_a_viewer_sees_but_may_not_command(serve):
    client = await serve(TOKENS)
    ws = WSClient(await client.ws_connect("/ws", headers={"Authorization": "Bearer view-secret"}))
    assert (await ws.recv())["role"] == "viewer"
    await ws.until(lambda m: "c" in m.clusters, what="the state")
    await ws.send({"type": "command", "id": 1, "name": "set_show_job_args", "args": {"value": False}})
    await ws.until(lambda m: 1 in m.results, what="a result", fresh=False)
    assert ws.results[1]["error"]["code"] == "not_allowed"
    op = WSClient(await client.ws_connect("/ws?token=op-secret"))
    await op.recv()
    await op.send({"type": "command", "id": 2, "name": "set_show_job_args", "args": {"value": False}})
    await op.until(lambda m: 2 in m.results, what="a result", fresh=False)
    assert op.results[2]["ok"] is True


async def test_floods_get_rate_limited_then_closed(serve):
    client = await serve(message_rate=5, message_burst=5, max_refused=40)
    ws = WSClient(await client.ws_connect("/ws"))
    await ws.recv()
    for i in range(10):
        await ws.send({"type": "command", "id": i, "name": "set_show_job_args", "args": {"value": True}})
    await ws.until(lambda m: len(m.results) == 10, what="10 results", fresh=False)
    codes = [ws.results[i].get("error", {}).get("code") for i in range(10)]
    assert codes.count("rate_limited") >= 4 and codes[0] is None
    for _ in range(60):
        await ws.ws.send_bytes(encode({"type": "flush"}))
    while True:
        msg = await ws.ws.receive(timeout=10)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED):
            break
    assert ws.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    # others are unaffected
    other = WSClient(await client.ws_connect("/ws"))
    assert (await other.recv())["type"] == "hello"


async def test_an_oversized_frame_closes_with_message_too_big(serve):
    client = await serve(max_frame=1024)
    ws = await client.ws_connect("/ws")
    await ws.send_bytes(encode({"type": "flush", "pad": "x" * 5000}))
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
            break
    assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


def test_token_bucket_allows_bursts_then_the_rate():
    bucket = TokenBucket(rate=1000, burst=3)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
