"""The alerts engine: the rules evaluated once a second on the loop, alerts fired and resolved.

A hub subscriber (runtime/hub.py): each drained batch brings the jobs that
ended (counted per cluster for failure_rate and queue_stalled) and the
clock's HealthCheck, after which the state's health times are fresh: then
`evaluate` runs the rules (rules.py) over the state and compares the
conditions that hold with the alerts firing. A new condition fires an
alert (a new id, kept in the history, written to the history database,
POSTed to the webhooks, and with long_job's `terminate` the job is
terminated through the cluster control in a worker thread); a condition
gone resolves its alert. The `alerts` part (model/alerts.py) is published
through the hub when it differs from the last published, so browsers get it
at their interval; the webhooks' counters move in it at the next second.

The history (firing and resolved alerts, newest last) keeps the last
`kept` alerts in memory, and as many in the `--history-db` file; at start-up
it is loaded from the file, and alerts a previous run left firing are
resolved at the start (their conditions are evaluated anew).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from dispymon.features.alerts.config import AlertsConfig
from dispymon.features.alerts.rules import (
    SPECS,
    Condition,
    FailureWindow,
    LongJob,
    LongScan,
    QueueWatch,
    RuleState,
    check_params,
    default_rules,
    evaluate,
    watch_queues,
)
from dispymon.features.alerts.webhooks import Webhooks
from dispymon.features.failures import Failures
from dispymon.model.events import (
    JOB_CANCELLED,
    JOB_TERMINATED,
    AlertsChanged,
    ClusterAttached,
    ClusterDetached,
    HealthCheck,
    JobInfo,
    StatusEvent,
)
from dispymon.model.state import State
from dispymon.transport import protocol
from dispymon.transport.protocol import ALERTS_FIRING_MAX

log = logging.getLogger(__name__)

KEPT = 10_000  # alerts kept for alerts_history (memory and the database)
CHANGES_PER_TICK = 1000  # alerts that fire or resolve in one evaluation, at most (the rest at the next)
COSTS_KEPT = 600  # evaluation costs kept (seconds each), for /metrics-free measuring and the benchmark

# (cluster, job) -> what was done: "terminated", or "terminate failed: ..."
Terminate = Callable[[str, JobInfo], Awaitable[str]]


class AlertEngine:
    def __init__(
        self,
        feed: Callable[[Any], None],
        config: AlertsConfig | None = None,
        store: Any = None,
        stale_after: float = 30.0,
        stuck_after: float = 300.0,
        clock: Callable[[], float] = time.time,
        kept: int = KEPT,
    ) -> None:
        config = config or AlertsConfig()
        self.feed = feed  # the hub's feed: the part goes to the state as an AlertsChanged event
        self.clock = clock
        self.store = store  # features/persist.Store, or None
        self.kept = kept
        self.rules: dict[str, RuleState] = default_rules(stale_after, stuck_after)
        for name, settings in config.rules.items():
            rule = self.rules[name]
            if settings.enabled is not None:
                rule.enabled = settings.enabled
            rule.params.update(settings.params)
            rule.clusters.update({c: dict(o) for c, o in settings.clusters.items()})
        self.webhooks = Webhooks(config.webhooks)
        self.dashboard = config.dashboard  # else the runtime sets its own address (runtime.py)
        self.terminate: Terminate | None = None  # set where a cluster control exists (features/rest.py)
        self.firing: dict[tuple, dict[str, Any]] = {}  # condition key -> its Alert (fire order = id order)
        self.history: collections.OrderedDict[int, dict[str, Any]] = collections.OrderedDict()
        self.next_id = 1
        self.failures: dict[str, FailureWindow] = {}
        self.started: dict[str, int] = {}  # per cluster: jobs that ended after running (since the attach)
        self.queues: dict[str, QueueWatch] = {}
        self.scans: dict[str, LongScan] = {}  # long_job's last look at each cluster's running jobs
        self.closed_since: dict[tuple[str, str], float] = {}  # (cluster, ip) -> first seen closed
        self.costs: collections.deque[float] = collections.deque(maxlen=COSTS_KEPT)
        self._rules_part: list[dict[str, Any]] | None = None
        self._published: dict[str, Any] | None = None
        self._tasks: set[asyncio.Task] = set()
        self._failures = Failures(log)
        if store is not None:
            self._load(store)

    def _load(self, store: Any) -> None:
        now = self.clock()
        for alert in store.load_alerts(self.kept):
            if alert["resolved"] is None:  # firing when the last run stopped: evaluated anew now
                alert = {**alert, "resolved": now}
                store.add_alert(alert)
            self.history[alert["id"]] = alert
        if self.history:
            self.next_id = max(self.history) + 1

    # -- the hub's subscriber ---------------------------------------------------------------

    def take(self, batch: Any, state: State) -> None:
        ended: dict[str, list[int]] = {}
        for event in batch:
            kind = type(event)
            if kind is StatusEvent:
                job = event.job
                if job is None:
                    continue
                counts = ended.get(event.cluster)
                if counts is None:
                    counts = ended[event.cluster] = [0, 0, 0]
                status = event.status
                if status != JOB_CANCELLED:
                    counts[0] += 1
                    if status == JOB_TERMINATED and job.exception:
                        counts[1] += 1
                if job.start_time is not None:
                    counts[2] += 1
            elif kind is HealthCheck:
                self._count(ended, event.now)
                ended = {}
                self.evaluate(state, event.now)
            elif kind is ClusterAttached or kind is ClusterDetached:
                self._count(ended, self.clock())
                ended = {}
                self.failures.pop(event.cluster, None)
                self.started.pop(event.cluster, None)
                self.queues.pop(event.cluster, None)
                self.scans.pop(event.cluster, None)
        if ended:
            self._count(ended, self.clock())

    def _count(self, ended: dict[str, list[int]], now: float) -> None:
        for cluster, (done, failed, ran) in ended.items():
            if done:
                window = self.failures.get(cluster)
                if window is None:
                    window = self.failures[cluster] = FailureWindow()
                window.add(now, done, failed)
            self.started[cluster] = self.started.get(cluster, 0) + ran

    # -- evaluation ---------------------------------------------------------------------------

    def evaluate(self, state: State, now: float) -> None:
        """Run the rules at `now`: fire what is new, resolve what is gone, publish the part."""
        began = time.perf_counter()
        try:
            watch_queues(state, now, self.queues, self.started)
            store = self.store.status() if self.store is not None else None
            conditions = evaluate(
                state, now, self.rules, self.failures, self.queues, store, self.scans, self.closed_since
            )
            firing = self.firing
            # At most CHANGES_PER_TICK alerts resolve and fire per evaluation: a storm (every node
            # of 10,000 stale at once) is spread over the next seconds rather than stall the loop
            # with its records, rows and webhook payloads (the alerts benchmark).
            budget = CHANGES_PER_TICK
            for key in [k for k in firing if k not in conditions][:budget]:
                self._resolve(key, now)
                budget -= 1
            for key, condition in conditions.items():
                if budget <= 0:
                    break
                if key not in firing:
                    self._fire(key, condition, now)
                    budget -= 1
            self.publish()
        except Exception as exc:  # the dashboard goes on; logged once, then counted
            self._failures.failed("evaluating the alert rules", exc)
        self.costs.append(time.perf_counter() - began)

    def _keep(self, alert: dict[str, Any]) -> None:
        self.history[alert["id"]] = alert
        while len(self.history) > self.kept:
            self.history.popitem(last=False)
        if self.store is not None:
            self.store.add_alert(alert)

    def _fire(self, key: tuple, condition: Condition | LongJob, now: float) -> None:
        alert = protocol.alert(
            self.next_id,
            key[0],
            condition.severity,
            condition.cluster,
            condition.node,
            condition.job,
            condition.summary,
            now,
            None,
            None,
        )
        self.next_id += 1
        self.firing[key] = alert
        self._keep(alert)
        self.webhooks.send("firing", alert, self.dashboard)
        if condition.handle is not None and self.terminate is not None and condition.cluster is not None:
            task = asyncio.get_running_loop().create_task(self._terminate(key, alert["id"], condition))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _resolve(self, key: tuple, now: float) -> None:
        alert = {**self.firing.pop(key), "resolved": now}
        self._keep(alert)
        self.webhooks.send("resolved", alert, self.dashboard)

    async def _terminate(self, key: tuple, alert_id: int, condition: Condition | LongJob) -> None:
        assert self.terminate is not None and condition.cluster is not None
        try:
            action = await self.terminate(condition.cluster, condition.handle)
        except Exception as exc:
            self._failures.failed("terminating a long job", exc)
            action = f"terminate failed: {type(exc).__name__}"
        # the alert may have resolved meanwhile (the job ended): its history record gets the action
        held = self.history.get(alert_id)
        if held is not None:
            self._keep({**held, "action": action})
        if key in self.firing and self.firing[key]["id"] == alert_id:
            self.firing[key] = {**self.firing[key], "action": action}
        self.publish()

    # -- the part ----------------------------------------------------------------------------

    def rule_record(self, name: str) -> dict[str, Any]:
        rule = self.rules[name]
        return protocol.alert_rule(
            name,
            SPECS[name].title,
            rule.enabled,
            dict(rule.params),
            {c: dict(o) for c, o in sorted(rule.clusters.items())},
        )

    def part(self) -> dict[str, Any]:
        if self._rules_part is None:
            self._rules_part = [self.rule_record(name) for name in SPECS]
        firing = list(self.firing.values())
        return protocol.alerts_part(firing[:ALERTS_FIRING_MAX], len(firing), self._rules_part, self.webhooks.status())

    def publish(self) -> None:
        """Feed the part to the state when it differs from the last published."""
        part = self.part()
        if part != self._published:
            self._published = part
            self.feed(AlertsChanged(part))

    # -- commands ----------------------------------------------------------------------------

    def set_rule(
        self, name: str, enabled: bool | None = None, params: dict[str, Any] | None = None, cluster: str | None = None
    ) -> dict[str, Any]:
        """Change a rule (ValueError naming the key when a setting is refused); its Rule record."""
        spec = SPECS.get(name)
        if spec is None:
            raise ValueError(f"rule: no rule {name[:40]!r} (rules: {', '.join(SPECS)})")
        if cluster is not None and not spec.per_cluster:
            raise ValueError(f"cluster: {name} has no per-cluster settings")
        checked = check_params(name, params or {}, "params.")
        rule = self.rules[name]
        if cluster is not None and params is not None:
            if checked:
                rule.clusters[cluster] = {**rule.clusters.get(cluster, {}), **checked}
            else:  # params {} with a cluster: that cluster goes back to the rule's own settings
                rule.clusters.pop(cluster, None)
        else:
            rule.params.update(checked)
        if enabled is not None:
            rule.enabled = enabled
        self._rules_part = None
        self.publish()
        return self.rule_record(name)

    def history_page(self, before: int | None = None, limit: int = protocol.ALERTS_HISTORY_DEFAULT) -> dict[str, Any]:
        """`alerts_history`: alerts with ids below `before`, newest first, and whether there are more."""
        out: list[dict[str, Any]] = []
        for alert_id in reversed(self.history):
            if before is not None and alert_id >= before:
                continue
            if len(out) == limit:
                return {"alerts": out, "more": True}
            out.append(self.history[alert_id])
        return {"alerts": out, "more": False}

    # -- /metrics -----------------------------------------------------------------------------

    def firing_by_rule(self) -> dict[str, int]:
        counts = dict.fromkeys(SPECS, 0)
        for key in self.firing:
            counts[key[0]] += 1
        return counts

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self.webhooks.start()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.webhooks.close()
