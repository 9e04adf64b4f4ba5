"""The drop-in `dispymon.entry.httpd.DispyHTTPServer` against real dispynode processes.

The server runs in its own thread and loop, as in a user's program; the tests
talk to it as a browser does (HTTP, and the WebSocket protocol), from the
test's loop. Blocking calls (dispy, the server's constructor and shutdown)
run in threads so the test's client keeps answering the server meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import aiohttp
import dispy
import pytest

from dispymon.entry.httpd import THREAD_NAME, DispyHTTPServer
from dispymon.transport.codec import decode
from dispymon.transport.server import PACKAGED_STATIC, MissingFrontendError
from conftest import WSClient, job_result

pytestmark = pytest.mark.cluster


def setup():  # jobs through `setup` avoid dispynode 4.15.2's short-job race
    return 0


def alpha(seconds):
    import time

    time.sleep(seconds)
    return seconds


def beta(seconds):
    import time

    time.sleep(seconds)
    return -seconds


@pytest.fixture
def new_cluster(dispy_port):
    """Factory: a JobCluster of this process (closed afterwards)."""
    made = []

    def make(computation, ips, **kwargs):
        cluster = dispy.JobCluster(computation, nodes=ips, host="127.0.0.1", dispy_port=dispy_port, setup=setup,
                                   pulse_interval=1, loglevel=dispy.logger.WARNING, **kwargs)  # fmt: skip
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.close(timeout=0, terminate=True)


@pytest.fixture
def new_server(static_dir):
    """Factory: a DispyHTTPServer on loopback, port picked by the system (shut down afterwards)."""
    made = []

    def make(cluster, **kwargs):
        kwargs = {"host": "127.0.0.1", "port": 0, "DocumentRoot": static_dir, **kwargs}
        server = DispyHTTPServer(cluster, **kwargs)
        made.append(server)
        return server

    yield make
    for server in made:
        server.shutdown(wait=False)


async def connect(session: aiohttp.ClientSession, server: DispyHTTPServer, **kwargs) -> WSClient:
    ws = WSClient(await session.ws_connect(server.url + "ws", **kwargs))
    assert (await ws.recv())["type"] == "hello"
    assert (await ws.recv())["type"] == "snapshot"
    return ws


async def run_jobs(cluster, count: int, seconds: float = 0.1) -> None:
    jobs = [cluster.submit(seconds) for _ in range(count)]
    for job in jobs:
        await job_result(job)
        assert job.status == dispy.DispyJob.Finished, job.exception


def done(cluster_name: str, count: int):
    def check(m) -> bool:
        c = m.clusters.get(cluster_name)
        return bool(c) and c["jobs"]["done"] == count and all(n["busy"] == 0 for n in c["nodes"].values())

    return check


def server_threads() -> list[threading.Thread]:
    """The server's thread and its loop's worker threads."""
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


async def test_one_import_line_serves_the_cluster(local_nodes, new_cluster, new_server):
    nodes = local_nodes(2, cpus=2, first=40)
    cluster = await asyncio.to_thread(new_cluster, alpha, [n.ip for n in nodes.nodes])
    server = await asyncio.to_thread(new_server, cluster, poll_sec=0.1)
    assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}/"
    # dispy's rule: the server becomes the callback of a cluster that has none
    assert cluster.cluster_status is not None
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url) as page:
            assert page.status == 200 and "dispymon test" in await page.text()
        ws = await connect(session, server)
        assert ws.hello["poll_sec"] == 0.1 and ws.clusters["alpha"]["kind"] == "JobCluster"
        await run_jobs(cluster, 12)
        await ws.until(done("alpha", 12), what="12 jobs done")
        shown = ws.clusters["alpha"]
        status = await asyncio.to_thread(cluster.status)
        want = {n.ip_addr: n.jobs_done for n in status.nodes}
        assert {ip: n["jobs_done"] for ip, n in shown["nodes"].items()} == want
        assert shown["jobs"]["finished"] == shown["jobs"]["submitted"] == 12
    await asyncio.to_thread(server.shutdown)
    assert cluster.cluster_status is None  # as before the server


async def test_a_users_callback_is_kept_and_chains_to_cluster_status(local_nodes, new_cluster, new_server, caplog):
    """The seed: the server replaces no callback; the user's own one does its
    bookkeeping, then calls http_server.cluster_status(status, node, job)."""
    nodes = local_nodes(2, cpus=1, first=42)
    seen = []
    http_server = None

    def mine(status, node, job):
        seen.append(status)
        if http_server is not None:  # the program's global, set once the server exists
            http_server.cluster_status(status, node, job)

    cluster = await asyncio.to_thread(new_cluster, alpha, [n.ip for n in nodes.nodes], cluster_status=mine)
    with caplog.at_level(logging.INFO, logger="dispymon.entry.httpd"):
        http_server = await asyncio.to_thread(new_server, cluster, poll_sec=0.1)
    assert cluster.cluster_status is mine
    assert "has its own cluster_status callback" in caplog.text
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, http_server)
        await run_jobs(cluster, 8)
        await ws.until(done("alpha", 8), what="8 jobs done through the chained callback")
        assert set(ws.clusters) == {"alpha"}
        assert sum(n["jobs_done"] for n in ws.clusters["alpha"]["nodes"].values()) == 8
    assert seen.count(dispy.DispyJob.Finished) == 8
    await asyncio.to_thread(http_server.shutdown)
    assert cluster.cluster_status is mine


async def test_several_clusters_add_and_delete_live(local_nodes, new_cluster, new_server, caplog):
    nodes = local_nodes(2, cpus=2, first=44)
    ips = [n.ip for n in nodes.nodes]
    a = await asyncio.to_thread(new_cluster, alpha, ips)
    b = await asyncio.to_thread(new_cluster, beta, ips)
    server = await asyncio.to_thread(new_server, a, poll_sec=0.1)
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, server)
        server.add_cluster(b)
        with caplog.at_level(logging.WARNING, logger="dispymon.entry.httpd"):
            server.add_cluster(b)  # as dispy: a warning, nothing else
        assert 'cluster "beta" is already added' in caplog.text
        await asyncio.gather(run_jobs(a, 4), run_jobs(b, 6))
        await ws.until(lambda m: done("alpha", 4)(m) and done("beta", 6)(m), what="both clusters' jobs")
        assert set(ws.clusters) == {"alpha", "beta"}
        for name, count in (("alpha", 4), ("beta", 6)):
            per_node = ws.clusters[name]["nodes"]
            assert set(per_node) == set(ips) and sum(n["jobs_done"] for n in per_node.values()) == count

        server.del_cluster(b)
        # live: a delta says so (null), unasked
        await ws.until(lambda m: any(msg["type"] == "delta" and msg.get("clusters", {}).get("beta", 1) is None
                                     for msg in m.messages), what="beta removed live", fresh=False)  # fmt: skip
        await ws.until(lambda m: "beta" not in m.clusters, what="beta gone from the server's state")
        assert b.cluster_status is None  # its callback as before
        await asyncio.gather(run_jobs(a, 2), run_jobs(b, 2))
        await ws.until(done("alpha", 6), what="alpha still live")
        assert set(ws.clusters) == {"alpha"}


async def test_cluster_status_passed_to_another_cluster_shows_it_too(local_nodes, new_cluster, new_server):
    """The seed: "when creating other clusters, pass cluster_status parameter
    set to HTTP server's cluster_status"; each then shows, and '* Combined'."""
    nodes = local_nodes(2, cpus=2, first=46)
    ips = [n.ip for n in nodes.nodes]
    a = await asyncio.to_thread(new_cluster, alpha, ips)
    server = await asyncio.to_thread(new_server, a, poll_sec=0.1)
    b = await asyncio.to_thread(new_cluster, beta, ips, cluster_status=server.cluster_status)
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, server)
        await asyncio.gather(run_jobs(a, 3), run_jobs(b, 5))
        await ws.until(lambda m: done("alpha", 3)(m) and done("beta", 5)(m), what="both clusters' jobs")
        for name, count in (("alpha", 3), ("beta", 5)):
            assert sum(n["jobs_done"] for n in ws.clusters[name]["nodes"].values()) == count
    assert b.cluster_status == server.cluster_status


async def test_one_server_per_cluster_on_different_ports(local_nodes, new_cluster, new_server):
    """The seed's other way: an HTTP server for each cluster."""
    nodes = local_nodes(1, cpus=2, first=48)
    ips = [nodes.nodes[0].ip]
    a = await asyncio.to_thread(new_cluster, alpha, ips)
    b = await asyncio.to_thread(new_cluster, beta, ips)
    server_a = await asyncio.to_thread(new_server, a, poll_sec=0.1)
    server_b = await asyncio.to_thread(new_server, b, poll_sec=0.1)
    assert server_a.port != server_b.port
    async with aiohttp.ClientSession() as session:
        ws_a, ws_b = await connect(session, server_a), await connect(session, server_b)
        await asyncio.gather(run_jobs(a, 2), run_jobs(b, 4))
        await ws_a.until(done("alpha", 2), what="alpha's jobs")
        await ws_b.until(done("beta", 4), what="beta's jobs")
        assert set(ws_a.clusters) == {"alpha"} and set(ws_b.clusters) == {"beta"}


async def test_shutdown_sends_every_browser_the_final_state_then_closes(local_nodes, new_cluster, new_server):
    nodes = local_nodes(2, cpus=2, first=49)
    cluster = await asyncio.to_thread(new_cluster, alpha, [n.ip for n in nodes.nodes])
    server = await asyncio.to_thread(new_server, cluster, poll_sec=60)  # no delta on its own for a minute
    port = server.port
    async with aiohttp.ClientSession() as session:
        browsers = [await connect(session, server) for _ in range(2)]
        await browsers[1].send({"type": "view", "interval": 0})  # and one browser paused
        async with session.get(server.url) as page:  # the server's worker threads serve files
            assert page.status == 200
        await run_jobs(cluster, 6)
        assert server_threads()

        async def until_closed(browser: WSClient) -> tuple[list[dict], aiohttp.WSMessage]:
            frames = []  # read concurrently: each browser answers the close handshake itself
            while (msg := await browser.ws.receive(timeout=15)).type == aiohttp.WSMsgType.BINARY:
                frames.append(decode(msg.data))
                browser.messages.append(frames[-1])
            return frames, msg

        stopping = asyncio.create_task(asyncio.to_thread(server.shutdown, True))
        for browser, (frames, close) in zip(browsers, await asyncio.gather(*map(until_closed, browsers))):
            assert close.type == aiohttp.WSMsgType.CLOSE and close.data == 1001  # going away, after the data
            assert frames and frames[-1]["type"] == "delta"
            # the final state: every job done, the nodes idle (as the frames last told them)
            assert browser.last_sent("alpha", "jobs")["done"] == 6
            assert all(browser.last_sent("alpha", "nodes", n.ip, "busy") == 0 for n in nodes.nodes)
        await asyncio.wait_for(stopping, 10)
    assert server_threads() == [], "a thread of the server is left"
    assert refused(port)
    # the user's cluster was not closed: it still runs jobs
    await run_jobs(cluster, 2)
    again = await asyncio.to_thread(new_server, None, port=port)  # the port is free again
    assert again.port == port


async def test_shutdown_without_wait_closes_at_once(local_nodes, new_cluster, new_server):
    nodes = local_nodes(1, cpus=2, first=50)
    cluster = await asyncio.to_thread(new_cluster, alpha, [nodes.nodes[0].ip])
    server = await asyncio.to_thread(new_server, cluster, poll_sec=60)
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, server)
        await run_jobs(cluster, 2)
        loop = asyncio.get_running_loop()
        start = loop.time()
        stopping = asyncio.create_task(asyncio.to_thread(server.shutdown, False))
        msg = await ws.ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001  # no final delta first
        await asyncio.wait_for(stopping, 10)
        assert loop.time() - start < 2
    assert server_threads() == []
    assert refused(server.port)
    server.shutdown()  # a second call is harmless


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> dict[str, Path]:
    """A self-signed certificate for 127.0.0.1: key and cert apart, and combined."""
    d = tmp_path_factory.mktemp("tls")
    key, cert = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    combined = d / "combined.pem"
    combined.write_text(key.read_text() + cert.read_text())
    return {"key": key, "cert": cert, "combined": combined}


@pytest.mark.parametrize("pem", ["separate", "combined"])
async def test_https_and_wss_with_a_self_signed_certificate(certificate, new_cluster, new_server, pem):
    cluster = await asyncio.to_thread(new_cluster, alpha, ["127.0.0.250"])  # no node: nothing to wait for
    if pem == "separate":
        tls = {"keyfile": str(certificate["key"]), "certfile": str(certificate["cert"])}
    else:
        tls = {"certfile": str(certificate["combined"])}  # the seed: key and certificate in one file
    server = await asyncio.to_thread(new_server, cluster, **tls)
    assert server.url.startswith("https://127.0.0.1:")
    trust = ssl.create_default_context(cafile=str(certificate["cert"]))  # verifies the name 127.0.0.1 too
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url, ssl=trust) as page:
            assert page.status == 200 and "dispymon test" in await page.text()
            # under TLS, browsers are told to keep to it (HSTS); over plain HTTP it would mean nothing
            assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        async with session.get(server.url + "assets/app.js", ssl=trust) as asset:
            assert asset.headers["Strict-Transport-Security"] == "max-age=31536000"
        ws = await connect(session, server, ssl=trust)
        assert set(ws.clusters) == {"alpha"}
        with pytest.raises(aiohttp.ClientError):  # plain HTTP is not served there
            async with session.get(server.url.replace("https:", "http:", 1)) as page:
                await page.read()


async def test_errors_raise_in_the_callers_thread_and_leave_nothing_behind(new_cluster, static_dir, tmp_path):
    cluster = await asyncio.to_thread(new_cluster, alpha, ["127.0.0.250"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            DispyHTTPServer(cluster, host="127.0.0.1", port=taken.getsockname()[1], DocumentRoot=static_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingFrontendError):
        DispyHTTPServer(cluster, host="127.0.0.1", port=0, DocumentRoot=empty)
    with pytest.raises(ValueError, match="keyfile given without certfile"):
        DispyHTTPServer(cluster, host="127.0.0.1", port=0, DocumentRoot=static_dir, keyfile=str(tmp_path / "k.pem"))
    with pytest.raises(FileNotFoundError):
        DispyHTTPServer(cluster, host="127.0.0.1", port=0, DocumentRoot=static_dir, certfile=str(tmp_path / "none.pem"))
    with pytest.raises(ValueError, match="poll_sec"):
        DispyHTTPServer(cluster, host="127.0.0.1", port=0, DocumentRoot=static_dir, poll_sec="10")
    assert cluster.cluster_status is None  # nothing was attached
    assert server_threads() == []


async def test_document_root_defaults_to_the_packaged_dashboard(new_server, static_dir):
    packaged = await asyncio.to_thread(new_server, None, DocumentRoot=None)
    other = await asyncio.to_thread(new_server, None, DocumentRoot=str(static_dir))
    async with aiohttp.ClientSession() as session:
        async with session.get(packaged.url) as page:
            assert await page.text() == (PACKAGED_STATIC / "index.html").read_text()
        async with session.get(other.url + "node/127.0.0.2") as page:  # a client-side route
            assert "dispymon test" in await page.text()
        async with session.get(other.url + "assets/app.js") as asset:
            assert await asset.text() == "console.log('dispymon')"


async def test_poll_sec_is_kept_and_zero_starts_browsers_paused(new_cluster, new_server):
    cluster = await asyncio.to_thread(new_cluster, alpha, ["127.0.0.250"])
    live = await asyncio.to_thread(new_server, None, poll_sec=0.25)  # dispy.httpd would make it 1
    paused = await asyncio.to_thread(new_server, None, poll_sec=0)
    async with aiohttp.ClientSession() as session:
        ws_live, ws_paused = await connect(session, live), await connect(session, paused)
        assert ws_live.hello["poll_sec"] == 0.25 and ws_paused.hello["poll_sec"] == 0
        live.add_cluster(cluster)
        await ws_live.until(lambda m: "alpha" in m.clusters, what="the cluster pushed")
        paused.add_cluster(cluster)
        with pytest.raises(asyncio.TimeoutError):  # paused: nothing comes on its own
            await ws_paused.recv(timeout=1)
        await ws_paused.send({"type": "flush"})  # the "Update" button
        await ws_paused.until(lambda m: m.last_sent("alpha", "kind"), timeout=5, what="the cluster after Update",
                              fresh=False)  # the Update's delta: no resync


async def test_tokens_come_from_the_environment_as_for_dispymon_serve(new_server, monkeypatch, capsys):
    monkeypatch.setenv("DISPYMON_TOKEN", "op-secret-0123456789")
    monkeypatch.setenv("DISPYMON_VIEWER_TOKEN", "view-secret-0123456789")
    server = await asyncio.to_thread(new_server, None)
    assert server.token == "op-secret-0123456789"
    assert f"dashboard at {server.url}?token=op-secret-0123456789" in capsys.readouterr().out
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "ws") as refused:
            assert refused.status == 401
        for token, role in (("op-secret-0123456789", "operator"), ("view-secret-0123456789", "viewer")):
            ws = WSClient(await session.ws_connect(server.url + "ws", headers={"Authorization": f"Bearer {token}"}))
            assert (await ws.recv())["role"] == role


@pytest.mark.parametrize("variable", ["DISPYMON_TOKEN", "DISPYMON_VIEWER_TOKEN"])
def test_a_short_token_from_the_environment_is_refused_in_the_callers_thread(static_dir, monkeypatch, variable):
    monkeypatch.delenv("DISPYMON_TOKEN", raising=False)
    monkeypatch.delenv("DISPYMON_VIEWER_TOKEN", raising=False)
    monkeypatch.setenv(variable, "7")
    with pytest.raises(ValueError, match=rf"^\${variable} is 1 character long: a token needs at least 16"):
        DispyHTTPServer(None, host="127.0.0.1", port=0, DocumentRoot=static_dir)
    assert server_threads() == []


async def test_loopback_needs_no_token(new_server, monkeypatch):
    monkeypatch.delenv("DISPYMON_TOKEN", raising=False)
    monkeypatch.delenv("DISPYMON_VIEWER_TOKEN", raising=False)
    server = await asyncio.to_thread(new_server, None)
    assert server.token is None
