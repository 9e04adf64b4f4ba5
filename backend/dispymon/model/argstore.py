"""Pickled arguments of ended jobs, kept for resubmission within a byte budget.

Pure (no threads, no I/O). An entry is `key -> (cluster, pinned node or
None, payload)`, the payload being `pickle.dumps((args, kwargs))` made by
the guard; it costs `sys.getsizeof(payload) + ENTRY_OVERHEAD` bytes. Past
the budget (`--resubmit-budget`) the oldest entries go first; a payload
over a sixteenth of the budget is refused (`too_big`) so that one job
cannot push out every other. Pickles are never written to disk.

A job whose arguments are not kept for a reason of its own has it noted, a
byte per key for the newest REASONS_KEPT keys (model/keywindow.py): `depends`, `too_big`, `unpicklable: T`, `slow`,
`guard_off`, `not_seen`, `behind` (the guard's queue full). The common ones
cost nothing per job: `off` (the budget is 0), and `budget` for any other
key — let go for the budget, or not pickled past the guard's rate when jobs
end by the hundred thousand a second. `why_not` says it in plain words.
"""

from __future__ import annotations

import collections
import sys
from typing import Any

from dispymon.model.keywindow import KeyWindow

# bytes: the tuple and the OrderedDict's slot and node, measured with
# tracemalloc (benchmarks/notes.md, benchmark 10's accounting)
ENTRY_OVERHEAD = 280
REASONS_KEPT = 2**20  # keys whose reason is remembered (one byte each)

# Reasons (codes) why a job's arguments are not kept
OFF = "off"
DEPENDS = "depends"
TOO_BIG = "too_big"
UNPICKLABLE = "unpicklable"  # "unpicklable: <Type>"
SLOW = "slow"
BEHIND = "behind"
GUARD_OFF = "guard_off"
NOT_SEEN = "not_seen"  # the job was never seen queued or running (attached mid-run, seeded)
BUDGET = "budget"
RESTART = "restart"  # found only in the database: from before a restart

Payload = tuple[str, str | None, bytes]


def payload_cost(payload: bytes) -> int:
    return sys.getsizeof(payload) + ENTRY_OVERHEAD


class ArgStore:
    def __init__(self, budget: int) -> None:
        if budget < 0:
            raise ValueError("the resubmit budget cannot be negative")
        self.budget = budget
        self.used = 0
        self._entries: collections.OrderedDict[int, Payload] = collections.OrderedDict()
        self._reasons = KeyWindow(REASONS_KEPT)
        # reason codes by number (0: none noted); `unpicklable: T` gets one per type, while there is room
        self._codes: list[str] = ["", OFF, DEPENDS, TOO_BIG, UNPICKLABLE, SLOW, BEHIND, GUARD_OFF, NOT_SEEN, BUDGET]
        self._code_of = {code: number for number, code in enumerate(self._codes)}
        self.evicted = 0
        self.refusals = 0

    @property
    def max_payload(self) -> int:
        return self.budget // 16

    @property
    def on(self) -> bool:
        return self.budget > 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: int) -> bool:
        return key in self._entries

    def items(self) -> list[tuple[int, Payload]]:
        return list(self._entries.items())

    def put(self, key: int, cluster: str, pinned: str | None, payload: bytes) -> str | None:
        """Keep the arguments of `key`; None when kept, else the reason they are not."""
        if not self.on:
            return self.refuse(key, OFF)
        if len(payload) > self.budget >> 4:
            return self.refuse(key, TOO_BIG)
        entries = self._entries
        if key in entries:  # kept again (keys are not reused: rare)
            self.used -= payload_cost(entries.pop(key)[2])
        entries[key] = (cluster, pinned, payload)
        self._reasons.set(key, 0)
        self.used += sys.getsizeof(payload) + ENTRY_OVERHEAD
        while self.used > self.budget and entries:
            # no reason noted per key: a key neither kept nor refused for a reason was let go
            # (or not pickled when jobs ended faster than the guard's rate): see `why_not`
            _, held = entries.popitem(last=False)
            self.used -= payload_cost(held[2])
            self.evicted += 1
        return None if key in entries else BUDGET

    def refuse(self, key: int, reason: str) -> str:
        """Note why the arguments of `key` are not kept (the code, returned)."""
        self.refusals += 1
        self._note(key, reason)
        return reason

    def _note(self, key: int, reason: str) -> None:
        number = self._code_of.get(reason)
        if number is None:
            if len(self._codes) < 256:
                number = self._code_of[reason] = len(self._codes)
                self._codes.append(reason)
            else:  # 246 kinds of unpicklable objects so far: the kind is not named
                number = self._code_of[UNPICKLABLE if reason.startswith(UNPICKLABLE) else BUDGET]
        self._reasons.set(key, number)

    def get(self, key: int) -> Payload | None:
        return self._entries.get(key)

    def drop(self, key: int) -> None:
        held = self._entries.pop(key, None)
        if held is not None:
            self.used -= payload_cost(held[2])

    def reason(self, key: int) -> str | None:
        """The code of why `key`'s arguments are not kept (None: kept, or never heard of)."""
        if key in self._entries:
            return None
        return self._codes[self._reasons.get(key)] or None

    def why_not(self, key: int, known: bool = True) -> str:
        """Why `key` cannot be resubmitted, in plain words ('' when its arguments are kept).

        `known`: the job is known to this run (False: found only in the database, from before a restart)."""
        if key in self._entries:
            return ""
        if not known:
            return plain(RESTART, self)
        code = self._codes[self._reasons.get(key)] or (OFF if not self.on else BUDGET)
        return plain(code, self)

    def stats(self) -> dict[str, Any]:
        return {
            "entries": len(self._entries),
            "used": self.used,
            "budget": self.budget,
            "evicted": self.evicted,
            "refusals": self.refusals,
        }


def plain(code: str, store: ArgStore | None = None) -> str:
    """A reason's code in plain words."""
    if code.startswith(UNPICKLABLE):
        kind = code.partition(":")[2].strip() or "object"
        return f"its arguments cannot be pickled (a {kind} among them), so they were not kept"
    limit = f"{store.max_payload:,} bytes" if store is not None else "a sixteenth of --resubmit-budget"
    return {
        OFF: "resubmission is off (--resubmit-budget 0): no arguments are kept",
        DEPENDS: "the job was submitted with dispy_job_depends, whose files and code are not kept",
        TOO_BIG: f"its arguments pickle to more than {limit} (a sixteenth of --resubmit-budget)",
        SLOW: "pickling its arguments took too long and was cut off",
        BEHIND: "too many jobs ended at once: its arguments were not pickled",
        GUARD_OFF: "its arguments were not pickled: calls of users' code hang (see the server's log)",
        NOT_SEEN: "the dashboard never saw the job queued or running (it was attached later), so it has no arguments",
        BUDGET: "its arguments are no longer kept: let go to stay within --resubmit-budget (oldest first), "
        "or not pickled when jobs ended faster than the dashboard keeps arguments",
        RESTART: "arguments are not kept across restarts",
    }.get(code, f"its arguments were not kept ({code})")
