"""Failures that repeat, logged once per kind with a count.

Code that runs for every event or every second (applying events, the chart's
per-second sample, hooks after each drain) can fail the same way many times
a second: a log line each time floods the program's log, which is dispy's
program's log too. The first failure of a kind is logged with its traceback;
the ones after it are counted, and the count is logged at most once per
`every` seconds (at the next failure or `report`, which the hub calls every
second), so a failure that stops shows how often it happened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

MAX_KINDS = 100  # kinds kept apart; more are counted together (bounded memory)
OTHER = "other failures"


class _Kind:
    __slots__ = ("count", "unreported", "reported_at")

    def __init__(self, now: float) -> None:
        self.count = 1
        self.unreported = 0
        self.reported_at = now


class Failures:
    def __init__(self, log: logging.Logger, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.every = every
        self.clock = clock
        self._kinds: dict[str, _Kind] = {}

    def failed(self, what: str, exc: BaseException) -> None:
        """`what` failed with `exc` (call it in the `except` block: the first is logged with its traceback)."""
        kind = f"{what}: {type(exc).__name__}"
        seen = self._kinds.get(kind)
        if seen is None and len(self._kinds) >= MAX_KINDS:
            kind = OTHER
            seen = self._kinds.get(kind)
        now = self.clock()
        if seen is None:
            self._kinds[kind] = _Kind(now)
            self.log.error("%s (logged once; repeats are counted)", kind, exc_info=exc)
            return
        seen.count += 1
        seen.unreported += 1
        if now - seen.reported_at >= self.every:
            self._report(kind, seen, now)

    def report(self) -> None:
        """Log the counts not yet logged of kinds last logged `every` seconds ago or more."""
        if not self._kinds:
            return
        now = self.clock()
        for kind, seen in self._kinds.items():
            if seen.unreported and now - seen.reported_at >= self.every:
                self._report(kind, seen, now)

    def _report(self, kind: str, seen: _Kind, now: float) -> None:
        self.log.error(
            "%s: %d more time(s) in the last %.0f s (%d in all)",
            kind,
            seen.unreported,
            now - seen.reported_at,
            seen.count,
        )
        seen.unreported = 0
        seen.reported_at = now

    def counts(self) -> dict[str, int]:
        """Failures so far, per kind."""
        return {kind: seen.count for kind, seen in self._kinds.items()}
