"""The events the adapters hand to the state model.

Both adapters (dispy's and the simulated cluster) produce these plain tuples;
nothing here knows dispy. The status numbers are dispy 4.15.2's own (the
adapter's tests check they still agree), so the dispy adapter can pass them
through without a lookup on dispy's callback thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeAlias

# Node statuses (dispy.DispyNode.*)
NODE_INITIALIZED = 4
NODE_CLOSED = 16
NODE_AVAIL_INFO = 17

# Job statuses (dispy.DispyJob.*)
JOB_CREATED = 5
JOB_RUNNING = 6
JOB_PROVISIONAL_RESULT = 7
JOB_CANCELLED = 8
JOB_TERMINATED = 9
JOB_ABANDONED = 10
JOB_FINISHED = 11

JOB_DONE_STATUSES = frozenset({JOB_CANCELLED, JOB_TERMINATED, JOB_ABANDONED, JOB_FINISHED})


class AvailInfo(NamedTuple):
    cpu: float  # % of CPU available
    memory: int  # bytes available
    disk: int  # bytes available
    swap: float  # % available (dispynode sends 100 - % used)


class NodeInfo(NamedTuple):
    """Every field of dispy's DispyNode, copied at the moment of the event."""

    ip_addr: str
    name: str
    cpus: int
    avail_cpus: int
    busy: int
    jobs_done: int
    cpu_time: float
    tx: int
    rx: int
    update_time: float
    avail_info: AvailInfo | None


class JobInfo(NamedTuple):
    """The few fields of a job the dashboard needs.

    `id`, `args` and `kwargs` are references to the user's objects, never
    str()-ed here: turning them into text is done later, only for jobs someone
    is looking at, and guarded against a failing `__str__`.

    The JobInfo of a job that ended is kept by the history, maybe for long
    (history.py): the dispy adapter makes it with no user object in it
    (adapter.ended_job_info: the id as text, no args/kwargs, no handle, the
    traceback shortened), so its size does not depend on the job.
    """

    uid: int
    id: Any
    ip_addr: str | None
    start_time: float | None
    end_time: float | None
    args: tuple
    kwargs: dict
    exception: str | None
    # the adapter's own reference to the job, for commands (dispy's cancel
    # needs it); opaque to everything but the adapter
    handle: Any = None
    # The job's key (jobkeys.py): dispy's uid is id(job) and is reused once a
    # job is freed, so pages, links and stores name a job by its key. 0: none.
    key: int = 0
    created: float | None = None  # dispy's submit_time
    pinned: str | None = None  # the node it was submitted to (submit_node), if any
    depends: bool = False  # submitted with dispy_job_depends: not resubmittable
    # An ended job's outputs, traceback and result (a JobEnd), taken by the
    # jobs feature in the drain that applies the event, then emptied.
    extra: JobEnd | None = None


class JobEnd:
    """What an ended job leaves beyond its history record, cut where the event is made.

    `stdout`/`stderr`: the last OUTPUT_TAIL bytes (UTF-8, for a function
    computation's str output; raw for a program's bytes) with the full length
    in `*_len` (characters for str, bytes for bytes); `traceback`: the last
    OUTPUT_TAIL characters of dispy's traceback text; `result`: a reference
    to the user's result (None when there is none), turned into bounded text
    off the loop (runtime/guard.py) and then dropped. The jobs feature empties
    the object (`clear`) in the drain that applies the event.
    """

    __slots__ = (
        "stdout",
        "stdout_len",
        "stderr",
        "stderr_len",
        "traceback",
        "traceback_len",
        "result",
        "stdout_kind",
        "stderr_kind",
    )

    def __init__(
        self,
        stdout: bytes | None = None,
        stdout_len: int = 0,
        stderr: bytes | None = None,
        stderr_len: int = 0,
        traceback: str | None = None,
        traceback_len: int = 0,
        result: Any = None,
    ) -> None:
        self.stdout = stdout
        self.stdout_len = stdout_len
        self.stderr = stderr
        self.stderr_len = stderr_len
        self.traceback = traceback
        self.traceback_len = traceback_len
        self.result = result
        # "str" (a function computation's output: `*_len` counts characters)
        # or "bytes" (a program's); None when there was no output
        self.stdout_kind: str | None = None
        self.stderr_kind: str | None = None

    def clear(self) -> None:
        self.stdout = self.stderr = self.traceback = self.result = None


class StatusEvent(NamedTuple):
    """One cluster_status callback: (status, node, job) as dispy gave it."""

    cluster: str
    status: int
    node: NodeInfo | None
    job: JobInfo | None


class ClusterAttached(NamedTuple):
    """A cluster joined the dashboard; `nodes`/`running` seed what it already had."""

    cluster: str
    kind: str  # "JobCluster" | "SharedJobCluster" (a dispyscheduler's computation too)
    nodes: tuple[tuple[NodeInfo, int], ...]  # (node, node status)
    running: tuple[JobInfo, ...]
    pending: int  # dispy's count of jobs submitted and not yet done
    done: int = 0  # jobs its nodes had done (dispy's DispyNode.jobs_done added up): outcomes unknown
    queued: tuple[JobInfo, ...] = ()  # the jobs dispy holds not yet running (Created), as far as it lists them
    # A fleet central (docs/fleet.md): the program that owns the cluster, and the
    # counters of its snapshot (submitted, finished, failed, cancelled,
    # terminated, abandoned, earlier), taken as they are instead of `done`/`pending`.
    program: str | None = None
    counts: tuple[int, int, int, int, int, int, int] | None = None


class ClusterDetached(NamedTuple):
    cluster: str


class NodeChanged(NamedTuple):
    """The effect of a management call that dispy reports with no event.

    `status` ("initialized" | "deallocated" | "closed") and/or `cpus` (the
    effective CPUs dispy applied; dispy sets them for every cluster that uses
    the node, so the state does too) — None leaves a field as it is.
    """

    cluster: str
    ip_addr: str
    status: str | None = None
    cpus: int | None = None


class SettingChanged(NamedTuple):
    name: str
    value: Any


class AuditAdded(NamedTuple):
    """A management action. `watch` asks the state to resolve the entry itself:
    ("node", cluster names, ip or wildcard pattern) for an added node."""

    entry_id: int
    time: float
    action: str
    target: str
    cluster: str | None
    state: str  # "pending" | "ok" | "failed"
    message: str
    who: str | None = None
    watch: tuple | None = None


class AuditUpdated(NamedTuple):
    entry_id: int
    state: str
    message: str
    only_if_pending: bool = False


class ResubmitLinked(NamedTuple):
    """A job was resubmitted: `new` (a key) runs the arguments of `original` (a key)."""

    cluster: str
    original: int
    new: int


class BulkChanged(NamedTuple):
    """A bulk action started or moved on: its BulkAction record (protocol.bulk_action), whole."""

    action: dict[str, Any]


class AlertsChanged(NamedTuple):
    """The alerts engine's part moved (features/alerts): the `alerts` part, whole (protocol.alerts_part)."""

    part: dict[str, Any]


class FleetChanged(NamedTuple):
    """The fleet's own record (docs/fleet.md: the broker, the programs, the
    publisher), whole; None on a dashboard with no broker."""

    fleet: dict[str, Any]


class HealthCheck(NamedTuple):
    """A clock tick (seconds since the epoch): re-evaluates the stuck/stale flags.

    Time enters the state only through this event, so the flags test without
    waiting: feed ticks with chosen times.
    """

    now: float


Event = (
    StatusEvent
    | ClusterAttached
    | ClusterDetached
    | NodeChanged
    | SettingChanged
    | AuditAdded
    | AuditUpdated
    | ResubmitLinked
    | BulkChanged
    | AlertsChanged
    | FleetChanged
    | HealthCheck
)


# A deferred event: a plain tuple `(make, *args)`; the hub's loop applies
# `make(*args)` (None: nothing to apply). The dispy adapter feeds these so its
# callback on dispy's thread only appends, leaving the copying of dispy's
# objects to the loop. A plain tuple, named by this alias: a tuple display is
# the cheapest object Python makes on that hot path (a NamedTuple, even built
# with tuple.__new__, costs about 100 ns more per event; benchmark 1 measures
# the tap). Every event is a NamedTuple, so `type(item) is Deferred` (tuple
# itself) tells a deferred one apart.
Deferred: TypeAlias = tuple


def deferred(make: Callable[..., Event | None], *args: Any) -> Deferred:
    """A deferred event (the tap writes the tuple out: one call fewer)."""
    return (make, *args)
