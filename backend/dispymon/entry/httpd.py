"""Drop-in replacement for `dispy.httpd`: change one import, get the dashboard.

    from dispymon.httpd import DispyHTTPServer     # was: from dispy.httpd import ...
    http_server = DispyHTTPServer(cluster)         # http://<host>:8181/
    ...
    http_server.shutdown()

The constructor and methods are those dispy documents for
`dispy.httpd.DispyHTTPServer`. The calling program keeps its synchronous
style: the aiohttp server runs its own asyncio loop in a daemon thread, and
the constructor returns once the server listens (or raises, in the caller's
thread, if it cannot). dispy's callback thread only appends to the hub's
inbox, as under `dispymon serve`.

Differences from dispy.httpd, on purpose (docs/using.md lists them): the server
pushes deltas to every browser instead of being polled, so `poll_sec` is each
browser's update interval and is kept as given (fractions allowed; <= 0 starts
browsers paused) instead of being raised to 1; `shutdown(wait=True)` returns
as soon as every connected browser has been sent the final state instead of
sleeping `poll_sec`; TLS uses `ssl.SSLContext` (`ssl.wrap_socket` is gone from
Python 3.12).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import os
import ssl
import threading
from pathlib import Path
from typing import Any

from dispymon.runtime.runtime import MIN_FINAL_WAIT, Runtime
from dispymon.runtime.settings import Settings
from dispymon.transport.security import hosts_from_env
from dispymon.transport.server import PACKAGED_STATIC, check_frontend

log = logging.getLogger(__name__)

__all__ = ["DispyHTTPServer", "Publication", "publish"]

THREAD_NAME = "dispymon-httpd"


def tls_context(keyfile: str | os.PathLike | None, certfile: str | os.PathLike | None) -> ssl.SSLContext | None:
    """A server TLS context, or None for plain HTTP.

    As dispy documents: `certfile` alone may hold both the key and the
    certificate (a combined PEM); `keyfile` without `certfile` is an error
    here (dispy.httpd silently served plain HTTP).
    """
    if certfile is None:
        if keyfile is not None:
            raise ValueError(
                "keyfile given without certfile: give the certificate as certfile (a combined PEM may hold both)"
            )
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    return context


class DispyHTTPServer:
    """The dashboard for one or more dispy clusters, served from a background thread.

    `cluster`: a JobCluster or SharedJobCluster (or None: add clusters later).
    `host`: the address to listen on; '' listens on every interface.
    `port`: 8181 by default; 0 picks a free port (see the `port` attribute).
    `poll_sec`: each browser's initial update interval in seconds (the browser
    can change it); <= 0 starts browsers paused ("Update" still refreshes).
    `DocumentRoot`: a directory holding another build of the dashboard
    (its `index.html` and `assets/`); None serves the one in the package.
    `keyfile`, `certfile`: serve HTTPS and WSS (a combined PEM goes in certfile).
    `show_job_args`: whether the Node page shows job arguments (a live setting).
    `history_size`, `history_db` (keyword only, dispymon's own): finished jobs
    kept for the history, and an SQLite file keeping it across restarts (the
    file is opened here: `sqlite3.Error` if it cannot be).
    `settings` (keyword only, dispymon's own): every option as one Settings,
    in place of the arguments above (`dispymon scheduler` fills it from its
    command line).
    `broker`, `program` (keyword only): also publish to a fleet's Redis
    (docs/fleet.md) as `program`; `broker` defaults to $DISPYMON_BROKER,
    `program` to $DISPYMON_PROGRAM, else a name made from this host.
    `BrokerError` (a one-line message, no password) if the broker is wrong
    or refuses the login.

    Attributes: `host`, `port` (the bound port), `url` (without the token),
    `token` (the operator token: $DISPYMON_TOKEN, else generated when `host`
    is not a loopback address, else None; see security.py).
    """

    def __init__(
        self,
        cluster: Any,
        host: str = "",
        port: int = 8181,
        poll_sec: float = 10,
        DocumentRoot: str | os.PathLike | None = None,
        keyfile: str | os.PathLike | None = None,
        certfile: str | os.PathLike | None = None,
        show_job_args: bool = True,
        *,
        history_size: int = 10_000,
        history_db: str | os.PathLike[str] | None = None,
        settings: Settings | None = None,
        broker: str | None = None,
        program: str | None = None,
        _serve_http: bool = True,
    ) -> None:
        # Everything that can be wrong is checked here, in the caller's thread.
        if isinstance(poll_sec, bool) or not isinstance(poll_sec, (int, float)) or not math.isfinite(poll_sec):
            raise ValueError(f"poll_sec must be a number of seconds, not {poll_sec!r}")
        static_dir = Path(DocumentRoot) if DocumentRoot else PACKAGED_STATIC
        if _serve_http:
            check_frontend(static_dir)
        broker = broker or os.environ.get("DISPYMON_BROKER") or None
        if broker is not None:  # the fleet: checked here, in the caller's thread (BrokerError)
            from dispymon.fleet.broker import check_program, default_program, parse

            parse(broker)
            program = check_program(program or os.environ.get("DISPYMON_PROGRAM") or default_program())
        elif not _serve_http:
            raise ValueError("publishing needs a broker: give broker= or set $DISPYMON_BROKER")
        ssl_context = tls_context(keyfile, certfile)
        # as `dispymon serve`: tokens from $DISPYMON_TOKEN / $DISPYMON_VIEWER_TOKEN,
        # more host names from $DISPYMON_ALLOW_HOST; beyond loopback without a
        # token, an operator token is generated
        # (TokenError, a ValueError, for one shorter than MIN_TOKEN_LENGTH)
        settings = settings or Settings(
            host=host,
            port=port,
            poll_sec=float(poll_sec),
            show_job_args=bool(show_job_args),
            static_dir=static_dir,
            ssl_context=ssl_context,
            token=os.environ.get("DISPYMON_TOKEN"),
            viewer_token=os.environ.get("DISPYMON_VIEWER_TOKEN"),
            allow_hosts=hosts_from_env(os.environ),
            token_names=("$DISPYMON_TOKEN", "$DISPYMON_VIEWER_TOKEN"),
            history_size=history_size,
            history_db=history_db,
            patch_dispy_queue=True,
            broker=broker,
            program=program,
            serve_http=_serve_http,
        )

        self.host = settings.host
        self.port = settings.port
        self._closing = False  # shutdown() was called
        self._close_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        try:
            self._runtime = Runtime(settings, self._loop)
        except BaseException:  # a history_db that cannot be opened
            self._loop.close()
            raise
        self._hub = self._runtime.hub  # (tests read the hub's failure counts and settings)
        self._adapter = self._runtime.adapter
        access = self._runtime.access
        self.token = access.operator_token

        started: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._serve, args=(started,), name=THREAD_NAME, daemon=True)
        self._thread.start()
        try:
            self.port = started.result()
        except BaseException:
            self._thread.join()
            raise
        # dispy.httpd announces itself on stdout (through dispy's logger); so do we,
        # with the token when one was generated (nobody else knows it)
        if _serve_http:
            print(f"dispymon: dashboard at {self.url}{f'?token={self.token}' if self.token else ''}", flush=True)
        if _serve_http and access.generated:
            print("dispymon: generated an operator token: whoever has this address can command the cluster", flush=True)
        if cluster is not None:
            self.add_cluster(cluster)

    @property
    def url(self) -> str:
        return self._runtime.url

    # -- the seed's methods --------------------------------------------------------

    def add_cluster(self, cluster: Any) -> None:
        """Monitor and manage one more cluster (the browser offers each, and '* Combined').

        As dispy documents: the dashboard becomes the cluster's `cluster_status`
        callback only if it has none; a cluster with its own callback is shown
        from what it has now, and its changes arrive when that callback calls
        this server's `cluster_status(status, node, job)`.
        """
        if self._closing:
            log.warning(
                "dispymon: the HTTP server is shut down; cluster %s not added", getattr(cluster, "name", cluster)
            )
            return
        if self._adapter.name_of(cluster) is not None:
            log.warning('dispymon: cluster "%s" is already added', cluster.name)
            return
        own = cluster.cluster_status
        name = self._adapter.attach(cluster, chain=False)
        if own is not None and own != self.cluster_status:
            log.info(
                'dispymon: cluster "%s" has its own cluster_status callback; the dashboard follows its changes '
                "if that callback calls this server's cluster_status(status, node, job)",
                name,
            )
        self._settle()

    def del_cluster(self, cluster: Any) -> None:
        """Stop monitoring `cluster`: it leaves every browser at once; its own callback is put back."""
        if not self._adapter.detach(cluster):
            log.warning("dispymon: cluster %s was not added", getattr(cluster, "name", cluster))
        self._settle()

    def cluster_status(self, status: int, node: Any, job: Any) -> None:
        """dispy's status callback, for chaining: a user's callback may do its
        bookkeeping and then call this. Each call goes to the cluster it
        belongs to (a cluster not added yet is added); cheap, never blocks."""
        if self._runtime.accepting:
            self._adapter.route_status(status, node, job)

    def shutdown(self, wait: bool = True) -> None:
        """Close the server: with `wait`, first let dispy run the status callbacks
        it has queued, then send every connected browser the final state
        (waiting at most max(poll_sec, 5) s for a slow one); without, at once.
        Leaves the clusters running and their callbacks as they were before the
        server; returns when the server's thread and sockets are gone.
        """
        with self._close_lock:
            if self._closing:
                return
            self._closing = True
        if threading.current_thread() is self._thread:
            raise RuntimeError("shutdown() cannot be called from the server's own thread")
        if wait and not self._adapter.wait_for_callbacks(self._runtime.final_wait):
            log.warning("dispymon: dispy's status callbacks are late; the final state may miss the latest ones")
        self._adapter.detach_all(announce=False)  # the browsers keep the last state
        try:
            asyncio.run_coroutine_threadsafe(self._runtime.stop(final=wait), self._loop).result()
        finally:
            self._runtime.accepting = False  # the loop is going: events are dropped
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        log.info("dispymon: HTTP server at %s closed", self.url)

    # -- the server's thread ---------------------------------------------------------

    def _settle(self) -> None:
        """Let the state take in what was just fed: a browser connecting after
        add_cluster()/del_cluster() has returned sees the change in its snapshot."""
        if not self._closing and threading.current_thread() is not self._thread:
            asyncio.run_coroutine_threadsafe(self._hub.settle(), self._loop).result(MIN_FINAL_WAIT)

    def _serve(self, started: concurrent.futures.Future) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        # named, so that nothing of this server can be mistaken for the program's own threads
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(thread_name_prefix=f"{THREAD_NAME}-worker"))
        try:
            try:
                bound = loop.run_until_complete(self._start())
            except BaseException as exc:
                started.set_exception(exc)
                return
            started.set_result(bound)
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())  # commands' worker threads
            finally:
                loop.close()

    async def _start(self) -> int:
        try:
            return await self._runtime.start()
        except OSError as exc:
            raise OSError(exc.errno, f"dispymon {exc.strerror}") from None


class Publication:
    """What `publish` returns: the clusters published to a fleet's broker, with no dashboard here."""

    def __init__(self, server: DispyHTTPServer) -> None:
        self._server = server
        self.program: str = server._runtime.settings.program or ""

    def add_cluster(self, cluster: Any) -> None:
        """Publish one more cluster."""
        self._server.add_cluster(cluster)

    def del_cluster(self, cluster: Any) -> None:
        """Stop publishing `cluster` (it leaves the centrals' pages)."""
        self._server.del_cluster(cluster)

    def close(self, wait: bool = True) -> None:
        """Stop publishing (with `wait`, after dispy's queued status callbacks): the centrals
        see this program stop. Leaves the clusters running."""
        self._server.shutdown(wait=wait)


def publish(
    cluster: Any = None, broker: str | None = None, program: str | None = None, show_job_args: bool = True
) -> Publication:
    """Publish a cluster (or a list of them, or None: add later) to a fleet's broker (docs/fleet.md).

    The program needs no inbound port: nothing listens. `broker`: a redis:// or
    rediss:// URL, default $DISPYMON_BROKER; `program`: this program's name in
    the fleet, default $DISPYMON_PROGRAM, else one made from this host's name.
    Raises BrokerError (one line, no password) if the broker is wrong or refuses
    the login. Returns a Publication: `add_cluster`, `del_cluster`, `close`.
    """
    clusters = cluster if isinstance(cluster, (list, tuple)) else [] if cluster is None else [cluster]
    server = DispyHTTPServer(None, show_job_args=show_job_args, broker=broker, program=program, _serve_http=False)
    publication = Publication(server)
    for one in clusters:
        publication.add_cluster(one)
    return publication
