"""The central's side of the fleet: every program's stream into one hub; commands back to their owners.

`FleetSource` is a runtime source (`Runtime(settings, loop, source=...)`):
called with the hub and the jobs' keys, it returns the command channel
(`FleetControl`), and the runtime starts and stops it with the server. Its
tasks discover programs (the `dispymon:programs` hash), read their streams
from the last entry applied (one `XREAD BLOCK` for all), resync from
snapshots (docs/fleet.md: resume and resync rules), read the replies to
commands, and keep the page's fleet record (FleetChanged): the broker's
reachability, each program online or offline since when, and its resyncs.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import itertools
import logging
import secrets
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dispymon.adapters.rules import closed_stays_closed
from dispymon.commands.control import ControlRefused
from dispymon.fleet import broker as brk
from dispymon.fleet.broker import Broker
from dispymon.fleet.publisher import _close
from dispymon.fleet.wire import Translator, WireError
from dispymon.model.events import AuditAdded, AuditUpdated, Event, FleetChanged
from dispymon.model.jobkeys import JobKeys
from dispymon.runtime.hub import Hub
from dispymon.transport.fleetcodec import FleetCodecError, pack, unpack

log = logging.getLogger(__name__)

# Entries per read, shared by the streams read (at least one each): a reply's size must
# not grow with the number of programs. Asking 1,000 per stream, a central behind 50
# programs got replies of tens of MB, whose reading outlasted redis-py's socket timeout
# (5 s) on a loaded machine; it asked again for the same and never caught up
# (benchmarks/b_fleet.py, tests/test_fleet_read_bounded.py).
READ_ENTRIES = 200
READ_BLOCK_MS = 1000
RETRY_AFTER = 1.0
SNAPSHOT_ASK_EVERY = 5.0  # seconds between a central's requests for one program's snapshot
PENDING_MAX = 1000  # commands waiting for a reply at once
REPLIES_TTL = 3600  # seconds the reply stream outlives a central that vanished
AUDIT_KEPT = 1000  # MAXLEN ~ of the shared audit stream
AUDIT_BACKLOG = 1000  # this central's audit changes waiting to be shared
AUDIT_MAPPED = 10_000  # other replicas' entries whose local ids are remembered


@dataclass
class Follower:
    """What the central knows of one program's stream."""

    program: str
    translator: Translator
    last_id: str | None = None  # the last entry applied (None: start from the snapshot key)
    epoch: str | None = None
    n: int = 0
    waiting: bool = False  # skipping batches until a snapshot comes
    asked: float = float("-inf")  # when a snapshot was last asked for (monotonic)
    beat: Any = None
    beat_epoch: Any = None
    beat_seen: float = field(default_factory=time.monotonic)  # when `beat` last changed (monotonic)
    last_seen: float = 0.0  # the program's heartbeat time (its clock)
    online: bool = True
    offline_since: float | None = None  # wall clock (this central's)
    host: str = ""
    pid: int = 0
    stopped: bool = False
    dropped: int = 0
    resyncs: int = 0
    resynced: float | None = None  # when last resynced from a snapshot (wall clock)
    bad: int = 0  # entries that did not decode


class FleetSource:
    """The central: a runtime source reading every program through one broker."""

    def __init__(
        self,
        broker: Broker,
        *,
        offline_after: float = 10.0,
        forget_after: float = 86_400.0,
        heartbeat: float = 1.0,
        command_timeout: float = 10.0,
    ) -> None:
        self.broker = broker
        self.offline_after = offline_after
        self.forget_after = forget_after
        self.heartbeat = heartbeat
        self.command_timeout = command_timeout
        self.central_id = secrets.token_hex(8)
        self.replies = brk.replies_key(self.central_id)
        self.hub: Hub | None = None
        self.keys: JobKeys | None = None
        self.followers: dict[str, Follower] = {}
        self.reachable: bool | None = None
        self._reachable_since = time.time()
        self._client: Any = None
        self._reader: Any = None  # its own connection for the blocking reads
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._cids = itertools.count(1)
        self._record: dict[str, Any] | None = None
        self._wake = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.late_replies = 0
        self._failures: collections.Counter[str] = collections.Counter()
        # the shared audit log: this central's changes to share, and the other
        # replicas' entries mirrored here ((replica, its id) -> the local id)
        self._audit_out: collections.deque[Event] = collections.deque(maxlen=AUDIT_BACKLOG)
        self._audit_ids: collections.OrderedDict[tuple[str, int], int] = collections.OrderedDict()
        self._mirrored: set[int] = set()

    def __call__(self, hub: Hub, keys: JobKeys) -> FleetControl:
        self.hub, self.keys, self.loop = hub, keys, hub.loop
        hub.tee = self._tee  # a central has no publisher: the tee takes its audit changes (O(1) per event)
        return FleetControl(self)

    def _tee(self, event: Event) -> None:
        kind = type(event)
        if (kind is AuditAdded or kind is AuditUpdated) and event.entry_id not in self._mirrored:  # type: ignore[union-attr]
            self._audit_out.append(event)

    # -- life ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the broker (BrokerError, one line), then read in the background."""
        await brk.check(self.broker)
        self._client = self.broker.client()
        self._reader = self.broker.client()
        self._set_reachable(True)
        self._tasks = [
            asyncio.create_task(self._discover_loop(), name="fleet-discover"),
            asyncio.create_task(self._read_loop(), name="fleet-read"),
            asyncio.create_task(self._reply_loop(), name="fleet-replies"),
            asyncio.create_task(self._audit_loop(), name="fleet-audit"),
        ]

    async def stop(self) -> None:
        await brk.stop_tasks(self._tasks)
        self._tasks = []
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ControlRefused("timeout", "the central stopped; the outcome is unknown"))
        self._pending.clear()
        for client in (self._client, self._reader):
            if client is not None:
                try:
                    await asyncio.wait_for(client.delete(self.replies), 2.0) if client is self._client else None
                except Exception:
                    pass
                await _close(client)
        self._client = self._reader = None

    def _feed(self, events: Iterable[Event]) -> None:
        assert self.hub is not None
        for event in events:
            self.hub.feed(event)

    # -- the page's fleet record --------------------------------------------------------

    def _set_reachable(self, reachable: bool, exc: BaseException | None = None) -> None:
        if reachable != self.reachable:
            self.reachable = reachable
            self._reachable_since = time.time()
            if not reachable and exc is not None:
                log.warning("dispymon fleet: %s", brk.describe(self.broker, exc))
            elif reachable:
                log.info("dispymon fleet: the broker %s answers", self.broker.shown)
        self._report()

    def _report(self) -> None:
        programs = {}
        for name, f in sorted(self.followers.items()):
            programs[name] = {
                "online": f.online,
                "last_seen": f.last_seen,
                "offline_since": f.offline_since,
                "stopped": f.stopped,
                "host": f.host,
                "pid": f.pid,
                "dropped": f.dropped,
                "resyncs": f.resyncs,
                "resynced": f.resynced,
                "clusters": sorted(f.translator.clusters),
            }
        record = {
            "role": "central",
            "broker": self.broker.shown,
            "reachable": bool(self.reachable),
            "since": self._reachable_since,
            "programs": programs,
        }
        if record != self._record and self.hub is not None:
            self._record = record
            self.hub.feed(FleetChanged(record))

    # -- discovery and liveness ---------------------------------------------------------

    async def _discover_loop(self) -> None:
        while True:
            try:
                beats = await self._client.hgetall(brk.PROGRAMS)
                self._set_reachable(True)
                self._discover(beats)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if brk.cancelled():
                    raise asyncio.CancelledError from exc
                if _is_redis_failure(exc):
                    self._set_reachable(False, exc)
                else:
                    self._count_failure("discovering programs", exc)
            await self._forget_old()
            self._report()
            await asyncio.sleep(self.heartbeat)

    def _discover(self, beats: Mapping[bytes, bytes]) -> None:
        now, wall = time.monotonic(), time.time()
        assert self.keys is not None
        for raw_name, raw_beat in beats.items():
            name = _text(raw_name)
            try:
                beat = unpack(raw_beat)
                brk.check_program(name)
            except (FleetCodecError, brk.BrokerError) as exc:
                self._count_failure(f"a bad heartbeat of {name[:64]!r}", exc)
                continue
            f = self.followers.get(name)
            if f is None:
                f = self.followers[name] = Follower(name, Translator(name, self.keys))
                f.beat_seen = now if wall - float(beat.get("time", 0)) < self.offline_after else float("-inf")
                self._wake.set()
            elif beat.get("beat") != f.beat or beat.get("epoch") != f.beat_epoch:
                f.beat_seen = now
            f.beat, f.beat_epoch = beat.get("beat"), beat.get("epoch")
            f.last_seen = float(beat.get("time", 0))
            f.host, f.pid = str(beat.get("host", "")), int(beat.get("pid", 0))
            f.stopped = bool(beat.get("stopped"))
            f.dropped = int(beat.get("dropped", 0))
            online = not f.stopped and now - f.beat_seen <= self.offline_after
            if online != f.online:
                f.online = online
                f.offline_since = None if online else wall
            elif not online and f.offline_since is None:
                f.offline_since = wall

    async def _forget_old(self) -> None:
        wall = time.time()
        for name, f in list(self.followers.items()):
            if not f.online and f.offline_since is not None and wall - f.offline_since > self.forget_after:
                del self.followers[name]
                self._feed(f.translator.forget())
                try:  # every replica may do this: it is the same removal
                    await self._client.hdel(brk.PROGRAMS, name)
                except Exception as exc:
                    self._set_reachable(False, exc)

    # -- reading the streams ------------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            try:
                for f in list(self.followers.values()):
                    if f.last_id is None:
                        await self._from_snapshot_key(f, first=True)
                streams = {brk.events_key(f.program): f.last_id for f in self.followers.values() if f.last_id}
                if not streams:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.heartbeat)
                    except TimeoutError:
                        pass
                    continue
                count = max(1, READ_ENTRIES // len(streams))
                found = await self._reader.xread(streams, count=count, block=READ_BLOCK_MS)
                self._set_reachable(True)
                for stream, entries in found or ():
                    follower = self.followers.get(_program_of(_text(stream)))
                    if follower is not None:
                        await self._take(follower, entries)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._after_failure(exc)

    async def _after_failure(self, exc: Exception) -> None:
        """A reading loop's failure: stop if the loop was asked to (see brk.cancelled), raise what
        is not the broker's, else say the broker is unreachable and try again after a while."""
        if brk.cancelled():
            raise asyncio.CancelledError from exc
        if not _is_redis_failure(exc):
            raise exc
        self._set_reachable(False, exc)
        await asyncio.sleep(RETRY_AFTER)

    async def _take(self, f: Follower, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        for raw_id, fields in entries:
            entry_id = _text(raw_id)
            try:
                epoch = _text(fields[b"e"])
                n = int(fields[b"n"])
                kind = fields[b"k"]
                body = unpack(fields[b"d"])
            except (KeyError, ValueError, FleetCodecError) as exc:
                f.bad += 1
                self._count_failure(f"a bad entry in {f.program!r}'s stream", exc)
                f.last_id = entry_id
                continue
            if kind == b"s":
                self._apply_snapshot(f, epoch, n, body)
                f.last_id = entry_id
            elif epoch == f.epoch and n <= f.n:
                f.last_id = entry_id  # applied already (a snapshot came after it)
            elif epoch == f.epoch and n == f.n + 1 and not f.waiting:
                self._apply_batch(f, body)
                f.n = n
                f.last_id = entry_id
            elif f.waiting:
                f.last_id = entry_id  # covered by the snapshot asked for
                await self._ask_snapshot(f)
            else:  # a gap: entries past retention, a dropped backlog, a new epoch
                if await self._from_snapshot_key(f):
                    return  # read on from the snapshot's id
                f.waiting = True
                f.last_id = entry_id
                await self._ask_snapshot(f)

    def _apply_batch(self, f: Follower, body: Any) -> None:
        try:
            self._feed(list(f.translator.events(body)))
        except WireError as exc:
            self._count_failure(f"a bad batch from {f.program!r}", exc)

    def _apply_snapshot(self, f: Follower, epoch: str, n: int, body: Any) -> None:
        try:
            events = list(f.translator.snapshot(body))
        except WireError as exc:
            self._count_failure(f"a bad snapshot from {f.program!r}", exc)
            return
        self._feed(events)
        # after a gap (rule 3), or entries of this epoch skipped to reach it: the page says so
        if f.waiting or (epoch == f.epoch and n > f.n + 1):
            f.resyncs += 1
            f.resynced = time.time()
        f.epoch, f.n, f.waiting = epoch, n, False
        self._report()

    async def _from_snapshot_key(self, f: Follower, first: bool = False) -> bool:
        """Apply the snapshot key if it is newer than what was applied; True if it was."""
        raw = await self._client.get(brk.snapshot_key(f.program))
        if raw is None:
            if first:
                f.last_id = "0-0"  # nothing yet: the stream from its start (its first entry is a snapshot)
            return False
        try:
            snap = unpack(raw)
            epoch, n, entry_id, body = str(snap["e"]), int(snap["n"]), str(snap["id"]), snap["d"]
        except (FleetCodecError, KeyError, TypeError, ValueError) as exc:
            self._count_failure(f"a bad snapshot key of {f.program!r}", exc)
            if first:
                f.last_id = "0-0"
            return False
        if not first and epoch == f.epoch and n <= f.n:
            return False
        if not first:
            f.waiting = True  # counts as a resync
        self._apply_snapshot(f, epoch, n, body)
        f.last_id = entry_id
        return True

    async def _ask_snapshot(self, f: Follower) -> None:
        now = time.monotonic()
        if now - f.asked < SNAPSHOT_ASK_EVERY:
            return
        f.asked = now
        await self._client.xadd(
            brk.commands_key(f.program),
            {"c": "snapshot", "r": self.replies, "t": time.time() + self.command_timeout,
             "d": pack({"name": "snapshot", "args": {}})},
            maxlen=1000, approximate=True,
        )  # fmt: skip

    # -- commands -------------------------------------------------------------------------

    async def request(self, program: str, name: str, args: dict[str, Any]) -> Any:
        """Ask `program` to run a command; its value, ControlRefused with its error, or
        ControlRefused("timeout") when no reply came by the deadline."""
        if program not in self.followers:
            raise ControlRefused("not_found", f"no program {program!r}")
        if len(self._pending) >= PENDING_MAX:
            raise ControlRefused("rate_limited", "too many commands wait for their programs")
        if self._client is None:
            raise ControlRefused("cluster_error", "the central is not connected to its broker")
        cid = f"{self.central_id}-{next(self._cids)}"
        assert self.loop is not None
        future: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self._pending[cid] = future
        timeout = self.command_timeout
        try:
            try:
                await self._client.xadd(
                    brk.commands_key(program),
                    {"c": cid, "r": self.replies, "t": time.time() + timeout, "d": pack({"name": name, "args": args})},
                    maxlen=1000, approximate=True,
                )  # fmt: skip
                await self._client.expire(self.replies, REPLIES_TTL)
            except Exception as exc:
                raise ControlRefused("cluster_error", brk.describe(self.broker, exc)) from None
            try:
                answer = await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise ControlRefused(
                    "timeout", f"program {program!r} did not answer within {timeout:g} s; the outcome is unknown"
                ) from None
        finally:
            self._pending.pop(cid, None)
        if answer.get("ok"):
            return answer.get("value")
        code = answer.get("code")
        raise ControlRefused(
            code if isinstance(code, str) and code in _CODES else "cluster_error",
            f"program {program!r}: {str(answer.get('message', ''))[:300]}",
        )

    async def _reply_loop(self) -> None:
        last = "$"
        while True:
            try:
                if last == "$":
                    newest = await self._client.xrevrange(self.replies, count=1)
                    last = _text(newest[0][0]) if newest else "0-0"
                found = await self._client.xread({self.replies: last}, count=100, block=READ_BLOCK_MS)
                for _stream, entries in found or ():
                    for raw_id, fields in entries:
                        last = _text(raw_id)
                        self._reply(fields)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._after_failure(exc)

    def _reply(self, fields: dict[bytes, bytes]) -> None:
        try:
            cid = _text(fields[b"c"])
            answer = unpack(fields[b"d"])
        except (KeyError, FleetCodecError) as exc:
            self._count_failure("a bad reply", exc)
            return
        future = self._pending.get(cid)
        if future is None or future.done():
            if cid != "snapshot":
                self.late_replies += 1  # answered `timeout` already: exactly one answer
            return
        if isinstance(answer, dict):
            future.set_result(answer)

    # -- the audit log shared by every replica ------------------------------------------

    async def _audit_loop(self) -> None:
        last = "0-0"  # the retained log: a new replica shows what the others did
        while True:
            try:
                await self._share_audit()
                found = await self._client.xread({brk.AUDIT: last}, count=200, block=200)
                for _stream, entries in found or ():
                    for raw_id, fields in entries:
                        last = _text(raw_id)
                        self._mirror(fields)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._after_failure(exc)

    async def _share_audit(self) -> None:
        if not self._audit_out:
            return
        pipe = self._client.pipeline(transaction=False)
        sent = []
        while self._audit_out:
            event = self._audit_out.popleft()
            sent.append(event)
            if type(event) is AuditAdded:
                body = ["a", event.entry_id, event.time, event.action, event.target, event.cluster, event.state,
                        event.message, event.who]  # fmt: skip
            else:
                assert type(event) is AuditUpdated
                body = ["u", event.entry_id, event.state, event.message, event.only_if_pending]
            pipe.xadd(brk.AUDIT, {"r": self.central_id, "d": pack(body)}, maxlen=AUDIT_KEPT, approximate=True)
        try:
            await pipe.execute()
        except BaseException:
            self._audit_out.extendleft(reversed(sent))  # shared when Redis answers again (bounded)
            raise

    def _mirror(self, fields: dict[bytes, bytes]) -> None:
        assert self.hub is not None
        try:
            replica = _text(fields[b"r"])
            body = unpack(fields[b"d"])
            if replica == self.central_id:
                return
            if body[0] == "a":
                _, entry_id, when, action, target, cluster, state, message, who = body
                local = self.hub.read().new_audit_id()
                self._audit_ids[(replica, int(entry_id))] = local
                self._mirrored.add(local)
                if len(self._audit_ids) > AUDIT_MAPPED:
                    _, old = self._audit_ids.popitem(last=False)
                    self._mirrored.discard(old)
                # the replica that made it resolves it (watch None here): its updates follow
                self.hub.feed(AuditAdded(local, float(when), str(action), str(target), cluster, str(state),
                                         str(message), who))  # fmt: skip
            elif body[0] == "u":
                _, entry_id, state, message, only_if_pending = body
                mapped = self._audit_ids.get((replica, int(entry_id)))
                if mapped is not None:
                    self.hub.feed(AuditUpdated(mapped, str(state), str(message), bool(only_if_pending)))
        except (KeyError, ValueError, TypeError, IndexError, FleetCodecError) as exc:
            self._count_failure("a bad entry in the shared audit log", exc)

    def _count_failure(self, what: str, exc: BaseException) -> None:
        self._failures[what] += 1
        if self._failures[what] == 1:
            log.warning("dispymon fleet: %s: %s (logged once, then counted)", what,
                        brk.describe(self.broker, exc) if _is_redis_failure(exc) else exc)  # fmt: skip


_CODES = frozenset({"invalid", "not_found", "not_allowed", "cluster_error", "timeout"})


class FleetControl:
    """The command channel of a central: each call goes to the program owning the cluster.

    Called in a worker thread (commands/registry.py `blocking`); each call
    waits for its program's reply on the central's loop.
    """

    def __init__(self, source: FleetSource) -> None:
        self.source = source

    def _call(self, cluster: str, name: str, **args: Any) -> Any:
        program, _, own = cluster.partition("/")
        if not own:
            raise ControlRefused("not_found", f"no cluster {cluster!r}")
        assert self.source.loop is not None
        future = asyncio.run_coroutine_threadsafe(
            self.source.request(program, name, {"cluster": own, **args}), self.source.loop
        )
        return future.result()

    def cancel(self, cluster: str, handle: Any) -> int:
        program, own, key = handle
        return self._call(f"{program}/{own}", "cancel", key=key)

    def resolve(self, host: str) -> str | None:
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        try:
            return socket.gethostbyname(host)
        except OSError:
            return None

    def check_node_action(self, action: str, ip: str, statuses: Mapping[str, str | None]) -> None:
        closed_stays_closed(action, ip, statuses)

    def add_node(self, cluster: str, host: str, cpus: int) -> int:
        return self._call(cluster, "add_node", host=host, cpus=cpus)

    def set_node_cpus(self, cluster: str, ip: str, cpus: int) -> int:
        return self._call(cluster, "set_node_cpus", ip=ip, cpus=cpus)

    def allocate_node(self, cluster: str, ip: str) -> int:
        return self._call(cluster, "allocate_node", ip=ip)

    def deallocate_node(self, cluster: str, ip: str) -> int:
        return self._call(cluster, "deallocate_node", ip=ip)

    def close_node(self, cluster: str, ip: str, terminate_pending: bool) -> int:
        return self._call(cluster, "close_node", ip=ip, terminate_pending=terminate_pending)

    def submit(self, cluster: str, payload: bytes, node: str | None) -> int:
        # A job's arguments stay in its program (docs/fleet.md): what the central's jobs
        # feature holds is not them, so resubmitting from here would run the wrong job.
        raise ControlRefused(
            "not_allowed", "a fleet central keeps no job arguments: resubmit from the program's own dashboard"
        )


def _is_redis_failure(exc: BaseException) -> bool:
    from redis import exceptions as redis_errors

    return isinstance(exc, redis_errors.RedisError | OSError | TimeoutError)


def _program_of(stream: str) -> str:
    # dispymon:p:<program>:events
    return stream[len(brk.key("p", "")) : -len(":events")]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
