"""Say so when a SharedJobCluster cannot get going, rather than hang silently.

dispy 4.15.2's `SharedJobCluster(...)` waits without a time limit, first for
its dispyscheduler's answer, then for the scheduler to connect back to the
program and schedule the computation (`_scheduled_event.wait()`). When the
program's dispy client could not bind its port (another socket holds it: dispy
only logs "Could not bind TCP server"), the scheduler cannot connect back and
drops the computation; the constructor then never returns, and the program
hangs with nothing said. dispymon wraps the constructor (on import, like the
compatibility fix in adapter.py): if it has not returned after
`SHARED_WAIT_WARN` seconds, a thread looks at why and logs it, once; when
nothing listens at the program's dispy address (the scheduler can never reach
it) the constructor raises `SharedClusterError` instead of waiting for ever.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
from typing import Any

import dispy

log = logging.getLogger("dispymon")

# Seconds a SharedJobCluster constructor may take before dispymon looks into
# it ($DISPYMON_SHARED_WAIT; a scheduler normally answers within a second).
SHARED_WAIT_WARN = float(os.environ.get("DISPYMON_SHARED_WAIT", "30"))


class SharedClusterError(RuntimeError):
    """A SharedJobCluster that can never reach (or be reached by) its dispyscheduler."""


def _client_address(cluster: Any) -> tuple[str, int] | None:
    """The address the scheduler connects back to: the client's ip and port."""
    client = getattr(cluster, "_cluster", None)
    port = getattr(client, "port", None)
    infos = getattr(client, "addrinfos", None) or []
    ip = getattr(infos[0], "ip", None) if infos else None
    return (ip, port) if ip and port else None


def _listening(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


def _diagnose(cluster: Any, waited: float) -> tuple[str, bool]:
    """What to tell the user, and whether the wait can never end."""
    scheduler = getattr(cluster, "scheduler_ip_addr", None) or "?"
    port = getattr(cluster, "scheduler_port", None)
    where = f"{scheduler}:{port}" if port else f"{scheduler} (port {dispy.config.DispyPort} + 2)"
    head = f"dispymon: SharedJobCluster has waited {waited:g} s for its dispyscheduler at {where}"
    client = _client_address(cluster)
    if client is not None and not _listening(client):
        return (
            f"{head}: nothing listens at {client[0]}:{client[1]}, where the scheduler must connect back "
            "(dispy could not bind that port: see its 'Could not bind TCP server' warning). "
            "Free the port or give SharedJobCluster another dispy_port.",
            True,
        )
    return (
        f"{head}, and dispy waits without a time limit. Check that dispyscheduler runs there, "
        "that it can connect back to this program"
        + (f" at {client[0]}:{client[1]}" if client else "")
        + " and that both use the same dispy_port and secret.",
        False,
    )


def install_shared_watch() -> None:
    """Wrap SharedJobCluster.__init__ (idempotent)."""
    original = dispy.SharedJobCluster.__init__
    if getattr(original, "_dispymon_watched", False):
        return

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        returned = threading.Event()
        hopeless: list[str] = []

        def watch() -> None:
            if returned.wait(SHARED_WAIT_WARN):
                return
            message, never = _diagnose(self, SHARED_WAIT_WARN)
            log.error("%s", message)
            event = getattr(self, "_scheduled_event", None)
            if never and event is not None:  # let the constructor return, to raise
                hopeless.append(message)
                event.set()

        threading.Thread(target=watch, name="dispymon-shared-watch", daemon=True).start()
        try:
            original(self, *args, **kwargs)
        finally:
            returned.set()
        if hopeless:
            raise SharedClusterError(hopeless[0])

    __init__._dispymon_watched = True  # type: ignore[attr-defined]
    dispy.SharedJobCluster.__init__ = __init__
