"""Connection limits (limits.py) on a real listening server: slow heads,
unauthenticated and idle sockets, per-address and per-token caps, peers that
stop reading, and accept errors logged once."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import subprocess
import sys

import aiohttp
import psutil
import pytest

from dispymon.model import events as ev
from dispymon.transport.codec import encode
from dispymon.runtime.hub import Hub
from dispymon.transport.limits import GatedSite, Limits, runner
from dispymon.transport.security import Access
from dispymon.transport.server import ServerConfig, create_app
from factories import attached, job, node, status


@pytest.fixture
async def gated(static_dir):
    """Factory: a dispymon server listening on loopback through its gate."""
    started = []

    async def start(limits: Limits, **config):
        hub = Hub(asyncio.get_running_loop())
        app = create_app(hub, ServerConfig(static_dir=static_dir, limits=limits, **config))
        run = runner(app)
        await run.setup()
        site = GatedSite(run, "127.0.0.1", 0)
        await site.start()
        started.append(run)
        return hub, site

    yield start
    for run in started:
        await run.cleanup()


def server_sockets(port: int, status: str | None = psutil.CONN_ESTABLISHED) -> list:
    """This process's server-side sockets of the dashboard's port (any status: None)."""
    return [c for c in psutil.net_connections(kind="tcp")
            if c.laddr and c.laddr.port == port and c.raddr and status in (None, c.status)]  # fmt: skip


async def until(predicate, timeout: float = 30.0, what: str = "condition"):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := predicate()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)  # polling interval of a condition wait
    return value


async def slowloris(port: int, source: str = "127.0.0.1", head: bytes = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"):
    """A connection that sends a head's beginning and never its end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(head)
    await writer.drain()
    return reader, writer


async def dripping(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, every: float = 2.0) -> float:
    """Keep adding header lines until the server closes; when it did (loop time).

    Slowly: aiohttp refuses a head of over 128 lines by itself."""
    loop = asyncio.get_running_loop()
    n = 0
    while True:
        try:
            data = await asyncio.wait_for(reader.read(65536), every)
        except TimeoutError:
            n += 1
            try:
                writer.write(b"X-Drip-%d: 1\r\n" % n)
            except (ConnectionError, RuntimeError):
                return loop.time()
            continue
        except ConnectionError:
            return loop.time()
        if not data:
            return loop.time()


async def test_a_head_that_never_ends_is_closed_at_the_deadline(gated):
    hub, site = await gated(Limits(head_timeout=1.0))
    loop = asyncio.get_running_loop()
    began = loop.time()
    clients = [await slowloris(site.port) for _ in range(40)]
    closed_at = await asyncio.wait_for(asyncio.gather(*(dripping(r, w) for r, w in clients)), 60)
    assert min(closed_at) - began >= 1.0 - 0.05, "closed before its deadline"
    assert site.gate.stats.head_timeouts == 40
    await until(lambda: not server_sockets(site.port), what="the server-side sockets gone")
    for _, writer in clients:
        writer.close()
    # a real request is still served
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{site.port}/api/clusters") as resp:
        assert resp.status == 200


async def test_a_kept_alive_connections_next_head_is_due_too(gated):
    hub, site = await gated(Limits(keepalive_timeout=1.0))
    reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
    writer.write(b"GET /api/clusters HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # admitted
    assert (await asyncio.wait_for(reader.readline(), 30)).startswith(b"HTTP/1.1 200")
    writer.write(b"GET /api/clusters HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # then a head that never ends
    await reader.readuntil(b"\r\n\r\n")
    await asyncio.wait_for(dripping(reader, writer), 60)  # unfixed: aiohttp's keep-alive is an hour
    writer.close()


async def test_unauthenticated_requests_do_not_keep_a_connection(gated):
    access = Access(operator_token="op-secret", allowed_hosts=frozenset({"127.0.0.1"}))
    hub, site = await gated(Limits(head_timeout=1.0), access=access)
    reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
    answers = 0
    with pytest.raises(ConnectionError):  # keep-alive requests with no token, until the server closes
        for _ in range(200):
            writer.write(b"GET /api/clusters HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 30)
            if not line:
                raise ConnectionResetError("closed")
            assert line.startswith(b"HTTP/1.1 401")
            answers += 1
            await reader.readuntil(b"a valid token is needed\n")
            await asyncio.sleep(0.1)  # a client's pace between requests, not a synchronisation
    writer.close()
    assert answers >= 1 and site.gate.stats.head_timeouts == 1
    # with the token, the connection is admitted and kept
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer op-secret"}) as session:
        for _ in range(2):
            async with session.get(f"http://127.0.0.1:{site.port}/api/clusters") as resp:
                assert resp.status == 200
        await asyncio.sleep(1.5)  # longer than the head deadline: the admitted connection stays
        assert len(server_sockets(site.port)) == 1 and site.gate.stats.head_timeouts == 1


async def test_at_the_cap_idle_connections_make_room_for_real_ones(gated):
    # deadline an hour away: only the cap and its eviction protect the server here
    hub, site = await gated(Limits(head_timeout=3600, max_connections=30))
    assert site.gate.cap == 30
    idle = [await slowloris(site.port) for _ in range(100)]
    await until(lambda: site.gate.stats.evicted == 70, what="70 oldest idle connections evicted")
    assert len(server_sockets(site.port)) <= 30
    async with aiohttp.ClientSession() as session:
        for _ in range(5):
            async with session.get(f"http://127.0.0.1:{site.port}/api/clusters", timeout=aiohttp.ClientTimeout(10)) as resp:
                assert resp.status == 200
        ws = await session.ws_connect(f"http://127.0.0.1:{site.port}/ws", timeout=aiohttp.ClientWSTimeout(10))
        hello = await ws.receive(timeout=10)
        assert hello.type == aiohttp.WSMsgType.BINARY
        assert len(server_sockets(site.port)) <= 30
        await ws.close()
        async with session.get(f"http://127.0.0.1:{site.port}/metrics") as resp:
            metrics = await resp.text()
        # each real connection at the cap made room too
        assert site.gate.stats.evicted >= 70
        assert f'dispymon_connections_dropped_total{{reason="evicted"}} {site.gate.stats.evicted}\n' in metrics
        assert "dispymon_connections_max 30\n" in metrics
    for _, writer in idle:
        writer.close()


async def test_connections_per_address_are_capped_with_a_clear_refusal(gated):
    hub, site = await gated(Limits(max_per_address=3))
    url = f"http://127.0.0.1:{site.port}"
    async with aiohttp.ClientSession() as session:
        kept = [await session.ws_connect(f"{url}/ws") for _ in range(3)]
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{url}/ws")
        assert refused.value.status == 429
        async with session.get(f"{url}/api/clusters") as resp:
            assert resp.status == 429
            assert await resp.text() == "dispymon: too many connections from 127.0.0.1 (at most 3)\n"
        # another address is not affected
        other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=other) as session2, session2.get(f"{url}/api/clusters") as resp:
            assert resp.status == 200
        await kept.pop().close()
        await until(lambda: site.gate.stats.admitted == 2, what="a closed WebSocket's slot freed")
        kept.append(await session.ws_connect(f"{url}/ws"))
        assert site.gate.stats.refused_address == 2
        for ws in kept:
            await ws.close()


async def test_connections_per_token_are_capped(gated):
    access = Access(operator_token="op-secret", viewer_token="view-secret", allowed_hosts=frozenset({"127.0.0.1"}))
    hub, site = await gated(Limits(max_per_token=2), access=access)
    url = f"http://127.0.0.1:{site.port}/ws"
    async with aiohttp.ClientSession() as session:
        viewers = [await session.ws_connect(f"{url}?token=view-secret") for _ in range(2)]
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{url}?token=view-secret")
        assert refused.value.status == 429
        async with session.get(f"http://127.0.0.1:{site.port}/api/clusters",
                               headers={"Authorization": "Bearer view-secret"}) as resp:  # fmt: skip
            assert resp.status == 429
            assert await resp.text() == "dispymon: too many connections with this token (at most 2)\n"
        operator = await session.ws_connect(f"{url}?token=op-secret")  # the other token has its own cap
        for ws in [*viewers, operator]:
            await ws.close()


def ws_handshake(port: int, rcvbuf: int = 4096) -> socket.socket:
    """A raw WebSocket client (no compression) with a small receive buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())  # fmt: skip
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: nothing after the head is read
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def masked_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return struct.pack("!BB", 0x82, 0x80 | len(payload)) + mask + body


async def busy_cluster(hub: Hub, stop: asyncio.Event) -> None:
    """Node and job changes every few milliseconds: frames for every browser."""
    hub.feed(attached("c"))
    uid = 0
    while not stop.is_set():
        for _ in range(500):
            uid += 1
            ip = f"10.{uid % 3000 // 200}.{uid % 200 // 100}.{uid % 100}"
            hub.feed(status("c", ev.JOB_FINISHED, node(ip, jobs_done=uid), job(uid, ip)))
        await asyncio.sleep(0.005)  # as dispy's thread would, between bursts


@pytest.mark.parametrize("keeps_sending", [False, True], ids=["silent", "keeps-sending"])
async def test_a_client_that_stops_reading_is_dropped(gated, keeps_sending):
    hub, site = await gated(Limits(write_timeout=2.0, close_grace=1.0), poll_sec=0.01, heartbeat=4.0)
    stop = asyncio.Event()
    feeder = asyncio.create_task(busy_cluster(hub, stop))
    sock = await asyncio.to_thread(ws_handshake, site.port)  # this loop serves the handshake
    mine = sock.getsockname()[1]

    def held() -> bool:
        # any state: a closed socket whose data the peer does not take stays in FIN_WAIT1
        return any(c.raddr.port == mine for c in server_sockets(site.port, None))

    try:
        assert held()
        flush = masked_frame(encode({"type": "flush"}))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while held():
            if keeps_sending:  # a pong never comes, but bytes keep arriving: aiohttp's heartbeat waits on
                try:
                    sock.send(flush)
                except BlockingIOError:
                    pass
                except ConnectionError:
                    break
            assert loop.time() < deadline, f"the server still holds the socket of a client that does not read: {[c.status for c in server_sockets(site.port, None)]} {site.gate.stats}"
            await asyncio.sleep(0.1)  # the client's pace, and the poll of the condition
        # the client sees the reset (or EOF) once it reads
        sock.setblocking(True)
        sock.settimeout(30)
        def read_all() -> None:
            while sock.recv(1 << 20):
                pass
            raise EOFError

        with pytest.raises((ConnectionResetError, EOFError)):
            await asyncio.to_thread(read_all)
    finally:
        stop.set()
        await feeder
        sock.close()


ACCEPT_SCRIPT = """
import asyncio, json, logging, os, resource, socket, sys
from pathlib import Path
from dispymon.runtime.hub import Hub
from dispymon.transport.limits import GatedSite, Limits, runner
from dispymon.transport.server import ServerConfig, create_app

records = []

class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())

logging.getLogger().addHandler(Keep())
logging.getLogger().setLevel(logging.INFO)


async def main():
    app = create_app(Hub(asyncio.get_running_loop()), ServerConfig(static_dir=Path(sys.argv[1])))
    run = runner(app)
    await run.setup()
    site = GatedSite(run, "127.0.0.1", 0)
    await site.start()
    clients = [socket.socket() for _ in range(3)]
    for sock in clients:
        sock.setblocking(False)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    held = []
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 16, hard))
    try:
        while True:
            held.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    for sock in clients:
        try:
            sock.connect(("127.0.0.1", site.port))  # the kernel completes it; accept() cannot
        except BlockingIOError:
            pass
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while site.gate.stats.accept_errors < 3 and loop.time() < deadline:
        await asyncio.sleep(0.05)  # polling interval of a condition wait
    for fd in held:
        os.close(fd)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    before_report = [m for m in records if "accept" in m]
    site.gate.report()
    print(json.dumps({"errors": site.gate.stats.accept_errors, "logged": before_report,
                      "report": [m for m in records if "accept" in m][len(before_report):]}))
    for sock in clients:
        sock.close()
    await run.cleanup()

asyncio.run(main())
"""


def test_accept_errors_are_logged_once_with_a_count(static_dir):
    # in a process of its own: the file limit is lowered to the brim there
    proc = subprocess.run([sys.executable, "-c", ACCEPT_SCRIPT, str(static_dir)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["errors"] >= 3
    # unfixed, asyncio logs each one with its traceback
    assert len(result["logged"]) == 1, result
    assert "could not accept connections: 1 since the last report, 1 in all" in result["logged"][0]
    assert len(result["report"]) == 1 and f"{result['errors'] - 1} since the last report, {result['errors']} in all" in result["report"][0]
    assert "Traceback" not in proc.stderr


BURST_SCRIPT = """
import asyncio, json, resource, sys
from pathlib import Path
from dispymon.runtime.hub import Hub
from dispymon.transport.limits import GatedSite, runner
from dispymon.transport.server import ServerConfig, create_app

resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))  # as test_hostile's program runs


async def main():
    run = runner(create_app(Hub(asyncio.get_running_loop()), ServerConfig(static_dir=Path(sys.argv[1]))))
    await run.setup()
    site = GatedSite(run, "127.0.0.1", 0)
    await site.start()
    print(json.dumps({"cap": site.gate.cap, "backlog": site.backlog, "default": site.gate.limits.backlog}))
    await run.cleanup()

asyncio.run(main())
"""


def test_the_connections_and_one_accept_burst_leave_the_program_files_of_its_own(static_dir):
    # asyncio accepts a backlog's worth of sockets at once, before the gate sees them: at 1,024
    # files, a cap of 512 and a backlog of 1,024 let an attack take every file, and dispy (in the
    # same process) lost a node it could not open a socket to (test_hostile, seen once)
    proc = subprocess.run([sys.executable, "-c", BURST_SCRIPT, str(static_dir)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["cap"] == 512 and got["default"] == 1024
    assert got["cap"] + got["backlog"] <= 1024 - 256, got  # a quarter of the files left to the program
