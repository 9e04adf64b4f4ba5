"""Hardening at the HTTP edge: security headers on every response, token
length, throttling of wrong tokens, and the token kept out of the access log."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading

import aiohttp
import pytest

from dispymon.runtime.hub import Hub
from dispymon.transport.security import COOKIE, MIN_TOKEN_LENGTH, Access, AuthThrottle, TokenError, make_access
from dispymon.transport.server import ServerConfig, create_app
from conftest import wait_until
from factories import attached

DISPYMON = [sys.executable, "-m", "dispymon"]
OP = "op-secret-0123456789"
VIEW = "view-secret-0123456789"


@pytest.fixture
def serve(aiohttp_client, static_dir):
    async def make(access: Access = Access(), **config):
        hub = Hub(asyncio.get_running_loop())
        hub.feed(attached("c"))
        app = create_app(hub, ServerConfig(poll_sec=0.05, static_dir=static_dir, access=access, **config))
        return await aiohttp_client(app)

    return make


def assert_protected(resp: aiohttp.ClientResponse, what: str) -> None:
    csp = resp.headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";")) if d}
    assert directives.get("frame-ancestors") == ["'none'"], (what, csp)
    assert directives.get("script-src") == ["'self'"], (what, csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, (what, csp)
    assert resp.headers.get("X-Frame-Options") == "DENY", what
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", what
    assert resp.headers.get("Referrer-Policy") == "no-referrer", what
    assert "Strict-Transport-Security" not in resp.headers, f"{what}: HSTS over plain HTTP"


async def test_every_kind_of_response_carries_the_security_headers(serve):
    open_ = await serve()
    cases = {
        "page": await open_.get("/"),
        "client-side route": await open_.get("/manage"),
        "asset": await open_.get("/assets/app.js"),
        "missing asset (404)": await open_.get("/assets/nope.js"),
        "API": await open_.get("/api/clusters"),
        "unknown API path (404)": await open_.get("/api/nope"),
        "metrics": await open_.get("/metrics"),
        "foreign Host (403)": await open_.get("/", headers={"Host": "attacker.example"}),
        "cross-origin handshake (403)": await open_.get("/ws", headers={
            "Origin": "http://attacker.example", "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}),
    }  # fmt: skip
    closed = await serve(Access(operator_token=OP, throttle=AuthThrottle(limit=1, window=600)))
    cases["no token (401 page)"] = await closed.get("/", headers={"Accept": "text/html"})
    cases["token in the URL (303)"] = await closed.get(f"/?token={OP}", allow_redirects=False)
    cases["wrong token (401)"] = await closed.get("/api/clusters", headers={"Authorization": "Bearer wrong"})
    cases["throttled (429)"] = await closed.get("/api/clusters", headers={"Authorization": "Bearer wrong"})
    expected = {"page": 200, "asset": 200, "API": 200, "metrics": 200, "missing asset (404)": 404,
                "foreign Host (403)": 403, "cross-origin handshake (403)": 403, "no token (401 page)": 401,
                "throttled (429)": 429, "token in the URL (303)": 303}  # fmt: skip
    for what, resp in cases.items():
        if what in expected:
            assert resp.status == expected[what], (what, resp.status)
        assert_protected(resp, what)
    # the built app's JavaScript is served as JavaScript (nosniff would refuse anything else)
    assert cases["asset"].headers["Content-Type"] in ("text/javascript", "application/javascript")


async def test_the_token_page_style_is_allowed_by_the_policy_without_unsafe_inline(serve):
    import base64
    import hashlib

    client = await serve(Access(operator_token=OP))
    page = await client.get("/", headers={"Accept": "text/html"})
    html = await page.text()
    assert 'style="' not in html  # a style attribute would need 'unsafe-inline'
    (style,) = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in page.headers["Content-Security-Policy"]


def test_short_tokens_are_refused():
    with pytest.raises(TokenError, match=r"the operator token is 1 character long: a token needs at least 16"):
        make_access("0.0.0.0", operator_token="7")
    with pytest.raises(TokenError, match=r"the viewer token is 15 characters long"):
        make_access("127.0.0.1", operator_token=OP, viewer_token="x" * 15)
    with pytest.raises(TokenError, match="the same as"):
        make_access("0.0.0.0", operator_token=OP, viewer_token=OP)
    assert make_access("0.0.0.0", operator_token="x" * MIN_TOKEN_LENGTH).operator_token == "x" * MIN_TOKEN_LENGTH
    assert make_access("0.0.0.0", operator_token="").generated  # empty: as if not given


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_the_cli_refuses_a_short_token_in_one_line(tmp_path, how):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPYMON_")}
    args = [*DISPYMON, "demo", "--simulate", "2", "--port", "0"]
    if how == "argument":
        args += ["--token", "7"]
    else:
        env["DISPYMON_VIEWER_TOKEN"] = "short"
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.strip()]
    if how == "argument":
        assert line.startswith("dispymon: the operator token (--token or $DISPYMON_TOKEN) is 1 character long"), line
    else:
        assert line.startswith("dispymon: the viewer token (--viewer-token or $DISPYMON_VIEWER_TOKEN) is 5 characters"), line
    assert "dashboard at" not in proc.stdout  # refused before serving anything


async def test_wrong_tokens_are_throttled_per_address(serve):
    throttle = AuthThrottle(limit=5, window=600)
    client = await serve(Access(operator_token=OP, viewer_token=VIEW, throttle=throttle))
    bearer = lambda token: {"Authorization": f"Bearer {token}"}  # noqa: E731
    for i in range(5):
        assert (await client.get("/api/clusters", headers=bearer(f"guess-{i:012d}"))).status == 401
    refused = await client.get("/api/clusters", headers=bearer("guess-000000000099"))
    assert refused.status == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert "too many wrong tokens" in await refused.text()
    # while refused, even the right token is not checked (its answer would tell a guess)
    assert (await client.get("/api/clusters", headers=bearer(OP))).status == 429
    assert (await client.get(f"/?token={OP}", allow_redirects=False)).status == 429
    with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
        await client.ws_connect("/ws", headers=bearer(OP))
    assert handshake.value.status == 429
    # no token is no guess: the page still says what is needed; the app's code still loads
    assert (await client.get("/", headers={"Accept": "text/html"})).status == 401
    assert (await client.get("/assets/app.js")).status == 200
    assert throttle.refused >= 4 and len(throttle) == 1


async def test_the_viewer_count_does_not_reset_between_guesses(serve):
    throttle = AuthThrottle(limit=3, window=600)
    client = await serve(Access(operator_token=OP, viewer_token=VIEW, throttle=throttle))
    statuses = []
    for i in range(3):
        statuses.append((await client.get("/api/clusters", headers={"Authorization": f"Bearer guess-{i:012d}"})).status)
        statuses.append((await client.get("/api/clusters", headers={"Authorization": f"Bearer {VIEW}"})).status)
    # a viewer's success between guesses does not clear the count: the third guess reaches the limit
    assert statuses == [401, 200, 401, 200, 401, 429]


async def test_a_stale_cookie_is_cleared_so_reconnections_do_not_count_as_guesses(serve):
    throttle = AuthThrottle(limit=3, window=600)
    client = await serve(Access(operator_token=OP, throttle=throttle))
    client.session.cookie_jar.update_cookies({COOKIE: "an-earlier-runs-token"}, response_url=client.make_url("/"))
    resp = await client.get("/", headers={"Accept": "text/html"})
    assert resp.status == 401
    assert resp.cookies[COOKIE].value == "" and resp.cookies[COOKIE]["max-age"] == "0"
    for _ in range(5):  # the browser's reconnections, now without the cookie
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/ws")
        assert refused.value.status == 401
    assert (await client.get(f"/?token={OP}")).status == 200  # not throttled: one failure only


def test_the_throttle_forgets_after_its_window_and_stays_bounded():
    now = [0.0]
    throttle = AuthThrottle(limit=3, window=60, max_addresses=100, clock=lambda: now[0])
    for _ in range(3):
        throttle.failed("192.0.2.1")
    assert throttle.retry_after("192.0.2.1") == 60
    now[0] = 59.5
    assert throttle.retry_after("192.0.2.1") == pytest.approx(0.5)
    now[0] = 60.0
    assert throttle.retry_after("192.0.2.1") is None and len(throttle) == 0
    # one IPv6 host holds a /64: its addresses share one count
    for i in range(3):
        throttle.failed(f"2001:db8::{i + 1:x}")
    assert throttle.retry_after("2001:db8::ffff") is not None and throttle.retry_after("2001:db8:0:1::1") is None
    # a flood of addresses: the table never holds more than its bound
    for i in range(20_000):
        throttle.failed(f"10.0.{i >> 8 & 255}.{i & 255}")
        assert len(throttle) <= 100
    assert len(throttle) == 100
    # the newest are the ones kept: the last address's count goes on
    last = f"10.0.{19_999 >> 8 & 255}.{19_999 & 255}"
    assert throttle.retry_after(last) is None
    for _ in range(2):
        throttle.failed(last)
    assert throttle.retry_after(last) is not None


class Serving:
    """`dispymon demo --simulate` in a subprocess, its stderr read by a thread."""

    def __init__(self, tmp_path, *args: str, env: dict[str, str] | None = None) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("DISPYMON_")}
        self.proc = subprocess.Popen([*DISPYMON, "demo", "--simulate", "2", "--rate", "50", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                                     env={**base, **(env or {})})  # fmt: skip
        self.err: list[str] = []
        self.out: list[str] = []
        for stream, lines in ((self.proc.stderr, self.err), (self.proc.stdout, self.out)):
            threading.Thread(target=lambda s=stream, l=lines: l.extend(iter(s.readline, "")), daemon=True).start()

    def url(self) -> str:
        def found() -> str | None:
            assert self.proc.poll() is None, "".join(self.out + self.err)
            m = re.search(r"dashboard at (http://\S+)", "".join(self.out))
            return m.group(1) if m else None

        return wait_until(found, timeout=60, what="the printed URL")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def test_the_access_log_never_prints_the_token(tmp_path):
    token = "log-secret-0123456789abcdef"
    serving = Serving(tmp_path, "--host", "127.0.0.1", "--token", token, "-v")
    try:
        url = serving.url()
        assert url.endswith(f"?token={token}")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:  # as a browser: IP hosts too
            async with session.get(url, headers={"Referer": url}) as page:  # follows the 303, keeps the cookie
                assert page.status == 200
        # both requests are logged; the first one's line had the token in it
        wait_until(lambda: sum("aiohttp.access" in line for line in serving.err) >= 2, timeout=30,
                   what="the access log lines")  # fmt: skip
        logged = "".join(serving.err)
        assert re.search(r'"GET /\?token=REDACTED HTTP/1\.1" 303', logged), logged
        assert token not in logged
    finally:
        serving.stop()


async def test_the_cli_allows_hosts_from_the_environment(tmp_path):
    # a published or NAT'd address (the compose set-up) is not this machine's own
    serving = Serving(tmp_path, "--host", "127.0.0.1", "--allow-host", "dash.lan",
                      env={"DISPYMON_ALLOW_HOST": "192.168.1.50, dash.example"})  # fmt: skip
    try:
        base = serving.url() + "api/clusters"
        async with aiohttp.ClientSession() as session:
            for host, status in (("192.168.1.50:8181", 200), ("dash.example", 200), ("dash.lan:8181", 200),
                                 ("192.168.1.51:8181", 403)):  # fmt: skip
                async with session.get(base, headers={"Host": host}) as resp:
                    assert resp.status == status, (host, await resp.text())
    finally:
        serving.stop()
