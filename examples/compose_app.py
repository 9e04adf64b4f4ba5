"""Cluster module for docker-compose.yml: the nodes are the compose services.

Run by `dispymon serve --cluster-module compose_app.py` in the dashboard
container; DISPY_NODES names the node containers.
"""

import os
import random

import dispy


def setup():
    return 0


def compute(seconds):
    import time

    time.sleep(seconds)
    return seconds


cluster = dispy.JobCluster(
    compute,
    nodes=os.environ.get("DISPY_NODES", "node1,node2,node3").split(","),
    setup=setup,
    pulse_interval=2,
)


def workload():
    """A steady stream of short jobs, for ever (stop with Ctrl-C)."""
    n = 0
    while True:
        jobs = []
        for _ in range(12):
            job = cluster.submit(random.uniform(0.5, 2.0))
            if job is None:  # closed: the dashboard is stopping
                return
            n += 1
            job.id = f"job-{n}"
            jobs.append(job)
        for job in jobs:
            job()
