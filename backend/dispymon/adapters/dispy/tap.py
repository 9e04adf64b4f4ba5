"""The status callback tap, and the copies of dispy's objects it makes.

The tap does O(1) work on dispy's callback thread: attribute reads and one
deque append; no str() of user objects, no locks, no I/O. A deferred tap
(`defer=True`, as `dispymon serve` uses) only appends a `Deferred` whose
copy (`status_event`) the hub's loop makes; with `patch_queue=True` (an
explicit opt-in) it runs on dispy's scheduler thread as dispy queues the
event (queue.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from dispymon.features.history import TRACEBACK_KEEP, brief_exception
from dispymon.model.events import (
    JOB_DONE_STATUSES,
    AvailInfo,
    Deferred,
    Event,
    JobEnd,
    JobInfo,
    NodeInfo,
    StatusEvent,
)
from dispymon.model.jobkeys import JobKeys
from dispymon.model.text import LIMIT, Late, safe_str
from dispymon.transport.protocol import OUTPUT_TAIL

log = logging.getLogger("dispymon.adapters.dispy")

Feed = Callable[[Event | Deferred], None]  # a hub's feed takes deferred events (see _record)
StatusCallback = Callable[[Any, Any, Any], None]


def node_info(node: Any) -> NodeInfo:
    avail = node.avail_info
    return NodeInfo(
        node.ip_addr,
        node.name or "",
        node.cpus,
        node.avail_cpus,
        node.busy,
        node.jobs_done,
        node.cpu_time,
        node.tx,
        node.rx,
        node.update_time or 0.0,
        AvailInfo(avail.cpu, avail.memory, avail.disk, avail.swap) if avail is not None else None,
    )


class _LateId(Late):
    """The id of the user's own job object, read when the id is shown.

    dispy's status events carry a copy of the job made when the event fired;
    programs (the seeds' examples among them) set `job.id = i` right after
    `submit()`, often after the job started, so the copy still has the id
    dispy gave it (a counter from 1). The original DispyJob is reachable
    through the copy until the job ends; its id is read (and str()-ed,
    guarded) only when a browser shows the job.
    """

    __slots__ = ("_job",)

    def __init__(self, job: Any) -> None:
        self._job = job

    def current(self) -> Any:
        return self._job.id


def _job_id(job: Any, internal: Any = None) -> Any:
    """`internal`: the job's `_dispy_job_` (dispy's record of it), when already read."""
    if internal is None:
        internal = getattr(job, "_dispy_job_", None)
    original = getattr(internal, "job", None)
    return _LateId(original) if original is not None and original is not job else job.id


def job_info(job: Any, keys: JobKeys | None = None, cluster: str = "") -> JobInfo:
    """A job created or running (or seeded); `keys` gives its key (none: 0), `cluster` names its cluster there.

    dispy hands us a shallow copy; `_args`/`_kwargs` are the user's objects,
    kept by reference (they are only turned into text for viewed jobs).
    `pinned`: dispy's `_DispyJob_.pinned` is the scheduler's node a job was
    submitted to with `submit_node` (set before the Created event is queued);
    `depends`: `dispy_job_depends` left files or code in `xfer_files`/`code`
    (dispy pops it from the kwargs), which a resubmission could not send.
    A SharedJobCluster's client never sets `pinned`.
    """
    created = job.submit_time
    internal = job._dispy_job_
    if internal is not None:
        node = internal.pinned
        pinned = node.ip_addr if node is not None else None
        depends = bool(internal.xfer_files or internal.code)
    else:
        pinned, depends = None, False
    return JobInfo(
        job._uid,
        _job_id(job, internal),
        job.ip_addr,
        job.start_time,
        job.end_time,
        job._args,
        job._kwargs,
        job.exception,
        job,  # the handle dispy's cancel() needs (a copy sharing the job's internals)
        keys.key(job._uid, created, cluster) if keys is not None else 0,
        created,
        pinned,
        depends,
    )


def output_tail(out: Any) -> tuple[bytes | None, int, str | None]:
    """The last OUTPUT_TAIL bytes of a job's stdout or stderr, its full length and kind ("str" | "bytes").

    dispynode gives a `str` for a function computation (its length counts
    characters) and `bytes` for a program; anything else is not read (no
    user code runs here). A str's tail is cut before it is encoded (UTF-8,
    undecodable surrogates as backslash escapes), then its front trimmed to
    a character boundary within OUTPUT_TAIL bytes: one bounded slice,
    whatever the job printed.
    """
    kind = type(out)
    if kind is str:
        data = out[-OUTPUT_TAIL:].encode("utf-8", "backslashreplace")
        if len(data) > OUTPUT_TAIL:
            start = len(data) - OUTPUT_TAIL
            while start < len(data) and data[start] & 0xC0 == 0x80:  # a continuation byte
                start += 1
            data = data[start:]
        return data, len(out), "str"
    if kind is bytes:
        return out[-OUTPUT_TAIL:], len(out), "bytes"
    return None, 0, None


_NO_KWARGS: dict = {}


def ended_job_info(job: Any, keys: JobKeys | None = None, cluster: str = "") -> JobInfo:
    """What the dashboard keeps of a job that ended: bounded text and numbers, none of the user's objects.

    The history keeps the events of the last --history-size jobs that ended
    (history.py; 10,000 by default), unread for as long as nobody looks. A
    JobInfo as `job_info` makes it would hold the arguments, the job itself
    (`handle`, with its result) and, through `_LateId`, the user's own job:
    150 jobs with 2 MiB arguments and results kept 302 MB. So an ended job
    carries its id as text (guarded, cut as the history shows it) or a plain int, no
    arguments and no handle (nothing acts on an ended job), and its
    traceback shortened (history.brief_exception).

    What the job page shows beyond that goes in `extra` (a JobEnd), which
    the jobs feature empties in the drain that applies the event: the tails
    of stdout and stderr (`output_tail`), the last OUTPUT_TAIL characters of
    the traceback, and the result by reference (turned into text off the
    loop, runtime/guard.py). `pinned` is not known here (dispy has dropped
    the job's `_dispy_job_`): the state fills it in from the job's earlier
    JobInfo.
    """
    job_id = _job_id(job)
    kind = type(job_id)
    if kind is not int and (kind is not str or len(job_id) > LIMIT):  # dispy's default id, a number, stays one
        job_id = safe_str(job_id)
    exception = job.exception
    traceback: str | None = None
    traceback_len = 0
    if exception:
        if type(exception) is not str:
            exception = safe_str(exception, TRACEBACK_KEEP)
        traceback, traceback_len = exception[-OUTPUT_TAIL:], len(exception)
        exception = brief_exception(exception)
    stdout, stdout_len, stdout_kind = output_tail(job.stdout)
    stderr, stderr_len, stderr_kind = output_tail(job.stderr)
    result = job.result
    end = JobEnd(stdout, stdout_len, stderr, stderr_len, traceback, traceback_len, result)
    end.stdout_kind, end.stderr_kind = stdout_kind, stderr_kind
    created = job.submit_time
    return JobInfo(
        job._uid,
        job_id,
        job.ip_addr,
        job.start_time,
        job.end_time,
        (),
        _NO_KWARGS,
        exception or None,
        None,
        keys.end(job._uid, created, cluster) if keys is not None else 0,
        created,
        None,
        False,
        end,
    )


def status_event(
    name: str, status: int, node: Any, job: Any, hidden: Any = None, keys: JobKeys | None = None
) -> StatusEvent | None:
    """One status event of cluster `name`; `hidden`: a node never shown; `keys`: the jobs' keys."""
    if node is not None and node is hidden:
        node = None
        if job is None:
            return None
    info = (
        (ended_job_info(job, keys, name) if status in JOB_DONE_STATUSES else job_info(job, keys, name))
        if job is not None
        else None
    )
    if info is not None and info.ip_addr is None and node is not None:
        # dispyscheduler never sets its jobs' ip_addr (its clients' dispy does): the node reporting is the one
        info = info._replace(ip_addr=node.ip_addr)
    return StatusEvent(name, status, node_info(node) if node is not None else None, info)


def _record(
    feed: Feed,
    name: str,
    status: int,
    node: Any,
    job: Any,
    hidden: Any = None,
    defer: bool = False,
    keys: JobKeys | None = None,
) -> None:
    """Feed one status event of cluster `name`; `hidden`: a node never shown.

    `defer`: hand the hub dispy's objects and let its loop copy them
    (`status_event`), so dispy's thread only appends (see hub.py). The node
    is then read when the loop drains, at most `hub.BATCH_DELAY` later and
    always before a browser is sent the event: it is dispy's live object, as
    it already is when a queued callback runs, and the dashboard shows a
    node's latest values anyway. The job is dispy's copy, made at the event.
    """
    try:
        if defer:
            feed((status_event, name, status, node, job, hidden, keys))  # a Deferred (events.py)
            return
        event = status_event(name, status, node, job, hidden, keys)
        if event is not None:
            feed(event)
    except Exception:  # never let the dashboard break dispy's thread
        log.exception("dispymon could not record a status event of %s", name)


def _make_tap(
    feed: Feed,
    name: str,
    chained: StatusCallback | None,
    hidden: Any = None,
    defer: bool = False,
    attached: _Attached | None = None,
    direct: bool = True,
    keys: JobKeys | None = None,
) -> StatusCallback:
    """`direct` (with `defer`): the tap may run where dispy queues it, on a patched queue (queue.py).
    `keys`: the jobs' keys (jobkeys.py; None: every key is 0)."""
    if defer:
        # _record's deferred path, inlined: this runs for every event on dispy's thread
        def record(status: int, node: Any, job: Any) -> None:
            try:
                feed((status_event, name, status, node, job, hidden, keys))  # a Deferred (events.py)
            except Exception:  # never let the dashboard break dispy's thread
                log.exception("dispymon could not record a status event of %s", name)

        def tap(status: int, node: Any, job: Any) -> None:
            record(status, node, job)
            if chained is not None:
                chained(status, node, job)

        if direct:
            # Only appends: safe to run where dispy decides on the event (see queue.py)
            tap.__dispymon_direct__ = record  # type: ignore[attr-defined]
    else:

        def tap(status: int, node: Any, job: Any) -> None:
            # on dispy's worker thread: what came before the seed's marker is in the seed
            if attached is None:
                _record(feed, name, status, node, job, hidden, keys=keys)
            else:
                with attached.lock:
                    if not attached.in_seed():
                        _record(feed, name, status, node, job, hidden, keys=keys)
            if chained is not None:
                chained(status, node, job)

    tap.__dispymon_chained__ = chained  # type: ignore[attr-defined]
    return tap


def chained_of(tap: Any) -> StatusCallback | None:
    """The callback a tap made by `_make_tap` passes its events on to (a function attribute mypy cannot see)."""
    return tap.__dispymon_chained__


class _Attached:
    """What the adapter keeps of one attached cluster."""

    __slots__ = ("name", "cluster", "hidden", "compute_id", "tap", "catching_up", "worker", "lock")

    def __init__(self, name: str, cluster: Any, hidden: Any, tap: StatusCallback | None = None) -> None:
        self.name = name
        self.cluster = cluster
        self.hidden = hidden
        self.compute_id = getattr(getattr(cluster, "_compute", None), "id", None)
        self.tap = tap
        # True from the attach until dispy's worker thread reaches the marker
        # queued with the seed (see DispyAdapter._announce): the events it
        # runs meanwhile were queued before the seed was read, which has them.
        self.catching_up = False
        self.worker: Any = None  # dispy's worker thread
        # Held while the seed is read and by the worker thread from deciding
        # to feed an event to feeding it, so no event slips in between.
        self.lock = threading.Lock()

    def in_seed(self) -> bool:
        """Whether the event being handed over now is one the seed already holds."""
        return self.catching_up and threading.current_thread() is self.worker

    def caught_up(self) -> None:
        self.catching_up = False
