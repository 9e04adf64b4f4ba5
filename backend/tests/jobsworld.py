"""A hand-driven world for the jobs feature's unit tests: a State, a History and a
JobsFeature fed batches as the hub's drain feeds its subscribers (Insight's
history first, then the jobs feature), a real Guard whose answers are pumped
on the test's thread (as the hub's drain would run them on the loop).

The state itself keeps the queued jobs (`ClusterState.queued`) and hands
the JobInfo of each ended job to `State.left`, as the hub's drain sees it.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

from dispymon.features.history import History
from dispymon.features.jobs import JobsFeature
from dispymon.model import events as ev
from dispymon.model.events import ClusterAttached, JobEnd, JobInfo, ResubmitLinked, StatusEvent
from dispymon.model.state import State
from dispymon.runtime.guard import Guard


class Pump:
    """Stands for hub.feed: Deferreds wait here until `pump` runs them on the caller's thread."""

    def __init__(self) -> None:
        self.inbox: collections.deque = collections.deque()
        self.fed = threading.Event()

    def feed(self, deferred: Any) -> None:
        self.inbox.append(deferred)
        self.fed.set()

    def pump(self) -> int:
        n = 0
        while self.inbox:
            d = self.inbox.popleft()
            assert d[0](*d[1:]) is None
            n += 1
        return n


class World:
    def __init__(
        self,
        outputs_budget: int = 64 * 2**20,
        resubmit_budget: int = 64 * 2**20,
        store: Any = None,
        history_size: int = 10_000,
        clock: Any = time.monotonic,
        guard: Guard | None = None,
    ) -> None:
        self.pump = Pump()
        self.guard = guard if guard is not None else Guard(self.pump.feed)
        self.state = State()
        self.state.ended = []
        self.history = History(history_size)
        self.jobs = JobsFeature(outputs_budget, resubmit_budget, self.guard, store, self.history, clock=clock)
        self.history.links = self.jobs.links
        self.jobs.want_left(self.state)
        self.next_uid = 1
        self.kept_events: list[StatusEvent] = []  # every ended event the history was given

    def close(self) -> None:
        self.guard.close()

    def attach(self, cluster: str = "c") -> None:
        self.state.apply(ClusterAttached(cluster, "JobCluster", (), (), 0))
        self._batch([])

    def submit(
        self,
        key: int,
        cluster: str = "c",
        args: tuple = (1,),
        kwargs: dict | None = None,
        created: float = 1000.0,
        job_id: Any = None,
        pinned: str | None = None,
        depends: bool = False,
    ) -> JobInfo:
        uid = self.next_uid
        self.next_uid += 1
        info = JobInfo(
            uid, f"job-{key}" if job_id is None else job_id, None, None, None, args, kwargs or {}, None,
            None, key, created, pinned, depends,
        )  # fmt: skip
        self.state.apply_status(StatusEvent(cluster, ev.JOB_CREATED, None, info))
        return info

    def start(self, info: JobInfo, ip: str = "127.0.0.2", at: float = 1001.0, cluster: str = "c") -> JobInfo:
        running = info._replace(ip_addr=ip, start_time=at)
        self.state.apply_status(StatusEvent(cluster, ev.JOB_RUNNING, None, running))
        return running

    def end(
        self,
        info: JobInfo,
        status: int = ev.JOB_FINISHED,
        at: float = 1002.0,
        end: JobEnd | None = None,
        exception: str | None = None,
        cluster: str = "c",
    ) -> StatusEvent:
        """The job ends: its ended event (no args, as dispy's copy at the end) with `end` as its extra."""
        ended = info._replace(end_time=at, args=(), kwargs={}, exception=exception, handle=None, extra=end)
        event = StatusEvent(cluster, status, None, ended)
        self.state.apply_status(event)
        self._batch([])
        return event

    def link(self, cluster: str, original: int, new: int) -> None:
        self._batch([ResubmitLinked(cluster, original, new)])

    def _batch(self, extra: list) -> None:
        """A drain's end: the batch to the history (as Insight does), then to the jobs feature."""
        batch = self.state.ended + extra
        self.state.ended = []
        ended = [e for e in batch if type(e) is StatusEvent]
        self.history.take(ended, time.time())
        self.kept_events += ended
        self.jobs.take(batch, self.state)

    def settle(self, timeout: float = 30.0) -> None:
        """Pump the guard's answers until every asked text and pickle is in."""
        end = time.monotonic() + timeout
        while True:
            self.pump.pump()
            if not self.guard.unanswered():
                return
            assert time.monotonic() < end, "the guard's answers did not come"
            self.pump.fed.wait(0.05)
            self.pump.fed.clear()
