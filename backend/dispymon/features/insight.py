"""Insight: the hub's subscriber that feeds the history, the series, the durations and the store.

It gets each drained batch (runs of ended jobs, clock ticks, attaches and
detaches, in order) and keeps the encoded answers of the read-only commands.
"""

from __future__ import annotations

import collections
import itertools
import operator
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from dispymon.features.history import History
from dispymon.features.metrics import DurationHistogram
from dispymon.features.persist import Store
from dispymon.features.series import Series, busy_sample
from dispymon.model.events import ClusterAttached, ClusterDetached, HealthCheck, StatusEvent
from dispymon.model.state import State
from dispymon.runtime.hub import Batch, Hub
from dispymon.transport.codec import Packed, pack

# an ended job's event's cluster and job, and a job's node: read by C loops
_CLUSTER = operator.attrgetter("cluster")
_JOB = operator.attrgetter("job")
_NODE = operator.attrgetter("ip_addr")


@dataclass
class Insight:
    hub: Hub
    history: History
    series: Series
    durations: DurationHistogram
    stats: Any  # server.Stats
    connections: weakref.WeakSet
    store: Store | None = None
    clock: Callable[[], float] = field(default=time.time)
    # The jobs feature (features/jobs.py), subscribed after this one: it moves each ended job's
    # JobEnd out of the event the history keeps. Without it, `_ended` empties the JobEnds itself,
    # so the history never holds a job's outputs or result.
    jobs: Any = None
    # Encoded answers of the read-only commands (`answer`), newest last
    answers: collections.OrderedDict[tuple, Packed] = field(default_factory=collections.OrderedDict)
    answers_bytes: int = 0

    MAX_ANSWERS = 16
    MAX_ANSWERS_BYTES = 8 * 2**20

    def answer(self, question: tuple, make: Callable[[], Any]) -> Packed:
        """`make()`, encoded, shared by every asker of `question` while its data is unchanged.

        Browsers asking the same (a page of the history, a chart) while nothing
        changed get the bytes made for the first of them: a flood of queries
        costs a dictionary lookup each, not a scan and an encoding each. The
        history, series and summary change only with events the hub applies
        (api.Insight.flush, observe), and step 1 series with the clock's
        second: both are in the key. Bounded in entries and bytes."""
        key = (self.hub.events_applied, int(self.clock()), question)
        answers = self.answers
        found = answers.get(key)
        if found is not None:
            answers.move_to_end(key)
            return found
        found = answers[key] = pack(make())
        self.answers_bytes += len(found)
        while len(answers) > self.MAX_ANSWERS or (self.answers_bytes > self.MAX_ANSWERS_BYTES and len(answers) > 1):
            self.answers_bytes -= len(answers.popitem(last=False)[1])
        return found

    def take(self, batch: Batch, state: State) -> None:
        """The hub's subscriber: each drained batch, after the state has applied it.

        Runs of ended jobs become history records and count in the durations
        and the series, a run at a time; a clock tick, an attach or a detach
        moves the series, after the jobs that ended before it."""
        now = self.clock()
        for kind, run in itertools.groupby(batch, type):  # C-speed runs: nearly all are ended jobs
            if kind is StatusEvent:
                self._ended(cast("list[StatusEvent]", list(run)), now)
                continue
            for event in run:  # rare events: type() per event, which mypy follows
                if type(event) is HealthCheck:
                    self.series.tick(event.now, busy_sample(state))
                elif type(event) is ClusterDetached:
                    self.series.forget(event.cluster)
                elif type(event) is ClusterAttached:
                    # A first busy sample now: the chart starts at the attach, and
                    # each node's rings are made with its cluster (memory per node
                    # taken at once, not as jobs first end on each node).
                    self.series.tick(self.clock(), busy_sample(state))

    def _ended(self, ended: list[StatusEvent], now: float) -> None:
        if self.jobs is None:
            for event in ended:
                extra = event.job.extra if event.job is not None else None
                if extra is not None:
                    extra.clear()
        self.history.take(ended, now)
        for cluster, run in itertools.groupby(ended, _CLUSTER):  # runs of one cluster
            jobs = list(map(_JOB, run))
            self.durations.add_jobs(cluster, jobs, now)
            self.series.jobs_done(cluster, map(_NODE, jobs), now)

    def clients(self) -> int:
        return sum(1 for conn in self.connections if not conn.ws.closed)
