"""The change log: its typed keys, and the pieces deltas are built from.

Keys: typed, one per record a browser is sent.

Each key names one record of the protocol (settings, the audit log, a
cluster, its job counters, one of its nodes, the jobs running on a node).
`Key.kind` says which; the change log maps each key to the version of its
last change (state.py). Node and running-jobs keys are made once per node
and kept, so the hot path hashes them (a tuple of an int and two cached
string hashes), never builds them.

NodeBuild keeps, per node, the record last sent and per field the version
at which it last changed, so a delta carries only the fields a browser
lacks; `Changes` is what changed after a version, in the protocol's shapes.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from dispymon.model.events import NodeInfo

if TYPE_CHECKING:
    from dispymon.model.state import ClusterState, State


class Kind(IntEnum):
    # an IntEnum: a key's hash and comparison stay C-speed (int's), unlike Enum's
    SETTINGS = 0
    AUDIT = 1
    CLUSTER = 2  # a cluster itself (attached, detached)
    JOBS = 3  # its job counters
    NODE = 4  # one node of one cluster
    RUNNING = 5  # the set of jobs running on a node (any cluster)
    ACTIONS = 6  # the bulk actions (features/bulk.py), sent whole
    FLEET = 7  # the fleet's record (docs/fleet.md), sent whole


class Key(NamedTuple):
    kind: Kind
    cluster: str = ""  # CLUSTER, JOBS, NODE
    ip: str = ""  # NODE, RUNNING


SETTINGS_KEY = Key(Kind.SETTINGS)
AUDIT_KEY = Key(Kind.AUDIT)
ACTIONS_KEY = Key(Kind.ACTIONS)
FLEET_KEY = Key(Kind.FLEET)


def cluster_key(cluster: str) -> Key:
    return Key(Kind.CLUSTER, cluster)


def jobs_key(cluster: str) -> Key:
    return Key(Kind.JOBS, cluster)


def node_key(cluster: str, ip: str) -> Key:
    return Key(Kind.NODE, cluster, ip)


def running_key(ip: str) -> Key:
    return Key(Kind.RUNNING, "", ip)


# -- node records and their builds ----------------------------------------------

NODE_FIELDS = (*NodeInfo._fields, "status", "stuck", "stale")
_AVAIL = NODE_FIELDS.index("avail_info")


def values_record(values: tuple) -> dict[str, Any]:
    record = dict(zip(NODE_FIELDS, values, strict=True))
    avail = values[_AVAIL]
    if avail is not None:
        record["avail_info"] = avail._asdict()
    return record


_FIELD_INDEX = {f: i for i, f in enumerate(NODE_FIELDS)}
_OWN_FIELDS = NODE_FIELDS[len(NodeInfo._fields) :]  # status, stuck, stale: the state's, not dispy's


def info_diff(new: NodeInfo, old: NodeInfo) -> dict[str, Any]:
    """The fields of `new` that differ from `old`, in the delta's shape.

    Written out field by field: it runs for every changed node at every tick
    (10,000 a second in the benchmarks), and this is twice as fast as a loop
    over the fields (test_state checks it against one, so a field added to
    NodeInfo cannot be missed: the unpacking would fail). ip_addr is the
    node's key and never changes.
    """
    _, name, cpus, avail_cpus, busy, jobs_done, cpu_time, tx, rx, update_time, avail_info = new
    _, name0, cpus0, avail_cpus0, busy0, jobs_done0, cpu_time0, tx0, rx0, update_time0, avail_info0 = old
    out: dict[str, Any] = {}
    if name != name0:
        out["name"] = name
    if cpus != cpus0:
        out["cpus"] = cpus
    if avail_cpus != avail_cpus0:
        out["avail_cpus"] = avail_cpus
    if busy != busy0:
        out["busy"] = busy
    if jobs_done != jobs_done0:
        out["jobs_done"] = jobs_done
    if cpu_time != cpu_time0:
        out["cpu_time"] = cpu_time
    if tx != tx0:
        out["tx"] = tx
    if rx != rx0:
        out["rx"] = rx
    if update_time != update_time0:
        out["update_time"] = update_time
    if avail_info != avail_info0:
        out["avail_info"] = None if avail_info is None else avail_info._asdict()
    return out


class NodeBuild:
    """A node's record as last sent to any browser, and per field the
    version of the send at which that field last differed from the send
    before. A browser at version v lacks exactly the fields whose version is
    above v (every browser's copy of a node comes from these builds, full
    records included), so a delta carries only those fields.

    One per node, updated in place, holding the event's own NodeInfo rather
    than a copy of its fields: a tick that rebuilds 10,000 nodes then makes
    one small dict per node and nothing else for the garbage collector to
    trace (each young object it traces costs a cache miss per field; see
    benchmarks/notes.md, 3).
    """

    __slots__ = ("version", "previous", "info", "own", "field_versions", "fresh")

    def __init__(self, version: int, info: NodeInfo, own: tuple[str, bool, bool]) -> None:
        self.version = version
        self.previous = -1  # the version of the build before this one (-1: none)
        self.info = info
        self.own = own  # (status, stuck, stale)
        self.field_versions = [version] * len(NODE_FIELDS)
        # The fields that differ from the previous build, in the delta's
        # shape: all that a browser which had the previous build lacks
        # (shared by every such browser: read-only).
        self.fresh: dict[str, Any] = {}

    @property
    def values(self) -> tuple:
        return (*self.info, *self.own)

    def update(self, version: int, info: NodeInfo, own: tuple[str, bool, bool]) -> None:
        """Take the node's latest fields, if any differs from this build's."""
        fresh = {} if info is self.info else info_diff(info, self.info)
        if own != self.own:
            fresh.update((f, new) for f, new, old in zip(_OWN_FIELDS, own, self.own, strict=True) if new != old)
        if not fresh:
            return
        versions = self.field_versions
        for f in fresh:
            versions[_FIELD_INDEX[f]] = version
        self.previous, self.version, self.info, self.own, self.fresh = self.version, version, info, own, fresh


class Changes(NamedTuple):
    """What changed after a version, in the protocol's shapes."""

    settings: dict[str, Any] | None
    audit: list[dict[str, Any]] | None
    clusters: dict[str, Any]
    node_jobs: bool  # some node's set of running jobs changed (which: State.node_jobs_changed)
    version: int
    actions: list[dict[str, Any]] | None = None
    fleet: dict[str, Any] | None = None

    def __bool__(self) -> bool:
        return bool(
            self.settings is not None
            or self.audit is not None
            or self.clusters
            or self.node_jobs
            or self.actions is not None
            or self.fleet is not None
        )


# -- snapshot and delta building, memoised per version ------------------------------


class Deltas:
    """Builds a state's snapshot and its changes since a version, in the
    protocol's shapes, from the change log and the node builds; what was
    built at the current version is kept, so browsers asking for the same
    thing share one (read-only) copy. Reads a settled state (State.settle)."""

    __slots__ = ("state", "memo", "memo_version")

    def __init__(self, state: State) -> None:
        self.state = state
        self.memo: dict[Any, Any] = {}
        self.memo_version = -1

    def memo_at(self) -> dict[Any, Any]:
        """What was built at the current version; emptied when the version moves.

        With many browsers on one interval (their ticks are aligned), each
        tick builds every changed record once, not once per browser. Callers
        must not modify what snapshot() and changes_since() return.
        """
        if self.memo_version != self.state.version:
            self.memo = {}
            self.memo_version = self.state.version
        return self.memo

    def _build(self, c: ClusterState, ip: str, changed: int | None = None) -> NodeBuild:
        """The node's build at its latest change (made now if it is newer
        than the last build), with the versions of the fields that moved.
        `changed`: the version of the node's latest change, if the caller has it."""
        build = c.builds.get(ip)
        if build is not None:
            if changed is None:
                changed = self.state._changes.get(c.node_key(ip), 0)
            if changed <= build.version:
                return build
        info, status = c.nodes[ip]
        health = c.health.get(ip)
        own = (status, False, False) if health is None else (status, health.stuck, health.stale)
        if build is None:
            build = c.builds[ip] = NodeBuild(self.state.version, info, own)
        else:
            build.update(self.state.version, info, own)
        return build

    def _node_full(self, c: ClusterState, ip: str, memo: dict[Any, Any]) -> dict[str, Any]:
        # one full record per node and version, shared by every message that holds it
        key = c.node_key(ip)
        record = memo.get(key)
        if record is None:
            record = memo[key] = values_record(self._build(c, ip).values)
        return record

    def _node_since(self, c: ClusterState, ip: str, changed: int, version: int) -> dict[str, Any]:
        """The fields of a node that changed after `version` (empty: none)."""
        build = self._build(c, ip, changed)
        if build.version <= version:
            return {}
        if build.previous <= version:
            # new to that browser: the whole record; had the build before: what moved since
            return values_record(build.values) if build.previous < 0 else build.fresh
        if build.field_versions[0] > version:  # ip_addr never changes: new to that browser
            return values_record(build.values)
        out = {f: v for f, v, at in zip(NODE_FIELDS, build.values, build.field_versions, strict=True) if at > version}
        avail = out.get("avail_info")
        if avail is not None:
            out["avail_info"] = avail._asdict()
        return out

    def _cluster_record(self, c: ClusterState, memo: dict[Any, Any]) -> dict[str, Any]:
        record = {
            "name": c.name,
            "kind": c.kind,
            "jobs": c.jobs_record(),
            "nodes": {ip: self._node_full(c, ip, memo) for ip in c.nodes},
        }
        if c.program is not None:  # a fleet central's cluster (docs/fleet.md)
            record["program"] = c.program
        return record

    def snapshot(self) -> tuple[dict[str, Any], int]:
        memo = self.memo_at()
        body = memo.get("snapshot")
        if body is None:
            body = memo["snapshot"] = {
                "settings": dict(self.state.settings),
                "clusters": {name: self._cluster_record(c, memo) for name, c in self.state.clusters.items()},
                "audit": list(self.state.audit),
                "actions": list(self.state.actions.records),
            }
            if self.state.fleet is not None:  # with a broker only (docs/fleet.md)
                body["fleet"] = self.state.fleet
        return body, self.state.version

    def changes_since(self, version: int) -> Changes:
        """Records changed after `version`, in the protocol's delta shapes:
        a node the browser has gets only its fields that changed."""
        memo = self.memo_at()
        found = memo.get(version)
        if found is not None:
            return found
        settings = audit = actions = fleet = None
        clusters: dict[str, Any] = {}
        node_jobs = False
        whole: set[str] = set()  # clusters sent whole (or as removed)
        nodes_of: dict[str, dict[str, Any]] = {}  # cluster -> its "nodes" in the delta
        for key, changed in reversed(self.state._changes.items()):
            if changed <= version:
                break
            kind, name, ip = key
            if kind is Kind.NODE:
                if name in whole:
                    continue
                c = self.state.clusters.get(name)
                if c is not None:
                    fields = self._node_since(c, ip, changed, version)
                    if fields:
                        nodes = nodes_of.get(name)
                        if nodes is None:
                            nodes = nodes_of[name] = clusters.setdefault(name, {}).setdefault("nodes", {})
                        nodes[ip] = fields
            elif kind is Kind.RUNNING:
                node_jobs = True  # which nodes: node_jobs_changed
            elif kind is Kind.SETTINGS:
                settings = dict(self.state.settings)
            elif kind is Kind.AUDIT:
                audit = list(self.state.audit)
            elif kind is Kind.ACTIONS:
                actions = list(self.state.actions.records)
            elif kind is Kind.FLEET:
                fleet = self.state.fleet
            else:
                if name in whole:
                    continue
                c = self.state.clusters.get(name)
                if kind is Kind.CLUSTER:
                    clusters[name] = self._cluster_record(c, memo) if c is not None else None
                    whole.add(name)
                elif c is not None:  # JOBS
                    clusters.setdefault(name, {})["jobs"] = c.jobs_record()
        found = memo[version] = Changes(settings, audit, clusters, node_jobs, self.state.version, actions, fleet)
        return found
