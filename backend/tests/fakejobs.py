"""A small in-memory stand-in for the jobs feature (features/jobs.py), for the command tests.

It follows JobsFeature's interface (the stub of issue 18's "agree first")
over the state's running jobs and the ended jobs the hub hands it; the
real feature's own behaviour (budgets, the guard, the database) is package
B's to test. Also a recording cluster control that answers `cancel` and
`submit` the way the dispy adapter does (it feeds the events dispy would).
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from dispymon.features.jobs import JobFilter, Selection
from dispymon.model import events as ev
from dispymon.model.events import JobInfo, ResubmitLinked, StatusEvent

OUTCOME = {ev.JOB_FINISHED: "finished", ev.JOB_TERMINATED: "failed", ev.JOB_CANCELLED: "cancelled",
           ev.JOB_ABANDONED: "abandoned"}  # fmt: skip


class FakeJobs:
    def __init__(self) -> None:
        self.ended: dict[int, dict[str, Any]] = {}  # key -> row
        self.payloads: dict[int, tuple[str, str | None, bytes]] = {}
        self.links: dict[int, int] = {}  # new -> original
        self.resubmitted_as: dict[int, list[int]] = {}
        self.selections: dict[int, Selection] = {}
        self._ids = itertools.count(1)
        self.version = 0

    # the hub's subscriber
    def take(self, batch, state) -> None:
        for event in batch:
            if type(event) is StatusEvent and event.job is not None and event.job.key:
                j = event.job
                outcome = OUTCOME[event.status]
                if outcome == "failed" and not j.exception:
                    outcome = "terminated"
                self.ended[j.key] = self._row(event.cluster, j, outcome)
                self.version += 1
            elif type(event) is ResubmitLinked:
                self.links[event.new] = event.original
                self.resubmitted_as.setdefault(event.original, []).append(event.new)
                self.version += 1

    def _row(self, cluster: str, j: JobInfo, state_name: str) -> dict[str, Any]:
        duration = j.end_time - j.start_time if j.end_time and j.start_time else None
        return {"key": j.key, "id": str(j.id), "cluster": cluster, "state": state_name, "node": j.ip_addr or "",
                "exception_type": j.exception.strip().splitlines()[-1].split(":")[0] if j.exception else None, "created": j.created,
                "start_time": j.start_time, "end_time": j.end_time, "duration": duration,
                "resubmit_of": self.links.get(j.key)}  # fmt: skip

    def _live(self, state):
        for name, c in state.clusters.items():
            for j in getattr(c, "queued", {}).values():  # the state's queued jobs (package A)
                yield self._row(name, j, "queued")
            for j in c.running.values():
                yield self._row(name, j, "running")

    def row(self, state, cluster: str, key: int) -> dict[str, Any] | None:
        for r in self._live(state):
            if r["cluster"] == cluster and r["key"] == key:
                return r
        r = self.ended.get(key)
        return r if r is not None and r["cluster"] == cluster else None

    def detail(self, state, cluster: str, key: int) -> dict[str, Any] | None:
        r = self.row(state, cluster, key)
        if r is None:
            return None
        kept = key in self.payloads
        return {**r, "exception_message": None, "args": None, "kwargs": None, "result": None, "result_len": None,
                "result_cut": False, "stdout": None, "stdout_len": 0, "stdout_cut": False, "stderr": None,
                "stderr_len": 0, "stderr_cut": False, "traceback": None, "traceback_len": 0, "kept": "all",
                "pinned": None, "resubmitted_as": self.resubmitted_as.get(key, []),
                "resubmit": {"possible": kept, "reason": None if kept else self.why_not(key)}}  # fmt: skip

    def find(self, state, cluster: str, job_id: str) -> list[int]:
        rows = [*self._live(state), *self.ended.values()]
        return sorted((r["key"] for r in rows if r["cluster"] == cluster and r["id"] == job_id), reverse=True)

    def _all(self, state) -> list[dict[str, Any]]:
        live = list(self._live(state))
        queued = sorted((r for r in live if r["state"] == "queued"), key=lambda r: r["created"] or 0)
        running = sorted((r for r in live if r["state"] == "running"), key=lambda r: r["start_time"] or 0)
        ended = sorted(self.ended.values(), key=lambda r: r["end_time"] or 0, reverse=True)
        return [*queued, *running, *ended]

    @staticmethod
    def matches(r: dict[str, Any], f: JobFilter) -> bool:
        when = {"queued": r["created"], "running": r["start_time"]}.get(r["state"], r["end_time"])
        return ((f.cluster is None or r["cluster"] == f.cluster) and (not f.states or r["state"] in f.states)
                and (f.node is None or r["node"] == f.node) and (f.exception is None or r["exception_type"] == f.exception)
                and (f.text is None or f.text.casefold() in r["id"].casefold())
                and (f.since is None or (when is not None and when >= f.since))
                and (f.until is None or (when is not None and when <= f.until)))  # fmt: skip

    async def select(self, state, flt: JobFilter) -> Selection:
        rows = [r for r in self._all(state) if self.matches(r, flt)]
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["state"]] = counts.get(r["state"], 0) + 1
        sel = Selection(next(self._ids), flt, [(r["cluster"], r["key"]) for r in rows], counts)
        live = {j.key: uid for c in state.clusters.values() for uid, j in c.running.items()}
        sel.live = {r["key"]: live[r["key"]] for r in rows if r["key"] in live}
        self.selections[sel.id] = sel
        return sel

    def selection(self, selection_id: int) -> Selection | None:
        return self.selections.get(selection_id)

    def payload(self, key: int):
        return self.payloads.get(key)

    def why_not(self, key: int) -> str:
        return "arguments not kept (fake)"

    def job_source(self, state, cluster: str, key: int):
        detail = self.detail(state, cluster, key)
        return (self.version, None if detail is None else tuple(sorted((k, str(v)) for k, v in detail.items()))), detail

    def stats(self) -> dict[str, int]:
        return {}


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
        self.feed(StatusEvent(cluster, ev.JOB_CREATED, None, JobInfo(key, f"new-{key}", None, None, None, (), {}, None,
                                                                     key=key, created=1500.0)))  # fmt: skip
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
