"""The authoritative model of every attached cluster, with a change log.

Pure: no sockets, no threads, no dispy. `apply(event)` is the only way the
model changes. The change log records, per record key, the version at which
it last changed, in change order; the keys an event changes are noted in a
set and get their versions at the next `settle()` (the hub settles once per
drain, so readers only see settled states), so a record changed many times
between two settlings moves in the log once. A browser's view asks for
`changes_since(v)`, which walks that log from the newest end and stops at the
first entry not newer than `v`: the cost is proportional to what changed, and
the log holds at most one entry per record, so memory is bounded by the state
size whatever the event rate.

Record keys: `changelog.Key` (a kind, and the cluster and/or node it names).

Node health: a node that stays busy with no job starting or ending for
`stuck_after` seconds is flagged `stuck` (dispynode 4.15.2 has a race that
leaves a node answering pulses but never returning results); a node whose
avail info (CPU, memory, …) stops arriving for `stale_after` seconds is
flagged `stale`. Time enters only through HealthCheck events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dispymon.model.actions import ACTIONS_KEY, Actions, BulkChanged
from dispymon.model.audit import AuditLog
from dispymon.model.changelog import (
    AUDIT_KEY,
    FLEET_KEY,
    SETTINGS_KEY,
    Changes,
    Deltas,
    Key,
    Kind,
    NodeBuild,
    cluster_key,
    jobs_key,
    node_key,
    running_key,
    values_record,
)
from dispymon.model.events import (
    JOB_ABANDONED,
    JOB_CANCELLED,
    JOB_CREATED,
    JOB_FINISHED,
    JOB_RUNNING,
    JOB_TERMINATED,
    NODE_AVAIL_INFO,
    NODE_CLOSED,
    NODE_INITIALIZED,
    AuditAdded,
    AuditUpdated,
    ClusterAttached,
    ClusterDetached,
    Event,
    FleetChanged,
    HealthCheck,
    JobInfo,
    NodeChanged,
    NodeInfo,
    ResubmitLinked,
    SettingChanged,
    StatusEvent,
)
from dispymon.model.jobtext import JobTexts

INITIALIZED = "initialized"
DEALLOCATED = "deallocated"
CLOSED = "closed"
NODE_STATUSES = (INITIALIZED, DEALLOCATED, CLOSED)

RECENTLY_DONE_LIMIT = 10_000
# Queued jobs listed per cluster (`ClusterState.queued`): about 0.5 KB each
# with dispy's own copy; beyond this, Created jobs are counted, not listed.
MAX_QUEUED_TRACKED = 1_000_000
SETTINGS = {"show_job_args": bool}


def node_status_name(status: int, previous: str | None) -> str:
    """A node event's status, or the node's previous one for job/avail events."""
    if status == NODE_CLOSED:
        return CLOSED
    if status == NODE_INITIALIZED:
        return INITIALIZED
    return previous or INITIALIZED


@dataclass(slots=True)
class NodeHealth:
    progress: float  # when a job last started or ended there (at tick resolution; first seen counts as one)
    avail: float | None = None  # when avail info last arrived
    stuck: bool = False
    stale: bool = False


def node_values(info: NodeInfo, status: str, health: NodeHealth | None = None) -> tuple:
    """A node's record as a tuple in NODE_FIELDS order (cheap to compare)."""
    return (*info, status, bool(health and health.stuck), bool(health and health.stale))


def node_record(info: NodeInfo, status: str, health: NodeHealth | None = None) -> dict[str, Any]:
    return values_record(node_values(info, status, health))


@dataclass(eq=False)  # hashed by identity: State._dirty_clusters
class ClusterState:
    name: str
    kind: str
    submitted: int = 0
    finished: int = 0
    failed: int = 0
    cancelled: int = 0
    terminated: int = 0
    abandoned: int = 0
    # jobs done before dispymon attached (its nodes' jobs done then): their
    # outcomes are not known, so they are in `done` and in no outcome
    earlier: int = 0
    # ip -> (latest copy of the node's fields, status name)
    nodes: dict[str, tuple[NodeInfo, str]] = field(default_factory=dict)
    # job uid -> job, for jobs running now
    running: dict[int, JobInfo] = field(default_factory=dict)
    # job uid -> job, for jobs created (or seeded as queued) and not running
    # yet, in the order they came; at most MAX_QUEUED_TRACKED (see
    # `queued_unlisted`). Never in deltas: the jobs query reads it.
    queued: dict[int, JobInfo] = field(default_factory=dict)
    health: dict[str, NodeHealth] = field(default_factory=dict)
    # ips of the nodes where a job started or ended, and of those whose avail
    # info came, since the last health check (sets of plain strings: the hot
    # path adds to one, no per-node object is touched)
    progressed: set[str] = field(default_factory=set)
    avail_came: set[str] = field(default_factory=set)
    # ip -> NodeBuild (see changelog.Deltas)
    builds: dict[str, NodeBuild] = field(default_factory=dict)
    # Changed since the change log was last brought up to date (State.settle):
    # the ips of nodes, and whether the job counters moved.
    dirty_nodes: set[str] = field(default_factory=set)
    jobs_dirty: bool = False
    # ip -> the node's key in the change log, made once
    node_keys: dict[str, Key] = field(default_factory=dict)
    # On a fleet central (docs/fleet.md): the program that owns the cluster
    program: str | None = None

    def node_key(self, ip: str) -> Key:
        key = self.node_keys.get(ip)
        if key is None:
            key = self.node_keys[ip] = node_key(self.name, ip)
        return key

    def node(self, ip: str) -> dict[str, Any] | None:
        held = self.nodes.get(ip)
        return node_record(held[0], held[1], self.health.get(ip)) if held else None

    @property
    def done(self) -> int:
        return self.earlier + self.finished + self.failed + self.cancelled + self.terminated + self.abandoned

    @property
    def queued_unlisted(self) -> int:
        """Queued jobs (by the counters) that `queued` does not list: over MAX_QUEUED_TRACKED,
        or submitted before the attach where dispy did not list them (a SharedJobCluster's
        scheduler holds its queue). Read from the counters: nothing on the hot path."""
        return max(self.submitted - self.done - len(self.running) - len(self.queued), 0)

    def jobs_record(self) -> dict[str, int]:
        running = len(self.running)
        done = self.done
        return {
            "submitted": self.submitted,
            "queued": max(self.submitted - done - running, 0),
            "running": running,
            "done": done,
            "finished": self.finished,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "terminated": self.terminated,
            "abandoned": self.abandoned,
        }


class State:
    def __init__(self, show_job_args: bool = True, stuck_after: float = 300.0, stale_after: float = 30.0) -> None:
        self.stuck_after = stuck_after
        self.stale_after = stale_after
        self.clusters: dict[str, ClusterState] = {}
        self.settings: dict[str, Any] = {"show_job_args": bool(show_job_args)}
        # the fleet's record (docs/fleet.md; FleetChanged): None without a broker
        self.fleet: dict[str, Any] | None = None
        # the audit log, its add-node watches and the nodes closed by a command (audit.py)
        self.audit_log = AuditLog()
        self.audit = self.audit_log.entries
        self.actions = Actions()  # the bulk actions' records (model/actions.py)
        self._version = 0
        # Keys changed since the change log was last brought up to date:
        # `settle()` gives them their versions (the hub calls it at the end
        # of each drain). The hot path only adds plain strings to sets (the
        # node's ip to its cluster's `dirty_nodes`, to `_dirty_running`) and
        # the cluster to `_dirty_clusters`: no key tuple is made per event,
        # so events leave nothing new for the garbage collector between two
        # readings (benchmarks/notes.md, 3); rarer changes add their key.
        self._dirty: set[Key] = set()
        self._dirty_clusters: set[ClusterState] = set()
        self._dirty_running: set[str] = set()
        self._running_keys: dict[str, Key] = {}  # ip -> its RUNNING key, made once
        # When a list (the hub's batch, once someone subscribes): the state
        # appends the event of each job that ends, and the hub every other
        # event but StatusEvents, in order; subscribers take it per drain.
        self.ended: list[Any] | None = None
        # Likewise (None until a subscriber sets it to []): the JobInfo of
        # each job that ends, as the state held it while queued or running
        # (the ended event's own has no arguments: dispy clears them first),
        # so the jobs feature can keep its arguments; it empties the list in
        # each batch, so they live no longer than one drain past dispy's.
        self.left: list[JobInfo] | None = None
        # key -> version of its last change; dict order is change order
        # (a changed key is popped and re-inserted at the end).
        self._changes: dict[Key, int] = {}
        # jobs running now, by node (across clusters): ip -> uid -> the
        # job's cluster (the job itself is in that cluster's `running`; one
        # table per job fewer than a uid -> cluster map beside it)
        self.running_by_ip: dict[str, dict[int, ClusterState]] = {}
        # uids that finished lately, to tell "already finished" from "unknown":
        # the last RECENTLY_DONE_LIMIT at least, in two generations of sets
        # (a set add per job; the older set is dropped whole when the newer fills)
        self._done_new: set[int] = set()
        self._done_old: set[int] = set()
        # Beside the model, not part of it: the snapshot and deltas built at
        # the current version (changelog.Deltas), and the text of viewed jobs
        # (jobtext.JobTexts); the state never reads either.
        self.deltas = Deltas(self)
        self.job_texts = JobTexts()

    # -- changes -----------------------------------------------------------

    @property
    def version(self) -> int:
        """The version of the change log as last settled (see `settle`)."""
        return self._version

    def settle(self) -> None:
        """Bring the change log up to date: the keys changed since the last
        settling get the next versions. A record changed a thousand times
        between two settlings is moved in the log once, not a thousand times.
        Readers only ever see settled versions, so the order among these
        keys does not matter. Cheap when nothing changed."""
        if not (self._dirty_clusters or self._dirty_running or self._dirty):
            return
        changes = self._changes
        version = self._version
        for key in self._dirty_keys():
            version += 1
            changes.pop(key, None)
            changes[key] = version
        self._version = version
        self._dirty.clear()

    def _dirty_keys(self) -> Iterator[Key]:
        """The change-log keys of what changed since the last settling (then forgotten)."""
        for c in self._dirty_clusters:
            if c.jobs_dirty:
                c.jobs_dirty = False
                yield jobs_key(c.name)
            for ip in c.dirty_nodes:
                yield c.node_key(ip)
            c.dirty_nodes.clear()
        self._dirty_clusters.clear()
        running_keys = self._running_keys
        for ip in self._dirty_running:
            key = running_keys.get(ip)
            if key is None:
                key = running_keys[ip] = running_key(ip)
            yield key
        self._dirty_running.clear()
        yield from self._dirty

    def unsettled(self) -> int:
        """How many records changed since the change log was last brought up to date."""
        nodes = sum(len(c.dirty_nodes) + c.jobs_dirty for c in self._dirty_clusters)
        return nodes + len(self._dirty_running) + len(self._dirty)

    def _touch(self, key: Key) -> None:
        self._dirty.add(key)

    def _touch_node(self, c: ClusterState, ip: str) -> None:
        c.dirty_nodes.add(ip)
        self._dirty_clusters.add(c)

    def apply(self, event: Event) -> None:
        # type(event) in each test (not held in a local) so that mypy narrows
        # `event`; the hub's drain sends StatusEvents to apply_status directly,
        # so the later tests run only for the rare events.
        if type(event) is StatusEvent:
            self.apply_status(event)
        elif type(event) is ClusterAttached:
            self._attach(event)
        elif type(event) is ClusterDetached:
            self._detach(event.cluster)
        elif type(event) is NodeChanged:
            self._node_changed(event)
        elif type(event) is SettingChanged:
            self._setting(event)
        elif type(event) is AuditAdded:
            self.audit_log.add(event)
            self._touch(AUDIT_KEY)
        elif type(event) is AuditUpdated:
            if self.audit_log.update(event.entry_id, event.state, event.message, event.only_if_pending):
                self._touch(AUDIT_KEY)
        elif type(event) is HealthCheck:
            self._check_health(event.now)
        elif type(event) is FleetChanged:
            self.fleet = event.fleet
            self._touch(FLEET_KEY)
        elif type(event) is BulkChanged:
            self.actions.put(event.action)
            self._touch(ACTIONS_KEY)
        elif type(event) is ResubmitLinked:
            pass  # for the jobs feature (features/jobs.py), which keeps the links
        else:
            raise TypeError(f"not a dispymon event: {event!r}")

    def _attach(self, ev: ClusterAttached) -> None:
        if ev.cluster in self.clusters:
            self._detach(ev.cluster)
        c = ClusterState(ev.cluster, ev.kind, program=ev.program)
        self.clusters[ev.cluster] = c
        for info, status in ev.nodes:
            c.nodes[info.ip_addr] = (info, node_status_name(status, None))
        for job in ev.running:
            self._job_started(c, job)
        queued = c.queued
        for job in ev.queued:
            if len(queued) >= MAX_QUEUED_TRACKED:
                break
            if job.uid not in c.running:
                queued[job.uid] = job
        # dispy does not count the jobs submitted before we attached; what it
        # knows of them is what its nodes have done and what it has pending
        # (queued + running), so a page shows Submitted = Done + Pending, and
        # Done = the nodes' jobs done added up. (Jobs cancelled or abandoned
        # before the attach are in neither: they are not counted.)
        c.earlier = max(ev.done, 0)
        c.submitted = c.earlier + max(ev.pending, len(c.running))
        if ev.counts is not None:  # a fleet program's snapshot: its counters as they are
            c.submitted, c.finished, c.failed, c.cancelled, c.terminated, c.abandoned, c.earlier = ev.counts
        self._touch(cluster_key(ev.cluster))

    def _detach(self, name: str) -> None:
        c = self.clusters.pop(name, None)
        if c is None:
            return
        self.audit_log.forget_cluster(name)
        for uid, job in list(c.running.items()):
            self._job_left(c, uid, job.ip_addr, remember=False)
        self.settle()
        for key in [k for k in self._changes if k.kind in (Kind.JOBS, Kind.NODE) and k.cluster == name]:
            del self._changes[key]
        self._touch(cluster_key(name))  # the tombstone tells views the cluster is gone

    def _job_started(self, c: ClusterState, job: JobInfo) -> None:
        previous = c.running.get(job.uid)
        if previous is not None and previous.ip_addr != job.ip_addr:  # rescheduled elsewhere
            self._job_left(c, job.uid, previous.ip_addr, remember=False)
        c.running[job.uid] = job
        ip = job.ip_addr or ""
        on_node = self.running_by_ip.get(ip)
        if on_node is None:
            on_node = self.running_by_ip[ip] = {}
        on_node[job.uid] = c
        self._dirty_running.add(ip)

    def _job_left(self, c: ClusterState, uid: int, ip: str | None, remember: bool = True) -> JobInfo | None:
        """The running job `uid` leaves (its JobInfo), or None when it was not running."""
        job = c.running.pop(uid, None)
        if job is None:
            return None
        ip = job.ip_addr or ip or ""
        on_node = self.running_by_ip.get(ip)
        if on_node is not None:
            on_node.pop(uid, None)
            if not on_node:
                del self.running_by_ip[ip]
        self._dirty_running.add(ip)
        if remember:
            done = self._done_new
            done.add(uid)
            if len(done) >= RECENTLY_DONE_LIMIT:
                self._done_old = done
                self._done_new = set()
        return job

    def apply_status(self, ev: StatusEvent) -> None:
        """`apply` for a StatusEvent: the hot path (every dispy event), which
        the hub calls directly. The checks run only where they can matter."""
        c = self.clusters.get(ev.cluster)
        if c is None:  # an event still in flight for a detached cluster
            return
        self._dirty_clusters.add(c)
        status = ev.status
        node = ev.node
        if node is not None:
            ip = node.ip_addr
            previous = c.nodes.get(ip)
            if status == NODE_CLOSED:
                name = CLOSED
            elif status == NODE_INITIALIZED or previous is None:
                name = INITIALIZED
                if previous is not None and previous[1] == CLOSED and self.audit_log.reopened(ev.cluster, node):
                    self._touch(AUDIT_KEY)
            else:
                name = previous[1]
            c.nodes[ip] = (node, name)
            if ev.job is not None:
                c.progressed.add(ip)
            elif status == NODE_AVAIL_INFO and node.avail_info is not None:
                c.avail_came.add(ip)
            c.dirty_nodes.add(ip)
            if (
                status == NODE_INITIALIZED
                and self.audit_log.watches
                and self.audit_log.node_initialised(ev.cluster, node)
            ):
                self._touch(AUDIT_KEY)
        job = ev.job
        if job is None:
            return
        if status == JOB_CREATED:
            c.submitted += 1  # cannot break submitted >= done + running
            queued = c.queued
            if len(queued) < MAX_QUEUED_TRACKED:
                queued[job.uid] = job
        else:
            if status == JOB_RUNNING:
                c.queued.pop(job.uid, None)
                self._job_started(c, job)
            elif status == JOB_FINISHED:
                c.finished += 1
            elif status == JOB_TERMINATED:
                # dispy reports a computation that raised as Terminated with the
                # exception attached; a job killed on request has none.
                if job.exception:
                    c.failed += 1
                else:
                    c.terminated += 1
            elif status == JOB_CANCELLED:
                c.cancelled += 1
            elif status == JOB_ABANDONED:
                c.abandoned += 1
            else:  # provisional results change no counter
                return
            if status != JOB_RUNNING:
                held = self._job_left(c, job.uid, job.ip_addr)
                if held is None:  # cancelled while queued, or never seen
                    held = c.queued.pop(job.uid, None)
                if held is not None:
                    if held.pinned is not None and job.pinned is None:
                        # dispy has dropped what tells a pinned job by its end (adapters/dispy/tap.py); rare
                        ev = ev._replace(job=job._replace(pinned=held.pinned))
                    if self.left is not None:
                        self.left.append(held)
                if self.ended is not None:
                    self.ended.append(ev)
            # Jobs submitted before we attached may finish after; keep the counters
            # consistent (submitted >= done + running) rather than negative queues.
            floor = c.earlier + c.finished + c.failed + c.cancelled + c.terminated + c.abandoned + len(c.running)
            if c.submitted < floor:
                c.submitted = floor
        c.jobs_dirty = True

    def _node_changed(self, ev: NodeChanged) -> None:
        c = self.clusters.get(ev.cluster)
        if c is None or ev.ip_addr not in c.nodes:
            return
        if ev.status is not None:
            if ev.status not in NODE_STATUSES:
                raise ValueError(f"unknown node status {ev.status!r}")
            info, _ = c.nodes[ev.ip_addr]
            c.nodes[ev.ip_addr] = (info, ev.status)
            self._touch_node(c, ev.ip_addr)
            if ev.status == CLOSED:
                self.audit_log.closed_by_command.add((ev.cluster, ev.ip_addr))
        if ev.cpus is not None:
            # dispy applies a node's CPUs to every cluster using that node (in
            # its own process: a fleet central's other programs keep theirs)
            for other in self.clusters.values():
                if other.program != c.program:
                    continue
                held = other.nodes.get(ev.ip_addr)
                if held is not None:
                    other.nodes[ev.ip_addr] = (held[0]._replace(cpus=ev.cpus), held[1])
                    self._touch_node(other, ev.ip_addr)

    def _check_health(self, now: float) -> None:
        stuck_after, stale_after = self.stuck_after, self.stale_after
        for c in self.clusters.values():
            health, progressed, avail_came = c.health, c.progressed, c.avail_came
            for ip, (info, status) in c.nodes.items():
                h = health.get(ip)
                if h is None:  # first seen: counts as progress now
                    h = health[ip] = NodeHealth(progress=now)
                # Idle nodes are never stuck. dispy's busy count can be wrong
                # (below zero after its short-job race): a node running jobs
                # of this cluster, as their events tell, is not idle either.
                idle = info.busy <= 0 and not self._runs_jobs_of(c, ip)
                if idle or ip in progressed:
                    h.progress = now
                if ip in avail_came:
                    h.avail = now
                live = status != CLOSED
                stuck = live and not idle and now - h.progress > stuck_after
                stale = live and h.avail is not None and now - h.avail > stale_after
                if stuck != h.stuck or stale != h.stale:
                    h.stuck, h.stale = stuck, stale
                    self._touch_node(c, ip)
            progressed.clear()
            avail_came.clear()

    def _runs_jobs_of(self, c: ClusterState, ip: str) -> bool:
        on_node = self.running_by_ip.get(ip)
        return on_node is not None and any(owner is c for owner in on_node.values())

    def _setting(self, ev: SettingChanged) -> None:
        expected = SETTINGS.get(ev.name)
        if expected is None or not isinstance(ev.value, expected):
            raise ValueError(f"bad setting {ev.name}={ev.value!r}")
        if self.settings[ev.name] != ev.value:
            self.settings[ev.name] = ev.value
            self._touch(SETTINGS_KEY)

    # -- audit log (model/audit.py) -----------------------------------------

    def new_audit_id(self) -> int:
        """An id for a new audit entry (the commands' and the state's own share one sequence)."""
        return self.audit_log.new_id()

    # -- reading -------------------------------------------------------------

    def node_jobs_changed(self, ip: str, version: int) -> bool:
        """Whether the set of jobs running on node `ip` changed after `version`."""
        if self._version <= version:
            return False
        key = self._running_keys.get(ip)
        return key is not None and self._changes.get(key, 0) > version

    def running_job(self, uid: int) -> tuple[str, JobInfo] | None:
        for c in self.clusters.values():  # a handful of clusters
            job = c.running.get(uid)
            if job is not None:
                return c.name, job
        return None

    def recently_done(self, uid: int) -> bool:
        return uid in self._done_new or uid in self._done_old

    def node_status(self, cluster: str, ip: str) -> str | None:
        held = self.clusters[cluster].nodes.get(ip) if cluster in self.clusters else None
        return held[1] if held else None

    # -- snapshot and deltas (built in changelog.Deltas, memoised per version) --

    def snapshot(self) -> tuple[dict[str, Any], int]:
        return self.deltas.snapshot()

    def changes_since(self, version: int) -> Changes:
        return self.deltas.changes_since(version)
