"""Who may reach the dashboard, and what they may do.

- Tokens: an operator token (sees and commands) and an optional viewer token
  (sees only). Binding beyond loopback without a token generates an operator
  token, printed in the start-up URL (the Jupyter habit). A token arrives as
  `?token=` (then kept in an HttpOnly, SameSite=Strict cookie and stripped
  from the URL), as `Authorization: Bearer`, or as that cookie. Loopback-only
  binding may run without tokens: then everyone who reaches it is operator.
- Host allow-list (DNS rebinding): a request whose Host header names none of
  this machine's names or addresses (or `--allow-host` extras) is refused.
- Origin check (cross-site WebSocket hijacking): a WebSocket handshake whose
  Origin is not the page's own host is refused.
- A token bucket per connection bounds the messages a browser may send.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psutil

OPERATOR = "operator"
VIEWER = "viewer"
COOKIE = "dispymon_token"
ANY_ADDRESS = ("", "0.0.0.0", "::")


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


@dataclass(frozen=True)
class Access:
    operator_token: str | None = None
    viewer_token: str | None = None
    allowed_hosts: frozenset[str] = frozenset({"localhost", "127.0.0.1", "::1"})
    generated: bool = False  # the operator token was made here, not given

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


def make_access(bind_host: str, operator_token: str | None = None, viewer_token: str | None = None,
                extra_hosts: tuple[str, ...] = ()) -> Access:  # fmt: skip
    generated = False
    if not operator_token and not is_loopback(bind_host):
        operator_token, generated = secrets.token_urlsafe(24), True
    hosts = machine_hosts(bind_host) | {host_of(h) for h in extra_hosts}
    return Access(operator_token or None, viewer_token or None, frozenset(hosts), generated)


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
