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


HUB = web.AppKey("hub", Hub)
CONFIG = web.AppKey("config", ServerConfig)
CONNECTIONS = web.AppKey("connections", weakref.WeakSet)


def check_frontend(static_dir: Path) -> None:
    if not (static_dir / "index.html").is_file():
        raise MissingFrontendError(f"the dashboard's frontend is not built ({static_dir}/index.html is missing): {BUILD_HINT}")


def create_app(hub: Hub, config: ServerConfig) -> web.Application:
    check_frontend(config.static_dir)
    app = web.Application()
    app[HUB] = hub
    app[CONFIG] = config
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
    reader sets flags and wakes it.
    """

    def __init__(self, ws: web.WebSocketResponse, view: ClientView) -> None:
        self.ws = ws
        self.view = view
        self.wake = asyncio.Event()
        self.want_snapshot = True
        self.want_flush = False

    async def pump(self) -> None:
        view = self.view
        due = True  # the first pass sends the snapshot
        while not self.ws.closed:
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
            interval = view.interval
            # Woken early (flush, resync, a new interval): not due by the clock.
            due = False
            try:
                async with asyncio.timeout(interval if interval > 0 else None):
                    await self.wake.wait()
            except TimeoutError:
                due = True
            self.wake.clear()

    def handle(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """Apply one client message; returns an error message to send, if any."""
        kind = message["type"]
        if kind == "view":
            interval = message.get("interval")
            if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not math.isfinite(interval):
                return _error("invalid", "view.interval must be a finite number of seconds")
            self.view.interval = float(interval)
        elif kind == "flush":
            self.want_flush = True
        elif kind == "resync":
            self.want_snapshot = True
        else:
            return _error("invalid", f"unknown message type {kind[:40]!r}")
        self.wake.set()
        return None


def _error(code: str, text: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": text}


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    config = request.app[CONFIG]
    ws = web.WebSocketResponse(heartbeat=config.heartbeat, max_msg_size=config.max_frame)
    await ws.prepare(request)
    conn = Connection(ws, ClientView(hub.state, config.poll_sec))
    request.app[CONNECTIONS].add(conn)
    await ws.send_bytes(
        encode(
            {
                "type": "hello",
                "protocol": PROTOCOL_VERSION,
                "server": f"dispymon {__version__}",
                "poll_sec": config.poll_sec,
                "show_job_args": config.show_job_args,
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
                reply = conn.handle(message)
                if reply is not None:
                    await ws.send_bytes(encode(reply))
            elif msg.type == WSMsgType.TEXT:
                await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"text frames are not part of the protocol")
                break
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
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
