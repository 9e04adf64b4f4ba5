"""A browser's reconstruction of the state, from snapshot and deltas (for tests).

Mirrors what the frontend's store does, so tests can assert that what a
client rebuilds equals what the server holds.
"""

from __future__ import annotations

import copy
from typing import Any


class GapError(AssertionError):
    pass


class Mirror:
    def __init__(self) -> None:
        self.seq: int | None = None
        self.clusters: dict[str, Any] = {}
        self.hello: dict[str, Any] | None = None

    def apply(self, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "hello":
            self.hello = msg
        elif kind == "snapshot":
            self.seq = msg["seq"]
            self.clusters = copy.deepcopy(msg["clusters"])
        elif kind == "delta":
            if self.seq is None or msg["seq"] != self.seq + 1:
                raise GapError(f"delta {msg['seq']} after {self.seq}")
            self.seq = msg["seq"]
            for name, change in msg["clusters"].items():
                if change is None:
                    self.clusters.pop(name, None)
                    continue
                if "kind" in change:  # a new cluster arrives whole
                    self.clusters[name] = copy.deepcopy(change)
                    continue
                cluster = self.clusters[name]
                if "jobs" in change:
                    cluster["jobs"] = dict(change["jobs"])
                for ip, node in change.get("nodes", {}).items():
                    if node is None:
                        cluster["nodes"].pop(ip, None)
                    else:
                        cluster["nodes"][ip] = dict(node)
