"""A simulated dispy cluster: the dispy adapter's events, at any scale.

A second adapter (see the design brief): it feeds the hub the same
`events.py` tuples the dispy adapter produces — a `ClusterAttached` with the
nodes and the jobs already running, then `StatusEvent`s (job created,
running, finished or failed, node avail info) — from its own thread, at a
chosen number of events per second, so everything after the adapter runs the
code it runs for a real cluster. It serves the benchmarks and
`dispymon demo --simulate N`; it is not used to prove that dispy features work.

It also answers the command channel (`control.ClusterControl`) by changing
its own nodes, so terminating jobs and managing nodes work on it too. As with
dispy 4.15.2, setting CPUs, deallocating, allocating and closing a node emit
no status event (the command channel shows their effect); terminating a job
emits `Terminated`, adding a node emits `Initialized`; `submit` (a
resubmission) queues a job with the given arguments and emits `Created`.

The model: every node offers `cpus` slots; a fraction `fill` of all slots is
busy. Each job is three events (Created, then Running on a node with a free
slot, then Finished — or Terminated with an exception, one job in
`1 / fail_rate`), and a share `avail_share` of the events are a node's avail
info. Simulated time advances 1/rate per event, job durations are drawn so
the busy slots stay near `fill`, and a freed slot goes to the back of the
queue of free slots, so work moves across all the nodes. Addresses such as
10.0.3.17 are labels: nothing connects to them.

Jobs carry what the dispy adapter's carry: a key (model/jobkeys.py),
`created`, `pinned` (one job in PINNED_EVERY is submitted to a node; it runs
there when that node has a free slot, elsewhere otherwise: the simulator's
queue is first come, first served), and, when they end, a JobEnd: outputs
of `stdout_bytes`/`stderr_bytes` (the tail of one shared text per cluster,
sliced per job as the dispy adapter slices a real job's output), the
traceback of a failed job and, with `result`, a result. `args_bytes` adds
an argument of that size (a slice of the same text) to each job.
"""

from __future__ import annotations

import collections
import heapq
import ipaddress
import itertools
import pickle
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from dispymon.adapters.rules import closed_stays_closed
from dispymon.commands.control import ControlRefused
from dispymon.model.events import (
    JOB_CANCELLED,
    JOB_CREATED,
    JOB_FINISHED,
    JOB_RUNNING,
    JOB_TERMINATED,
    NODE_AVAIL_INFO,
    NODE_INITIALIZED,
    AvailInfo,
    ClusterAttached,
    Event,
    JobEnd,
    JobInfo,
    NodeChanged,
    NodeInfo,
    StatusEvent,
)
from dispymon.model.jobkeys import JobKeys
from dispymon.transport.protocol import OUTPUT_TAIL

Feed = Callable[[Event], None]

# One uid sequence for every simulated cluster of the process (dispy's uids,
# id(job), are unique across its clusters too; the state relies on it).
_uids = itertools.count(1)

INITIALIZED, DEALLOCATED, CLOSED = "initialized", "deallocated", "closed"
GIB = 1 << 30
QUEUE_LIMIT = 1000  # jobs created but not yet running, when no slot is free (the `queue` option's default)
MAX_BATCH = 2000  # events emitted per lock hold by the thread when it catches up
PINNED_EVERY = 50  # one job in this many is submitted to a node (dispy's submit_node)
FAILURE = "RuntimeError: simulated failure"
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "simulated.py", line 1, in compute\n'
    "    raise RuntimeError('simulated failure')\n" + FAILURE + "\n"
)
RESULTS = ("int", "big", "hanging_repr")


class HangingRepr:
    """A result whose repr() takes `seconds` (the guard's cut-off is tested with it)."""

    def __init__(self, seconds: float = 5.0) -> None:
        self.seconds = seconds

    def __repr__(self) -> str:
        time.sleep(self.seconds)
        return "HangingRepr()"


def shared_text(size: int) -> str:
    """One text of numbered lines, at least `size` + 64 characters: every job's output or argument is a slice of it."""
    line = "simulated output line {:08d}\n"
    count = (size + 64) // 30 + 1
    return "".join(line.format(i) for i in range(count))


def node_address(i: int) -> str:
    """The i-th simulated node's address (a label): 10.0.0.1, 10.0.0.2, …"""
    block, host = divmod(i, 250)
    return f"10.{block // 256}.{block % 256}.{host + 1}"


class SimNode:
    __slots__ = (
        "ip",
        "name",
        "cpus",
        "avail_cpus",
        "busy",
        "jobs_done",
        "cpu_time",
        "tx",
        "rx",
        "update_time",
        "avail",
        "status",
        "running",
    )

    def __init__(self, ip: str, name: str, cpus: int, now: float) -> None:
        self.ip, self.name, self.cpus, self.avail_cpus = ip, name, cpus, cpus
        self.busy = self.jobs_done = self.tx = self.rx = 0
        self.cpu_time = 0.0
        self.update_time = now
        self.avail: AvailInfo | None = None
        self.status = INITIALIZED
        self.running: set[int] = set()  # uids

    def info(self) -> NodeInfo:
        return NodeInfo(
            self.ip,
            self.name,
            self.cpus,
            self.avail_cpus,
            self.busy,
            self.jobs_done,
            self.cpu_time,
            self.tx,
            self.rx,
            self.update_time,
            self.avail,
        )

    def usable(self) -> bool:
        return self.status == INITIALIZED and self.busy < self.cpus


class SimJob:
    __slots__ = ("uid", "n", "ip", "start", "duration", "args", "kwargs", "start_time", "key", "created", "pinned")

    def __init__(
        self,
        uid: int,
        n: int,
        duration: float,
        key: int = 0,
        created: float | None = None,
        pinned: str | None = None,
        args: tuple | None = None,
        kwargs: dict | None = None,
    ) -> None:
        self.uid, self.n, self.duration = uid, n, duration
        self.ip: str | None = None
        self.start = 0.0  # simulated time
        self.start_time: float | None = None  # wall clock, as dispy reports it
        self.key, self.created, self.pinned = key, created, pinned
        self.args = (n, round(duration, 3)) if args is None else args
        self.kwargs = {"seed": n % 97} if kwargs is None else kwargs

    def info(self) -> JobInfo:
        """A queued or running job (the uid doubles as the handle commands pass back to cancel())."""
        return JobInfo(
            self.uid,
            self.n,
            self.ip,
            self.start_time,
            None,
            self.args,
            self.kwargs,
            None,
            self.uid,
            self.key,
            self.created,
            self.pinned,
        )

    def ended(self, end_time: float, exception: str | None = None, extra: JobEnd | None = None) -> JobInfo:
        """The job as it ends: as the dispy adapter's, no arguments and no handle (model/events.py)."""
        return JobInfo(
            self.uid,
            self.n,
            self.ip,
            self.start_time,
            end_time,
            (),
            _NO_KWARGS,
            exception,
            None,
            self.key,
            self.created,
            self.pinned,
            False,
            extra,
        )


_NO_KWARGS: dict = {}


AVAIL_SHARE = 0.1  # of the events: a node's avail info


class SimulatedCluster:
    """`nodes` simulated nodes of `cpus` CPUs each (or one count per node).

    `rate` is events per second for the thread (`start()`); `emit(n)` produces
    n events at once, for benchmarks and tests that do not want to wait.
    """

    AVAIL_SHARE = AVAIL_SHARE

    def __init__(
        self,
        feed: Feed,
        nodes: int = 100,
        cpus: int | Sequence[int] = 8,
        *,
        name: str = "simulated",
        rate: float = 1000.0,
        fill: float = 0.75,
        avail_share: float = AVAIL_SHARE,
        fail_rate: float = 0.05,
        seed: int | None = 0,
        clock: Callable[[], float] = time.time,
        keys: JobKeys | None = None,
        queue: int = QUEUE_LIMIT,
        stdout_bytes: int = 0,
        stderr_bytes: int = 0,
        args_bytes: int = 0,
        result: str | None = None,
    ) -> None:
        """`keys`: the jobs' keys (shared with the runtime; its own if not given); `queue`: jobs
        created and not running at most; `stdout_bytes`/`stderr_bytes`: each job's output
        (0: none); `args_bytes`: an extra argument of that size; `result`: what each finished
        job returns, "int" (its number), "big" (one shared list of 100,000 ints) or
        "hanging_repr" (one shared object whose repr takes 5 s); None: no result."""
        if nodes < 0 or not 0.0 <= fill <= 1.0 or not 0.0 <= avail_share < 1.0 or rate < 0:
            raise ValueError("nodes >= 0, 0 <= fill <= 1, 0 <= avail_share < 1 and rate >= 0")
        if queue < 1 or min(stdout_bytes, stderr_bytes, args_bytes) < 0:
            raise ValueError("queue >= 1 and byte counts >= 0")
        if result is not None and result not in RESULTS:
            raise ValueError(f"result: one of {', '.join(RESULTS)}")
        counts = [cpus] * nodes if isinstance(cpus, int) else list(cpus)
        if len(counts) != nodes or any(c < 1 for c in counts):
            raise ValueError("one CPU count of at least 1 per node")
        self.feed = feed
        self.name = name
        self.rate = float(rate)
        self.fill = fill
        self.avail_share = avail_share
        self.fail_rate = fail_rate
        self.default_cpus = counts[0] if counts else 8
        self.keys = keys if keys is not None else JobKeys()
        self.queue_limit = queue
        self.stdout_bytes, self.stderr_bytes, self.args_bytes = stdout_bytes, stderr_bytes, args_bytes
        # one text for every output and argument (a slice per job); an output's tail is at most OUTPUT_TAIL
        longest = max(min(stdout_bytes, OUTPUT_TAIL), min(stderr_bytes, OUTPUT_TAIL), args_bytes)
        self._text = shared_text(longest) if longest else ""
        self._result: Any = (
            None if result in (None, "int") else list(range(100_000)) if result == "big" else HangingRepr()
        )
        self._result_kind = result
        self._rng = random.Random(seed)
        self._clock = clock
        self._lock = threading.Lock()  # the thread, commands and emit() take turns
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = clock()
        self.vt = 0.0  # simulated seconds since the start
        self.events = 0  # events emitted
        self.jobs_created = 0
        self.jobs_done = 0
        self._job_n = itertools.count(1)
        self.nodes: dict[str, SimNode] = {}
        self._ips: list[str] = []  # in order, for pinning
        for i, count in enumerate(counts):
            ip = node_address(i)
            self.nodes[ip] = node = SimNode(ip, f"sim-{i + 1}", count, self._t0)
            node.avail = self._avail_of(node)
            self._ips.append(ip)
        self._jobs: dict[int, SimJob] = {}  # running, by uid
        self._ends: list[tuple[float, int]] = []  # (simulated end, uid), a heap; stale entries skipped
        self._queue: collections.deque[SimJob] = collections.deque()  # created, not running
        self._free: collections.deque[str] = collections.deque()  # one entry per free slot (lazily checked)
        self._avail_cycle: collections.deque[str] = collections.deque(self.nodes)
        self._avail_credit = 0.0
        self._slots = 0
        self._target = 0
        self._mean_duration = 1.0
        self._recount()
        self._seed_running()

    # -- the model -------------------------------------------------------------

    @property
    def running(self) -> int:
        return len(self._jobs)

    def _recount(self) -> None:
        """Slots, busy-slot target and job duration, after the nodes changed."""
        self._slots = sum(n.cpus for n in self.nodes.values() if n.status == INITIALIZED)
        self._target = round(self.fill * self._slots)
        # busy slots / jobs ending per simulated second
        jobs_per_sec = max(self.rate, 1.0) * (1.0 - self.avail_share) / 3.0
        self._mean_duration = max(self._target, 1) / jobs_per_sec

    def _now(self) -> float:
        return self._t0 + self.vt

    def _avail_of(self, node: SimNode) -> AvailInfo:
        rng = self._rng
        free = 100.0 * (1.0 - node.busy / node.cpus) if node.cpus else 100.0
        return AvailInfo(
            round(max(0.0, min(100.0, free + rng.uniform(-3, 3))), 1),
            int(rng.uniform(2, 60) * GIB),
            int(rng.uniform(20, 900) * GIB),
            round(rng.uniform(80, 100), 1),
        )

    def _new_job(self, created: float | None = None, args: tuple | None = None, kwargs: dict | None = None,
                 pinned: str | None = None, pin: bool = True) -> SimJob:  # fmt: skip
        """A new job, given its key; `pin`: one in PINNED_EVERY is pinned to a node."""
        mean = self._mean_duration
        uid, n = next(_uids), next(self._job_n)
        if created is None:
            created = self._now()
        if pin and pinned is None and n % PINNED_EVERY == 0 and self._ips:
            pinned = self._ips[(n // PINNED_EVERY) % len(self._ips)]
        if args is None and self.args_bytes:
            off = n % 64
            args = (n, self._text[off : off + self.args_bytes])
        key = self.keys.key(uid, created, self.name)
        return SimJob(uid, n, self._rng.uniform(0.5, 1.5) * mean, key, created, pinned, args, kwargs)

    def _outputs(self, job: SimJob, failed: bool) -> JobEnd | None:
        """The JobEnd of a job that ends: tails of the shared text, the traceback, the result."""
        out, err = self.stdout_bytes, self.stderr_bytes
        result = None
        if not failed and self._result_kind is not None:
            result = job.n if self._result_kind == "int" else self._result
        if not (out or err or failed or result is not None):
            return None
        text, off = self._text, job.n % 64
        end = JobEnd(
            text[off : off + min(out, OUTPUT_TAIL)].encode() if out else None,
            out,
            text[off : off + min(err, OUTPUT_TAIL)].encode() if err else None,
            err,
            TRACEBACK if failed else None,
            len(TRACEBACK) if failed else 0,
            result,
        )
        end.stdout_kind = "str" if out else None
        end.stderr_kind = "str" if err else None
        return end

    def _seed_running(self) -> None:
        """Fill `fill` of the slots, interleaving nodes, with jobs at random points of their run."""
        target = self._target
        nodes = list(self.nodes.values())
        started = 0
        for depth in range(max((n.cpus for n in nodes), default=0)):
            for node in nodes:
                if depth >= node.cpus:
                    continue
                if started < target:
                    job = self._new_job(pin=False)
                    self._place(job, node, start=-self._rng.uniform(0, job.duration))
                    self.jobs_created += 1
                    started += 1
                else:
                    self._free.append(node.ip)
        for node in nodes:
            node.avail = self._avail_of(node)

    def _place(self, job: SimJob, node: SimNode, start: float) -> None:
        job.ip, job.start = node.ip, start
        job.start_time = self._t0 + start
        node.busy += 1
        node.running.add(job.uid)
        self._jobs[job.uid] = job
        heapq.heappush(self._ends, (start + job.duration, job.uid))

    def _free_node(self) -> SimNode | None:
        free, nodes = self._free, self.nodes
        while free:
            node = nodes.get(free.popleft())
            if node is not None and node.usable():
                return node
        return None

    def _release(self, job: SimJob, node: SimNode | None) -> None:
        del self._jobs[job.uid]
        if node is not None:
            node.busy -= 1
            node.running.discard(job.uid)
            if node.status == INITIALIZED:
                self._free.append(node.ip)

    def _finish_next(self) -> Event | None:
        ends, jobs = self._ends, self._jobs
        while ends:
            _, uid = heapq.heappop(ends)
            job = jobs.get(uid)
            if job is not None:
                break
        else:
            return None
        node = self.nodes.get(job.ip or "")
        now = self._now()
        self._release(job, node)
        self.jobs_done += 1
        failed = self.fail_rate > 0 and self._rng.random() < self.fail_rate
        if node is not None:
            node.jobs_done += 1
            node.cpu_time += min(job.duration, self.vt - job.start)
            node.update_time = now
            node.rx += 600
        return StatusEvent(
            self.name,
            JOB_TERMINATED if failed else JOB_FINISHED,
            node.info() if node is not None else None,
            self._ended(job, now, FAILURE if failed else None, self._outputs(job, failed)),
        )

    def _ended(self, job: SimJob, now: float, exception: str | None = None, extra: JobEnd | None = None) -> JobInfo:
        self.keys.end(job.uid, job.created, self.name)  # its key goes to the recent ones, as the dispy adapter's
        return job.ended(now, exception, extra)

    def _create(self) -> Event:
        job = self._new_job()
        self._queue.append(job)
        self.jobs_created += 1
        return StatusEvent(self.name, JOB_CREATED, None, job.info())

    def _start(self, node: SimNode) -> Event:
        job = self._queue.popleft()
        if job.pinned is not None and job.pinned != node.ip:
            # a pinned job runs on its node when that has a free slot (the slot
            # taken for it goes back to the front); otherwise here
            pinned = self.nodes.get(job.pinned)
            if pinned is not None and pinned.usable():
                self._free.appendleft(node.ip)
                node = pinned
        self._place(job, node, self.vt)
        node.update_time = self._now()
        node.tx += 1200
        return StatusEvent(self.name, JOB_RUNNING, node.info(), job.info())

    def _avail(self) -> Event | None:
        cycle = self._avail_cycle
        for _ in range(len(cycle)):
            node = self.nodes.get(cycle[0])
            cycle.rotate(-1)
            if node is not None and node.status != CLOSED:
                node.avail = self._avail_of(node)
                node.update_time = self._now()
                return StatusEvent(self.name, NODE_AVAIL_INFO, node.info(), None)
        return None

    def _unit(self) -> list[Event]:
        """The next few events: maybe an avail info, a job ending, a job created, a job starting."""
        out: list[Event] = []
        self._avail_credit += self.avail_share / (1.0 - self.avail_share) * 3.0
        if self._avail_credit >= 1.0:
            self._avail_credit -= 1.0
            event = self._avail()
            if event is not None:
                out.append(event)
        ends = self._ends
        if ends and (ends[0][0] <= self.vt or len(self._jobs) >= self._target):
            event = self._finish_next()
            if event is not None:
                out.append(event)
        if len(self._queue) < self.queue_limit:
            out.append(self._create())
        if self._queue:
            node = self._free_node()
            if node is not None:
                out.append(self._start(node))
        return out

    def emit(self, count: int) -> int:
        """Produce `count` events now (fewer if the cluster has nothing left to do); returns how many."""
        feed = self.feed
        done = 0
        step = 1.0 / self.rate if self.rate > 0 else 0.001
        with self._lock:
            pending: collections.deque[Event] = collections.deque()
            while done < count:
                if not pending:
                    pending.extend(self._unit())
                    if not pending:
                        break
                feed(pending.popleft())
                self.vt += step
                done += 1
            # a unit is atomic (a finished job's slot is taken by the next one):
            # finish it rather than leave the model half-way
            while pending:
                feed(pending.popleft())
                self.vt += step
                done += 1
            self.events += done
        return done

    def attached_event(self) -> ClusterAttached:
        with self._lock:
            nodes = tuple((n.info(), NODE_INITIALIZED) for n in self.nodes.values())
            running = tuple(job.info() for job in self._jobs.values())
            queued = tuple(job.info() for job in self._queue)
            return ClusterAttached(self.name, "JobCluster", nodes, running, len(running) + len(queued), 0, queued)

    # -- the thread ------------------------------------------------------------

    def attach(self) -> None:
        """Announce the cluster (its nodes and running jobs) to the feed."""
        self.feed(self.attached_event())

    def start(self) -> SimulatedCluster:
        """Attach, then emit `rate` events per second from a daemon thread until stop()."""
        self.attach()
        if self.rate > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"simulated-{self.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        tick = min(0.01, max(0.001, 20.0 / self.rate))
        t0 = time.monotonic()
        emitted = 0
        while not self._stop.is_set():
            due = int((time.monotonic() - t0) * self.rate) - emitted
            if due <= 0:
                self._stop.wait(tick)
                continue
            if due > self.rate:  # more than a second behind: drop the debt, keep the rate
                t0 = time.monotonic()
                emitted = 0
                due = 1
            n = self.emit(min(due, MAX_BATCH))
            emitted += n or due  # an idle cluster does not build up a debt of events

    # -- ClusterControl --------------------------------------------------------

    def _check(self, cluster: str) -> None:
        if cluster != self.name:
            raise LookupError(f"no cluster {cluster!r}")

    def cancel(self, cluster: str, handle: Any) -> int:
        self._check(cluster)
        with self._lock:
            job = self._jobs.get(handle)
            if job is None:
                queued = next((j for j in self._queue if j.uid == handle), None)
                if queued is None:
                    return -1
                self._queue.remove(queued)
                self.jobs_done += 1
                self.feed(StatusEvent(self.name, JOB_CANCELLED, None, self._ended(queued, self._now())))
                return 0
            node = self.nodes.get(job.ip or "")
            self._release(job, node)
            self.jobs_done += 1
            if node is not None:
                node.update_time = self._now()
            ended = self._ended(job, self._now())
            self.feed(StatusEvent(self.name, JOB_TERMINATED, node.info() if node else None, ended))
            return 0

    def submit(self, cluster: str, payload: bytes, node: str | None) -> int:
        """Queue a job with the pickled (args, kwargs) of `payload` (its node: `node`), as dispy's submit.

        Unpickled on the caller's thread (a worker: never the loop). Refused
        as dispy would: `node` not in the cluster ("cluster_error"); a full
        queue too (`queue`: the simulator's bound)."""
        self._check(cluster)
        args, kwargs = pickle.loads(payload)  # the jobs feature's own pickle (features/jobs.py)
        with self._lock:
            if node and node not in self.nodes:
                raise ControlRefused("cluster_error", f"node {node} is not in the cluster")
            if len(self._queue) >= self.queue_limit:
                raise ControlRefused("cluster_error", f"the simulated queue is full ({self.queue_limit} jobs)")
            job = self._new_job(args=tuple(args), kwargs=dict(kwargs), pinned=node or None, pin=False)
            self._queue.append(job)
            self.jobs_created += 1
            self.feed(StatusEvent(self.name, JOB_CREATED, None, job.info()))
            return job.key

    def resolve(self, host: str) -> str | None:
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            with self._lock:
                return next((n.ip for n in self.nodes.values() if n.name == host), None)

    def add_node(self, cluster: str, host: str, cpus: int) -> int:
        """A new address joins at once (like a dispynode that answers); wildcards match no new node."""
        self._check(cluster)
        if "*" in host:
            return 0
        try:
            ip = str(ipaddress.ip_address(host))
        except ValueError:
            return -1
        with self._lock:
            node = self.nodes.get(ip)
            if node is not None and node.status != CLOSED:
                return 0
            count = cpus if cpus > 0 else self.default_cpus
            self.nodes[ip] = node = SimNode(ip, f"sim-{ip}", count, self._now())
            node.avail = self._avail_of(node)
            self._avail_cycle.append(ip)
            self._free.extend([ip] * count)
            self._recount()
            self.feed(StatusEvent(self.name, NODE_INITIALIZED, node.info(), None))
            return 0

    def set_node_cpus(self, cluster: str, ip: str, cpus: int) -> int:
        self._check(cluster)
        with self._lock:
            node = self.nodes.get(ip)
            if node is None or node.status == CLOSED:
                return -1
            wanted = node.avail_cpus if cpus <= 0 else min(cpus, node.avail_cpus)
            if wanted > node.cpus and node.status == INITIALIZED:
                self._free.extend([ip] * (wanted - max(node.cpus, node.busy)))
            node.cpus = wanted
            self._recount()
            return wanted

    def allocate_node(self, cluster: str, ip: str) -> int:
        self._check(cluster)
        with self._lock:
            node = self.nodes.get(ip)
            if node is None:
                return -1
            if node.status != INITIALIZED:
                node.status = INITIALIZED
                self._free.extend([ip] * max(node.cpus - node.busy, 0))
                self._recount()
            return 0

    def deallocate_node(self, cluster: str, ip: str) -> int:
        self._check(cluster)
        with self._lock:
            node = self.nodes.get(ip)
            if node is None:
                return -1
            if node.status == INITIALIZED:
                node.status = DEALLOCATED
                self._recount()
            return 0

    def close_node(self, cluster: str, ip: str, terminate_pending: bool) -> int:
        self._check(cluster)
        with self._lock:
            node = self.nodes.get(ip)
            if node is None:
                return -1
            node.status = CLOSED
            self._recount()
            if terminate_pending:
                for uid in list(node.running):
                    job = self._jobs[uid]
                    self._release(job, node)
                    self.jobs_done += 1
                    self.feed(StatusEvent(self.name, JOB_TERMINATED, node.info(), self._ended(job, self._now())))
            return 0


class SimulatedControl:
    """The command channel's access to several simulated clusters, by name."""

    def __init__(self, clusters: Iterable[SimulatedCluster]) -> None:
        self._clusters = {c.name: c for c in clusters}

    def _cluster(self, name: str) -> SimulatedCluster:
        cluster = self._clusters.get(name)
        if cluster is None:
            raise LookupError(f"no cluster {name!r}")
        return cluster

    def cancel(self, cluster: str, handle: Any) -> int:
        return self._cluster(cluster).cancel(cluster, handle)

    def submit(self, cluster: str, payload: bytes, node: str | None) -> int:
        return self._cluster(cluster).submit(cluster, payload, node)

    def resolve(self, host: str) -> str | None:
        for c in self._clusters.values():
            ip = c.resolve(host)
            if ip is not None:
                return ip
        return None

    def check_node_action(self, action: str, ip: str, statuses: Mapping[str, str | None]) -> None:
        closed_stays_closed(action, ip, statuses)  # as dispy's adapter: the simulator stands in for dispy (rules.py)

    def add_node(self, cluster: str, host: str, cpus: int) -> int:
        return self._cluster(cluster).add_node(cluster, host, cpus)

    # as the dispy adapter: a change that succeeded is reported (commands/control.py)

    def set_node_cpus(self, cluster: str, ip: str, cpus: int) -> int:
        sim = self._cluster(cluster)
        got = sim.set_node_cpus(cluster, ip, cpus)
        if got >= 0:
            sim.feed(NodeChanged(cluster, ip, cpus=got))
        return got

    def allocate_node(self, cluster: str, ip: str) -> int:
        return self._report(cluster, ip, self._cluster(cluster).allocate_node(cluster, ip), INITIALIZED)

    def deallocate_node(self, cluster: str, ip: str) -> int:
        return self._report(cluster, ip, self._cluster(cluster).deallocate_node(cluster, ip), DEALLOCATED)

    def close_node(self, cluster: str, ip: str, terminate_pending: bool) -> int:
        return self._report(cluster, ip, self._cluster(cluster).close_node(cluster, ip, terminate_pending), CLOSED)

    def _report(self, cluster: str, ip: str, code: int, status: str) -> int:
        if code >= 0:
            self._cluster(cluster).feed(NodeChanged(cluster, ip, status=status))
        return code
