"""The simulator's events as dispy delivers them: (status, DispyNode, copy of DispyJob).

So dispymon's tap and dispy.httpd's `cluster_status` can be given the very
same stream of callback calls, made of real `dispy.DispyNode` / `DispyJob`
objects (mutated and copied the way dispy's scheduler does).
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable

import dispy

from dispymon.model.events import NODE_INITIALIZED, ClusterAttached, StatusEvent

Callback = Callable[[int, Any, Any], None]


class DispyReplay:
    """A feed for `SimulatedCluster` that calls a dispy-style `cluster_status` instead.

    `realtime`: stamp each node's `update_time` with the wall clock at the
    call, so a client can tell how old what it receives is.
    `on_attach(name)` is called once when the simulated cluster announces itself.
    """

    def __init__(self, callback: Callback, realtime: bool = False,
                 on_attach: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.callback = callback
        self.realtime = realtime
        self.on_attach = on_attach
        self.nodes: dict[str, dispy.DispyNode] = {}
        self.jobs: dict[int, dispy.DispyJob] = {}
        self.calls = 0

    def _node(self, info) -> dispy.DispyNode:
        node = self.nodes.get(info.ip_addr)
        if node is None:
            node = self.nodes[info.ip_addr] = dispy.DispyNode(info.ip_addr, info.name, info.cpus)
        node.cpus, node.avail_cpus, node.busy = info.cpus, info.avail_cpus, info.busy
        node.jobs_done, node.cpu_time, node.tx, node.rx = info.jobs_done, info.cpu_time, info.tx, info.rx
        node.update_time = time.time() if self.realtime else info.update_time
        a = info.avail_info
        # dispy replaces avail_info with a fresh object on each pulse
        if a is not None and (node.avail_info is None or node.avail_info.cpu != a.cpu):
            node.avail_info = dispy.DispyNodeAvailInfo(a.cpu, a.memory, a.disk, a.swap)
        return node

    def _job(self, info, status: int) -> dispy.DispyJob:
        job = self.jobs.get(info.uid)
        if job is None:
            job = self.jobs[info.uid] = dispy.DispyJob(info.id, info.args, info.kwargs)
            job._uid = info.uid
        job.status = status
        job.ip_addr, job.start_time, job.end_time, job.exception = info.ip_addr, info.start_time, info.end_time, info.exception
        if status in (dispy.DispyJob.Finished, dispy.DispyJob.Terminated, dispy.DispyJob.Cancelled,
                      dispy.DispyJob.Abandoned):  # fmt: skip
            del self.jobs[info.uid]
            job._args = job._kwargs = None  # dispy drops them at the end (the copy below keeps None)
        return job

    def __call__(self, event: Any) -> None:
        if type(event) is StatusEvent:
            node = self._node(event.node) if event.node is not None else None
            job = self._job(event.job, event.status) if event.job is not None else None
            self.calls += 1
            # dispy hands cluster_status a copy of the job, and its live node
            self.callback(event.status, node, copy.copy(job) if job is not None else None)
        elif type(event) is ClusterAttached:
            if self.on_attach is not None:
                self.on_attach(event.cluster)
            for info, _ in event.nodes:
                self.calls += 1
                self.callback(NODE_INITIALIZED, self._node(info), None)
            for info in event.running:
                node = self.nodes.get(info.ip_addr)
                self.calls += 1
                self.callback(dispy.DispyJob.Running, node, copy.copy(self._job(info, dispy.DispyJob.Running)))


def recorded_calls(sim_factory: Callable[[Callable[[Any], None]], Any], events: int) -> list[tuple[int, Any, Any]]:
    """A list of `events` dispy callback calls (attach first), for replaying with a clock around it."""
    calls: list[tuple[int, Any, Any]] = []
    replay = DispyReplay(lambda s, n, j: calls.append((s, n, j)))
    sim = sim_factory(replay)
    sim.attach()
    sim.emit(events)
    return calls
