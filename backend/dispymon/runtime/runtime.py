"""Running the dashboard: attach clusters, serve, run the workload, shut down.

Shared by `dispymon serve` and `dispymon demo`. Runs in the main thread's
asyncio loop; dispy's threads feed the hub; the workload runs in its own
thread so a blocking `cluster.wait()` never stalls the server.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import sys
from dataclasses import dataclass
from typing import Any, Callable

from dispymon.adapters.dispy import DispyAdapter, DispyControl, close_cluster
from dispymon.entry.appmodule import AppModule, AppModuleError, start_workload
from dispymon.commands.control import ClusterControl
from dispymon.runtime.hub import Hub
from dispymon.transport.limits import GatedSite, runner as gated_runner
from dispymon.model.state import State
from dispymon.transport.security import RedactingAccessLogger, TokenError, make_access
from dispymon.transport.server import ServerConfig, create_app

log = logging.getLogger(__name__)


class DashboardError(Exception):
    """One line, fit to print as it is."""


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8181
    poll_sec: float = 10.0
    show_job_args: bool = True
    exit_after_workload: bool = False
    close_timeout: float = 10.0
    token: str | None = None  # operator token (generated when binding beyond loopback)
    viewer_token: str | None = None
    allow_hosts: tuple[str, ...] = ()
    stuck_after: float = 300.0
    stale_after: float = 30.0
    history_size: int = 10_000
    history_db: str | None = None  # SQLite file for the history and series (off by default)


def url_for(host: str, port: int) -> str:
    shown = host if host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


async def run(app_module: AppModule, options: Options, say: Callable[[str], None] = print,
              source: Callable[[Hub], ClusterControl] | None = None) -> int:
    """Serve until SIGINT/SIGTERM (or the workload ends, if asked); exit code.

    `source`, when given, is another adapter (the simulated cluster): called
    with the hub, it starts feeding it and returns the command channel.
    """
    loop = asyncio.get_running_loop()
    hub = Hub(loop, State(options.show_job_args, options.stuck_after, options.stale_after))
    adapter = DispyAdapter(hub.feed, defer=True)
    try:
        access = make_access(options.host, options.token, options.viewer_token, options.allow_hosts)
    except TokenError as exc:  # the CLI checks first; this is for other callers of run()
        await _close_clusters(app_module.clusters, adapter, options.close_timeout)
        raise DashboardError(str(exc)) from None
    config = ServerConfig(poll_sec=options.poll_sec, show_job_args=options.show_job_args, access=access,
                          history_size=options.history_size, history_db=options.history_db)  # fmt: skip
    try:
        app = create_app(hub, config, source(hub) if source is not None else DispyControl(adapter))
    except sqlite3.Error as exc:
        await _close_clusters(app_module.clusters, adapter, options.close_timeout)
        raise DashboardError(f"cannot use the history database {options.history_db}: {exc}") from None
    for cluster in app_module.clusters:
        adapter.attach(cluster)

    # -v logs each request: the first of a browser has ?token= in its URL
    runner = gated_runner(app, handle_signals=False, access_log_class=RedactingAccessLogger)
    await runner.setup()
    site = GatedSite(runner, options.host or None, options.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await _close_clusters(app_module.clusters, adapter, options.close_timeout)
        raise DashboardError(f"cannot listen on {options.host or '*'}:{options.port}: {exc.strerror or exc}") from None
    port = site.port  # the real one when --port 0
    url = url_for(options.host, port)
    if access.operator_token:
        url += f"?token={access.operator_token}"
    say(f"dispymon: dashboard at {url} (Ctrl-C to stop)")
    if access.generated:
        say("dispymon: generated an operator token: whoever has this address can command the cluster")
    elif not access.required:
        say(f"dispymon: no token: only this machine can connect ({options.host or '*'} is loopback)")

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
            say("dispymon: workload finished" + ("" if options.exit_after_workload else "; still serving the dashboard"))
            if options.exit_after_workload:
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
        await hub.settle()
        await runner.cleanup()
        await _close_clusters(app_module.clusters, adapter, options.close_timeout)
    return outcome["code"]


async def _close_clusters(clusters: list[Any], adapter: DispyAdapter, timeout: float) -> None:
    """Detach, then close each cluster (terminating its pending jobs) off the loop."""
    adapter.detach_all()

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
