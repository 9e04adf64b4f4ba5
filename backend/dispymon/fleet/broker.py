"""The broker's URL: parsed, checked, shown without its password, and connected.

`redis://[user:password@]host[:port][/db]` or `rediss://` (TLS). The
password never leaves this module in text: `Broker.shown` has it as `***`,
and `redact` takes it (and the whole URL) out of any message, redis-py's
exceptions included, before it is logged or printed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

ENV = "DISPYMON_BROKER"
PREFIX = "dispymon:"
PROGRAM_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
CONNECT_TIMEOUT = 5.0


class BrokerError(Exception):
    """One line, fit to print as it is (the password already taken out)."""


@dataclass(frozen=True)
class Broker:
    url: str = field(repr=False)  # with the password: for redis-py only
    scheme: str
    host: str
    port: int
    db: int
    username: str | None
    password: str | None = field(repr=False)

    @property
    def shown(self) -> str:
        """The URL as it may be printed: the password as ***."""
        auth = ""
        if self.username or self.password:
            auth = quote(self.username or "", safe="") + (":***" if self.password else "") + "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{auth}{host}:{self.port}/{self.db}"

    def redact(self, text: str) -> str:
        """`text` with the URL and the password (raw and %-encoded) replaced."""
        out = text.replace(self.url, self.shown)
        if self.password:
            for secret in {self.password, quote(self.password, safe="")}:
                out = out.replace(secret, "***")
        return out

    def client(self, **options: Any) -> aioredis.Redis:
        """A redis-py asyncio client (bytes in, bytes out); nothing is connected until used."""
        return aioredis.Redis.from_url(
            self.url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            health_check_interval=10,
            **_STALE_CHECKED,
            **options,
        )


def _stale_checked() -> dict[str, Any]:
    """redis-py's pool checks a connection it hands out (one Redis closed while it sat idle is
    reconnected) only while its "maintenance notifications" (redis-py 7+, on by default) are off.
    With them on, after a Redis outage each connection idle since before it failed once on its
    first use: a central said the broker unreachable again a second after it answered, and a
    program published an extra snapshot. Those notifications are for a managed Redis moving
    shards; the fleet's loops reconnect by themselves."""
    try:
        from redis.maint_notifications import MaintNotificationsConfig
    except ImportError:  # redis-py 5 and 6: no such notifications, the check always runs
        return {}
    return {"maint_notifications_config": MaintNotificationsConfig(enabled=False)}


_STALE_CHECKED = _stale_checked()


def parse(url: str | None) -> Broker:
    """A Broker from a URL; BrokerError (one line, no password) when it is not one."""
    if not url:
        raise BrokerError(f"no broker URL (give --broker or ${ENV})")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BrokerError(f"not a broker URL: {_redact_raw(url)} ({exc})") from None
    if parts.scheme not in ("redis", "rediss"):
        raise BrokerError(f"not a broker URL: {_redact_raw(url)} (redis:// or rediss://)")
    if not parts.hostname:
        raise BrokerError(f"no host in the broker URL {_redact_raw(url)}")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise BrokerError(f"the broker URL's database must be a number: {_redact_raw(url)}")
    return Broker(
        url=url.strip(),
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or 6379,
        db=int(path) if path else 0,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _redact_raw(url: str) -> str:
    """A URL that did not parse, with anything between '//' and '@' hidden."""
    return re.sub(r"//[^/@]*@", "//***@", url)


def check_program(name: str | None) -> str:
    if not name or not PROGRAM_RE.fullmatch(name):
        raise BrokerError("a program's name (--program) is 1 to 64 letters, digits, '.', '_' or '-'")
    return name


def default_program(base: str = "") -> str:
    """A program's name when none is given: `<base>-<host name>`, made to fit PROGRAM_RE."""
    import socket

    raw = f"{base}-{socket.gethostname()}" if base else socket.gethostname()
    name = re.sub(r"[^A-Za-z0-9._-]", "-", raw).strip("-")[:64]
    return name or "program"


def describe(broker: Broker, exc: BaseException) -> str:
    """A broker failure in one line, without the password."""
    if isinstance(exc, redis_errors.AuthenticationError | redis_errors.AuthorizationError):
        what = "refused the login"
    elif isinstance(exc, redis_errors.ResponseError) and "NOAUTH" in str(exc):
        what = "needs a password"
    elif isinstance(exc, redis_errors.ResponseError) and "WRONGPASS" in str(exc):
        what = "refused the login"
    elif isinstance(exc, TimeoutError | asyncio.TimeoutError | redis_errors.TimeoutError):
        what = "did not answer in time"
    elif isinstance(exc, redis_errors.ConnectionError | OSError):
        what = "cannot be reached"
    else:
        what = "failed"
    detail = broker.redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return f"the broker {broker.shown} {what}: {detail[:200]}"


async def check(broker: Broker) -> None:
    """Connect once and PING; BrokerError with one line when that fails."""
    client = broker.client()
    try:
        await asyncio.wait_for(client.ping(), CONNECT_TIMEOUT * 2)
    except Exception as exc:
        raise BrokerError(describe(broker, exc)) from None
    finally:
        await client.aclose()


def key(*parts: str) -> str:
    return PREFIX + ":".join(parts)


PROGRAMS = key("programs")
AUDIT = key("audit")  # the audit log every central replica shares (docs/fleet.md)


def events_key(program: str) -> str:
    return key("p", program, "events")


def snapshot_key(program: str) -> str:
    return key("p", program, "snapshot")


def commands_key(program: str) -> str:
    return key("p", program, "commands")


def replies_key(central: str) -> str:
    return key("c", central, "replies")


def cancelled() -> bool:
    """Whether the running task has been asked to stop. On Python 3.11 a cancel that arrives as
    one of redis-py's reads times out can come out as a TimeoutError, which a loop retrying on
    broker failures would swallow, and then its task never ends: every retry loop asks this first."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def stop_tasks(tasks: list[asyncio.Task[None]], timeout: float = 5.0) -> None:
    """Cancel `tasks` and wait for them to end, at most `timeout` seconds (cancelled again each
    half second: a cancel can be lost, see `cancelled`). A task still running then is left, and
    said once in the log: a shutdown must end."""
    for task in tasks:
        task.cancel()
    pending = {task for task in tasks if not task.done()}
    deadline = asyncio.get_running_loop().time() + timeout
    while pending:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            logging.getLogger(__name__).warning(
                "dispymon fleet: %d task(s) did not stop within %g s: %s",
                len(pending), timeout, ", ".join(sorted(task.get_name() for task in pending)),
            )  # fmt: skip
            break
        _, pending = await asyncio.wait(pending, timeout=min(0.5, left))
        for task in pending:
            task.cancel()
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a task that failed was already counted where it failed
