"""Event builders for unit tests (plain data, as the adapters produce)."""

from __future__ import annotations

from dispymon.model.events import AvailInfo, ClusterAttached, JobInfo, NodeInfo, StatusEvent


def node(ip: str = "127.0.0.2", busy: int = 0, jobs_done: int = 0, cpus: int = 2, cpu_time: float = 0.0,
         avail: AvailInfo | None = None, update_time: float = 1000.0) -> NodeInfo:
    return NodeInfo(ip, f"host-{ip}", cpus, cpus, busy, jobs_done, cpu_time, 10, 20, update_time, avail)


def job(uid: int, ip: str | None = "127.0.0.2", exception: str | None = None, args: tuple = (1,)) -> JobInfo:
    return JobInfo(uid, f"job-{uid}", ip, 1000.0, None, args, {}, exception)


def attached(name: str = "c", kind: str = "JobCluster", nodes=(), running=(), pending: int = 0) -> ClusterAttached:
    return ClusterAttached(name, kind, tuple(nodes), tuple(running), pending)


def status(cluster: str, code: int, n: NodeInfo | None = None, j: JobInfo | None = None) -> StatusEvent:
    return StatusEvent(cluster, code, n, j)


def applied(state, *events):
    """Apply `events` to a hand-built state and settle it, as the hub's drain does."""
    for event in events:
        state.apply(event)
    state.settle()
    return state
