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
from typing import Any, NamedTuple

from dispymon.model.events import NodeInfo


class Kind(IntEnum):
    # an IntEnum: a key's hash and comparison stay C-speed (int's), unlike Enum's
    SETTINGS = 0
    AUDIT = 1
    CLUSTER = 2  # a cluster itself (attached, detached)
    JOBS = 3  # its job counters
    NODE = 4  # one node of one cluster
    RUNNING = 5  # the set of jobs running on a node (any cluster)


class Key(NamedTuple):
    kind: Kind
    cluster: str = ""  # CLUSTER, JOBS, NODE
    ip: str = ""  # NODE, RUNNING


SETTINGS_KEY = Key(Kind.SETTINGS)
AUDIT_KEY = Key(Kind.AUDIT)


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

    def __bool__(self) -> bool:
        return bool(self.settings is not None or self.audit is not None or self.clusters or self.node_jobs)
