"""What an ended job leaves beyond its history record, within a byte budget.

Pure (no threads, no I/O). A `Detail` holds the tails of a job's stdout and
stderr, its traceback, the text of its result and arguments, and its links
(resubmitted from / as). `JobDetails` keeps them in end order, and counts
their bytes exactly: each entry costs `sys.getsizeof` of each of its
str/bytes fields (and its list of links) plus ENTRY_OVERHEAD (the object,
its dict slot). When the total passes the budget (`--outputs-budget`), the
oldest entries go first, at once. An entry bigger than the whole budget
keeps only the tails that fit, and says so (`trimmed`).

A job with nothing beyond its history record (no output, no traceback, no
result, no text, no link) gets no entry: simulated jobs cost nothing.
"""

from __future__ import annotations

import collections
import sys
from typing import Any

from dispymon.model.keywindow import KeyWindow

ENTRY_OVERHEAD = 512  # bytes: the Detail object, its OrderedDict slot, small ints
LINKS_KEPT = 10  # keys a job was resubmitted as, per job
# keys remembered as evicted, a byte each (the page says "no longer kept", not "never kept")
EVICTED_KEPT = 2**20

# The fields whose size is counted, in the order an entry too big for the budget gives them up
_TEXT_FIELDS = ("result", "args", "kwargs", "stderr", "traceback", "stdout")


class Detail:
    __slots__ = (
        "cluster",
        "outcome",
        "stdout",
        "stdout_len",
        "stdout_kind",
        "stderr",
        "stderr_len",
        "stderr_kind",
        "traceback",
        "traceback_len",
        "result",
        "result_len",
        "result_cut",
        "args",
        "kwargs",
        "pinned",
        "resubmit_of",
        "resubmitted_as",
        "version",
        "cost",
        "trimmed",
        "pending",
        "record",
    )

    def __init__(self, cluster: str, outcome: str | None = None) -> None:
        self.cluster = cluster
        self.outcome = outcome
        self.stdout: bytes | None = None  # the tail (UTF-8 for a function's str output; raw for a program's)
        self.stdout_len = 0  # the full length (characters for str, bytes for bytes)
        self.stdout_kind: str | None = None  # "str" | "bytes" | None
        self.stderr: bytes | None = None
        self.stderr_len = 0
        self.stderr_kind: str | None = None
        self.traceback: str | None = None
        self.traceback_len = 0
        self.result: str | None = None  # repr, cut at RESULT_LIMIT
        self.result_len: int | None = None
        self.result_cut = False
        self.args: str | None = None
        self.kwargs: str | None = None
        self.pinned: str | None = None
        self.resubmit_of: int | None = None
        self.resubmitted_as: list[int] | None = None
        self.version = 0  # bumped at each change (a browser following the job gets it again)
        self.cost = 0
        self.trimmed = False  # bigger than the whole budget: only the tails that fit are kept
        self.pending = 0  # texts asked of the guard, not answered yet
        self.record: tuple | None = None  # the job's history record (its row once the history has let it go)

    def empty(self) -> bool:
        return (
            self.stdout is None
            and self.stderr is None
            and self.traceback is None
            and self.result is None
            and self.args is None
            and self.kwargs is None
            and self.resubmit_of is None
            and not self.resubmitted_as
            and not self.pending
        )


def detail_cost(d: Detail) -> int:
    """The bytes an entry costs (what the budget counts)."""
    # Runs up to three times for every job that ends (put, then each text as it comes): plain
    # loops and attribute reads, no generator or getattr by name (issue 21, benchmarks' jobcost).
    size = sys.getsizeof
    cost = ENTRY_OVERHEAD
    for value in (d.result, d.args, d.kwargs, d.stderr, d.traceback, d.stdout):  # _TEXT_FIELDS
        if value is not None:
            cost += size(value)
    if d.resubmitted_as:
        cost += size(d.resubmitted_as)
    record = d.record
    if record is not None:  # the tuple and its texts (id, node, exception; numbers are in the overhead)
        cost += size(record)
        for v in record:
            if type(v) is str:
                cost += size(v)
    return cost


class JobDetails:
    def __init__(self, budget: int) -> None:
        if budget < 0:
            raise ValueError("the outputs budget cannot be negative")
        self.budget = budget
        self.used = 0
        self._entries: collections.OrderedDict[int, Detail] = collections.OrderedDict()
        self._evicted = KeyWindow(EVICTED_KEPT)
        self.evicted = 0  # entries let go for the budget (counter)
        self.trimmed = 0  # entries cut to fit (counter)
        self.refused = 0  # entries that could not be kept at all (budget below one empty entry)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: int) -> bool:
        return key in self._entries

    def get(self, key: int) -> Detail | None:
        return self._entries.get(key)

    def items(self) -> list[tuple[int, Detail]]:
        return list(self._entries.items())

    def was_evicted(self, key: int) -> bool:
        return self._evicted.get(key) == 1

    def put(self, key: int, detail: Detail) -> bool:
        """Keep `detail` as the newest entry (its cost counted); False when it could not be kept."""
        old = self._entries.pop(key, None)
        if old is not None:
            self.used -= old.cost
        if detail.empty():
            return False
        detail.cost = detail_cost(detail)
        if detail.cost > self.budget and not self._trim(detail):
            self.refused += 1
            self._forget(key)
            return False
        self._entries[key] = detail
        self.used += detail.cost
        self._evict()
        return key in self._entries

    def changed(self, key: int) -> bool:
        """Count again an entry whose fields were changed (a text that came in); False when it is gone."""
        d = self._entries.get(key)
        if d is None:
            return False
        d.version += 1
        self.used -= d.cost
        if d.empty():
            del self._entries[key]
            return False
        d.cost = detail_cost(d)
        if d.cost > self.budget and not self._trim(d):
            del self._entries[key]
            self.refused += 1
            self._forget(key)
            return False
        self.used += d.cost
        self._evict()
        return key in self._entries

    def _trim(self, d: Detail) -> bool:
        """Cut `d` (not yet counted) to fit the budget alone: the fields given up in _TEXT_FIELDS order,
        each keeping its tail. False when even an empty entry does not fit."""
        if self.budget < ENTRY_OVERHEAD + sys.getsizeof(b""):
            return False
        for name in _TEXT_FIELDS:
            excess = d.cost - self.budget
            if excess <= 0:
                break
            value = getattr(d, name)
            if value is None:
                continue
            size = sys.getsizeof(value)
            if size - sys.getsizeof(value[:0]) <= excess:
                setattr(d, name, None)  # all of it has to go
            else:
                # keep the tail; a str's characters may take more than a byte each: cut, then re-measure
                keep = len(value) - excess
                while keep > 0 and sys.getsizeof(value[-keep:]) > size - excess:
                    keep -= max(1, (sys.getsizeof(value[-keep:]) - (size - excess)) // 4 or 1)
                setattr(d, name, value[-keep:] if keep > 0 else None)
            d.cost = detail_cost(d)
        d.trimmed = True
        self.trimmed += 1
        return d.cost <= self.budget and not d.empty()

    def _evict(self) -> None:
        entries = self._entries
        while self.used > self.budget and entries:
            key, d = entries.popitem(last=False)
            self.used -= d.cost
            self.evicted += 1
            self._forget(key)

    def _forget(self, key: int) -> None:
        self._evicted.set(key, 1)

    def drop(self, key: int) -> None:
        d = self._entries.pop(key, None)
        if d is not None:
            self.used -= d.cost

    def stats(self) -> dict[str, Any]:
        return {
            "entries": len(self._entries),
            "used": self.used,
            "budget": self.budget,
            "evicted": self.evicted,
            "trimmed": self.trimmed,
            "refused": self.refused,
        }
