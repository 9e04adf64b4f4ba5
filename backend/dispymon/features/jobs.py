"""Jobs beyond the counters: the details of each (outputs, traceback, result),
the queued/running/ended rows of the Jobs view, selections, and what
resubmission needs. A hub subscriber (after Insight).

Per drained batch (`take`), for each job that ended:
- its `JobEnd` (the event's `job.extra`: output tails, traceback, a
  reference to the result) moves into a `Detail` (model/details.py, within
  `--outputs-budget`) and is emptied in the same drain, so the event the
  history keeps holds no output and no result;
- the guard (runtime/guard.py) makes the text of the result and of the
  arguments, and pickles the arguments for resubmission (model/argstore.py,
  within `--resubmit-budget`; not for `dispy_job_depends` jobs); when they
  are plain values (no user code runs), the drain makes the same texts and
  pickle itself and counts the detail once (`_ended_inline`). The
  arguments come from the JobInfo the state let go of (`State.left`: the
  Created/Running copy, since dispy clears them on the copy it reports at
  the end), which is emptied here each batch;
- a detail whose texts are all in goes to the store (`--history-db`), if any.

Rows (`row`) and details (`detail`) are the protocol's JobRow and JobDetail
(docs/protocol.md): a queued or running job is read from the state, an
ended one from the history (and its detail from memory, or the store).
Selections (`select`) freeze the (cluster, key) list a filter matches, so
the pages of one stay stable; they are bounded in number, refs and time.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import pickle
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dispymon.features.failures import Failures
from dispymon.features.history import (
    CLUSTER,
    CREATED,
    DURATION,
    END,
    EXC_MESSAGE,
    EXC_TYPE,
    ID,
    KEY,
    NODE,
    OUTCOME,
    RESUBMIT_OF,
    START,
    History,
    Record,
    job_record,
)
from dispymon.model.argstore import DEPENDS, NOT_SEEN, TOO_BIG, ArgStore
from dispymon.model.details import Detail, JobDetails
from dispymon.model.events import JobEnd, JobInfo, ResubmitLinked, StatusEvent
from dispymon.model.state import State
from dispymon.model.text import LIMIT, job_texts
from dispymon.runtime.guard import ARGS, PICKLE, REPR, STR, Answer, plain_args_text, plain_repr, plain_size
from dispymon.runtime.hub import Batch
from dispymon.transport.protocol import RESULT_LIMIT

log = logging.getLogger(__name__)

QUEUED = "queued"
RUNNING = "running"
LINKS_KEPT = 100_000  # resubmission links (new key -> original key) remembered
SELECTIONS_KEPT = 8
SELECTION_REFS = 2_000_000  # refs of all selections kept together
SELECTION_IDLE = 60.0  # seconds a selection is kept after its last use
SELECTION_CHUNK = 50_000  # rows looked at between two turns of the loop
ID_TEXTS_KEPT = 100_000  # made texts of ids that are not plain (keyed by job key)
# details read back from the store (a job of before a restart, or let go from memory) kept for the
# pages following them (`job_source`): each at most a few hundred KiB (the output tails, the traceback)
STORED_KEPT = 16
PLACEHOLDER = "…"  # a text not made yet
# Jobs a second whose arguments are pickled for resubmission. Pickling runs on the
# loop (plain values) or the guard's workers, a few µs a job: this bounds what keeping
# arguments takes from the program's process when jobs end by the ten thousand a
# second (benchmark 3, docs/benchmarks.md); a real dispy cluster ends far fewer.
ARGS_RATE = 2_000


@dataclass(frozen=True)
class JobFilter:
    """The filter of the Jobs view, bulk actions and /api/jobs(.csv) (docs/protocol.md)."""

    cluster: str | None = None
    states: tuple[str, ...] = ()  # protocol.JOB_STATES; empty: all
    node: str | None = None
    exception: str | None = None  # exception type, exact
    text: str | None = None  # substring of the id's text
    since: float | None = None  # queued: created, running: start_time, ended: end_time
    until: float | None = None


@dataclass
class Selection:
    """A frozen list of (cluster, key), in the protocol's order: queued (oldest created first),
    running (oldest start first), then ended (newest end first)."""

    id: int
    filter: JobFilter
    refs: list[tuple[str, int]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # key -> dispy uid of the queued and running jobs among the refs (their rows are read from the state)
    live: dict[int, int] = field(default_factory=dict)
    used: float = 0.0  # monotonic time of the last use
    # queued jobs of the selection's clusters that dispy counts but the state does not list
    # (ClusterState.queued_unlisted: over MAX_QUEUED_TRACKED, or queued out of sight before the
    # attach); 0 when the filter leaves queued jobs out (states, or an exception type)
    unlisted: int = 0


def _id_text(job_id: Any) -> str | None:
    """The text of an id that runs no user code to make (None: it has to go through the guard)."""
    t = type(job_id)
    if t is str:
        return job_id if len(job_id) <= LIMIT else f"{job_id[:LIMIT]}… ({len(job_id)} chars)"
    if t is int or t is float or job_id is None:
        return str(job_id)
    made = getattr(job_id, "guarded_text", None)  # model/jobtext's GuardedText (package A), if made
    return made if isinstance(made, str) else None


def _decode(tail: bytes | None) -> str | None:
    return None if tail is None else tail.decode("utf-8", "replace")


class JobsFeature:
    def __init__(
        self,
        outputs_budget: int,
        resubmit_budget: int,
        guard: Any,
        store: Any = None,
        history: History | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.details = JobDetails(outputs_budget)
        self.args = ArgStore(resubmit_budget)
        self.guard = guard
        self.store = store
        self.history = history if history is not None else History()
        self.clock = clock
        # keys below this are from before the server started (found only in the store)
        self.first_key = 1
        self._args_second, self._args_taken = -1, 0  # arguments pickled in that second (ARGS_RATE)
        # new key -> original key, bounded; History reads it as records are made (resubmit_of)
        self.links: collections.OrderedDict[int, int] = collections.OrderedDict()
        self._selections: collections.OrderedDict[int, Selection] = collections.OrderedDict()
        self._next_selection = 1
        # made texts of ids and of running jobs' arguments (key -> text), bounded
        self._id_texts: collections.OrderedDict[int, str] = collections.OrderedDict()
        self._live_args: collections.OrderedDict[int, tuple[str, str]] = collections.OrderedDict()
        self._ids_asked: set[int] = set()  # keys whose id text is being made
        # key -> the text of plain arguments read back from their pickle (job pages open lately)
        self._payload_texts: collections.OrderedDict[int, tuple[str, str] | None] = collections.OrderedDict()
        # cluster -> (the state it was built for, key -> uid of its queued and running jobs)
        self._live_index: dict[str, tuple[tuple[int, int, int], dict[int, int]]] = {}
        # key -> a detail row read back from the store by `detail_stored`, for `job_source` (bounded)
        self._stored_rows: collections.OrderedDict[int, dict[str, Any]] = collections.OrderedDict()
        # details whose texts are not all in yet (key -> detail): complete ones go to the store
        self._open: dict[int, Detail] = {}
        # ended records by key, per history version (row lookups)
        self._by_key: tuple[int, dict[int, Record]] = (-1, {})
        self.texts_dropped = 0  # texts answered with a placeholder (guard behind, off, cut off)
        # details the store refused: the first logged, the rest counted (jobs end by the thousand a
        # second; a line each would flood the program's log)
        self.failures = Failures(log)
        # within `take`: the guard's rate budget left for this batch, the pickles made in line, and
        # the jobs refused past the budget
        self._budget = self._inline = self._over = self._free = 0

    # -- the hub subscriber ------------------------------------------------------------

    @staticmethod
    def want_left(state: State) -> None:
        """Ask the state for the JobInfos it lets go of (`State.left`: None until a subscriber wants them)."""
        if state.left is None:
            state.left = []

    def take(self, batch: Batch, state: State) -> None:
        """The hub subscriber: ended jobs' JobEnd moved into details, args kept for resubmission."""
        left = state.left
        if left is None:
            self.want_left(state)
        origins: dict[int, JobInfo] = {}
        if left:
            for info in left:
                if info.key:
                    origins[info.key] = info
            left.clear()  # the args live no longer than this drain
        # The guard's rate budget for this batch, counted down here for the plain pickles made in
        # line (one call to the guard per batch, not per job), given back used at the end.
        self._budget = self.guard.budget()
        self._inline = self._over = self._free = 0
        second = int(self.clock())
        if second != self._args_second:
            self._args_second, self._args_taken = second, 0
        for event in batch:
            # type(event) in each test, which mypy follows
            if type(event) is StatusEvent:
                self._ended(event, origins)
            elif type(event) is ResubmitLinked:
                self.link(event.cluster, event.original, event.new)
        self.guard.spent(self._inline, self._over, self._free)
        self.failures.report()  # the count of refusals since the last line, once a minute at most

    def _ended(self, event: StatusEvent, origins: dict[int, JobInfo]) -> None:
        job = event.job
        if job is None:
            return
        end: JobEnd | None = job.extra
        key = job.key
        if not key:
            if end is not None:
                end.clear()
            return
        origin = origins.get(key)
        has_args = origin is not None and bool(origin.args or origin.kwargs)
        resubmit_of = self.links.get(key) if self.links else None
        bare = resubmit_of is None and (
            end is None or (end.stdout is None and end.stderr is None and end.traceback is None and end.result is None)
        )
        if bare:
            if has_args and (self._budget <= 0 or self._args_taken >= ARGS_RATE):
                # The guard is past its rate (jobs end by the hundred thousand a second): nothing is
                # made of these arguments, and no detail for a placeholder.
                self._past_rate(key, job, origin, end)
                return
            depends = job.depends or (origin is not None and origin.depends)
            size = plain_size(origin.args, origin.kwargs) if origin is not None else 0
            if size >= 0 and (not has_args or (self.args.on and not depends)):
                # Nothing beyond the history record: no entry (simulated jobs cost nothing). Plain
                # arguments are only pickled, here (no user code runs), within the guard's rate: their
                # text is read back from the pickle when a page shows them.
                if end is not None:
                    end.clear()
                if not self._refuse_args(key, job, origin):
                    assert origin is not None
                    if size > self.args.max_payload:
                        self.args.refuse(key, TOO_BIG)
                    elif self._budget <= 0 or self._args_taken >= ARGS_RATE:
                        self._over += 1  # no reason noted per job (argstore.py)
                    else:
                        self._budget -= 1
                        self._inline += 1
                        self._args_taken += 1
                        payload = pickle.dumps((origin.args, origin.kwargs), pickle.HIGHEST_PROTOCOL)
                        self.args.put(key, event.cluster, job.pinned, payload)
                return
            if self._budget < (2 if self.args.on else 1):
                # Only the arguments' text (and pickle) to make, and the guard is past its rate (jobs
                # end by the hundred thousand a second): no detail made for a placeholder.
                self._past_rate(key, job, origin, end)
                return
        size = plain_size(origin.args, origin.kwargs) if origin is not None else 0
        if size >= 0 and self._budget >= 3:  # room for the result's repr, the arguments' text and pickle
            made = plain_repr(end.result, RESULT_LIMIT) if end is not None and end.result is not None else None
            if made is not None or end is None or end.result is None:
                self._ended_inline(event, key, end, origin, has_args, resubmit_of, made, size)
                return
        d = Detail(event.cluster)
        d.resubmit_of = resubmit_of
        d.pinned = job.pinned
        result: Any = None
        if end is not None:
            d.stdout, d.stdout_len = end.stdout, end.stdout_len
            d.stdout_kind = _kind(end.stdout, end.stdout_kind)
            d.stderr, d.stderr_len = end.stderr, end.stderr_len
            d.stderr_kind = _kind(end.stderr, end.stderr_kind)
            d.traceback, d.traceback_len = end.traceback, end.traceback_len
            result = end.result
            end.clear()  # the history keeps the event: nothing of the job's outputs or result stays in it
        d.record = job_record(event.cluster, event.status, job, time.time(), d.resubmit_of)
        d.outcome = d.record[OUTCOME] if d.record is not None else None
        asks: list[tuple[str, Any, Callable[[Answer], None], int]] = []
        if result is not None:
            asks.append((REPR, result, self._on_result(key, d), RESULT_LIMIT))
        if has_args:
            assert origin is not None
            asks.append((ARGS, (origin.args, origin.kwargs), self._on_args(key, d), LIMIT))
        if self._args_taken < ARGS_RATE and not self._refuse_args(key, job, origin):
            assert origin is not None
            self._args_taken += 1
            asks.append((PICKLE, (origin.args, origin.kwargs), self._on_pickle(key, event.cluster, job.pinned), 0))
        del result, origin
        texts = d.pending = sum(1 for a in asks if a[0] != PICKLE)
        self.details.put(key, d)  # counted at once; texts are added as they come
        if texts:
            self._open[key] = d  # completed (to the store) by the last text's answer, maybe at once
        self._budget -= len(asks)  # the guard counts them itself (ask)
        for kind, obj, done, limit in asks:
            if kind == PICKLE:
                limit = self.args.max_payload
            self.guard.ask(kind, obj, done, limit)
        del asks
        if not texts:
            self._complete(key, d)

    def _ended_inline(
        self,
        event: StatusEvent,
        key: int,
        end: JobEnd | None,
        origin: JobInfo | None,
        has_args: bool,
        resubmit_of: int | None,
        made: tuple[Answer, bool] | None,
        size: int,
    ) -> None:
        """`_ended` for a job whose result's repr and arguments' text and pickle run no user code (exact
        builtin types, small: `plain_repr`, `plain_size`), the usual job: the same texts the guard's fast
        path would answer, made here at once, and the detail counted once (no guard request, no
        callback, no recount per text: issue 21, target 12)."""
        job = event.job
        assert job is not None
        d = Detail(event.cluster)
        d.resubmit_of = resubmit_of
        d.pinned = job.pinned
        if end is not None:
            d.stdout, d.stdout_len = end.stdout, end.stdout_len
            d.stdout_kind = _kind(end.stdout, end.stdout_kind)
            d.stderr, d.stderr_len = end.stderr, end.stderr_len
            d.stderr_kind = _kind(end.stderr, end.stderr_kind)
            d.traceback, d.traceback_len = end.traceback, end.traceback_len
            end.clear()  # the history keeps the event: nothing of the job's outputs or result stays in it
        d.record = job_record(event.cluster, event.status, job, time.time(), d.resubmit_of)
        d.outcome = d.record[OUTCOME] if d.record is not None else None
        if made is not None:
            answer, counted = made
            d.result, d.result_len, d.result_cut = answer.value, answer.length, answer.cut
            if counted:
                self._budget -= 1
                self._inline += 1
            else:
                self._free += 1
        if has_args:
            assert origin is not None
            self._budget -= 1
            self._inline += 1
            _, d.args, d.kwargs = job_texts("", origin.args, origin.kwargs, True)
        if self._args_taken < ARGS_RATE and not self._refuse_args(key, job, origin):
            assert origin is not None
            self._args_taken += 1
            self._budget -= 1
            self._inline += 1
            limit = self.args.max_payload
            if size > limit:  # refused before a copy of a huge str is made
                self.args.refuse(key, TOO_BIG)
            else:
                payload = pickle.dumps((origin.args, origin.kwargs), pickle.HIGHEST_PROTOCOL)
                if len(payload) > limit:
                    self.args.refuse(key, TOO_BIG)
                else:
                    self.args.put(key, event.cluster, job.pinned, payload)
        if self.details.put(key, d):
            self._complete(key, d)

    def _past_rate(self, key: int, job: JobInfo, origin: JobInfo | None, end: JobEnd | None) -> None:
        """An ended job with nothing but its arguments to keep, past the rate: nothing made of it."""
        if end is not None:
            end.clear()
        self._refuse_args(key, job, origin)  # past the rate: no reason noted per job (argstore.py)
        self.texts_dropped += 1
        self._over += 1

    def _refuse_args(self, key: int, job: JobInfo, origin: JobInfo | None) -> bool:
        """Note why the arguments of `key` are not pickled; False when they are to be."""
        if not self.args.on:
            pass  # no reason kept per job: why_not says "off" for every key
        elif job.depends or (origin is not None and origin.depends):
            self.args.refuse(key, DEPENDS)
        elif origin is None:
            self.args.refuse(key, NOT_SEEN)
        else:
            return False
        return True

    def _on_result(self, key: int, d: Detail) -> Callable[[Answer], None]:
        def done(answer: Answer) -> None:
            if answer.length is None:
                self.texts_dropped += answer.reason is not None
            d.result, d.result_len, d.result_cut = answer.value, answer.length, answer.cut
            self._text_in(key, d)

        return done

    def _on_args(self, key: int, d: Detail) -> Callable[[Answer], None]:
        def done(answer: Answer) -> None:
            value = answer.value
            if isinstance(value, tuple):
                d.args, d.kwargs = value
            else:  # a placeholder: the guard was behind, off, or cut the call off
                self.texts_dropped += 1
                d.args, d.kwargs = str(value), None
            self._text_in(key, d)

        return done

    def _on_pickle(self, key: int, cluster: str, pinned: str | None) -> Callable[[Answer], None]:
        def done(answer: Answer) -> None:
            if isinstance(answer.value, bytes):
                self.args.put(key, cluster, pinned, answer.value)
            else:
                self.args.refuse(key, answer.reason or "behind")

        return done

    def _text_in(self, key: int, d: Detail) -> None:
        d.pending -= 1
        if self.details.get(key) is not d:  # let go meanwhile (budget): the text goes too
            self._open.pop(key, None)
            return
        if not self.details.changed(key):
            self._open.pop(key, None)
            return
        if d.pending <= 0:
            self._open.pop(key, None)
            self._complete(key, d)

    def _complete(self, key: int, d: Detail) -> None:
        """A detail with all its texts: to the store (with --history-db)."""
        if self.store is None or self.details.get(key) is not d:
            return
        try:
            self.store.add_detail(detail_row(key, d))
        except Exception as exc:  # the store counts its own failures; this one is ours
            self.failures.failed("could not hand a job's detail to the store", exc)

    def link(self, cluster: str, original: int, new: int) -> None:
        """`new` was resubmitted from `original` (a ResubmitLinked event)."""
        links = self.links
        links[new] = original
        links.move_to_end(new)
        while len(links) > LINKS_KEPT:
            links.popitem(last=False)
        d = self.details.get(original)
        if d is None:
            d = Detail(cluster)
            d.record = self._record(original)
            d.resubmitted_as = [new]
            self.details.put(original, d)
        else:
            d.resubmitted_as = [*(d.resubmitted_as or ())[-9:], new]
            self.details.changed(original)
        if original not in self._open:
            self._complete(original, d)
        newer = self.details.get(new)  # the new job ended already (rare)
        if newer is not None and newer.resubmit_of is None:
            newer.resubmit_of = original
            self.details.changed(new)

    # -- reading ----------------------------------------------------------------------

    def _records(self) -> dict[int, Record]:
        history = self.history
        records = history.by_end()
        version, by_key = self._by_key
        if version != history.version:
            by_key = {r[KEY]: r for r in reversed(records) if r[KEY] is not None}
            self._by_key = (history.version, by_key)
        return by_key

    def _record(self, key: int) -> Record | None:
        record = self._records().get(key)
        if record is None:
            d = self.details.get(key)
            record = d.record if d is not None else None
        return record

    def _live(self, state: State, cluster: str, key: int) -> tuple[str, JobInfo] | None:
        """A queued or running job of `cluster` by key: (state, its JobInfo)."""
        c = state.clusters.get(cluster)
        if c is None:
            return None
        queued = c.queued
        for sel in self._selections.values():  # a selection knows the uid of its live rows
            uid = sel.live.get(key)
            if uid is not None:
                for name, table in ((RUNNING, c.running), (QUEUED, queued)):
                    job = table.get(uid)
                    if job is not None and job.key == key:
                        return name, job
        if key in self.details or key in self._records():
            return None  # ended (a job rescheduled after its end, R8, reads as ended)
        # One index of the cluster's live jobs per state (a page of rows builds it once)
        stamp = (state.version, len(c.running), len(queued))
        held = self._live_index.get(cluster)
        if held is None or held[0] != stamp:
            index: dict[int, int] = {}
            for table in (queued, c.running):  # running last: a key in both reads as running
                for uid, job in table.items():
                    if job.key:
                        index[job.key] = uid
            held = self._live_index[cluster] = (stamp, index)
        uid = held[1].get(key)
        if uid is not None:
            for name, table in ((RUNNING, c.running), (QUEUED, queued)):
                job = table.get(uid)
                if job is not None and job.key == key:
                    return name, job
        return None

    def _id(self, key: int, job_id: Any) -> str:
        text = _id_text(job_id)
        if text is not None:
            return text
        made = self._id_texts.get(key)
        if made is not None:
            return made
        self._ask_id(key, job_id)
        return self._id_texts.get(key, PLACEHOLDER)  # the fast path may have answered at once

    def _ask_id(self, key: int, job_id: Any) -> None:
        if key in self._ids_asked:
            return  # on its way
        asked = self._ids_asked
        if len(asked) >= ID_TEXTS_KEPT:  # answers that never came (a guard closed): start afresh
            asked.clear()
        asked.add(key)

        def done(answer: Answer) -> None:
            asked.discard(key)
            if answer.reason == "behind":
                return  # not made (the guard was busy): asked again when next needed
            texts = self._id_texts
            texts[key] = str(answer.value)
            while len(texts) > ID_TEXTS_KEPT:
                texts.popitem(last=False)

        self.guard.ask(STR, job_id, done, LIMIT)

    def _live_row(self, cluster: str, name: str, job: JobInfo) -> dict[str, Any]:
        return {
            "key": job.key,
            "id": self._id(job.key, job.id),
            "cluster": cluster,
            "state": name,
            "node": job.ip_addr or "",
            "exception_type": None,
            "created": job.created,
            "start_time": job.start_time if name == RUNNING else None,
            "end_time": None,
            "duration": None,
            "resubmit_of": self.links.get(job.key),
        }

    def row(self, state: State, cluster: str, key: int) -> dict[str, Any] | None:
        """The protocol's JobRow, or None when the job is no longer known."""
        live = self._live(state, cluster, key)
        if live is not None:
            return self._live_row(cluster, live[0], live[1])
        record = self._record(key)
        if record is None or record[CLUSTER] != cluster:
            return None
        return _ended_row(record, self.links.get(key))

    def detail(self, state: State, cluster: str, key: int) -> dict[str, Any] | None:
        """The protocol's JobDetail of a job (queued, running or ended), or None."""
        show = bool(state.settings.get("show_job_args", True))
        live = self._live(state, cluster, key)
        if live is not None:
            name, job = live
            out = self._live_row(cluster, name, job)
            args_text = self._live_args.get(key)
            if args_text is None and show and (job.args or job.kwargs):
                self._ask_live_args(key, job)
                args_text = self._live_args.get(key)
            out.update(_empty_detail())
            out.update(
                args=args_text[0] if show and args_text else None,
                kwargs=args_text[1] if show and args_text else None,
                pinned=job.pinned,
                resubmit={"possible": False, "reason": "the job has not ended"},
            )
            return out
        record = self._record(key)
        if record is None or record[CLUSTER] != cluster:
            return None
        d = self.details.get(key)
        return self._ended_detail(key, record, d, show)

    def _ended_detail(self, key: int, record: Record, d: Detail | None, show: bool) -> dict[str, Any]:
        out = _ended_row(record, self.links.get(key))
        out.update(_empty_detail())
        out["exception_message"] = record[EXC_MESSAGE]
        if d is not None:
            stdout, stderr = _decode(d.stdout), _decode(d.stderr)
            out.update(
                args=d.args if show else None,
                kwargs=d.kwargs if show else None,
                result=d.result,
                result_len=d.result_len,
                result_cut=bool(d.result_cut or (d.trimmed and d.result is None and d.result_len)),
                stdout=stdout,
                stdout_len=d.stdout_len,
                stdout_cut=_cut(stdout, d.stdout, d.stdout_len, d.stdout_kind),
                stderr=stderr,
                stderr_len=d.stderr_len,
                stderr_cut=_cut(stderr, d.stderr, d.stderr_len, d.stderr_kind),
                traceback=d.traceback,
                traceback_len=d.traceback_len,
                kept="evicted" if d.trimmed else "all",
                pinned=d.pinned,
                resubmitted_as=list(d.resubmitted_as or ()),
            )
            if d.resubmit_of is not None:
                out["resubmit_of"] = d.resubmit_of
        elif self.details.was_evicted(key):
            out["kept"] = "evicted"
        held = self.args.get(key)
        if show and out["args"] is None and held is not None:
            texts = self._texts_of_payload(key, held[2])
            if texts is not None:
                out["args"], out["kwargs"] = texts
        out["resubmit"] = {"possible": held is not None, "reason": None if held else self.why_not(key)}
        return out

    def _texts_of_payload(self, key: int, payload: bytes) -> tuple[str, str] | None:
        """The text of plain arguments read back from their pickle (no user code), cached for a few jobs."""
        cache = self._payload_texts
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        texts = cache[key] = plain_args_text(payload)
        while len(cache) > 64:
            cache.popitem(last=False)
        return texts

    def _ask_live_args(self, key: int, job: JobInfo) -> None:
        def done(answer: Answer) -> None:
            if answer.reason == "behind":
                return  # not made (the guard was busy): asked again when the page is read again
            value = answer.value
            texts = self._live_args
            texts[key] = value if isinstance(value, tuple) else (str(value), "")
            while len(texts) > ID_TEXTS_KEPT // 10:
                texts.popitem(last=False)

        self.guard.ask(ARGS, (job.args, job.kwargs), done, LIMIT)

    async def detail_stored(self, state: State, cluster: str, key: int) -> dict[str, Any] | None:
        """`detail`, else from the store (a job of before a restart, or let go from memory)."""
        found = self.detail(state, cluster, key)
        if found is not None and (found["kept"] == "all" or self.store is None):
            return found
        if self.store is None:
            return None
        row = await self.store.read_detail(key)
        if row is None or (row.get("cluster") not in (None, cluster)):
            return found
        # kept for a page that follows this job next (`job_source`: it cannot wait for the disk)
        stored = self._stored_rows
        stored[key] = row
        stored.move_to_end(key)
        while len(stored) > STORED_KEPT:
            stored.popitem(last=False)
        return self._stored_detail(key, row, found, bool(state.settings.get("show_job_args", True)))

    def _stored_detail(self, key: int, row: dict[str, Any], found: dict[str, Any] | None, show: bool) -> dict[str, Any]:
        out = dict(found) if found is not None else {**_row_from_stored(key, row), **_empty_detail()}
        links = row.get("resubmitted_as")
        if isinstance(links, str):
            try:
                links = json.loads(links) if links else []
            except ValueError:
                links = []
        stdout = row.get("stdout")
        stderr = row.get("stderr")
        out.update(
            args=row.get("args") if show else None,
            kwargs=row.get("kwargs") if show else None,
            result=row.get("result"),
            result_len=row.get("result_len"),
            result_cut=bool(row.get("result") is not None and (row.get("result_len") or 0) > len(row["result"])),
            stdout=_decode(stdout),
            stdout_len=row.get("stdout_len") or 0,
            stdout_cut=_cut(_decode(stdout), stdout, row.get("stdout_len") or 0, row.get("stdout_kind")),
            stderr=_decode(stderr),
            stderr_len=row.get("stderr_len") or 0,
            stderr_cut=_cut(_decode(stderr), stderr, row.get("stderr_len") or 0, row.get("stderr_kind")),
            traceback=row.get("traceback"),
            traceback_len=row.get("traceback_len") or 0,
            kept="all",
            pinned=row.get("pinned"),
            resubmitted_as=[int(k) for k in (links or [])],
        )
        if key not in self.args:
            out["resubmit"] = {"possible": False, "reason": self.why_not(key)}
        return out

    def find(self, state: State, cluster: str, job_id: str) -> list[int]:
        """The keys of the jobs of `cluster` whose id reads `job_id`, newest first."""
        keys: set[int] = set()
        c = state.clusters.get(cluster)
        if c is not None:
            for table in (c.running, c.queued):
                for job in table.values():
                    if job.key and self._id(job.key, job.id) == job_id:
                        keys.add(job.key)
        for key, record in self._records().items():
            if record[ID] == job_id and record[CLUSTER] == cluster:
                keys.add(key)
        return sorted(keys, reverse=True)

    async def find_stored(self, state: State, cluster: str, job_id: str) -> list[int]:
        """`find`, with the store's matches (jobs no longer in memory)."""
        keys = set(self.find(state, cluster, job_id))
        if self.store is not None:
            keys.update(await self.store.find(cluster, job_id))
        return sorted(keys, reverse=True)

    # -- selections ----------------------------------------------------------------------

    async def select(self, state: State, flt: JobFilter) -> Selection:
        """Freeze the jobs `flt` matches (chunked; bounded number of selections kept)."""
        self._expire()
        sel = Selection(self._next_selection, flt, used=self.clock())
        self._next_selection += 1
        states = set(flt.states) if flt.states else None
        needle = flt.text.casefold() if flt.text else None
        since, until = flt.since, flt.until
        counts: dict[str, int] = collections.Counter()
        refs = sel.refs
        clusters = [flt.cluster] if flt.cluster is not None else sorted(state.clusters)

        def in_range(t: float | None) -> bool:
            if since is None and until is None:
                return True
            if t is None:
                return False
            return (since is None or t >= since) and (until is None or t <= until)

        if (states is None or QUEUED in states) and flt.exception is None:
            for cname in clusters:
                c = state.clusters.get(cname)
                if c is not None:
                    sel.unlisted += c.queued_unlisted
        for name, when in ((QUEUED, "created"), (RUNNING, "start_time")):
            if (states is not None and name not in states) or flt.exception is not None:
                continue
            found: list[tuple[float, int, str, int]] = []
            for cname in clusters:
                c = state.clusters.get(cname)
                if c is None:
                    continue
                table = c.running if name == RUNNING else c.queued
                jobs = list(table.items())  # a C-speed copy: the state may change between chunks
                for i in range(0, len(jobs), SELECTION_CHUNK):
                    for uid, job in jobs[i : i + SELECTION_CHUNK]:
                        if not job.key:
                            continue
                        t = getattr(job, when)
                        if not in_range(t):
                            continue
                        if flt.node is not None and (job.ip_addr or job.pinned) != flt.node:
                            continue
                        if needle is not None and needle not in self._id(job.key, job.id).casefold():
                            continue
                        found.append((t if t is not None else float("inf"), job.key, cname, uid))
                    await asyncio.sleep(0)
            found.sort()  # oldest first
            for _, key, cname, uid in found:
                refs.append((cname, key))
                sel.live[key] = uid
            counts[name] += len(found)
            del found
        records = self.history.by_end()  # newest end first
        for i in range(0, len(records), SELECTION_CHUNK):
            for r in records[i : i + SELECTION_CHUNK]:
                key = r[KEY]
                if key is None:
                    continue
                if flt.cluster is not None and r[CLUSTER] != flt.cluster:
                    continue
                outcome = r[OUTCOME]
                if states is not None and outcome not in states:
                    continue
                if not in_range(r[END]):
                    continue
                if flt.node is not None and r[NODE] != flt.node:
                    continue
                if flt.exception is not None and r[EXC_TYPE] != flt.exception:
                    continue
                if needle is not None and needle not in r[ID].casefold():
                    continue
                refs.append((r[CLUSTER], key))
                counts[outcome] += 1
            if i + SELECTION_CHUNK < len(records):
                await asyncio.sleep(0)
        if len(refs) > SELECTION_REFS:
            del refs[SELECTION_REFS:]
        sel.counts = dict(counts)
        self._keep(sel)
        return sel

    def selection(self, selection_id: int) -> Selection | None:
        """A kept selection (touched: kept SELECTION_IDLE seconds more), or None when expired or unknown."""
        self._expire()
        sel = self._selections.get(selection_id)
        if sel is not None:
            sel.used = self.clock()
            self._selections.move_to_end(selection_id)
        return sel

    def rows(self, state: State, sel: Selection, offset: int, limit: int) -> list[dict[str, Any]]:
        """The rows of a page of `sel`, read now (a job no longer known is left out)."""
        out = []
        for cluster, key in itertools.islice(sel.refs, offset, offset + limit):
            row = self.row(state, cluster, key)
            if row is not None:
                out.append(row)
        return out

    async def rows_made(self, state: State, sel: Selection, offset: int, limit: int) -> list[dict[str, Any]]:
        """`rows`, waiting (at most the guard's deadline and a little) for ids whose text is being made."""
        rows = self.rows(state, sel, offset, limit)
        if not any(r["id"] == PLACEHOLDER for r in rows) or not self._ids_asked:
            return rows
        deadline = self.clock() + getattr(self.guard, "deadline", 0.5) + 0.2
        while self._ids_asked and self.clock() < deadline:
            await asyncio.sleep(0.01)  # the answers come through the hub's drain, on this loop
        return self.rows(state, sel, offset, limit)

    def _keep(self, sel: Selection) -> None:
        kept = self._selections
        kept[sel.id] = sel
        total = sum(len(s.refs) for s in kept.values())
        while len(kept) > SELECTIONS_KEPT or (total > SELECTION_REFS and len(kept) > 1):
            _, old = kept.popitem(last=False)
            total -= len(old.refs)

    def _expire(self) -> None:
        now = self.clock()
        for sid in [sid for sid, s in self._selections.items() if now - s.used > SELECTION_IDLE]:
            del self._selections[sid]

    # -- resubmission ----------------------------------------------------------------------

    def payload(self, key: int) -> tuple[str, str | None, bytes] | None:
        """(cluster, pinned node, pickled (args, kwargs)) kept for resubmitting `key`, or None."""
        return self.args.get(key)

    def why_not(self, key: int) -> str:
        """Why `key` cannot be resubmitted, in plain words."""
        if key in self.args:
            return ""
        return self.args.why_not(key, known=key >= self.first_key)

    # -- following a job ------------------------------------------------------------------

    def job_source(self, state: State, cluster: str, key: int) -> tuple[tuple, dict[str, Any] | None]:
        """For a browser following a job: (a version tuple that changes when the detail does, the detail)."""
        found = self.detail(state, cluster, key)
        # A job whose detail only the store has (before a restart, or let go from memory): the row the
        # page's `job` query read back, so that the followed detail is the one that query answered.
        row = self._stored_rows.get(key) if found is None or found["kept"] != "all" else None
        if row is not None and row.get("cluster") in (None, cluster):
            found = self._stored_detail(key, row, found, bool(state.settings.get("show_job_args", True)))
        else:
            row = None
        if found is None:
            return (None,), None
        d = self.details.get(key)
        version = (
            found["state"],
            found["node"],
            found["start_time"],
            found["end_time"],
            d.version if d is not None else -1,
            found["args"],
            found["id"],
            found["resubmit"]["possible"],
            state.settings.get("show_job_args"),
            row is not None,
        )
        return version, found

    # -- status -------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """For /metrics: outputs_bytes, resubmit_args_bytes, details_kept, details_evicted, texts_dropped."""
        return {
            "outputs_bytes": self.details.used,
            "outputs_budget": self.details.budget,
            "resubmit_args_bytes": self.args.used,
            "resubmit_budget": self.args.budget,
            "details_kept": len(self.details),
            "details_evicted": self.details.evicted,
            "resubmit_args_kept": len(self.args),
            "texts_dropped": self.texts_dropped,
            "guard_stuck_threads": self.guard.stuck() if hasattr(self.guard, "stuck") else 0,
        }


def _kind(tail: bytes | None, said: str | None) -> str | None:
    """ "str" (a function computation's output: its length counts characters) or "bytes" (a program's).

    When the capture does not say, a tail that is valid UTF-8 is taken for a str."""
    if tail is None:
        return said
    if said is not None:
        return said
    try:
        tail.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes"
    return "str"


def _cut(text: str | None, raw: bytes | None, length: int, kind: str | None) -> bool:
    """Whether the kept tail is shorter than the whole output."""
    if raw is None:
        return bool(length)
    if kind == "str":  # the length counts characters
        return length > len(text or "")
    return length > len(raw)


def _ended_row(record: Record, resubmit_of: int | None) -> dict[str, Any]:
    return {
        "key": record[KEY],
        "id": record[ID],
        "cluster": record[CLUSTER],
        "state": record[OUTCOME],
        "node": record[NODE],
        "exception_type": record[EXC_TYPE],
        "created": record[CREATED],
        "start_time": record[START],
        "end_time": record[END],
        "duration": record[DURATION],
        "resubmit_of": record[RESUBMIT_OF] if record[RESUBMIT_OF] is not None else resubmit_of,
    }


def _row_from_stored(key: int, row: dict[str, Any]) -> dict[str, Any]:
    """A JobRow from a store's detail row (the fields it has; the rest None)."""
    return {
        "key": key,
        "id": row.get("id"),
        "cluster": row.get("cluster"),
        "state": row.get("outcome"),
        "node": row.get("node") or "",
        "exception_type": row.get("exception_type"),
        "created": row.get("created"),
        "start_time": row.get("start_time"),
        "end_time": row.get("end_time"),
        "duration": row.get("duration"),
        "resubmit_of": row.get("resubmit_of"),
        "exception_message": row.get("exception_message"),
    }


def _empty_detail() -> dict[str, Any]:
    return {
        "exception_message": None,
        "args": None,
        "kwargs": None,
        "result": None,
        "result_len": None,
        "result_cut": False,
        "stdout": None,
        "stdout_len": 0,
        "stdout_cut": False,
        "stderr": None,
        "stderr_len": 0,
        "stderr_cut": False,
        "traceback": None,
        "traceback_len": 0,
        "kept": "none",
        "pinned": None,
        "resubmitted_as": [],
        "resubmit": {"possible": False, "reason": None},
    }


def detail_row(key: int, d: Detail) -> dict[str, Any]:
    """A detail as the store's `job_details` row (persist.DETAIL_COLUMNS; `resubmitted_as` a list of keys)."""
    return {
        "key": key,
        "cluster": d.cluster,
        "stdout": d.stdout,
        "stdout_len": d.stdout_len,
        "stdout_kind": d.stdout_kind,
        "stderr": d.stderr,
        "stderr_len": d.stderr_len,
        "stderr_kind": d.stderr_kind,
        "traceback": d.traceback,
        "traceback_len": d.traceback_len,
        "result": d.result,
        "result_len": d.result_len,
        "args": d.args,
        "kwargs": d.kwargs,
        "pinned": d.pinned,
        "resubmitted_as": list(d.resubmitted_as) if d.resubmitted_as else None,
        "bytes": d.cost,
    }


def keys_of(refs: Iterable[tuple[str, int]]) -> list[int]:
    return [key for _, key in refs]
