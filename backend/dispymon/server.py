"""The aiohttp application: the SPA's files and the `/ws` WebSocket.

Knows nothing of dispy: it reads the state through views and encodes frames
through the codec.
"""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from . import PROTOCOL_VERSION, __version__
from .codec import CodecError, decode, encode
from .commands import Commands
from .control import ClusterControl
from .hub import Hub
from .views import ClientView

log = logging.getLogger(__name__)

PACKAGED_STATIC = Path(__file__).parent / "static"
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


HUB = web.AppKey("hub", Hub)
CONFIG = web.AppKey("config", ServerConfig)
CONNECTIONS = web.AppKey("connections", weakref.WeakSet)
COMMANDS = web.AppKey("commands", Commands)


def check_frontend(static_dir: Path) -> None:
    if not (static_dir / "index.html").is_file():
        raise MissingFrontendError(f"the dashboard's frontend is not built ({static_dir}/index.html is missing): {BUILD_HINT}")


def create_app(hub: Hub, config: ServerConfig, control: ClusterControl | None = None) -> web.Application:
    check_frontend(config.static_dir)
    app = web.Application()
    app[HUB] = hub
    app[CONFIG] = config
    app[COMMANDS] = Commands(hub, control, timeout=config.command_timeout, add_node_wait=config.add_node_wait)
    app[CONNECTIONS] = weakref.WeakSet()
    app.router.add_get("/ws", websocket_handler)
    assets = config.static_dir / "assets"
    if assets.is_dir():
        # aiohttp's static route refuses paths that resolve outside `assets`
        app.router.add_static("/assets", assets)
    app.router.add_get("/{tail:.*}", spa_handler)
    app.on_shutdown.append(_close_connections)
    return app


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

    def __init__(self, ws: web.WebSocketResponse, view: ClientView, commands: Commands) -> None:
        self.ws = ws
        self.view = view
        self.commands = commands
        self.wake = asyncio.Event()
        self.want_snapshot = True
        self.want_flush = False
        self.outbox: list[dict[str, Any]] = []  # results and errors, sent before any delta
        self.tasks: set[asyncio.Task] = set()

    async def pump(self) -> None:
        view = self.view
        due = True  # the first pass sends the snapshot
        while not self.ws.closed:
            while self.outbox:
                await self.ws.send_bytes(encode(self.outbox.pop(0)))
            if self.want_snapshot:
                self.want_snapshot = False
                message = view.snapshot()
            elif due or self.want_flush:
                message = view.delta()
            else:
                message = None
            self.want_flush = False
            if message is not None:
                await self.ws.send_bytes(encode(message))
            if self.outbox:
                continue
            interval = view.interval
            # Woken early (flush, resync, a result, a new interval): not due by the clock.
            due = False
            try:
                async with asyncio.timeout(interval if interval > 0 else None):
                    await self.wake.wait()
            except TimeoutError:
                due = True
            self.wake.clear()

    def send(self, message: dict[str, Any]) -> None:
        self.outbox.append(message)
        self.wake.set()

    def handle(self, message: dict[str, Any]) -> None:
        """Apply one client message (commands run in their own task)."""
        kind = message["type"]
        if kind == "view":
            self._view(message)
        elif kind == "flush":
            self.want_flush = True
        elif kind == "resync":
            self.want_snapshot = True
        elif kind == "command":
            task = asyncio.create_task(self._command(message))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return
        else:
            self.send(_error("invalid", f"unknown message type {kind[:40]!r}"))
            return
        self.wake.set()

    def _view(self, message: dict[str, Any]) -> None:
        if "interval" in message:
            interval = message["interval"]
            if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not math.isfinite(interval):
                self.send(_error("invalid", "view.interval must be a finite number of seconds"))
                return
            self.view.interval = float(interval)
        if "node" in message:
            node = message["node"]
            if node is not None and (not isinstance(node, str) or not 0 < len(node) <= 64):
                self.send(_error("invalid", "view.node must be a node's address or null"))
                return
            if node != self.view.node:
                self.view.watch(node)
                self.want_snapshot = True  # the new node's jobs arrive whole

    async def _command(self, message: dict[str, Any]) -> None:
        result = await self.commands.execute(message)
        if not self.ws.closed:
            self.want_flush = True  # let the commander see the effect with the result
            self.send(result)


def _error(code: str, text: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": text}


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    config = request.app[CONFIG]
    ws = web.WebSocketResponse(heartbeat=config.heartbeat, max_msg_size=config.max_frame)
    await ws.prepare(request)
    conn = Connection(ws, ClientView(hub.state, config.poll_sec), request.app[COMMANDS])
    request.app[CONNECTIONS].add(conn)
    await ws.send_bytes(
        encode(
            {
                "type": "hello",
                "protocol": PROTOCOL_VERSION,
                "server": f"dispymon {__version__}",
                "poll_sec": config.poll_sec,
                "show_job_args": hub.state.settings["show_job_args"],
            }
        )
    )
    pump = asyncio.create_task(conn.pump())
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                try:
                    message = decode(msg.data, max_len=config.max_frame)
                except CodecError as exc:
                    await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=str(exc).encode()[:120])
                    break
                conn.handle(message)
            elif msg.type == WSMsgType.TEXT:
                await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"text frames are not part of the protocol")
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


async def _close_connections(app: web.Application) -> None:
    for conn in list(app[CONNECTIONS]):
        await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
