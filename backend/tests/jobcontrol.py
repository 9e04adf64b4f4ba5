"""A recording cluster control for the job and bulk commands' tests.

It answers `cancel` and `submit` the way the dispy adapter does (it feeds
the events dispy would: the job ended, a new job created); dispy itself is
test_jobs_cluster.py's.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from dispymon.model import events as ev
from dispymon.model.events import JobInfo, StatusEvent


class JobControl:
    """A cluster control for job commands: cancel ends the job (Terminated), submit makes a queued job."""

    def __init__(self, feed, hub) -> None:
        self.feed = feed
        self.hub = hub
        self.calls: list[tuple] = []
        self.keys = itertools.count(10_000)
        self.gate = threading.Event()
        self.gate.set()
        self.refuse: set[Any] = set()
        self.cancel_threads: set[str] = set()

    def cancel(self, cluster, handle):
        self.gate.wait(30)
        self.cancel_threads.add(threading.current_thread().name)
        self.calls.append(("cancel", cluster, handle))
        if any(handle is r for r in self.refuse):
            return -1
        j = handle  # the tests' handle is the JobInfo itself
        self.feed(StatusEvent(cluster, ev.JOB_TERMINATED, None, j._replace(end_time=2000.0, handle=None)))
        return 0

    def submit(self, cluster, payload, node):
        self.gate.wait(30)
        self.calls.append(("submit", cluster, payload, node))
        if payload in self.refuse:
            from dispymon.commands.control import ControlRefused

            raise ControlRefused("cluster_error", f"node {node} is not in the cluster")
        key = next(self.keys)
        job = JobInfo(key, f"new-{key}", None, None, None, (), {}, None, key=key, created=1500.0)
        self.feed(StatusEvent(cluster, ev.JOB_CREATED, None, job._replace(handle=job)))
        return key

    def resolve(self, host):
        return host

    # the node actions, accepted (the fuzz reaches them too)
    def add_node(self, cluster, host, cpus):
        return 0

    def set_node_cpus(self, cluster, ip, cpus):
        return cpus

    def allocate_node(self, cluster, ip):
        return 0

    def deallocate_node(self, cluster, ip):
        return 0

    def close_node(self, cluster, ip, terminate_pending):
        return 0

    def check_node_action(self, action, ip, statuses):
        return None
