"""Webhook delivery: each firing and resolving POSTed as JSON, off the loop's critical path.

`Webhooks.send` (on the loop, from the engine) only encodes the payload once
and appends it to each target's queue: O(targets). Each target has its own
task (`run`) that POSTs its queue in order with aiohttp's client: a
`timeout` per attempt, then `retries` more attempts with a doubling backoff
(BACKOFF, at most BACKOFF_MAX apart), then the delivery counts as failed.
A target's queue holds at most `max_queue` payloads: beyond it the oldest
is dropped and counted. So an endpoint that never answers holds up only
its own queue, never the loop, the engine, another target, or a browser.

The payload: {event: "firing" | "resolved", alert: Alert, text: one line
(Slack's incoming webhooks read `text`), dashboard: the dashboard's alerts
page or null}.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from dispymon.features.failures import Failures
from dispymon.transport.protocol import webhooks_status

log = logging.getLogger(__name__)

BACKOFF = 0.5  # seconds before the first retry; doubled at each
BACKOFF_MAX = 30.0
MAX_QUEUE = 1000  # payloads waiting per target


@dataclass(frozen=True)
class Webhook:
    url: str
    timeout: float = 5.0  # seconds per attempt
    retries: int = 3  # attempts after the first, then the delivery counts as failed


def text_of(event: str, alert: dict[str, Any]) -> str:
    """The one line Slack (or a person) reads."""
    mark = "FIRING" if event == "firing" else "RESOLVED"
    action = f" ({alert['action']})" if alert.get("action") else ""
    return f"[dispymon] {mark} {alert['severity']} {alert['rule']}: {alert['summary']}{action}"


@dataclass
class _Target:
    hook: Webhook
    queue: collections.deque[bytes] = field(default_factory=collections.deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Webhooks:
    def __init__(
        self,
        hooks: list[Webhook],
        max_queue: int = MAX_QUEUE,
        backoff: float = BACKOFF,
    ) -> None:
        self.targets = [_Target(h) for h in hooks]
        self.max_queue = max_queue
        self.backoff = backoff
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self._tasks: list[asyncio.Task] = []
        self._session: aiohttp.ClientSession | None = None
        self._failures = Failures(log)

    def send(self, event: str, alert: dict[str, Any], dashboard: str | None) -> None:
        """On the loop: queue the payload for every target (the oldest dropped beyond `max_queue`)."""
        if not self.targets:
            return
        payload = json.dumps(
            {"event": event, "alert": alert, "text": text_of(event, alert), "dashboard": dashboard}
        ).encode()
        for target in self.targets:
            if len(target.queue) >= self.max_queue:
                target.queue.popleft()
                self.dropped += 1
            target.queue.append(payload)
            target.wake.set()

    def status(self) -> dict[str, Any]:
        """The `webhooks` of the `alerts` part."""
        return webhooks_status(
            len(self.targets),
            self.delivered,
            self.failed,
            self.dropped,
            sum(len(t.queue) for t in self.targets),
            self.last_error,
            self.last_error_at,
        )

    # -- the delivery tasks ----------------------------------------------------------------

    def start(self) -> None:
        if not self.targets or self._tasks:
            return
        self._session = aiohttp.ClientSession(headers={"User-Agent": "dispymon-alerts"})
        self._tasks = [
            asyncio.create_task(self._run(t), name=f"dispymon-webhook-{i}") for i, t in enumerate(self.targets)
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self, target: _Target) -> None:
        while True:
            if not target.queue:
                target.wake.clear()
                await target.wake.wait()
                continue
            payload = target.queue[0]
            ok = await self._deliver(target.hook, payload)
            # the head may have been dropped meanwhile (queue full): take off this payload only
            if target.queue and target.queue[0] is payload:
                target.queue.popleft()
            if ok:
                self.delivered += 1
            else:
                self.failed += 1

    async def _deliver(self, hook: Webhook, payload: bytes) -> bool:
        assert self._session is not None
        delay = self.backoff
        for attempt in range(hook.retries + 1):
            if attempt:
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
            try:
                async with self._session.post(
                    hook.url,
                    data=payload,
                    headers={"Content-Type": "application/json"},
                    timeout=aiohttp.ClientTimeout(total=hook.timeout),
                ) as response:
                    if 200 <= response.status < 300:
                        return True
                    error = f"HTTP {response.status} from {hook.url}"
            except TimeoutError:
                error = f"no answer from {hook.url} within {hook.timeout:g} s"
            except aiohttp.ClientError as exc:
                error = f"{hook.url}: {type(exc).__name__}: {exc}"[:300]
            self.last_error, self.last_error_at = error, time.time()
        self._failures.failed(f"webhook {hook.url} delivery", RuntimeError(self.last_error or ""))
        return False
