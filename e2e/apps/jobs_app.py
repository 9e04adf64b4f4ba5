"""Cluster module for the end-to-end tests (`dispymon serve --cluster-module`).

Nodes and port come from the test fixture's environment. The workload waits
for the test to open the page (the gate file), then runs DISPYMON_E2E_JOBS
jobs, so the test watches the counters move live.
"""

import os

import dispy
from gate import cluster_options, wait_for_gate


def setup():
    return 0


def compute(seconds):
    import time

    time.sleep(seconds)
    return seconds


seen = []


def note_status(status, node, job):
    # passed as cluster_status= below: works on Python 3.11 under dispymon
    seen.append(status)


cluster = dispy.JobCluster(
    compute,
    setup=setup,
    cluster_status=note_status,
    **cluster_options(),
)


def workload():
    wait_for_gate()  # the test opens it once the page shows the nodes
    jobs = [cluster.submit(0.2) for _ in range(int(os.environ["DISPYMON_E2E_JOBS"]))]
    for job in jobs:
        job()
    assert seen, "the user's cluster_status callback was never called"
