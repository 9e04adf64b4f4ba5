"""The runtime: the one place that assembles and runs dispymon's parts.

`Runtime` builds the hub and state, the dispy adapter, access control, the
aiohttp app and its gated site from one `Settings`; it starts, attaches and
detaches clusters, flushes every browser, and stops. `dispymon serve` and
`demo` (`run` below), the drop-in `DispyHTTPServer` and benchmarks/serve.py
all use it.

`run` serves in the main thread's asyncio loop; dispy's threads feed the
hub; the workload runs in its own thread so a blocking `cluster.wait()`
never stalls the server.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

from aiohttp import web

from dispymon.adapters.dispy import DispyAdapter, DispyControl, close_cluster
from dispymon.commands.control import ClusterControl
from dispymon.entry.appmodule import AppModule, AppModuleError, start_workload
from dispymon.features.persist import stored_max_key
from dispymon.fleet.broker import BrokerError
from dispymon.model.events import Deferred, Event
from dispymon.model.jobkeys import JobKeys
from dispymon.model.state import State
from dispymon.runtime.hub import Hub
from dispymon.runtime.settings import Settings
from dispymon.transport.limits import GatedSite
from dispymon.transport.limits import runner as gated_runner
from dispymon.transport.security import Access, RedactingAccessLogger, TokenError, make_access
from dispymon.transport.server import create_app, flush_browsers

log = logging.getLogger(__name__)

# Stopping waits at most max(poll_sec, this) for slow browsers to take the final state
MIN_FINAL_WAIT = 5.0


class DashboardError(Exception):
    """One line, fit to print as it is."""


def url_for(host: str, port: int) -> str:
    shown = host if host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


class Runtime:
    """Hub, state, adapter, access, app and site, built from one `Settings`.

    Made in any thread for the loop it will run on (`loop`); `start`, `flush`
    and `stop` run on that loop. Raises `TokenError` (bad tokens) or
    `sqlite3.Error` (a history database that cannot be opened) when made.
    `source`, when given, is another adapter (the simulated cluster): called
    with the hub and the jobs' keys, it starts feeding it and returns the
    command channel.
    """

    def __init__(
        self,
        settings: Settings,
        loop: asyncio.AbstractEventLoop,
        source: Callable[[Hub, JobKeys], ClusterControl] | None = None,
        key_start: int = 1,
    ) -> None:
        self.settings = settings
        self.access: Access = make_access(
            settings.host or "", settings.token, settings.viewer_token, settings.allow_hosts, names=settings.token_names
        )
        self.hub = Hub(loop, State(settings.show_job_args, settings.stuck_after, settings.stale_after))
        self.accepting = True  # False once the drop-in's loop is gone: late events are dropped
        # The jobs' keys (model/jobkeys.py), one sequence for every adapter and
        # control: `key_start` (or `keys.advance`) follows a history database's largest key.
        if settings.history_db is not None:  # above the keys of the jobs the database keeps (persist.py)
            key_start = max(key_start, stored_max_key(settings.history_db) + 1)
        self.keys = JobKeys(key_start)
        self.adapter = DispyAdapter(self.feed, defer=True, patch_queue=settings.patch_dispy_queue, keys=self.keys)
        self.config = settings.server_config(self.access)
        control = source(self.hub, self.keys) if source is not None else DispyControl(self.adapter)
        # What starts and stops with the server beside it: a fleet central's
        # source, a program's publisher (docs/fleet.md)
        self.services: list[Any] = [source] if hasattr(source, "start") and hasattr(source, "stop") else []
        if settings.broker and settings.program:
            self.services.append(_publisher(self.hub, control, settings))
        self.app = create_app(self.hub, self.config, control)
        self._runner: web.AppRunner | None = None
        self._site: GatedSite | None = None

    @property
    def port(self) -> int:
        """The bound port once started (the real one when asked for 0)."""
        return self._site.port if self._site is not None else self.settings.port

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.ssl_context is not None else "http"
        return url_for(self.settings.host or "", self.port).replace("http:", f"{scheme}:", 1)

    @property
    def final_wait(self) -> float:
        return max(self.config.poll_sec, MIN_FINAL_WAIT)

    def feed(self, event: Event | Deferred) -> None:
        if self.accepting:
            self.hub.feed(event)

    async def start(self) -> int:
        """Listen; the bound port. OSError (with a one-line reason) if it cannot;
        BrokerError (one line) if the fleet's broker is wrong or refuses the login."""
        started = []
        try:
            for service in self.services:
                await service.start()
                started.append(service)
        except BaseException:
            for service in reversed(started):
                await service.stop()
            raise
        if not self.settings.serve_http:  # a program that only publishes (docs/fleet.md): no inbound port
            return 0
        try:
            return await self._listen()
        except BaseException:
            for service in reversed(started):
                await service.stop()
            raise

    async def _listen(self) -> int:
        logging_args: dict[str, Any] = (
            {"access_log_class": RedactingAccessLogger} if self.settings.access_log else {"access_log": None}
        )
        runner = gated_runner(self.app, handle_signals=False, **logging_args)
        await runner.setup()
        host = self.settings.host or None
        site = GatedSite(runner, host, self.settings.port, ssl_context=self.settings.ssl_context)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(
                exc.errno, f"cannot listen on {host or '*'}:{self.settings.port}: {exc.strerror or exc}"
            ) from None
        self._runner, self._site = runner, site
        return site.port

    def attach(self, cluster: Any, chain: bool = True) -> str:
        return self.adapter.attach(cluster, chain=chain)

    def detach(self, cluster: Any, announce: bool = True) -> bool:
        return self.adapter.detach(cluster, announce=announce)

    def detach_all(self, announce: bool = True) -> None:
        self.adapter.detach_all(announce=announce)

    async def flush(self, timeout: float | None = None) -> None:
        """Send every connected browser the state as it is now (paused ones too), waiting at most `timeout`."""
        state = await self.hub.settle()
        await flush_browsers(self.app, state.version, self.final_wait if timeout is None else timeout)

    async def stop(self, final: bool = True) -> None:
        """Stop serving: with `final`, first send every browser the final state."""
        if final:
            await self.flush()
        if self._runner is not None:
            await self._runner.cleanup()  # closes each WebSocket with 1001 "going away"
            self._runner = self._site = None
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception:
                log.warning("stopping %s failed", type(service).__name__, exc_info=True)


def _publisher(hub: Hub, control: ClusterControl, settings: Settings) -> Any:
    """A program's publisher (fleet/publisher.py); BrokerError for a bad URL or name."""
    from dispymon.fleet.broker import parse
    from dispymon.fleet.publisher import Publisher

    return Publisher(
        hub,
        control,
        parse(settings.broker),
        settings.program or "",
        retention=settings.fleet_retention,
        backlog=settings.fleet_backlog,
        heartbeat=settings.heartbeat,
    )


async def run(
    app_module: AppModule,
    settings: Settings,
    say: Callable[[str], None] = print,
    source: Callable[[Hub, JobKeys], ClusterControl] | None = None,
) -> int:
    """`dispymon serve`/`demo`: serve until SIGINT/SIGTERM (or the workload ends, if asked); exit code."""
    loop = asyncio.get_running_loop()
    try:
        runtime = Runtime(settings, loop, source)
    except TokenError as exc:  # the CLI checks first; this is for other callers of run()
        await _close_clusters(app_module.clusters, None, settings.close_timeout)
        raise DashboardError(str(exc)) from None
    except sqlite3.Error as exc:
        await _close_clusters(app_module.clusters, None, settings.close_timeout)
        raise DashboardError(f"cannot use the history database {settings.history_db}: {exc}") from None
    except BrokerError as exc:
        await _close_clusters(app_module.clusters, None, settings.close_timeout)
        raise DashboardError(str(exc)) from None
    for cluster in app_module.clusters:
        runtime.attach(cluster)
    try:
        await runtime.start()
    except OSError as exc:
        await _close_clusters(app_module.clusters, runtime, settings.close_timeout)
        raise DashboardError(str(exc.strerror or exc)) from None
    except BrokerError as exc:
        await _close_clusters(app_module.clusters, runtime, settings.close_timeout)
        raise DashboardError(str(exc)) from None
    _announce(runtime, say)

    stop = asyncio.Event()
    outcome: dict[str, Any] = {"code": 0}
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def workload_done(error: AppModuleError | None) -> None:
        if error is not None:
            print(f"dispymon: {error}", file=sys.stderr, flush=True)
            outcome["code"] = 1
            stop.set()
        else:
            say(
                "dispymon: workload finished"
                + ("" if settings.exit_after_workload else "; still serving the dashboard")
            )
            if settings.exit_after_workload:
                stop.set()

    def from_workload_thread(error: AppModuleError | None) -> None:
        try:
            loop.call_soon_threadsafe(workload_done, error)
        except RuntimeError:  # the loop has closed: we are already stopping
            pass

    if app_module.workload is not None:
        start_workload(app_module, from_workload_thread)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        say("dispymon: stopping")
        await runtime.stop(final=True)
        await _close_clusters(app_module.clusters, runtime, settings.close_timeout)
    return outcome["code"]


def _announce(runtime: Runtime, say: Callable[[str], None]) -> None:
    access, host = runtime.access, runtime.settings.host
    if not runtime.settings.serve_http:
        say(f"dispymon: publishing as {runtime.settings.program}, no dashboard here (--no-http; Ctrl-C to stop)")
        return
    url = runtime.url
    if access.operator_token:
        url += f"?token={access.operator_token}"
    say(f"dispymon: dashboard at {url} (Ctrl-C to stop)")
    if access.generated:
        say("dispymon: generated an operator token: whoever has this address can command the cluster")
    elif not access.required:
        say(f"dispymon: no token: only this machine can connect ({host or '*'} is loopback)")


async def _close_clusters(clusters: list[Any], runtime: Runtime | None, timeout: float) -> None:
    """Detach, then close each cluster (terminating its pending jobs) off the loop."""
    if runtime is not None:
        runtime.detach_all()

    def close_all() -> None:
        for cluster in clusters:
            try:
                close_cluster(cluster)
            except Exception:
                log.warning("closing cluster %s failed", getattr(cluster, "name", cluster), exc_info=True)

    try:
        await asyncio.wait_for(asyncio.to_thread(close_all), timeout)
    except TimeoutError:
        log.warning("dispy clusters did not close within %.0f s", timeout)
