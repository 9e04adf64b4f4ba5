"""One browser's view of the state: its sequence numbers and what it has seen.

Pure bookkeeping, no I/O, so the snapshot/delta rules test without sockets.
A view holds two integers, never a queue: between flushes, "what changed" is
read from the state's change log, so a slow or paused browser costs nothing
more than a fast one.
"""

from __future__ import annotations

from typing import Any

from .state import State


class ClientView:
    def __init__(self, state: State, interval: float) -> None:
        self.state = state
        self.interval = interval
        self.seq = 0
        self.sent_version = -1

    def snapshot(self) -> dict[str, Any]:
        clusters, version = self.state.snapshot()
        self.seq += 1
        self.sent_version = version
        return {"type": "snapshot", "seq": self.seq, "clusters": clusters}

    def delta(self) -> dict[str, Any] | None:
        """The next delta, or None when nothing changed since the last one."""
        if self.sent_version < 0:
            raise RuntimeError("a view sends its snapshot before any delta")
        if self.state.version == self.sent_version:
            return None
        clusters, version = self.state.changes_since(self.sent_version)
        self.sent_version = version
        if not clusters:
            return None
        self.seq += 1
        return {"type": "delta", "seq": self.seq, "clusters": clusters}
