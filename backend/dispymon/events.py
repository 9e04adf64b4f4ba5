"""The events the adapters hand to the state model.

Both adapters (dispy's and the simulated cluster) produce these plain tuples;
nothing here knows dispy. The status numbers are dispy 4.15.2's own (the
adapter's tests check they still agree), so the dispy adapter can pass them
through without a lookup on dispy's callback thread.
"""

from __future__ import annotations

from typing import Any, NamedTuple

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
    swap: float  # % used


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
    """

    uid: int
    id: Any
    ip_addr: str | None
    start_time: float | None
    end_time: float | None
    args: tuple
    kwargs: dict
    exception: str | None


class StatusEvent(NamedTuple):
    """One cluster_status callback: (status, node, job) as dispy gave it."""

    cluster: str
    status: int
    node: NodeInfo | None
    job: JobInfo | None


class ClusterAttached(NamedTuple):
    """A cluster joined the dashboard; `nodes`/`running` seed what it already had."""

    cluster: str
    kind: str  # "JobCluster" | "SharedJobCluster"
    nodes: tuple[tuple[NodeInfo, int], ...]  # (node, node status)
    running: tuple[JobInfo, ...]
    pending: int  # dispy's count of jobs submitted and not yet done


class ClusterDetached(NamedTuple):
    cluster: str


Event = StatusEvent | ClusterAttached | ClusterDetached
