"""Where events from other threads enter the asyncio loop.

dispy calls its status callback on its own worker thread. The adapter turns
each call into an event tuple and calls `Hub.feed`, which only appends to a
deque (thread-safe for append/popleft) and, if no drain is already scheduled,
asks the loop to run one. So dispy's thread never waits on the loop, takes no
lock held across I/O, and wakes the loop at most once per batch.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

from .events import Event, HealthCheck
from .state import State

log = logging.getLogger(__name__)


class Hub:
    def __init__(self, loop: asyncio.AbstractEventLoop, state: State | None = None) -> None:
        self.loop = loop
        self.state = state if state is not None else State()
        self._inbox: collections.deque[Event] = collections.deque()
        self._drain_scheduled = False
        self.events_applied = 0

    def feed(self, event: Event) -> None:
        """Called from any thread; O(1)."""
        self._inbox.append(event)
        if not self._drain_scheduled:
            self._drain_scheduled = True
            try:
                self.loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # loop closed: we are shutting down
                pass

    def _drain(self) -> None:
        # Clear the flag before draining: an event appended after the loop
        # below has finished schedules a new drain instead of being stranded.
        self._drain_scheduled = False
        inbox = self._inbox
        apply = self.state.apply
        n = 0
        while inbox:
            event = inbox.popleft()
            try:
                apply(event)
            except Exception:  # one bad event must not stop the dashboard
                log.exception("could not apply %r", event)
            n += 1
        self.events_applied += n

    async def tick_health(self, interval: float = 1.0) -> None:
        """Feed the state a HealthCheck every `interval` seconds (runs until cancelled)."""
        while True:
            self.feed(HealthCheck(time.time()))
            await asyncio.sleep(interval)

    async def settle(self) -> None:
        """Apply everything fed so far (for shutdown and tests)."""
        self._drain()
        await asyncio.sleep(0)
