"""The bulk actions the `actions` part lists: the last ACTIONS_KEPT, newest last.

Pure, as the rest of the model: the state applies BulkChanged events here
(features/bulk.py feeds them, at most a few a second per action) and notes
the change under the change-log key ACTIONS, so each browser gets the list
whole, at its interval, when it changed.
"""

from __future__ import annotations

from typing import Any

from dispymon.model.changelog import ACTIONS_KEY
from dispymon.model.events import BulkChanged
from dispymon.transport.protocol import ACTIONS_KEPT

__all__ = ["ACTIONS_KEY", "Actions", "BulkChanged"]


class Actions:
    __slots__ = ("records",)

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def put(self, record: dict[str, Any]) -> None:
        """Add or replace (by id) an action's record; the oldest beyond ACTIONS_KEPT go."""
        records = [r for r in self.records if r["id"] != record["id"]]
        records.append(record)
        records.sort(key=lambda r: r["id"])
        self.records = records[-ACTIONS_KEPT:]
