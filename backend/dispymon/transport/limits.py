"""Connection limits: no idle, slow or greedy client takes the server down, nor
dispy, which runs in the same process and needs file descriptors too.

One `Gate` per application sits between the listening socket and aiohttp's
protocol (a protocol-factory wrapper, see `GatedSite`) and in the app's
middleware chain (after the token check, see `install`):

- A connection must send a request that passes the token check within
  `head_timeout` of connecting, or it is closed: a client that never finishes
  its request head (slowloris), or only makes unauthenticated requests, holds
  a socket for seconds, not forever. Later request heads on a kept-alive
  connection are bounded by aiohttp's keep-alive timeout (`runner()`).
- At most `max_connections` sockets, never more than half the process's
  open-file limit (its soft limit is raised to the hard one first): the other
  half is dispy's. At the cap, a new connection closes the oldest one that has
  not been admitted yet (an attacker's, since a browser's is admitted within
  milliseconds); with none to close, the new one gets a 503 and is closed.
- At most `max_per_address` admitted connections from one address, and
  `max_per_token` with one token: beyond, HTTP 429 with a one-line text (a
  WebSocket is refused at its handshake).
- A peer that stops reading is reset after `write_timeout`: the kernel does
  it (Linux's TCP_USER_TIMEOUT: sent bytes not acknowledged, a zero window
  included), also for a socket aiohttp has closed with bytes still queued
  (its close waits for the buffer to drain, forever); the gate aborts a
  transport that stays paused that long, and a WebSocket whose handler has
  ended but whose socket is still open `close_grace` later.
- The listening socket's backlog is `backlog` (1,024; the kernel caps it at
  net.core.somaxconn), so a crowd of browsers arriving while the loop is busy
  waits in the kernel's queue instead of having its SYNs dropped; lowered to
  half the files the cap leaves (asyncio accepts a backlog's worth of sockets
  at once, before the gate sees them), so the program keeps files of its own.
- Each of these, and the event loop's accept errors (EMFILE), is logged once
  with a count, then at most once per `log_interval`.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import ssl
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from dispymon.features.metrics import Exposition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    head_timeout: float = 10.0  # to send a request that passes the token check, from connecting
    keepalive_timeout: float = 30.0  # an admitted connection's next request head (aiohttp's keep-alive)
    write_timeout: float = 30.0  # writes stuck (the peer not reading) this long: the socket is aborted
    close_grace: float = 5.0  # a finished WebSocket's last bytes not taken within this: aborted
    max_connections: int = 1024  # and never more than half the open-file limit
    max_per_address: int = 256  # admitted connections from one address
    max_per_token: int = 512  # admitted connections with one token (when tokens are required)
    # Connections the kernel completes before the loop accepts them. At 128
    # (asyncio's default) a crowd of browsers arriving while the loop builds
    # a snapshot overflowed it: the kernel dropped the rest of the SYNs and
    # those browsers retried 1, 3, 7 s later (benchmarks/notes.md, issue 21).
    # The kernel caps it at net.core.somaxconn.
    backlog: int = 1024
    log_interval: float = 60.0  # repeated refusals and errors: one log line per interval, with a count


@dataclass
class GateStats:
    """Counters (for tests and /metrics)."""

    open: int = 0  # sockets open now
    admitted: int = 0  # of which admitted (a request passed the token check)
    evicted: int = 0  # not-admitted connections closed to make room at the cap
    refused_full: int = 0  # new connections refused at the cap (503)
    refused_address: int = 0  # requests refused for their address's cap (429)
    refused_token: int = 0  # requests refused for their token's cap (429)
    head_timeouts: int = 0  # connections closed for not sending an admitted request in time
    stalled: int = 0  # sockets aborted because the peer did not read
    accept_errors: int = 0  # the event loop could not accept (out of file descriptors)


ACCEPT_ERROR = "socket.accept() out of system resource"
FULL_RESPONSE = b"dispymon: too many connections; try again later\n"


def raise_file_limit() -> int:
    """Raise the soft open-file limit to the hard one; the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or want <= soft:
        return soft if soft != resource.RLIM_INFINITY else want
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        return soft
    return want


class _Tally:
    """Logs the first occurrence at once, then one line per interval with a count."""

    def __init__(self, what: str, level: int, interval: float) -> None:
        self.what = what
        self.level = level
        self.interval = interval
        self.total = 0
        self.unreported = 0
        self.next_report = 0.0

    def add(self, now: float, detail: str = "", exc_info: BaseException | None = None) -> None:
        self.total += 1
        self.unreported += 1
        if now >= self.next_report:
            self.report(detail, exc_info)
            self.next_report = now + self.interval

    def report(self, detail: str = "", exc_info: BaseException | None = None) -> None:
        if self.unreported:
            log.log(
                self.level,
                "dispymon: %s: %d since the last report, %d in all%s",
                self.what,
                self.unreported,
                self.total,
                f" ({detail})" if detail else "",
                exc_info=exc_info,
            )
            self.unreported = 0


class _Conn:
    __slots__ = ("transport", "address", "token", "admitted", "open", "deadline", "stall")

    def __init__(self, transport: asyncio.Transport, address: str) -> None:
        self.transport = transport
        self.address = address
        self.token: str | None = None
        self.admitted = False
        self.open = True
        self.deadline: asyncio.TimerHandle | None = None
        self.stall: asyncio.TimerHandle | None = None


class Gate:
    """The limits of one application's connections (see the module's doc)."""

    def __init__(self, limits: Limits, token_of: Callable[[web.Request], str | None] | None = None) -> None:
        self.limits = limits
        self.token_of = token_of
        self.cap = limits.max_connections  # lowered to half the file limit by start()
        self.accept_burst = limits.backlog  # lowered by start() to leave files beside the cap
        self.stats = GateStats()
        self._conns: dict[asyncio.BaseTransport, _Conn] = {}
        self._pending: dict[_Conn, None] = {}  # not admitted yet, oldest first
        self._by_address: Counter[str] = Counter()  # admitted
        self._by_token: Counter[str] = Counter()  # admitted
        interval = limits.log_interval
        self._tallies = {
            "full": _Tally(
                "connection cap reached: oldest idle connections closed or new ones refused", logging.WARNING, interval
            ),
            "address": _Tally("connections refused (429): too many from one address", logging.WARNING, interval),
            "token": _Tally("connections refused (429): too many with one token", logging.WARNING, interval),
            "head": _Tally("connections closed: no admitted request within the head deadline", logging.INFO, interval),
            "stalled": _Tally("connections aborted: the peer stopped reading", logging.INFO, interval),
            "accept": _Tally("the server could not accept connections", logging.ERROR, interval),
        }
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- starting and stopping ----------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        files = raise_file_limit()
        self.cap = max(1, min(self.limits.max_connections, files // 2))
        # asyncio accepts up to the listen backlog's count of sockets in one go, before the
        # gate sees any of them: the cap plus that burst must leave files for the program
        # (dispy's own sockets: at 1,024 files, a backlog of 1,024 left it none)
        self.accept_burst = max(16, min(self.limits.backlog, (files - self.cap) // 2))
        if loop.get_exception_handler() is None:  # the program's own handler, if any, stays
            loop.set_exception_handler(self._loop_exception)

    def report(self) -> None:
        """Log what the tallies have counted since their last line."""
        for tally in self._tallies.values():
            tally.report()

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # asyncio logs each failed accept with a traceback, and retries a second
        # later: at the file limit that is a log line per second per listener.
        if context.get("message") == ACCEPT_ERROR:
            self.stats.accept_errors += 1
            exc = context.get("exception")
            self._tallies["accept"].add(loop.time(), str(exc) if exc else "")
            return
        loop.default_exception_handler(context)

    def metrics_text(self) -> str:
        """The gate's part of /metrics (Prometheus text format)."""
        out = Exposition()
        s = self.stats
        out.family("dispymon_connections", "gauge", "Sockets open now (HTTP and WebSocket).", [({}, s.open)])
        out.family(
            "dispymon_connections_max",
            "gauge",
            "The connection cap (at most half the open-file limit).",
            [({}, self.cap)],
        )
        reasons = {
            "evicted": s.evicted,
            "full": s.refused_full,
            "address": s.refused_address,
            "token": s.refused_token,
            "head_timeout": s.head_timeouts,
            "stalled": s.stalled,
        }
        out.family(
            "dispymon_connections_dropped",
            "counter",
            "Connections closed or refused by the limits, by reason.",
            [({"reason": r}, n) for r, n in reasons.items()],
            "_total",
        )
        out.family(
            "dispymon_accept_errors",
            "counter",
            "Connections the server could not accept (out of files).",
            [({}, s.accept_errors)],
            "_total",
        )
        return out.text()

    # -- the socket level ----------------------------------------------------------

    def protocol_factory(self, inner: Callable[[], asyncio.BaseProtocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _GatedProtocol(self, inner)

    def _opened(self, transport: asyncio.Transport) -> _Conn | None:
        """A new socket: None when it is refused (and closed)."""
        assert self._loop is not None, "Gate.start() first"
        now = self._loop.time()
        if len(self._conns) >= self.cap:
            if self._pending:
                oldest = next(iter(self._pending))
                self.stats.evicted += 1
                self._tallies["full"].add(now, f"cap {self.cap}")
                self._drop(oldest)
            else:
                self.stats.refused_full += 1
                self._tallies["full"].add(now, f"cap {self.cap}")
                transport.write(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\nRetry-After: 10\r\n\r\n%s"
                    % (len(FULL_RESPONSE), FULL_RESPONSE)
                )
                transport.close()
                return None
        sock = transport.get_extra_info("socket")
        if (
            sock is not None
            and sock.family in (socket.AF_INET, socket.AF_INET6)
            and hasattr(socket, "TCP_USER_TIMEOUT")
        ):
            # Linux: sent bytes unacknowledged this long (a zero window too)
            # reset the connection, also after it is closed: aiohttp's close
            # waits for a buffer that a peer not reading never empties, and the
            # kernel keeps the unsent bytes of a closed socket (FIN_WAIT1)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(self.limits.write_timeout * 1000))
            except OSError:
                pass
        peer = transport.get_extra_info("peername")
        conn = _Conn(transport, str(peer[0]) if isinstance(peer, tuple) and peer else "")
        self._conns[transport] = conn
        self._pending[conn] = None
        conn.deadline = self._loop.call_later(self.limits.head_timeout, self._head_timeout, conn)
        self.stats.open = len(self._conns)
        return conn

    def _head_timeout(self, conn: _Conn) -> None:
        conn.deadline = None
        if conn.open and not conn.admitted:
            self.stats.head_timeouts += 1
            assert self._loop is not None
            self._tallies["head"].add(self._loop.time(), f"{self.limits.head_timeout:g} s")
            self._drop(conn)

    def _drop(self, conn: _Conn) -> None:
        """Close at once with a reset, whatever is buffered: the descriptor is
        free now, and the kernel does not keep the unsent bytes of a closed
        socket (FIN_WAIT1) for a peer that will never read them."""
        self._forget(conn)
        sock = conn.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        conn.transport.abort()

    def _forget(self, conn: _Conn) -> None:
        if not conn.open:
            return
        conn.open = False
        for handle in (conn.deadline, conn.stall):
            if handle is not None:
                handle.cancel()
        conn.deadline = conn.stall = None
        self._conns.pop(conn.transport, None)
        self._pending.pop(conn, None)
        if conn.admitted:
            self._by_address[conn.address] -= 1
            if self._by_address[conn.address] <= 0:
                del self._by_address[conn.address]
            if conn.token is not None:
                self._by_token[conn.token] -= 1
                if self._by_token[conn.token] <= 0:
                    del self._by_token[conn.token]
            self.stats.admitted -= 1
        self.stats.open = len(self._conns)

    def _paused(self, conn: _Conn) -> None:
        if conn.open and conn.stall is None:
            assert self._loop is not None
            conn.stall = self._loop.call_later(self.limits.write_timeout, self._stalled, conn)

    def _resumed(self, conn: _Conn) -> None:
        if conn.stall is not None:
            conn.stall.cancel()
            conn.stall = None

    def _stalled(self, conn: _Conn) -> None:
        conn.stall = None
        if conn.open:
            self.stats.stalled += 1
            assert self._loop is not None
            self._tallies["stalled"].add(self._loop.time(), f"writes stuck {self.limits.write_timeout:g} s")
            self._drop(conn)

    # -- the request level -----------------------------------------------------------

    @web.middleware
    async def admit(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Admit a connection's first request that passed the token check, within the caps."""
        conn = self._conns.get(request.transport) if request.transport is not None else None
        if conn is None:  # not served through a GatedSite (aiohttp's test server), or already gone
            return await handler(request)
        if not conn.admitted:
            refused = self._admit(conn, request)
            if refused is not None:
                return refused
        response = await handler(request)
        if isinstance(response, web.WebSocketResponse):
            # The handler has ended: aiohttp closes the transport, which waits
            # for the buffer to drain. A peer that does not read is aborted.
            assert self._loop is not None
            self._loop.call_later(self.limits.close_grace, self._closed_ws, conn)
        return response

    def _admit(self, conn: _Conn, request: web.Request) -> web.Response | None:
        assert self._loop is not None
        limits = self.limits
        if self._by_address[conn.address] >= limits.max_per_address:
            self.stats.refused_address += 1
            self._tallies["address"].add(self._loop.time(), conn.address)
            return _refusal(f"dispymon: too many connections from {conn.address} (at most {limits.max_per_address})")
        token = self.token_of(request) if self.token_of is not None else None
        if token is not None and self._by_token[token] >= limits.max_per_token:
            self.stats.refused_token += 1
            self._tallies["token"].add(self._loop.time(), token)
            return _refusal(f"dispymon: too many connections with this token (at most {limits.max_per_token})")
        conn.admitted = True
        conn.token = token
        self._pending.pop(conn, None)
        if conn.deadline is not None:
            conn.deadline.cancel()
            conn.deadline = None
        self._by_address[conn.address] += 1
        if token is not None:
            self._by_token[token] += 1
        self.stats.admitted += 1
        return None

    def _closed_ws(self, conn: _Conn) -> None:
        if conn.open:
            self.stats.stalled += 1
            assert self._loop is not None
            self._tallies["stalled"].add(
                self._loop.time(), f"a closed WebSocket's last bytes not taken in {self.limits.close_grace:g} s"
            )
            self._drop(conn)


def _refusal(text: str) -> web.Response:
    response = web.Response(status=429, text=text + "\n", headers={"Retry-After": "10"})
    response.force_close()
    return response


class _GatedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one connection, seen by the gate."""

    __slots__ = ("gate", "inner", "make_inner", "conn")

    def __init__(self, gate: Gate, make_inner: Callable[[], asyncio.BaseProtocol]) -> None:
        self.gate = gate
        self.make_inner = make_inner
        self.inner: Any = None
        self.conn: _Conn | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.conn = self.gate._opened(transport)
        if self.conn is not None:
            self.inner = self.make_inner()
            self.inner.connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.conn is not None:
            self.gate._forget(self.conn)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.conn is not None:
            self.gate._paused(self.conn)
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.conn is not None:
            self.gate._resumed(self.conn)
        if self.inner is not None:
            self.inner.resume_writing()


GATE = web.AppKey("gate", Gate)


def install(app: web.Application, limits: Limits, token_of: Callable[[web.Request], str | None] | None = None) -> Gate:
    """Give `app` a gate: its middleware goes after those already there (the token check)."""
    gate = Gate(limits, token_of)
    app[GATE] = gate
    app.middlewares.append(gate.admit)
    return gate


def runner(app: web.Application, **kwargs: Any) -> web.AppRunner:
    """An AppRunner whose kept-alive connections must send their next head in time."""
    return web.AppRunner(app, keepalive_timeout=app[GATE].limits.keepalive_timeout, **kwargs)


class GatedSite(web.BaseSite):
    """A TCP site (as aiohttp's TCPSite) whose connections pass through the app's gate."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str | None = None,
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int | None = None,
    ) -> None:
        self.gate: Gate = runner.app[GATE]
        if backlog is None:
            backlog = self.gate.limits.backlog
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._app_runner = runner
        self._host = host
        self._port = port
        self._tls = ssl_context
        self._queue = backlog
        self._listening: asyncio.Server | None = None

    @property
    def backlog(self) -> int:
        """The listening socket's backlog, which is also how many sockets asyncio accepts at once."""
        return self._queue

    @property
    def port(self) -> int:
        """The bound port once started (the real one when asked for 0)."""
        if self._listening is not None and self._listening.sockets:
            return int(self._listening.sockets[0].getsockname()[1])
        return self._port

    @property
    def name(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self._host or '0.0.0.0'}:{self.port}"

    async def start(self) -> None:
        await super().start()  # registers the site: runner.cleanup() stops it
        loop = asyncio.get_running_loop()
        self.gate.start(loop)
        self._queue = min(self._queue, self.gate.accept_burst)
        server = self._app_runner.server
        assert server is not None
        self._listening = await loop.create_server(
            self.gate.protocol_factory(server),
            self._host,
            self._port,
            ssl=self._tls,
            backlog=self._queue,
            ssl_handshake_timeout=self.gate.limits.head_timeout if self._tls is not None else None,
        )

    async def stop(self) -> None:
        if self._listening is not None:
            self._listening.close()
        self.gate.report()
        await super().stop()
