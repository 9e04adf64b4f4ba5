"""Cluster module for the '* Combined' end-to-end test: two clusters, one set of nodes.

Two JobClusters of two computations (so two names, `alpha` and `beta`) on the
same nodes, as in a program that uses DispyHTTPServer.add_cluster. After the
test opens the gate, `alpha` runs DISPYMON_E2E_JOBS jobs and `beta` half as
many, at the same time, so the nodes' "Jobs done" mix both clusters.
"""

import os
import pathlib
import time

import dispy
from gate import cluster_options


def setup():
    return 0


def alpha(seconds):
    import time

    time.sleep(seconds)
    return seconds


def beta(seconds):
    import time

    time.sleep(seconds)
    return -seconds


def make(computation):
    return dispy.JobCluster(
        computation,
        setup=setup,
        **cluster_options(),
    )


cluster_alpha = make(alpha)
cluster_beta = make(beta)


def workload():
    gate = pathlib.Path(os.environ["DISPYMON_E2E_GATE"])
    deadline = time.monotonic() + 120
    while not gate.exists():  # the test creates it once the page shows both clusters
        if time.monotonic() > deadline:
            raise TimeoutError("the end-to-end test never opened the gate")
        time.sleep(0.05)
    count = int(os.environ["DISPYMON_E2E_JOBS"])
    jobs = []
    for i in range(count):
        jobs.append(cluster_alpha.submit(0.2))
        if i % 2 == 0:
            jobs.append(cluster_beta.submit(0.2))
    for job in jobs:
        job()
