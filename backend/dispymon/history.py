"""Finished jobs: a bounded, queryable record of how each job ended.

Pure: fed the jobs that ended during one drain of the hub at a time (see
api.py's observer), no I/O. Each record is a tuple in `FIELDS` order, made
once when the job ends (a tuple costs a third of a dict to make, and the
events arrive by the hundred thousand a second); queries filter the tuples
and turn the ones they return into dicts, the shape the protocol and the
REST API send. Memory is bounded by `size` records (the oldest go first).
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Iterable

from .events import JOB_ABANDONED, JOB_CANCELLED, JOB_FINISHED, JOB_TERMINATED, JobInfo
from .text import LIMIT, safe_str

FINISHED = "finished"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINATED = "terminated"
ABANDONED = "abandoned"
OUTCOMES = (FINISHED, FAILED, CANCELLED, TERMINATED, ABANDONED)

DEFAULT_SIZE = 10_000
MESSAGE_LIMIT = 500

FIELDS = ("uid", "id", "cluster", "node", "outcome", "exception_type", "exception_message",
          "start_time", "end_time", "duration")  # fmt: skip
UID, ID, CLUSTER, NODE, OUTCOME, EXC_TYPE, EXC_MESSAGE, START, END, DURATION = range(len(FIELDS))
Record = tuple  # one job, in FIELDS order


def as_dict(record: Record) -> dict[str, Any]:
    return dict(zip(FIELDS, record))


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


_ENDS = {JOB_FINISHED: FINISHED, JOB_TERMINATED: TERMINATED, JOB_CANCELLED: CANCELLED, JOB_ABANDONED: ABANDONED}


def job_record(cluster: str, status: int, job: JobInfo, seen: float) -> Record | None:
    """The history record of a job that ended now (`seen`: when the dashboard saw it end).

    Made for every job that ends (hundreds of thousands a second at most):
    one unpacking of the job, and the text of a plain short id as it is."""
    outcome = _ENDS.get(status)
    if outcome is None:
        return None
    uid, job_id, ip, start, end, _, _, exception, _ = job
    exc_type = exc_message = None
    if exception and status == JOB_TERMINATED:
        outcome = FAILED  # dispy reports a computation that raised as Terminated with the exception
        exc_type, exc_message = split_exception(exception)
    if end is None:
        end = seen
    duration = (end - start if end > start else 0.0) if start is not None else None
    text = job_id if type(job_id) is str and len(job_id) <= LIMIT else safe_str(job_id)
    return (uid, text, cluster, ip or "", outcome, exc_type, exc_message, start, end, duration)


class History:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("the history keeps at least one job")
        self.size = size
        self.jobs: collections.deque[Record] = collections.deque(maxlen=size)
        # called with each new record (persistence, the duration histogram)
        self.listeners: list[Callable[[Record], None]] = []

    def ended(self, jobs: Iterable[tuple[str, int, JobInfo]], seen: float) -> list[Record]:
        """(cluster, status, job) of jobs that ended (seen at `seen`): their records, kept."""
        records = []
        keep = self.jobs.append  # one at a time: each new record lets the oldest go at once
        for cluster, status, job in jobs:
            record = job_record(cluster, status, job, seen)
            if record is not None:
                records.append(record)
                keep(record)
        for listener in self.listeners:
            for record in records:
                listener(record)
        return records

    def job_ended(self, cluster: str, status: int, job: JobInfo, seen: float) -> dict[str, Any] | None:
        """One job (for tests and callers outside the hub): its record as a dict, or None."""
        records = self.ended(((cluster, status, job),), seen)
        return as_dict(records[0]) if records else None

    def records(self) -> list[dict[str, Any]]:
        """Every record held, oldest first, as dicts."""
        return [as_dict(r) for r in self.jobs]

    def load(self, records: Iterable[Record]) -> None:
        """Records of an earlier run (oldest first, in FIELDS order), kept as if seen now; listeners are not told."""
        self.jobs.extend(tuple(r) for r in records)

    def query(self, outcome: str | None = None, node: str | None = None, cluster: str | None = None,
              text: str | None = None, limit: int = 100, offset: int = 0) -> dict[str, Any]:  # fmt: skip
        """Matching jobs, newest end first: {jobs: [...], total: matches before limit/offset}."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        needle = text.casefold() if text else None
        found = [
            r for r in self.jobs
            if (outcome is None or r[OUTCOME] == outcome)
            and (node is None or r[NODE] == node)
            and (cluster is None or r[CLUSTER] == cluster)
            and (needle is None or needle in r[ID].casefold())
        ]  # fmt: skip
        found.sort(key=lambda r: r[END], reverse=True)
        return {"jobs": [as_dict(r) for r in found[offset : offset + limit]], "total": len(found)}

    def summary(self) -> dict[str, Any]:
        """Outcome counts and failures grouped by exception type, over the jobs held.

        failures: [{type, count, last_message, last_time, last_cluster, last_node}], most frequent first.
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
                group = groups[kind] = {"type": kind, "count": 0, "last_message": "", "last_time": None,
                                        "last_cluster": None, "last_node": None}  # fmt: skip
            group["count"] += 1
            if group["last_time"] is None or r[END] >= group["last_time"]:
                group.update(last_message=r[EXC_MESSAGE] or "", last_time=r[END],
                             last_cluster=r[CLUSTER], last_node=r[NODE])  # fmt: skip
        failures = sorted(groups.values(), key=lambda g: (-g["count"], -(g["last_time"] or 0), g["type"]))
        return {"failures": failures, "outcomes": outcomes, "jobs": len(self.jobs), "size": self.size}
