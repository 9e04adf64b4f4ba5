"""The change log's keys: typed, one per record a browser is sent.

Each key names one record of the protocol (settings, the audit log, a
cluster, its job counters, one of its nodes, the jobs running on a node).
`Key.kind` says which; the change log maps each key to the version of its
last change (state.py). Node and running-jobs keys are made once per node
and kept, so the hot path hashes them (a tuple of an int and two cached
string hashes), never builds them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


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
