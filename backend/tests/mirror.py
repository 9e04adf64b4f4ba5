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
        self.settings: dict[str, Any] = {}
        self.audit: list[dict[str, Any]] = []
        self.node_jobs: dict[str, Any] | None = None
        self.hello: dict[str, Any] | None = None
        self.results: dict[Any, dict[str, Any]] = {}

    def apply(self, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "hello":
            self.hello = msg
        elif kind == "result":
            self.results[msg["id"]] = msg
        elif kind == "snapshot":
            self.seq = msg["seq"]
            self.clusters = copy.deepcopy(msg["clusters"])
            self.settings = dict(msg["settings"])
            self.audit = list(msg["audit"])
            self.node_jobs = copy.deepcopy(msg["node_jobs"])
        elif kind == "delta":
            if self.seq is None or msg["seq"] != self.seq + 1:
                raise GapError(f"delta {msg['seq']} after {self.seq}")
            self.seq = msg["seq"]
            if "settings" in msg:
                self.settings = dict(msg["settings"])
            if "audit" in msg:
                self.audit = list(msg["audit"])
            if "node_jobs" in msg:
                assert self.node_jobs is not None and msg["node_jobs"]["ip_addr"] == self.node_jobs["ip_addr"]
                for uid, job in msg["node_jobs"]["jobs"].items():
                    if job is None:
                        del self.node_jobs["jobs"][uid]  # only jobs we were sent may leave
                    else:
                        self.node_jobs["jobs"][uid] = dict(job)
            for name, change in msg.get("clusters", {}).items():
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
                    elif "ip_addr" in node:  # complete: new to this client
                        cluster["nodes"][ip] = dict(node)
                    else:  # only the fields that changed
                        if ip not in cluster["nodes"]:
                            raise GapError(f"fields of node {ip} this client does not have")
                        cluster["nodes"][ip].update(node)
