"""Keys that name a job for as long as the dashboard remembers it.

dispy's `_uid` is `id(job)`: once a job object is freed, a new job may get
the same uid. Job pages, links, selections and stores need a name that is
never reused, so each job gets a key, a number counting up from `start`
(after the largest key in the history database, so keys survive restarts).

A job is told apart by `(uid, created)`: dispy's `submit_time` is set once
when the job is made, and every copy dispy hands out carries it. The map
holds the live jobs (created, not ended) and the last RECENT ended ones (a
rescheduled job, or a Running event that comes after its end, finds its key
again); entries of a detached cluster are dropped with `forget`.

Called from dispy's threads (the tap without deferral, the seed's pycos
step), a worker thread (resubmission) and the loop: one lock, held for a
dict operation only.
"""

from __future__ import annotations

import collections
import threading

RECENT = 10_000  # ended jobs whose keys are remembered

Identity = tuple[int, float | None]  # (dispy uid, submit_time)


class JobKeys:
    def __init__(self, start: int = 1) -> None:
        self._next = start
        self._live: dict[Identity, tuple[int, str]] = {}  # identity -> (key, cluster)
        self._recent: collections.OrderedDict[Identity, int] = collections.OrderedDict()
        self._lock = threading.Lock()

    def key(self, uid: int, created: float | None, cluster: str = "") -> int:
        """The key of a job, made when the job is first seen."""
        ident = (uid, created)
        with self._lock:
            found = self._live.get(ident)
            if found is not None:
                return found[0]
            key = self._recent.get(ident)
            if key is not None:
                # An event after the job's end (a SharedJobCluster's Running
                # can come late), or a rescheduled job running again: its key,
                # and it stays in `recent` only, which `end` reads too. Going
                # live again would leave an entry no end ever takes out.
                return key
            key = self._next
            self._next += 1
            self._live[ident] = (key, cluster)
            return key

    def end(self, uid: int, created: float | None, cluster: str = "") -> int:
        """The key of a job that ended (made if the job was never seen); remembered as recent."""
        ident = (uid, created)
        with self._lock:
            found = self._live.pop(ident, None)
            if found is not None:
                key = found[0]
            else:
                key = self._recent.get(ident) or 0
                if not key:
                    key = self._next
                    self._next += 1
            recent = self._recent
            recent[ident] = key
            recent.move_to_end(ident)
            if len(recent) > RECENT:
                recent.popitem(last=False)
            return key

    def peek(self, uid: int, created: float | None) -> int | None:
        """The key of a live or recently ended job, without making one."""
        ident = (uid, created)
        with self._lock:
            found = self._live.get(ident)
            if found is not None:
                return found[0]
            return self._recent.get(ident)

    def forget(self, cluster: str) -> None:
        """Drop the live entries of a cluster that detached."""
        with self._lock:
            self._live = {ident: v for ident, v in self._live.items() if v[1] != cluster}

    def advance(self, start: int) -> None:
        """Make every new key at least `start` (a history database opened after this was made)."""
        with self._lock:
            if start > self._next:
                self._next = start

    def live(self) -> int:
        with self._lock:
            return len(self._live)

    @property
    def next_key(self) -> int:
        return self._next
