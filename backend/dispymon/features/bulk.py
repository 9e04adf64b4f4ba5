"""Bulk actions: terminate or resubmit every job a filter selects, as one cancellable task.

One action runs at a time per server. It freezes the selection at its start
(at most BULK_MAX jobs), then works in chunks of CHUNK jobs: each chunk is
prepared on the loop (which job, its handle or kept arguments) and sent in
one call on a small dedicated thread pool (dispy's calls block), at most
IN_FLIGHT chunks at once, so ten thousand jobs never hold the loop nor
every default worker thread. Cancelling stops between chunks: jobs not yet
sent count as `cancelled`. Progress is published as the action's BulkAction
record (BulkChanged, the `actions` part), at most PUBLISH_EVERY apart; the
outcomes of the last ACTIONS_KEPT actions are kept for `bulk_outcomes`.
The action is audited once: pending "0 of N" at its start, then ok or failed
with its counts.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dispymon.commands.control import ControlRefused
from dispymon.model.events import AuditUpdated, BulkChanged, JobInfo, ResubmitLinked
from dispymon.model.text import count_text
from dispymon.transport import protocol
from dispymon.transport.protocol import ACTIONS_KEPT, BULK_OUTCOMES

T = TypeVar("T")

log = logging.getLogger(__name__)

CHUNK = 50  # jobs per call on the pool
IN_FLIGHT = 4  # chunks sent at once (the pool's threads)
PUBLISH_EVERY = 0.25  # seconds between two progress records of one action
SCAN_SLICE = 50_000  # queued/running jobs looked at between two turns of the loop


@dataclass
class Action:
    id: int
    action: str  # protocol.BULK_ACTIONS
    who: str | None
    filter: dict[str, Any]
    refs: list[tuple[str, int]]
    started: float
    audit_id: int = 0
    state: str = "running"
    done: int = 0
    ended: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    # protocol.bulk_outcome records, in the selection's order as chunks complete
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task | None = None
    selection: Any = None  # the jobs feature's Selection the refs come from (kept alive while the action runs)
    published: float = 0.0  # when its record was last published (progress: at most every PUBLISH_EVERY)

    def record(self) -> dict[str, Any]:
        return protocol.bulk_action(
            self.id,
            self.action,
            self.who,
            dict(self.filter),
            len(self.refs),
            self.done,
            self.state,
            dict(self.counts),
            self.started,
            self.ended,
            self.audit_id,
        )

    def add(self, outcome: dict[str, Any]) -> None:
        self.outcomes.append(outcome)
        self.counts[outcome["outcome"]] = self.counts.get(outcome["outcome"], 0) + 1
        self.done += 1

    def summary(self) -> str:
        order = BULK_OUTCOMES[self.action]
        parts = [f"{self.counts[o]} {o.replace('_', ' ')}" for o in order if self.counts.get(o)]
        return ", ".join(parts) or "nothing done"


class BulkRunner:
    """The server's bulk actions (commands/bulk.py drives it)."""

    def __init__(self, cmds: Any, clock: Callable[[], float] = time.time) -> None:
        self.cmds = cmds  # commands.registry.Commands
        self.clock = clock
        self.actions: collections.OrderedDict[int, Action] = collections.OrderedDict()  # the last ACTIONS_KEPT
        self.running: Action | None = None
        self._ids = 0
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.chunk_timeout = 120.0  # a chunk's calls that take longer are counted failed (they may still happen)

    @property
    def pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._pool is None:  # made at the first action: a server that never acts starts no thread
            self._pool = concurrent.futures.ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="dispymon-bulk")
        return self._pool

    def close(self) -> None:
        for action in self.actions.values():
            if action.task is not None:
                action.task.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def get(self, action_id: int) -> Action | None:
        return self.actions.get(action_id)

    def start(
        self, action: str, who: str | None, flt: dict[str, Any], refs: list[tuple[str, int]], selection: Any = None
    ) -> Action:
        """Make the action (the caller checked it may run) and its task; the caller audits it first."""
        self._ids += 1
        act = Action(self._ids, action, who, flt, refs, self.clock(), selection=selection)
        self.actions[act.id] = act
        while len(self.actions) > ACTIONS_KEPT:
            self.actions.popitem(last=False)
        self.running = act
        return act

    def launch(self, act: Action) -> None:
        self._publish(act)
        act.task = asyncio.create_task(self._run(act))

    def cancel(self, act: Action) -> None:
        if act.state == "running":
            act.state = "cancelling"
            self._publish(act)

    # -- the task ---------------------------------------------------------------

    def _publish(self, act: Action) -> None:
        act.published = self.clock()
        self.cmds.hub.feed(BulkChanged(act.record()))

    def _progress(self, act: Action) -> None:
        if self.clock() - act.published >= PUBLISH_EVERY:
            self._publish(act)

    async def _run(self, act: Action) -> None:
        try:
            await self._work(act)
        except asyncio.CancelledError:
            act.state = "cancelled"
            raise
        except Exception as exc:  # a bug: the action ends failed, the server goes on
            log.exception("bulk action %d failed", act.id)
            act.state = "done"
            self._end(act, f"stopped: {type(exc).__name__}: {exc}"[:300], failed=True)
            return
        finally:
            if self.running is act:
                self.running = None
        self._end(act)

    def _end(self, act: Action, message: str | None = None, failed: bool = False) -> None:
        act.ended = self.clock()
        if act.state in ("running", "done"):
            act.state = "done"
        else:
            act.state = "cancelled"
        self._publish(act)
        bad = {"failed", "failed_to_submit"}
        failed = failed or any(act.counts.get(o) for o in bad)
        text = message or act.summary()
        if act.state == "cancelled":
            text = f"cancelled after {act.done - act.counts.get('cancelled', 0)} of {len(act.refs)}: {text}"
        self.cmds.hub.feed(AuditUpdated(act.audit_id, "failed" if failed else "ok", text))

    async def _work(self, act: Action) -> None:
        handles = await self._handles(act) if act.action == "terminate" else {}
        chunks = [act.refs[i : i + CHUNK] for i in range(0, len(act.refs), CHUNK)]
        slots = asyncio.Semaphore(IN_FLIGHT)
        tasks: list[asyncio.Task] = []
        sent = 0
        for chunk in chunks:
            await slots.acquire()
            if act.state != "running":
                slots.release()
                break
            if act.selection is not None:  # used: the feature keeps it (its rows are found through it)
                self.cmds.jobs.selection(act.selection.id)
            task = asyncio.create_task(self._chunk(act, chunk, handles))
            task.add_done_callback(lambda _: slots.release())
            tasks.append(task)
            sent += len(chunk)
        await asyncio.gather(*tasks)
        jobs = self.cmds.jobs
        state = self.cmds.hub.read()
        for cluster, key in act.refs[sent:]:  # not sent: cancelled
            act.add(protocol.bulk_outcome(key, _job_id(jobs, state, cluster, key), cluster, "cancelled"))

    async def _handles(self, act: Action) -> dict[tuple[str, int], JobInfo]:
        """The queued or running JobInfo of each job to terminate, by (cluster, key): one pass over them."""
        found: dict[tuple[str, int], JobInfo] = {}
        state = self.cmds.hub.read()
        live: dict[int, int] | None = getattr(act.selection, "live", None)  # key -> uid of its live jobs
        if live:
            for name, key in act.refs:
                c = state.clusters.get(name)
                uid = live.get(key)
                if c is None or uid is None:
                    continue
                job = c.running.get(uid) or getattr(c, "queued", {}).get(uid)
                if job is not None and job.key == key:
                    found[(name, key)] = job
            return found
        wanted = set(act.refs)
        clusters = {c for c, _ in act.refs}
        seen = 0
        for name in clusters:
            c = state.clusters.get(name)
            if c is None:
                continue
            for table in (getattr(c, "queued", {}), c.running):
                for job in list(table.values()):
                    if (name, job.key) in wanted:
                        found[(name, job.key)] = job
                    seen += 1
                    if seen % SCAN_SLICE == 0:
                        await asyncio.sleep(0)
                        state = self.cmds.hub.read()
        return found

    async def _chunk(self, act: Action, chunk: list[tuple[str, int]], handles: dict[tuple[str, int], JobInfo]) -> None:
        if act.action == "terminate":
            await self._terminate(act, chunk, handles)
        else:
            await self._resubmit(act, chunk)
        self._progress(act)

    async def _call(self, fn: Callable[[], list[Any]]) -> list[Any] | None:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self.pool, fn), self.chunk_timeout)
        except TimeoutError:
            return None
        finally:
            self.cmds.hub.read()  # what the cluster fed during the calls is in the state read next

    async def _terminate(
        self, act: Action, chunk: list[tuple[str, int]], handles: dict[tuple[str, int], JobInfo]
    ) -> None:
        jobs = self.cmds.jobs
        state = self.cmds.hub.read()
        control = self.cmds.control
        calls: list[tuple[str, int, str, Any]] = []
        for cluster, key in chunk:
            job_id = _job_id(jobs, state, cluster, key)
            job = handles.get((cluster, key))
            if job is None or not _still_there(state, cluster, job):
                gone = job is not None or jobs.row(state, cluster, key) is not None
                act.add(protocol.bulk_outcome(key, job_id, cluster, "already_finished" if gone else "not_found"))
            else:
                calls.append((cluster, key, job_id, job.handle))

        def send() -> list[Any]:
            return _each(calls, lambda call: control.cancel(call[0], call[3]))

        answers = await self._call(send) if calls else []
        state = self.cmds.hub.read()
        for i, (cluster, key, job_id, _) in enumerate(calls):
            answer = answers[i] if answers is not None else "no answer in time; it may still happen"
            if answer == 0:
                act.add(protocol.bulk_outcome(key, job_id, cluster, "terminated"))
            elif isinstance(answer, int) and not _still_there(state, cluster, handles[(cluster, key)]):
                act.add(protocol.bulk_outcome(key, job_id, cluster, "already_finished"))  # dispy refuses an ended job
            else:
                reason = answer if isinstance(answer, str) else f"dispy refused (code {answer})"
                act.add(protocol.bulk_outcome(key, job_id, cluster, "failed", reason))

    async def _resubmit(self, act: Action, chunk: list[tuple[str, int]]) -> None:
        jobs = self.cmds.jobs
        state = self.cmds.hub.read()
        control = self.cmds.control
        calls: list[tuple[str, int, str, str | None, bytes]] = []
        for cluster, key in chunk:
            job_id = _job_id(jobs, state, cluster, key)
            kept = jobs.payload(key)
            if kept is not None and kept[0] == cluster:
                calls.append((cluster, key, job_id, kept[1], kept[2]))
            elif jobs.row(state, cluster, key) is None:
                act.add(protocol.bulk_outcome(key, job_id, cluster, "not_found"))
            else:
                act.add(protocol.bulk_outcome(key, job_id, cluster, "not_kept", jobs.why_not(key)))

        def send() -> list[Any]:
            return _each(calls, lambda call: int(control.submit(call[0], call[4], call[3])))

        answers = await self._call(send) if calls else []
        for i, (cluster, key, job_id, _, _) in enumerate(calls):
            answer = answers[i] if answers is not None else "no answer in time; it may still happen"
            if isinstance(answer, int):
                self.cmds.hub.feed(ResubmitLinked(cluster, key, answer))
                act.add(protocol.bulk_outcome(key, job_id, cluster, "resubmitted", new_key=answer))
            else:
                act.add(protocol.bulk_outcome(key, job_id, cluster, "failed_to_submit", answer))


def _job_id(jobs: Any, state: Any, cluster: str, key: int) -> str:
    row = jobs.row(state, cluster, key)
    return row["id"] if row is not None else ""


def _still_there(state: Any, cluster: str, job: JobInfo) -> bool:
    """Whether `job` is still queued or running in `cluster` (the same job, not a uid reused)."""
    c = state.clusters.get(cluster)
    if c is None:
        return False
    found = c.running.get(job.uid)
    if found is None:
        found = getattr(c, "queued", {}).get(job.uid)
    return found is not None and found.key == job.key


def counts_text(n: int) -> str:
    return count_text(n, "job")


def _each(calls: Sequence[T], call: Callable[[T], Any]) -> list[Any]:
    """`call` for each of a chunk's jobs, on a worker thread: its answer, or why it failed
    (the message of a refusal or of a dispy surprise), and the rest go on."""
    out: list[Any] = []
    for item in calls:
        try:
            out.append(call(item))
        except ControlRefused as exc:
            out.append(exc.message)
        except Exception as exc:  # a dispy surprise: this job failed, the rest go on
            out.append(f"{type(exc).__name__}: {exc}"[:200])
    return out
