"""Jobs beyond the counters: the details of each (outputs, traceback, result),
the queued/running/ended rows of the Jobs view, selections, and what
resubmission needs. A hub subscriber (after Insight).

INTERFACE STUB (issue 18, "agree first"): the signatures below are the
contract between the work packages; package B fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dispymon.model.state import State
from dispymon.runtime.hub import Batch


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
    """A frozen list of (cluster, key), newest-first as the protocol orders it."""

    id: int
    filter: JobFilter
    refs: list[tuple[str, int]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class JobsFeature:
    def __init__(self, outputs_budget: int, resubmit_budget: int, guard: Any, store: Any = None) -> None:
        raise NotImplementedError

    def take(self, batch: Batch, state: State) -> None:
        """The hub subscriber: ended jobs' JobEnd moved into details, args kept for resubmission."""
        raise NotImplementedError

    def detail(self, state: State, cluster: str, key: int) -> dict[str, Any] | None:
        """The protocol's JobDetail of a job (queued, running or ended), or None."""
        raise NotImplementedError

    def find(self, state: State, cluster: str, job_id: str) -> list[int]:
        """The keys of the jobs of `cluster` whose id reads `job_id`, newest first."""
        raise NotImplementedError

    def row(self, state: State, cluster: str, key: int) -> dict[str, Any] | None:
        """The protocol's JobRow, or None when the job is no longer known."""
        raise NotImplementedError

    async def select(self, state: State, flt: JobFilter) -> Selection:
        """Freeze the jobs `flt` matches (chunked; bounded number of selections kept)."""
        raise NotImplementedError

    def selection(self, selection_id: int) -> Selection | None:
        raise NotImplementedError

    def payload(self, key: int) -> tuple[str, str | None, bytes] | None:
        """(cluster, pinned node, pickled (args, kwargs)) kept for resubmitting `key`, or None."""
        raise NotImplementedError

    def why_not(self, key: int) -> str:
        """Why `key` cannot be resubmitted, in plain words."""
        raise NotImplementedError

    def job_source(self, state: State, cluster: str, key: int) -> tuple[tuple, dict[str, Any] | None]:
        """For a browser following a job: (a version tuple that changes when the detail does, the detail)."""
        raise NotImplementedError

    def stats(self) -> dict[str, int]:
        """For /metrics: outputs_bytes, resubmit_args_bytes, details_kept, details_evicted, texts_dropped."""
        raise NotImplementedError
