"""Finished jobs: a bounded, queryable record of how each job ended.

Pure: fed the jobs that ended during one drain of the hub at a time (see
api.py's Insight.flush), no I/O. Each record is a tuple in `FIELDS` order
(a tuple costs a third of a dict to make); queries filter the tuples and
turn the ones they return into dicts, the shape the protocol and the REST
API send. Memory is bounded by `size` records (the oldest go first).

Jobs end by the hundred thousand a second under load, and the history keeps
the last `size` of them: most would be made into records only to be pushed
out before anybody reads them (making them was a fifth of the event loop's
work at 200,000 events/s, benchmarks/notes.md, 3). So `take` keeps a drain's
ended events as they are, and the records are made when somebody reads the
history, for the newest `size` jobs only. A listener that wants every record
(the SQLite store) makes `take` make them at once.

The events kept this way hold nothing of the jobs' arguments or results:
the dispy adapter gives a job that ended bounded text and numbers only
(adapter.ended_job_info), so the history's memory is bounded by `size`
whatever the jobs carried.
"""

from __future__ import annotations

import collections
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dispymon.model.events import JOB_ABANDONED, JOB_CANCELLED, JOB_FINISHED, JOB_TERMINATED, JobInfo, StatusEvent
from dispymon.model.text import LIMIT, safe_str

FINISHED = "finished"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINATED = "terminated"
ABANDONED = "abandoned"
OUTCOMES = (FINISHED, FAILED, CANCELLED, TERMINATED, ABANDONED)

DEFAULT_SIZE = 10_000
MESSAGE_LIMIT = 500

FIELDS = (
    "uid",
    "id",
    "cluster",
    "node",
    "outcome",
    "exception_type",
    "exception_message",
    "start_time",
    "end_time",
    "duration",
    # issue 18: the job's key (jobkeys.py; None for records of before keys),
    # when it was submitted (dispy's submit_time), and the key of the job it
    # was resubmitted from
    "key",
    "created",
    "resubmit_of",
)
UID, ID, CLUSTER, NODE, OUTCOME, EXC_TYPE, EXC_MESSAGE, START, END, DURATION, KEY, CREATED, RESUBMIT_OF = range(
    len(FIELDS)
)
Record = tuple  # one job, in FIELDS order
_END = operator.itemgetter(END)


def as_dict(record: Record) -> dict[str, Any]:
    if len(record) < len(FIELDS):  # a record of before issue 18's fields (a database's): None for them
        record = (*record, *(None,) * (len(FIELDS) - len(record)))
    return dict(zip(FIELDS, record, strict=True))


def split_exception(text: str | None) -> tuple[str | None, str | None]:
    """(type, message) from dispy's `job.exception`, a traceback whose last line is 'Type: message'."""
    if not text:
        return None, None
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return None, None
    last = lines[-1].strip()
    kind, sep, message = last.partition(":")
    kind = kind.strip()
    if kind and " " not in kind:  # "ValueError: boom", or a bare "KeyboardInterrupt"
        return safe_str(kind, 200), safe_str(message.strip(), MESSAGE_LIMIT) if sep else ""
    return "Exception", safe_str(last, MESSAGE_LIMIT)  # not a "Type: message" line: keep it whole


TRACEBACK_KEEP = 4096  # an ended job's traceback kept whole up to this many characters (brief_exception)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def brief_exception(text: str) -> str:
    """dispy's traceback of a job that ended, short enough to keep for every job in the history.

    Whole up to TRACEBACK_KEEP characters; a longer one (an exception whose
    message holds a big object's repr, say) becomes what `split_exception`
    reads of it: its last line, 'Type: message', the message cut to
    MESSAGE_LIMIT characters ending in "…" (so that it is not cut again)."""
    if len(text) <= TRACEBACK_KEEP:
        return text
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1].strip()
    kind, sep, message = last.partition(":")
    kind = kind.strip()
    if kind and " " not in kind and sep:
        return f"{_cut(kind, 200)}: {_cut(message.strip(), MESSAGE_LIMIT)}"
    return _cut(last, MESSAGE_LIMIT)


_ENDS = {JOB_FINISHED: FINISHED, JOB_TERMINATED: TERMINATED, JOB_CANCELLED: CANCELLED, JOB_ABANDONED: ABANDONED}


def job_record(cluster: str, status: int, job: JobInfo, seen: float, resubmit_of: int | None = None) -> Record | None:
    """The history record of a job that ended now (`seen`: when the dashboard saw it end).

    Made for every job that ends (hundreds of thousands a second at most):
    the job's fields by index, and the text of a plain short id as it is."""
    outcome = _ENDS.get(status)
    if outcome is None:
        return None
    uid, job_id, ip, start, end, exception = job[0], job[1], job[2], job[3], job[4], job[7]
    exc_type = exc_message = None
    if exception and status == JOB_TERMINATED:
        outcome = FAILED  # dispy reports a computation that raised as Terminated with the exception
        exc_type, exc_message = split_exception(exception)
    if end is None:
        end = seen
    duration = (end - start if end > start else 0.0) if start is not None else None
    text = job_id if type(job_id) is str and len(job_id) <= LIMIT else safe_str(job_id)
    key = job[9] or None
    return (
        uid,
        text,
        cluster,
        ip or "",
        outcome,
        exc_type,
        exc_message,
        start,
        end,
        duration,
        key,
        job[10],
        resubmit_of,
    )


class History:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("the history keeps at least one job")
        self.size = size
        self._jobs: collections.deque[Record] = collections.deque(maxlen=size)
        # Drains' ended jobs not made into records yet, oldest first: (seen,
        # events), each event a StatusEvent with an ending status. Batches
        # that only hold jobs older than the newest `size` are let go.
        self._taken: collections.deque[tuple[float, list[StatusEvent]]] = collections.deque()
        self._taken_count = 0
        # Bumped whenever records come in: queries reuse the records sorted
        # newest end first while it is unchanged (one sort per change, not
        # one per query).
        self.version = 0
        self._by_end: tuple[int, list[Record]] = (-1, [])
        # called with each new record, at once (persistence)
        self.listeners: list[Callable[[Record], None]] = []
        # new key -> the key it was resubmitted from (the jobs feature's bounded map), read as records are made
        self.links: Mapping[int, int] = {}

    def take(self, ended: list[StatusEvent], seen: float) -> None:
        """The events of jobs that ended (each with an ending status; seen at `seen`).

        The list is kept as it is (do not change it afterwards); its records
        are made when the history is read, unless a listener wants them now."""
        if not ended:
            return
        self.version += 1
        if self.listeners:
            self._catch_up()
            records = self._make(ended, 0, seen)
            for listener in self.listeners:
                for record in records:
                    listener(record)
            return
        taken = self._taken
        taken.append((seen, ended))
        self._taken_count += len(ended)
        while self._taken_count - len(taken[0][1]) >= self.size:  # the oldest batch can never be read
            self._taken_count -= len(taken.popleft()[1])

    def _make(self, ended: list[StatusEvent], skip: int, seen: float) -> list[Record]:
        records = []
        keep = self._jobs.append  # one at a time: each new record lets the oldest go at once
        links = self.links
        for i in range(skip, len(ended)):
            cluster, status, _, job = ended[i]
            record = job_record(cluster, status, job, seen, links.get(job[9]) if links else None)  # type: ignore[index,arg-type]
            if record is not None:
                records.append(record)
                keep(record)
        return records

    def _catch_up(self) -> None:
        """Make the records of the jobs taken so far (the newest `size` of them)."""
        taken = self._taken
        if not taken:
            return
        skip = max(0, self._taken_count - self.size)
        self._taken = collections.deque()
        self._taken_count = 0
        for seen, ended in taken:
            if skip >= len(ended):
                skip -= len(ended)
                continue
            self._make(ended, skip, seen)
            skip = 0

    @property
    def jobs(self) -> collections.deque[Record]:
        """The records held, oldest first (made now for jobs taken since the last reading)."""
        self._catch_up()
        return self._jobs

    def job_ended(self, cluster: str, status: int, job: JobInfo, seen: float) -> dict[str, Any] | None:
        """One job (for tests and callers outside the hub): its record as a dict, or None if not an end."""
        record = job_record(cluster, status, job, seen)
        if record is None:
            return None
        self.take([StatusEvent(cluster, status, None, job)], seen)
        return as_dict(record)

    def records(self) -> list[dict[str, Any]]:
        """Every record held, oldest first, as dicts."""
        return [as_dict(r) for r in self.jobs]

    def load(self, records: Iterable[Record]) -> None:
        """Records of an earlier run (oldest first, in FIELDS order), kept as if seen now; listeners are not told.

        A record of before issue 18 (10 fields) reads None for the later ones."""
        width = len(FIELDS)
        self.jobs.extend(r if len(r) == width else (*r, *(None,) * (width - len(r))) for r in map(tuple, records))
        self.version += 1

    def query(
        self,
        outcome: str | None = None,
        node: str | None = None,
        cluster: str | None = None,
        text: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Matching jobs, newest end first: {jobs: [...], total: matches before limit/offset}."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        needle = text.casefold() if text else None
        found = [
            r
            for r in self.by_end()
            if (outcome is None or r[OUTCOME] == outcome)
            and (node is None or r[NODE] == node)
            and (cluster is None or r[CLUSTER] == cluster)
            and (needle is None or needle in r[ID].casefold())
        ]
        return {"jobs": [as_dict(r) for r in found[offset : offset + limit]], "total": len(found)}

    def by_end(self) -> list[Record]:
        """The records held, newest end first (sorted once per change of the history)."""
        jobs = self.jobs  # made now: this may bump nothing, records only come from take/load
        version, records = self._by_end
        if version != self.version:
            records = sorted(jobs, key=_END, reverse=True)
            self._by_end = (self.version, records)
        return records

    def summary(self) -> dict[str, Any]:
        """Outcome counts and failures grouped by exception type, over the jobs held.

        failures: [{type, count, last_message, last_time, last_cluster, last_node, last_key}], most frequent first.
        """
        outcomes = dict.fromkeys(OUTCOMES, 0)
        groups: dict[str, dict[str, Any]] = {}
        for r in self.jobs:
            outcomes[r[OUTCOME]] += 1
            if r[OUTCOME] != FAILED:
                continue
            kind = r[EXC_TYPE] or "Exception"
            group = groups.get(kind)
            if group is None:
                group = groups[kind] = {
                    "type": kind,
                    "count": 0,
                    "last_message": "",
                    "last_time": None,
                    "last_cluster": None,
                    "last_node": None,
                    "last_key": None,
                }
            group["count"] += 1
            if group["last_time"] is None or r[END] >= group["last_time"]:
                group.update(
                    last_message=r[EXC_MESSAGE] or "",
                    last_time=r[END],
                    last_cluster=r[CLUSTER],
                    last_node=r[NODE],
                    last_key=r[KEY],
                )
        failures = sorted(groups.values(), key=lambda g: (-g["count"], -(g["last_time"] or 0), g["type"]))
        return {"failures": failures, "outcomes": outcomes, "jobs": len(self.jobs), "size": self.size}
