"""Who may reach the dashboard, and what they may do.

- Tokens: an operator token (sees and commands) and an optional viewer token
  (sees only). Binding beyond loopback without a token generates an operator
  token, printed in the start-up URL (the Jupyter habit). A token arrives as
  `?token=` (then kept in an HttpOnly, SameSite=Lax cookie and stripped from
  the URL by a redirect), as `Authorization: Bearer`, or as that cookie.
  Loopback-only binding may run without tokens: then everyone who reaches it
  is operator. A given token shorter than MIN_TOKEN_LENGTH is refused.
- Guessing: failed token checks are counted per client address
  (AuthThrottle); past a limit the address gets 429 until its window ends.
- Host allow-list (DNS rebinding): a request whose Host header names none of
  this machine's names or addresses (or `--allow-host` extras) is refused.
- Origin check (cross-site WebSocket hijacking): a WebSocket handshake whose
  Origin is not the page's own host is refused.
- A token bucket per connection bounds the messages a browser may send.
- Response headers (security_headers): no framing by other sites
  (clickjacking), scripts only from this server, no MIME sniffing, no
  Referer, HSTS under TLS.
- The access log (RedactingAccessLogger) never prints a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import math
import re
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psutil
from aiohttp import web
from aiohttp.web_log import AccessLogger

log = logging.getLogger(__name__)

OPERATOR = "operator"
VIEWER = "viewer"
COOKIE = "dispymon_token"
ANY_ADDRESS = ("", "0.0.0.0", "::")
# A shorter token was guessed in 0.2 s; 16 URL-safe characters are ~96 bits
# (a generated token has 32). The throttle below makes guessing slow too.
MIN_TOKEN_LENGTH = 16


class TokenError(ValueError):
    """A token that may not be used; the message is one line, fit to print."""


def check_token(token: str | None, what: str) -> None:
    """Refuse a token too short to withstand guessing (`what` names where it came from)."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise TokenError(
            f"{what} is {len(token)} character{'s' if len(token) != 1 else ''} long: a token needs "
            f"at least {MIN_TOKEN_LENGTH} (leave it out and one is generated; or make one with "
            f"python -c 'import secrets; print(secrets.token_urlsafe(24))')"
        )


def is_loopback(host: str) -> bool:
    if host in ANY_ADDRESS:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host part of a Host / Origin authority, lower-case, without port or brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def machine_hosts(bind_host: str) -> set[str]:
    """Names and addresses a browser may legitimately use for this server."""
    hosts = {"localhost", "127.0.0.1", "::1"}
    if bind_host not in ANY_ADDRESS:
        hosts.add(host_of(bind_host))
        return hosts
    name = socket.gethostname().lower()
    hosts |= {name, socket.getfqdn().lower()}
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family in (socket.AF_INET, socket.AF_INET6):
                hosts.add(addr.address.split("%")[0].lower())
    return hosts


class AuthThrottle:
    """Failed token checks per client address, to make guessing slow.

    An address (an IPv6 client by its /64, which one host can fill) that fails
    `limit` times within `window` seconds of its first failure is refused
    until that window ends, valid token or not: an answer would tell a guess.
    A success does not clear the count (a viewer token would otherwise reset
    the count between guesses at the operator token). At most `max_addresses`
    are remembered, ordered by when their window began: expired ones go first,
    then, under a flood of addresses, the oldest (bounded memory).
    """

    def __init__(
        self,
        limit: int = 20,
        window: float = 60.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self.clock = clock
        self.refused = 0  # requests answered 429
        self.blocked = 0  # times an address reached the limit
        self._table: OrderedDict[str, list[float]] = OrderedDict()  # key -> [window start, failures]
        self._logged = -math.inf

    def __len__(self) -> int:
        return len(self._table)

    @staticmethod
    def key(address: str | None) -> str:
        if not address:
            return ""
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return address
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)

    def retry_after(self, address: str | None) -> float | None:
        """Seconds until `address` may try a token again; None: it may now."""
        key = self.key(address)
        entry = self._table.get(key)
        if entry is None:
            return None
        left = entry[0] + self.window - self.clock()
        if left <= 0:
            del self._table[key]
            return None
        if entry[1] >= self.limit:
            self.refused += 1
            return left
        return None

    def failed(self, address: str | None) -> None:
        now = self.clock()
        key = self.key(address)
        entry = self._table.get(key)
        if entry is not None and now - entry[0] >= self.window:
            del self._table[key]
            entry = None
        if entry is None:
            self._evict(now)
            self._table[key] = [now, 1]  # at the end: the table stays ordered by window start
            return
        entry[1] += 1
        if entry[1] == self.limit:
            self.blocked += 1
            if now - self._logged >= self.window:  # at most one line a window, with a count
                self._logged = now
                log.warning(
                    "dispymon: %d wrong tokens from %s within %g s: refused until the window ends "
                    "(%d address(es) refused so far)",
                    self.limit,
                    key or "?",
                    self.window,
                    self.blocked,
                )

    def _evict(self, now: float) -> None:
        table = self._table
        while table:
            start = next(iter(table.values()))[0]
            if now - start >= self.window or len(table) >= self.max_addresses:
                table.popitem(last=False)
            else:
                break


@dataclass(frozen=True)
class Access:
    operator_token: str | None = field(default=None, repr=False)  # never in a log line or traceback
    viewer_token: str | None = field(default=None, repr=False)
    allowed_hosts: frozenset[str] = frozenset({"localhost", "127.0.0.1", "::1"})
    generated: bool = False  # the operator token was made here, not given
    # per-server state, not policy: left out of comparisons
    throttle: AuthThrottle = field(default_factory=AuthThrottle, compare=False, repr=False)

    @property
    def required(self) -> bool:
        return self.operator_token is not None or self.viewer_token is not None

    def role_for(self, token: str | None) -> str | None:
        if not self.required:
            return OPERATOR
        if not token:
            return None
        given = token.encode()
        if self.operator_token and hmac.compare_digest(given, self.operator_token.encode()):
            return OPERATOR
        if self.viewer_token and hmac.compare_digest(given, self.viewer_token.encode()):
            return VIEWER
        return None

    def host_allowed(self, host_header: str) -> bool:
        host = host_of(host_header)
        return host in self.allowed_hosts or is_loopback(host)

    @staticmethod
    def origin_allowed(origin: str | None, host_header: str) -> bool:
        """Same-origin only; no Origin header (a non-browser client) is allowed."""
        if origin is None:
            return True
        return urlsplit(origin).netloc.lower() == host_header.strip().lower()


def make_access(
    bind_host: str,
    operator_token: str | None = None,
    viewer_token: str | None = None,
    extra_hosts: tuple[str, ...] = (),
    names: tuple[str, str] = ("the operator token", "the viewer token"),
) -> Access:
    """The access policy; TokenError for a token given too short (`names` say where they came from)."""
    check_tokens(operator_token or None, viewer_token or None, names)
    generated = False
    if not operator_token and not is_loopback(bind_host):
        operator_token, generated = secrets.token_urlsafe(24), True
    hosts = machine_hosts(bind_host) | {host_of(h) for h in extra_hosts}
    return Access(operator_token or None, viewer_token or None, frozenset(hosts), generated)


ALLOW_HOST_ENV = "DISPYMON_ALLOW_HOST"


def hosts_from_env(environ: Mapping[str, str]) -> tuple[str, ...]:
    """$DISPYMON_ALLOW_HOST: more names or addresses, separated by commas or spaces
    (a published or NAT'd address, say: the compose set-up is reached that way)."""
    return tuple(h for h in re.split(r"[\s,]+", environ.get(ALLOW_HOST_ENV, "")) if h)


def check_tokens(operator_token: str | None, viewer_token: str | None, names: tuple[str, str]) -> None:
    check_token(operator_token, names[0])
    check_token(viewer_token, names[1])
    if operator_token is not None and operator_token == viewer_token:
        raise TokenError(f"{names[1]} is the same as {names[0]}: a viewer could command")


# -- the token on the wire ---------------------------------------------------------------


def presented_token(request: web.BaseRequest) -> tuple[str | None, str | None]:
    """The token a request brings, and where from: "query", "header", "cookie" (or None)."""
    from_query = request.query.get("token")
    if from_query:
        return from_query, "query"
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and header[7:]:
        return header[7:], "header"
    from_cookie = request.cookies.get(COOKIE)
    if from_cookie:
        return from_cookie, "cookie"
    return None, None


def keep_token(response: web.StreamResponse, token: str, secure: bool) -> None:
    """The cookie that carries a `?token=` on.

    SameSite=Lax, not Strict: the printed link is opened from other sites'
    pages (chat, wiki, mail), and a Strict cookie is not sent on that
    navigation (nor on its redirect, nor on a reload of it), so the dashboard
    said "needs a token". Lax sends it on top-level GET navigations only; what
    that exposes is safe: GETs are read-only, other sites cannot read the
    answers, framing is refused (frame-ancestors), and commands go over the
    WebSocket, whose handshake is refused from another origin.
    """
    response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", path="/", secure=secure)


def too_many_failures(seconds: float) -> web.Response:
    wait = max(1, math.ceil(seconds))
    return web.Response(
        status=429,
        headers={"Retry-After": str(wait)},
        text=f"dispymon: too many wrong tokens from your address: try again in {wait} s\n",
    )


# -- response headers --------------------------------------------------------------------

# The token page's style, in a <style> element whose hash the policy allows:
# no 'unsafe-inline' is needed (React and uPlot set styles through the DOM,
# which style-src does not govern; the build's CSS is in files).
UNAUTHORISED_STYLE = "main{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}"
UNAUTHORISED_PAGE = f"""<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>dispymon: token needed</title>
<style>{UNAUTHORISED_STYLE}</style>
<main>
<h1>This dashboard needs a token</h1>
<p>Open the address dispymon printed when it started (it ends in <code>?token=…</code>),
or ask whoever runs it for a viewer token.</p></main></html>"""


def _style_hash(style: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # Vite's build has no inline script
        f"style-src 'self' {_style_hash(UNAUTHORISED_STYLE)}",
        "img-src 'self' data:",  # the empty data: favicon
        "connect-src 'self'",  # the WebSocket and the API, same origin (ws: included)
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",  # clickjacking: no site may frame the dashboard
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP 2
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # no URL of the dashboard leaves in a Referer
}
# Under TLS only (browsers ignore it over HTTP). It covers every port of the
# host name for the max-age, so no includeSubDomains and no preload.
HSTS = "max-age=31536000"


async def security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """on_response_prepare: every response (pages, assets, API, errors, handshakes) gets these."""
    response.headers.update(HEADERS)
    if request.secure:
        response.headers["Strict-Transport-Security"] = HSTS


# -- the access log -----------------------------------------------------------------------

_TOKEN_IN_URL = re.compile(r"([?&;]token=)[^&;\s\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    return _TOKEN_IN_URL.sub(r"\1REDACTED", text)


class RedactingAccessLogger(AccessLogger):
    """aiohttp's access log, with every `token=` in what it prints (the request
    line, a Referer) replaced: `-v` logs requests, and the first one of a
    browser carries the token in its URL."""

    def _format_line(
        self, request: web.BaseRequest, response: web.StreamResponse, time: float
    ) -> Iterable[tuple[str | tuple[str, str], str]]:
        line = super()._format_line(request, response, time)
        return [(key, redact(value) if isinstance(value, str) else value) for key, value in line]


@dataclass
class TokenBucket:
    """`rate` messages a second on average, bursts up to `burst`."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
