"""The program's side of the fleet: publish what the hub applied, answer the centrals' commands.

The hub hands every event it applied to `Publisher.tee` (on the loop, one
bounded append: dispy's threads never see the broker). The publisher's own
task turns the backlog into batches, `XADD`s them to the program's stream
(`MAXLEN ~ retention`), and keeps the snapshot key fresh; another task
writes the heartbeat; a third reads the program's command stream and runs
each request through the program's own cluster control in a worker thread,
answering once on the asking central's reply stream. Stream names and
entry shapes: docs/fleet.md.

Redis down or slow: the program goes on. The backlog holds at most
`backlog` events (the rest are dropped and counted); when Redis answers
again, the backlog is discarded and a snapshot published instead.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import secrets
import socket
import time
from typing import Any

from dispymon.commands.control import ClusterControl, ControlRefused
from dispymon.fleet import broker as brk
from dispymon.fleet.broker import Broker
from dispymon.fleet.wire import event_value, snapshot_value
from dispymon.model.events import Event, FleetChanged
from dispymon.runtime.hub import Hub
from dispymon.transport.fleetcodec import FleetCodecError, pack, unpack

log = logging.getLogger(__name__)

BATCH_EVENTS = 1000  # events per entry
FLUSH_EVERY = 0.1  # seconds between looks for a snapshot owed (events go as the tee gets them)
PIPELINE_ENTRIES = 20  # entries sent per round trip while a backlog drains
RETRY_AFTER = 1.0  # seconds between tries while Redis is unreachable
COMMANDS_KEPT = 1000  # MAXLEN ~ of command and reply streams
COMMANDS_AT_ONCE = 16  # requests run at the same time; the next wait


class Publisher:
    """Publishes one program's dashboard to a broker (see the module's doc)."""

    def __init__(
        self,
        hub: Hub,
        control: ClusterControl,
        broker: Broker,
        program: str,
        *,
        retention: int = 10_000,
        backlog: int = 100_000,
        heartbeat: float = 1.0,
    ) -> None:
        self.hub = hub
        self.control = control
        self.broker = broker
        self.program = brk.check_program(program)
        self.retention = retention
        self.backlog_limit = backlog
        self.heartbeat = heartbeat
        self.epoch = secrets.token_hex(8)
        self.stream = brk.events_key(program)
        self._backlog: collections.deque[Event] = collections.deque()
        self._n = 0  # the last entry's number in this epoch
        self._since_snapshot = 0
        self._need_snapshot = True  # the first entry is a snapshot
        self.dropped = 0  # events that found the backlog full
        self.entries = 0  # entries published
        self.reachable: bool | None = None
        self._reachable_since = time.time()
        self._beat = 0
        self._client: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._commands = asyncio.Semaphore(COMMANDS_AT_ONCE)
        self._record: dict[str, Any] | None = None
        self._failures: collections.Counter[str] = collections.Counter()
        self._ready = asyncio.Event()  # the backlog has events (set by the tee)

    # -- the tee: on the loop, for every applied event ----------------------------------

    def tee(self, event: Event) -> None:
        backlog = self._backlog
        if len(backlog) < self.backlog_limit:
            if not backlog:  # the publishing task waits for the first event, not for its timer
                self._ready.set()
            backlog.append(event)
        else:
            self.dropped += 1
            self._need_snapshot = True

    # -- life ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the broker (BrokerError, one line), then publish in the background."""
        await brk.check(self.broker)
        self._client = self.broker.client()
        self.hub.tee = self.tee
        self._set_reachable(True)
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="fleet-publish"),
            asyncio.create_task(self._heartbeat_loop(), name="fleet-heartbeat"),
            asyncio.create_task(self._command_loop(), name="fleet-commands"),
        ]

    async def stop(self) -> None:
        if self.hub.tee == self.tee:
            self.hub.tee = None
        await brk.stop_tasks(self._tasks)
        self._tasks = []
        if self._client is not None:
            try:  # a last entry: the centrals see the program leave at once, not after the heartbeat timeout
                await asyncio.wait_for(self._write_heartbeat(stopped=True), 2.0)
            except Exception:
                pass
            await _close(self._client)
            self._client = None

    # -- status --------------------------------------------------------------------------

    def _set_reachable(self, reachable: bool, exc: BaseException | None = None) -> None:
        if reachable != self.reachable:
            self.reachable = reachable
            self._reachable_since = time.time()
            if not reachable and exc is not None:
                log.warning("dispymon fleet: %s; the program goes on, and publishes a snapshot when it is back",
                            brk.describe(self.broker, exc))  # fmt: skip
            elif reachable and self.entries:
                log.warning("dispymon fleet: the broker %s answers again", self.broker.shown)
        self._report()

    def _report(self) -> None:
        """The fleet line of the program's own page (FleetChanged), when it changed."""
        record = {
            "role": "program",
            "program": self.program,
            "broker": self.broker.shown,
            "reachable": bool(self.reachable),
            "since": self._reachable_since,
            "dropped": self.dropped,
        }
        if record != self._record:
            self._record = record
            self.hub.feed(FleetChanged(record))

    # -- publishing ----------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        # Events come in the hub's drains (a batch each, BATCH_DELAY apart while they keep
        # coming): each batch goes out as soon as the drain has tee'd it, so waiting adds
        # nothing to an event's way to the centrals; FLUSH_EVERY only bounds how late a
        # snapshot that was asked for (or owed after drops) goes out.
        while True:
            try:
                self._ready.clear()  # what comes during the sending sets it again
                await self.publish_pending()
                self._set_reachable(True)
                try:
                    await asyncio.wait_for(self._ready.wait(), FLUSH_EVERY)
                except TimeoutError:
                    if brk.cancelled():  # a cancel that came with the timeout (Python 3.11)
                        raise asyncio.CancelledError from None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if brk.cancelled():
                    raise asyncio.CancelledError from exc
                self._need_snapshot = True  # what was not sent is covered by the next snapshot
                self._set_reachable(False, exc)
                await asyncio.sleep(RETRY_AFTER)

    async def publish_pending(self) -> None:
        """Send the backlog (or a snapshot in its place); raises what Redis raises."""
        if self._need_snapshot or self._since_snapshot >= max(self.retention // 2, 1):
            await self.publish_snapshot()
        backlog = self._backlog
        while backlog:
            pipe = self._client.pipeline(transaction=False)
            sent = 0
            while backlog and sent < PIPELINE_ENTRIES:
                values: list[Any] = []
                while backlog and len(values) < BATCH_EVENTS:
                    value = event_value(backlog.popleft())
                    if value is not None:
                        values.append(value)
                if values:
                    self._n += 1
                    self._xadd(pipe, "b", values)
                    sent += 1
            if sent:
                await pipe.execute()
                self.entries += sent
                self._since_snapshot += sent

    def _xadd(self, target: Any, kind: str, body: Any) -> Any:
        fields = {"e": self.epoch, "n": self._n, "k": kind, "d": pack(body)}
        return target.xadd(self.stream, fields, maxlen=self.retention, approximate=True)

    async def publish_snapshot(self) -> None:
        # Taken in one step on the loop: the state with everything fed so far
        # applied, and the backlog (which those events are in) discarded.
        state = self.hub.read()
        self._backlog.clear()
        body = snapshot_value(state)
        self._need_snapshot = False
        self._n += 1
        n = self._n
        try:
            entry_id = await self._xadd(self._client, "s", body)
            await self._client.set(
                brk.snapshot_key(self.program), pack({"e": self.epoch, "n": n, "id": _text(entry_id), "d": body})
            )
        except BaseException:
            self._need_snapshot = True
            raise
        self.entries += 1
        self._since_snapshot = 0
        self._report()

    # -- heartbeat -----------------------------------------------------------------------

    async def _write_heartbeat(self, stopped: bool = False) -> None:
        self._beat += 1
        beat = {
            "epoch": self.epoch,
            "beat": self._beat,
            "time": time.time(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "stopped": stopped,
            "dropped": self.dropped,
        }
        await self._client.hset(brk.PROGRAMS, self.program, pack(beat))

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                await self._write_heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if brk.cancelled():
                    raise asyncio.CancelledError from exc
                self._set_reachable(False, exc)
            self._report()  # `dropped` moves without a change of reachability
            await asyncio.sleep(self.heartbeat)

    # -- commands ------------------------------------------------------------------------

    async def _command_loop(self) -> None:
        key = brk.commands_key(self.program)
        last: str | None = None
        while True:
            try:
                if last is None:  # requests made before this program started are not run
                    newest = await self._client.xrevrange(key, count=1)
                    last = _text(newest[0][0]) if newest else "0-0"
                found = await self._client.xread({key: last}, count=100, block=1000)
                for _stream, entries in found or ():
                    for entry_id, fields in entries:
                        last = _text(entry_id)
                        await self._commands.acquire()  # at most COMMANDS_AT_ONCE at a time
                        task = asyncio.create_task(self._run_command(fields))
                        task.add_done_callback(lambda _t: self._commands.release())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if brk.cancelled():
                    raise asyncio.CancelledError from exc
                self._set_reachable(False, exc)
                await asyncio.sleep(RETRY_AFTER)

    async def _run_command(self, fields: dict[bytes, bytes]) -> None:
        try:
            cid = _text(fields[b"c"])
            reply_to = _text(fields[b"r"])
            deadline = float(fields[b"t"])
            request = unpack(fields[b"d"])
            name, args = request["name"], request["args"]
        except (KeyError, TypeError, ValueError, FleetCodecError) as exc:
            self._count_failure(f"a malformed command request ({type(exc).__name__})")
            return
        left = deadline - time.time()
        if left <= 0:  # the central has answered `timeout` already
            self._count_failure("a command request past its deadline")
            return
        try:
            value = await asyncio.wait_for(self._execute(name, args), left)
            answer: dict[str, Any] = {"ok": True, "value": value}
        except TimeoutError:
            return  # the central answers `timeout` at the same deadline
        except ControlRefused as exc:
            answer = {"ok": False, "code": exc.code, "message": exc.message}
        except LookupError as exc:
            answer = {"ok": False, "code": "not_found", "message": str(exc)[:300]}
        except Exception as exc:
            answer = {"ok": False, "code": "cluster_error", "message": f"{type(exc).__name__}: {exc}"[:300]}
        try:
            await self._client.xadd(reply_to, {"c": cid, "d": pack(answer)}, maxlen=COMMANDS_KEPT, approximate=True)
        except Exception as exc:
            self._set_reachable(False, exc)

    async def _execute(self, name: str, args: dict[str, Any]) -> Any:
        control = self.control
        if name == "snapshot":
            self._need_snapshot = True
            return 0
        cluster = str(args["cluster"])
        if name == "cancel":
            handle = self._handle(cluster, int(args["key"]))
            return await asyncio.to_thread(control.cancel, cluster, handle)
        if name == "add_node":
            return await asyncio.to_thread(control.add_node, cluster, str(args["host"]), int(args["cpus"]))
        if name == "set_node_cpus":
            return await asyncio.to_thread(control.set_node_cpus, cluster, str(args["ip"]), int(args["cpus"]))
        if name in ("allocate_node", "deallocate_node"):
            return await asyncio.to_thread(getattr(control, name), cluster, str(args["ip"]))
        if name == "close_node":
            return await asyncio.to_thread(
                control.close_node, cluster, str(args["ip"]), bool(args["terminate_pending"])
            )
        if name == "submit":
            payload = args["payload"]
            if not isinstance(payload, bytes):
                raise ControlRefused("invalid", "a resubmission's payload must be bytes")
            return await asyncio.to_thread(control.submit, cluster, payload, args.get("node"))
        raise ControlRefused("unknown_command", f"no fleet command {str(name)[:40]!r}")

    def _handle(self, cluster: str, key: int) -> Any:
        """The adapter's handle of the queued or running job `key` (what cancel needs)."""
        c = self.hub.read().clusters.get(cluster)
        if c is None:
            raise LookupError(f"no cluster {cluster!r}")
        for jobs in (c.running, c.queued):
            for job in jobs.values():
                if job.key == key:
                    return job.handle
        raise ControlRefused("not_found", f"job {key} is no longer queued or running in {cluster!r}")

    def _count_failure(self, what: str) -> None:
        self._failures[what] += 1
        if self._failures[what] == 1:
            log.warning("dispymon fleet: %s (logged once, then counted)", what)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _close(client: Any) -> None:
    """Close a redis-py client, waiting at most 2 s (a connection whose blocking read was
    cancelled must not hold up a shutdown)."""
    try:
        await asyncio.wait_for(client.aclose(), 2.0)
    except Exception as exc:
        log.info("dispymon fleet: closing the broker's connections: %s", type(exc).__name__)
