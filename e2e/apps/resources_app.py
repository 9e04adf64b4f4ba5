"""Cluster module for the resources tests: jobs that keep the nodes a little busy,
and a record of the avail info dispy's node objects report with each pulse.

Each AvailInfo status event appends a JSON line to `<gate>.avail.jsonl`: the
node's address, dispy's `update_time` (when the client received the pulse)
and `avail_info` (cpu, memory, disk, swap) as the node object holds them,
which the tests compare with the dashboard. `dispymon serve` chains its tap in
front of this callback (the cluster's own `cluster_status`).
"""

import json
import os
import threading

import dispy
from gate import cluster_options, wait_for_gate


def setup():
    return 0


def compute(seconds):
    import time

    time.sleep(seconds)
    return seconds


cluster = dispy.JobCluster(compute, setup=setup, **cluster_options())
_lock = threading.Lock()
_record = os.environ["DISPYMON_E2E_GATE"] + ".avail.jsonl"


def record(status, node, job):
    if status == dispy.DispyNode.AvailInfo and node is not None and node.avail_info is not None:
        a = node.avail_info
        line = {"ip": node.ip_addr, "time": node.update_time, "cpu": a.cpu, "memory": a.memory, "disk": a.disk, "swap": a.swap}
        with _lock, open(_record, "a") as f:
            f.write(json.dumps(line) + "\n")


# Assigned after construction: passing cluster_status= fails on Python >= 3.11 (docs/dispy-notes.md)
cluster.cluster_status = record


def workload():
    wait_for_gate()
    jobs = [cluster.submit(0.5) for _ in range(int(os.environ["DISPYMON_E2E_JOBS"]))]
    for job in jobs:
        job()
