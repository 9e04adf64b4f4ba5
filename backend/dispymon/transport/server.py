"""The aiohttp application: the SPA's files and the `/ws` WebSocket.

Knows nothing of dispy: it reads the state through views and encodes frames
through the codec.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.typedefs import Handler

from dispymon import __version__
from dispymon.commands.control import ClusterControl
from dispymon.commands.registry import Commands, is_action, is_query
from dispymon.features import memory
from dispymon.features.rest import install as install_api
from dispymon.model.views import ClientView
from dispymon.runtime.hub import Hub
from dispymon.transport import protocol
from dispymon.transport.codec import CodecError, decode, encode, encode_parts
from dispymon.transport.limits import Limits
from dispymon.transport.limits import install as install_limits
from dispymon.transport.protocol import effective_interval
from dispymon.transport.security import (
    COOKIE,
    OPERATOR,
    UNAUTHORISED_PAGE,
    Access,
    TokenBucket,
    keep_token,
    presented_token,
    security_headers,
    too_many_failures,
)
from dispymon.transport.wire import RawSender, prepare_shared

log = logging.getLogger(__name__)

PACKAGED_STATIC = Path(__file__).parent.parent / "static"
BUILD_HINT = "build it with `npm ci && npm run build` at the repository root (scripts/test does this)"


class MissingFrontendError(RuntimeError):
    pass


@dataclass
class ServerConfig:
    poll_sec: float = 10.0
    show_job_args: bool = True
    static_dir: Path = PACKAGED_STATIC
    max_frame: int = 64 * 1024  # client frames are small commands
    heartbeat: float = 20.0
    command_timeout: float = 15.0  # dispy's management calls can block ~10 s
    add_node_wait: float = 20.0  # how long an added node may take to initialise
    # default: loopback, no tokens; made per config, as Access holds a mutable throttle
    access: Access = field(default_factory=Access)
    message_rate: float = 50.0  # client messages a second, per connection...
    message_burst: float = 100.0  # ...with bursts up to this many
    max_refused: int = 500  # messages refused by the rate limit before the connection is closed
    health_interval: float = 1.0  # how often stuck/stale flags are re-evaluated
    release_interval: float = 1.0  # how often freed memory goes back to the OS (memory.py)
    history_size: int = 10_000  # finished jobs kept for the history (api.py)
    history_db: Path | None = None  # SQLite file keeping history and series across restarts
    outputs_budget: int = 64 * 2**20  # bytes of ended jobs' outputs and texts kept in memory (features/jobs.py)
    resubmit_budget: int = 64 * 2**20  # bytes of pickled arguments kept for resubmission (0: off)
    history_bytes: int = 256 * 2**20  # bytes of the history database on disk
    limits: Limits = field(default_factory=Limits)  # connection caps and deadlines (limits.py)
    alerts: Any = None  # --alerts FILE: an AlertsConfig (features/alerts/config.py); None: the rules' defaults


@dataclass
class Stats:
    """Counters of the WebSocket edge (for tests and, later, metrics)."""

    connections: int = 0
    frames: int = 0  # client frames received
    bad_frames: int = 0  # not msgpack maps, or text: the connection was closed
    closed_for_abuse: int = 0  # connections closed for flooding or not reading
    resyncs: int = 0  # snapshots a browser asked for (resync)


HUB = web.AppKey("hub", Hub)
STATS = web.AppKey("stats", Stats)
CONFIG = web.AppKey("config", ServerConfig)
CONNECTIONS: web.AppKey[weakref.WeakSet[Connection]] = web.AppKey("connections", weakref.WeakSet)
COMMANDS = web.AppKey("commands", Commands)


class SnapshotBatches:
    """New browsers' snapshots, built in batches.

    Each snapshot of a big cluster is a build of every node's record, its
    encoding and its compression (5,000 nodes: tens of ms). Before, each new
    browser drained the hub and built its own, at its own version: 200
    browsers arriving together meant 200 builds, and the connected browsers
    got no frame meanwhile. A browser that needs a snapshot now waits for the
    next batch: one drain (so what was fed before it asked is in its
    snapshot), then every waiting view's snapshot at that one version, in
    one callback, so they share one body and one encoded and compressed
    frame. A batch that took t seconds of the loop thread's CPU keeps the
    next one `SPACING` * t away, so snapshots take at most 1/(1 + SPACING) of
    the loop during a crowd's arrival and the browsers' deltas keep going
    out (its CPU clock, not the wall's: on a busy machine a build's wall time
    stretches with other processes' work, not with its own); an idle server
    builds a lone browser's snapshot at once.
    """

    SPACING = 3.0

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.waiting: list[tuple[ClientView, asyncio.Future[dict[str, Any]]]] = []
        self.handle: asyncio.TimerHandle | None = None
        self.next_at = 0.0  # loop time before which no batch starts
        self.batches = 0  # batches built (tests, the benchmark's notes)
        # the last batches: (wall clock, browsers served, CPU seconds), for the benchmarks
        self.recent: collections.deque[tuple[float, int, float]] = collections.deque(maxlen=32)

    async def take(self, view: ClientView) -> dict[str, Any]:
        """The view's snapshot message, built in the next batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.waiting.append((view, future))
        if self.handle is None:
            self.handle = loop.call_at(max(loop.time(), self.next_at), self._build)
        return await future

    def _build(self) -> None:
        self.handle = None
        waiting, self.waiting = self.waiting, []
        loop = asyncio.get_running_loop()
        started = time.thread_time()
        self.hub.read()  # what was fed before any of them asked
        first = True
        for view, future in waiting:
            if future.done():  # its browser left while waiting
                continue
            try:
                message = view.snapshot()
                if first:
                    # encoded and compressed here, once, so the spacing counts it
                    prepare_shared(*encode_parts(message, view.frame_key))
                    first = False
                future.set_result(message)
            except Exception as exc:  # that browser's pump ends with it (logged there)
                future.set_exception(exc)
        self.batches += 1
        spent = time.thread_time() - started
        self.recent.append((time.time(), len(waiting), spent))
        self.next_at = loop.time() + self.SPACING * spent

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        for _, future in self.waiting:
            future.cancel()
        self.waiting = []


SNAPSHOTS = web.AppKey("snapshots", SnapshotBatches)


def check_frontend(static_dir: Path) -> None:
    if not (static_dir / "index.html").is_file():
        raise MissingFrontendError(
            f"the dashboard's frontend is not built ({static_dir}/index.html is missing): {BUILD_HINT}"
        )


def create_app(hub: Hub, config: ServerConfig, control: ClusterControl | None = None) -> web.Application:
    check_frontend(config.static_dir)
    app = web.Application(middlewares=[guard])
    app.on_response_prepare.append(security_headers)  # every response, errors and handshakes too
    app[HUB] = hub
    app[CONFIG] = config
    app[COMMANDS] = Commands(hub, control, timeout=config.command_timeout, add_node_wait=config.add_node_wait)
    app[STATS] = Stats()
    app[CONNECTIONS] = weakref.WeakSet()
    app[SNAPSHOTS] = SnapshotBatches(hub)
    # after the token check: one token's connections are counted together (a role has one token)
    install_limits(app, config.limits, (lambda request: request.get(ROLE)) if config.access.required else None)
    app.router.add_get("/ws", websocket_handler)
    install_api(
        app,
        hub,
        app[COMMANDS],
        app[STATS],
        app[CONNECTIONS],
        config.history_size,
        config.history_db,
        outputs_budget=config.outputs_budget,
        resubmit_budget=config.resubmit_budget,
        history_bytes=config.history_bytes,
        alerts=config.alerts,
    )
    assets = config.static_dir / "assets"
    if assets.is_dir():
        # aiohttp's static route refuses paths that resolve outside `assets`
        app.router.add_static("/assets", assets)
    app.router.add_get("/{tail:.*}", spa_handler)
    app.on_shutdown.append(_close_connections)
    app.cleanup_ctx.append(_health_ticks)
    return app


async def _health_ticks(app: web.Application) -> AsyncIterator[None]:
    tasks = [
        asyncio.create_task(app[HUB].tick_health(app[CONFIG].health_interval)),
        asyncio.create_task(memory.release_every(app[CONFIG].release_interval)),
    ]
    yield
    for task in tasks:
        task.cancel()


ROLE = web.RequestKey("role", str)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host allow-list, then the token (see security.py)."""
    access = request.app[CONFIG].access
    if not access.host_allowed(request.host):
        return web.Response(status=403, text=f"dispymon: host {request.host!r} is not allowed (see --allow-host)\n")
    if request.path.startswith("/assets/"):
        return await handler(request)  # the app's code and styles hold no cluster data
    token, source = presented_token(request)
    if token is not None and access.required:
        # a guess is not even checked while its address is refused
        wait = access.throttle.retry_after(request.remote)
        if wait is not None:
            return too_many_failures(wait)
    role = access.role_for(token)
    if role is None:
        if token is not None:
            access.throttle.failed(request.remote)
        if request.path == "/ws" or request.headers.get("Accept", "").find("text/html") < 0:
            response = web.Response(status=401, text="dispymon: a valid token is needed\n")
        else:
            response = web.Response(status=401, text=UNAUTHORISED_PAGE, content_type="text/html")
        if source == "cookie":
            # a cookie from an earlier run's token: forget it, or every reconnection counts as a guess
            response.del_cookie(COOKIE, path="/")
        return response
    if source == "query" and token is not None and access.required and request.path != "/ws":
        # keep the token in a cookie and out of the address bar and history: a
        # redirect, so the tab's history never holds the ?token= address
        query = {k: v for k, v in request.query.items() if k != "token"}
        response = web.HTTPSeeOther(request.rel_url.with_query(query))
        keep_token(response, token, secure=request.secure)
        raise response
    request[ROLE] = role
    return await handler(request)


async def spa_handler(request: web.Request) -> web.StreamResponse:
    """Top-level files of the build, else index.html (client-side routes)."""
    static_dir: Path = request.app[CONFIG].static_dir
    tail = request.match_info["tail"]
    if tail and "/" not in tail and not tail.startswith("."):
        candidate = (static_dir / tail).resolve()
        if candidate.parent == static_dir.resolve() and candidate.is_file():
            return web.FileResponse(candidate)
    return web.FileResponse(static_dir / "index.html", headers={"Cache-Control": "no-cache"})


class Connection:
    """One browser: its view, and the task that sends it frames.

    Only the pump task writes to the socket, so frames never interleave; the
    reader and the command tasks set flags or queue results and wake it.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        view: ClientView,
        commands: Commands,
        role: str = OPERATOR,
        who: str | None = None,
        bucket: TokenBucket | None = None,
        max_refused: int = 500,
        stats: Stats | None = None,
        snapshots: SnapshotBatches | None = None,
        sender: RawSender | None = None,
    ) -> None:
        self.ws = ws
        # every frame to this browser goes through it (wire.py: shared frames compressed once)
        self.sender = sender or RawSender(ws)
        self.snapshots = snapshots
        self.stats = stats
        self.closing_for_abuse = False
        self.view = view
        self.commands = commands
        self.role = role
        self.who = who
        self.bucket = bucket
        self.refused = 0
        self.max_refused = max_refused
        self.wake = asyncio.Event()
        self.want_snapshot = True
        self.want_flush = False
        # results and errors, encoded when queued, sent before any delta: (frame,
        # whether it answers a query); bounded in count and bytes (send)
        self.outbox: list[tuple[bytes, bool]] = []
        self.outbox_bytes = 0
        # a read-only command is running or its result is not yet written: the
        # next one is answered `busy` (handle), so one browser holds at most one
        # query's work and answer however fast it asks
        self.querying = False
        self.tasks: set[asyncio.Task] = set()
        # The state version this browser's frames are written up to (handed to
        # the transport, so a close frame sent later arrives after them).
        self.written_version = -1

    async def pump(self) -> None:
        view = self.view
        due = True  # the first pass sends the snapshot
        hub = self.commands.hub
        loop = asyncio.get_running_loop()
        # The loop time this pass's clock tick was due. The first pass's is
        # now: a result queued while the snapshot went out brings the pump
        # back here with `due` still set, and a slice must not be asked for
        # "since None" (that raised and ended the pump: the browser got
        # nothing more).
        tick: float | None = loop.time()
        message: dict[str, Any] | None
        while not self.ws.closed:
            while self.outbox:
                frame, query = self.outbox.pop(0)
                self.outbox_bytes -= len(frame)
                await self.sender.send_bytes(frame)
                if query:
                    self.querying = False  # its answer is with the transport: the next may run
            # What was fed before this frame is in it: the hub takes a stream
            # of events only every BATCH_DELAY unless read. Browsers woken by
            # one tick share its drain, and so one version and one frame;
            # browsers that need a snapshot, one batch's (SnapshotBatches).
            if self.want_snapshot:
                self.want_snapshot = False
                if self.snapshots is not None:
                    # (a flush asked for while it waits is answered by a delta next)
                    message = await self.snapshots.take(view)
                else:
                    hub.read()
                    message = view.snapshot()
                    self.want_flush = False
            elif self.want_flush or due:
                if self.want_flush:
                    hub.read()
                else:
                    hub.read(since=tick)
                self.want_flush = False
                message = view.delta()
            else:
                message = None
            if message is not None:
                head, shared = encode_parts(message, view.frame_key)
                # not held while the frame is compressed and sent: a snapshot's
                # records are megabytes, times every browser waiting on a slow socket
                message = None
                await self.sender.send(head, shared)
            self.written_version = view.sent_version
            if self.outbox:
                continue
            interval = view.interval
            # Woken early (flush, resync, a result, a new interval): not due by the clock.
            due = False
            # Ticks fall on multiples of the interval on the loop's clock, so
            # browsers with one interval build and encode one delta together.
            now = loop.time()
            wait = interval - now % interval if interval > 0 else None
            tick = now + wait if wait is not None else None
            try:
                async with asyncio.timeout(wait):
                    await self.wake.wait()
            except TimeoutError:
                due = True
            self.wake.clear()

    MAX_OUTBOX = 1000  # results waiting for a browser that does not read them...
    MAX_OUTBOX_BYTES = 8 * 2**20  # ...and their bytes (a query's answer is at most ~1 MB)

    def send(self, message: dict[str, Any], query: bool = False) -> None:
        """Queue a result or error, encoded now so that its bytes are counted (`query`: it answers one)."""
        if self.closing_for_abuse:
            return
        frame = encode(message)
        if len(self.outbox) >= self.MAX_OUTBOX or self.outbox_bytes + len(frame) > self.MAX_OUTBOX_BYTES:
            # a client that sends but never reads: bounded memory, clean close
            self.outbox.clear()
            self.outbox_bytes = 0
            if not self.ws.closed:
                if self.stats is not None:
                    self.stats.closed_for_abuse += 1
                self.closing_for_abuse = True
                task = asyncio.create_task(
                    self.ws.close(code=protocol.RESULTS_NOT_READ.code, message=protocol.RESULTS_NOT_READ.reason)
                )
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            return
        self.outbox.append((frame, query))
        self.outbox_bytes += len(frame)
        self.wake.set()

    def handle(self, message: dict[str, Any]) -> bool:
        """Apply one client message (commands run in their own task).

        False when the browser has sent too much for too long: close it.
        """
        kind = message["type"]
        if self.bucket is not None and not self.bucket.take():
            self.refused += 1
            text = "too many messages: slow down"
            if (
                kind == "command"
                and not isinstance(message.get("id"), bool)
                and isinstance(message.get("id"), (int, str))
            ):
                self.send(protocol.failed(message["id"], protocol.RATE_LIMITED, text))
            elif self.refused % 50 == 1:  # say it, without echoing every flood frame
                self.send(protocol.error(protocol.RATE_LIMITED, text))
            return self.refused < self.max_refused
        if kind == "view":
            self._view(message)
        elif kind == "flush":
            self.want_flush = True
        elif kind == "resync":
            self.want_snapshot = True
            if self.stats is not None:
                self.stats.resyncs += 1
        elif kind == "command":
            query = is_query(message)
            if query:
                if self.querying:
                    self.send(
                        protocol.failed(
                            message["id"], protocol.BUSY, "one query at a time: wait for the previous one's result"
                        )
                    )
                    return True
                self.querying = True
            task = asyncio.create_task(self._query(message) if query else self._command(message))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return True
        else:
            self.send(protocol.error(protocol.INVALID, f"unknown message type {kind[:40]!r}"))
            return True
        self.wake.set()
        return True

    def _view(self, message: dict[str, Any]) -> None:
        if "interval" in message:
            interval = message["interval"]
            if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not math.isfinite(interval):
                self.send(protocol.error(protocol.INVALID, "view.interval must be a finite number of seconds"))
                return
            self.view.interval = effective_interval(float(interval))
        if "node" in message:
            node = message["node"]
            if node is not None and (not isinstance(node, str) or not 0 < len(node) <= 64):
                self.send(protocol.error(protocol.INVALID, "view.node must be a node's address or null"))
                return
            if node != self.view.node:
                self.view.watch(node)
                self.want_snapshot = True  # the new node's jobs arrive whole
        if "job" in message:
            job = message["job"]
            followed: tuple[str, int] | None = None
            if job is not None:
                cluster, key = (job.get("cluster"), job.get("key")) if isinstance(job, dict) else (None, None)
                if (
                    not isinstance(cluster, str)
                    or not 0 < len(cluster) <= 200
                    or isinstance(key, bool)
                    or not isinstance(key, int)
                    or not -(2**62) <= key <= 2**62
                ):
                    self.send(protocol.error(protocol.INVALID, "view.job must be {cluster, key} or null"))
                    return
                followed = (cluster, key)
            if followed != self.view.job:
                self.view.follow(followed)
                self.want_snapshot = True  # the job's detail arrives whole

    async def _command(self, message: dict[str, Any]) -> None:
        result = await self.commands.execute(message, who=self.who, role=self.role)
        if not self.ws.closed:
            # An action's commander sees its effect with the result, as if it
            # had pressed Update; a query (the chart's series every few
            # seconds), or an action refused before it ran, must not bring
            # state changes off the browser's interval.
            refused = protocol.refused(result)
            if is_action(message.get("name")) and not refused:
                self.want_flush = True
            self.send(result)

    async def _query(self, message: dict[str, Any]) -> None:
        """A read-only command: it changes nothing, so no flush; `querying` is cleared once its result is written."""
        try:
            result = await self.commands.execute(message, who=self.who, role=self.role)
        finally:
            if self.ws.closed:
                self.querying = False
        if not self.ws.closed:
            self.send(result, query=True)


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    config = request.app[CONFIG]
    if not config.access.origin_allowed(request.headers.get("Origin"), request.host):
        return web.Response(status=403, text="dispymon: cross-origin WebSocket refused\n")
    ws = web.WebSocketResponse(heartbeat=config.heartbeat, max_msg_size=config.max_frame)
    await ws.prepare(request)
    role = request.get(ROLE, OPERATOR)
    jobs = request.app[COMMANDS].jobs  # the jobs feature (features/jobs.py), when installed
    conn = Connection(
        ws,
        ClientView(hub.held, config.poll_sec, jobs.job_source if jobs is not None else None),
        request.app[COMMANDS],
        role=role,
        who=f"{role}@{request.remote}" if config.access.required else None,
        bucket=TokenBucket(config.message_rate, config.message_burst),
        max_refused=config.max_refused,
        stats=request.app[STATS],
        snapshots=request.app[SNAPSHOTS],
    )
    request.app[CONNECTIONS].add(conn)
    await conn.sender.send_bytes(
        encode(
            protocol.hello(
                server=f"dispymon {__version__}",
                poll_sec=config.poll_sec,
                # as last applied: the snapshot that follows carries the settings drained
                show_job_args=hub.held.settings["show_job_args"],
                role=role,
            )
        )
    )
    stats = request.app[STATS]
    stats.connections += 1
    pump = asyncio.create_task(conn.pump())
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                stats.frames += 1
                try:
                    message = decode(msg.data, max_len=config.max_frame)
                except CodecError as exc:
                    stats.bad_frames += 1
                    close = protocol.bad_frame(str(exc))
                    await ws.close(code=close.code, message=close.reason)
                    break
                if not conn.handle(message):
                    stats.closed_for_abuse += 1
                    await ws.close(code=protocol.TOO_MANY_MESSAGES.code, message=protocol.TOO_MANY_MESSAGES.reason)
                    break
            elif msg.type == WSMsgType.TEXT:
                stats.frames += 1
                stats.bad_frames += 1
                await ws.close(code=protocol.TEXT_FRAME.code, message=protocol.TEXT_FRAME.reason)
                break
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        for task in list(conn.tasks):
            task.cancel()
        pump.cancel()
        try:
            await pump
        except (asyncio.CancelledError, ConnectionError):
            pass
        except Exception:
            log.debug("pump ended with an error", exc_info=True)
    return ws


async def flush_browsers(app: web.Application, version: int, timeout: float) -> None:
    """Send every connected browser the state up to `version` (paused ones too,
    as "Update"), waiting at most `timeout`."""
    live = app[CONNECTIONS]  # (in a variable: mypy infers list(app[key]) wrongly)
    connections = list(live)
    for conn in connections:
        conn.want_flush = True
        conn.wake.set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    waiting = connections
    while True:
        waiting = [c for c in waiting if not c.ws.closed and c.written_version < version]
        if not waiting:
            return
        if loop.time() >= deadline:
            log.warning("dispymon: %d browser(s) did not take the final state within %g s", len(waiting), timeout)
            return
        # Each pump writes its frame within a few loop turns; a slow
        # browser is bounded by the deadline.
        await asyncio.sleep(0.01)


async def _close_connections(app: web.Application) -> None:
    app[SNAPSHOTS].cancel()  # no batch builds for browsers that are going
    live = app[CONNECTIONS]  # (in a variable: mypy infers list(app[key]) wrongly)
    for conn in list(live):
        await conn.ws.close(code=protocol.SERVER_SHUTDOWN.code, message=protocol.SERVER_SHUTDOWN.reason)
