"""Where events from other threads enter the asyncio loop.

dispy calls its status callback on its own worker thread. The adapter turns
each call into an event tuple and calls `Hub.feed`, which only appends to a
deque (thread-safe for append/popleft) and, if no drain is already scheduled,
asks the loop to run one. So dispy's thread never waits on the loop, takes no
lock held across I/O, and wakes the loop at most once per batch.

Waking the loop from another thread costs more than everything else a feed
does (a self-pipe write, and the GIL handed back and forth), so while events
keep coming the loop does not wait to be woken: a drain that found events
takes the next ones `BATCH_DELAY` later. Only the first event after a quiet
spell wakes the loop. (Measured in benchmarks/: docs/benchmarks.md.)

There is one way to read the state, `read()`: it applies what was fed
before the call and returns the state, settled (`read(since=tick)`: a browser's
tick, one slice), so no reader can forget to drain and `BATCH_DELAY` does
not add to what a browser sees late. Browsers woken by one tick share one
drain: the first takes the inbox, the rest build from the same version,
which is what lets them share one encoded delta (views.frame_key) while
events keep coming. `BATCH_DELAY` bounds only how long the inbox holds events nobody
has asked for, and each drain costs the cluster: on dispy's process the
loop takes the GIL from dispy's threads, and a drain has a fixed cost
besides its events.

An adapter may also feed a `Deferred`, a plain tuple `(make, *args)`: the loop calls
`make(*args)` for the event (None: nothing to apply). The dispy adapter uses
it to leave copying dispy's objects to the loop, so its callback on dispy's
thread does no more than an append.

What is built on the state (history, series, durations, the store)
subscribes (`subscribe`): each subscriber gets every drained batch once, after
the state has applied it: the jobs that ended (their StatusEvents) and every
event other than a StatusEvent, in the order they were applied.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from dispymon.features.failures import Failures
from dispymon.model.events import Deferred, Event, HealthCheck, StatusEvent
from dispymon.model.state import State

log = logging.getLogger(__name__)

# Seconds between drains while events keep coming and nobody reads. On a
# real cluster's process, 5 ms cost ~86 µs of loop time per job and 100 ms
# ~25 µs (benchmark 2's probe, benchmarks/notes.md section 2).
BATCH_DELAY = 0.1
DRAIN_LIMIT = 5000  # events per drain: a backlog is taken in slices, so browsers' frames go out between them


# A drained batch, in order: the StatusEvents of jobs that ended, and every other
# event but StatusEvents. Subscribers get it with the state it was applied to.
Batch = Sequence[Event]
Subscriber = Callable[[Batch, State], None]


class Hub:
    def __init__(self, loop: asyncio.AbstractEventLoop, state: State | None = None) -> None:
        self.loop = loop
        self._state = state if state is not None else State()  # readers: read()
        self._inbox: collections.deque[Event | Deferred] = collections.deque()
        self._drain_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self.events_applied = 0
        self.drained_at = float("-inf")  # loop time of the latest drain (see drain's `since`)
        self._subscribers: list[Subscriber] = []
        # The fleet's publisher (fleet/publisher.py): given every event the state
        # applied, in order, as it is applied; it must be O(1) and never raise.
        self.tee: Callable[[Event], None] | None = None
        # What fails here fails again at the next event or second: each kind
        # is logged once, then counted (see failures.py)
        self.failures = Failures(log)

    def subscribe(self, subscriber: Subscriber) -> None:
        """Give `subscriber` every drained batch from now on (see the module's doc)."""
        self._subscribers.append(subscriber)
        if self._state.ended is None:
            # The state appends the StatusEvents of jobs that end to this list,
            # and the drain the other events: one ordered batch, no copy.
            self._state.ended = []

    def read(self, since: float | None = None) -> State:
        """The state, with what was fed before this call applied (on the loop's thread).

        `since` (a browser's tick, loop time): one slice, and none if a drain
        has started since then; browsers woken by one tick so read one
        version, and share one frame, even while events keep coming.
        """
        if since is None:
            self._drain_fed()
        else:
            self._drain_slice(since)
        state = self._state
        state.settle()  # a no-op after a drain; covers changes made outside one
        return state

    def feed(self, event: Event | Deferred) -> None:
        """Called from any thread; O(1). An event, or a deferred one."""
        self._inbox.append(event)
        if not self._drain_scheduled:
            self._drain_scheduled = True
            try:
                self.loop.call_soon_threadsafe(self._wake)
            except RuntimeError:  # loop closed: we are shutting down
                pass

    def _wake(self) -> None:
        # A reader may have drained since this wake-up was asked for; then a
        # timed drain is pending and takes what came after, a batch as usual.
        if self._timer is None:
            self._drain()

    def _drain(self, limit: int = DRAIN_LIMIT) -> int:
        """Apply up to `limit` events; how many were taken from the inbox."""
        # At most one timed drain is pending: this drain does its work.
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # Clear the flag before draining: an event appended after the loop
        # below has finished schedules a new drain instead of being stranded.
        self._drain_scheduled = False
        self.drained_at = self.loop.time()
        inbox = self._inbox
        state = self._state
        apply = state.apply
        apply_status = state.apply_status  # nearly every event: one call fewer
        batch = state.ended  # None: nobody subscribed
        tee = self.tee
        n = taken = 0
        while inbox and taken < limit:
            # Any: an Event or a Deferred, all of them tuples, told apart by `kind`
            # (one type() per event), which mypy cannot follow
            event: Any = inbox.popleft()
            taken += 1
            try:
                kind = type(event)
                if kind is Deferred:  # (make, *args): events are NamedTuples
                    event = event[0](*event[1:])
                    if event is None:
                        continue
                    kind = type(event)
                if kind is StatusEvent:
                    apply_status(event)  # an ended job's event goes into `batch`
                else:
                    apply(event)
                    if batch is not None:
                        batch.append(event)
                if tee is not None:
                    tee(event)
            except Exception as exc:  # one bad event must not stop the dashboard
                self.failures.failed(f"could not apply a {type(event).__name__}", exc)
            n += 1
        self.events_applied += n
        # Not settled here: `read()` settles (the change log's one explicit
        # step), so a record changed in many drains between two readings moves
        # in the log once; settling at every drain cut ingest's rate
        # (docs/benchmarks.md, "Issue 17: before and after").
        if batch:
            state.ended = []
            for subscriber in self._subscribers:
                try:
                    subscriber(batch, state)
                except Exception as exc:  # the others still get the batch
                    self.failures.failed(f"hub subscriber {_name(subscriber)}", exc)
        if (n or inbox) and not self.loop.is_closed():
            # A stream: take what comes next in a moment, without being woken per
            # event; a backlog: the next slice as soon as the loop has had a turn.
            # (`inbox` too: a reader's bounded drain may leave events another
            # thread fed while a timer was pending, after taking only events
            # that made nothing; without a timer they would wait for a feed.)
            self._drain_scheduled = True
            self._timer = self.loop.call_later(0 if inbox else BATCH_DELAY, self._drain)
        return taken

    async def tick_health(self, interval: float = 1.0) -> None:
        """Feed the state a HealthCheck every `interval` seconds (runs until cancelled)."""
        while True:
            self.failures.report()
            self.feed(HealthCheck(time.time()))
            # Applied now, with what came before it (one slice): the health
            # flags and the chart's second take milliseconds for a big cluster
            # (10,000 nodes: tens of ms), which would otherwise land in the next
            # browser tick's drain and make that frame late (benchmark 5's p99).
            self._drain_slice(self.loop.time())
            await asyncio.sleep(interval)

    def _drain_fed(self) -> None:
        """Apply what was fed before this call (only that: a feeder that keeps up
        with the loop cannot keep this call going)."""
        self.drained_at = self.loop.time()
        left = len(self._inbox)
        while left > 0 and self._inbox:
            left -= self._drain(left)

    def _drain_slice(self, since: float) -> None:
        """One slice, and none if a drain has started since `since` (loop time): the
        first browser of a tick takes the inbox, the rest build from what it built.
        A backlog longer than a slice goes on in slices between frames."""
        if self.drained_at >= since:
            return
        self.drained_at = self.loop.time()
        if self._inbox:
            self._drain()

    async def settle(self) -> State:
        """`read()`, then a turn of the loop (for shutdown and tests)."""
        state = self.read()
        await asyncio.sleep(0)
        return state


def _name(func: Callable[..., object]) -> str:
    return getattr(func, "__qualname__", None) or repr(func)
