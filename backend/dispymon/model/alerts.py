"""The `alerts` part: what fires now, the rules and the webhooks' counters, as the engine last published it.

Pure, as the rest of the model: the alerts engine (features/alerts) works
out the part once a second on the loop and feeds it whole as an
AlertsChanged event when it differs from the last; the state keeps it and
notes the change under the change-log key ALERTS, so each browser gets the
part whole, at its interval, when it changed (like `actions`).
"""

from __future__ import annotations

from typing import Any

from dispymon.model.changelog import ALERTS_KEY
from dispymon.model.events import AlertsChanged
from dispymon.transport.protocol import alerts_part, webhooks_status

__all__ = ["ALERTS_KEY", "Alerts", "AlertsChanged"]


class Alerts:
    __slots__ = ("part",)

    def __init__(self) -> None:
        # before an engine publishes (a server built without one): nothing fires, no rule
        self.part: dict[str, Any] = alerts_part([], 0, [], webhooks_status())

    def put(self, part: dict[str, Any]) -> bool:
        """Take the engine's part; whether it differs from the one held."""
        if part == self.part:
            return False
        self.part = part
        return True
