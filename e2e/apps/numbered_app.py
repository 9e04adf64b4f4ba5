"""Cluster module for the History tests: numbered jobs, some of which raise.

After the test opens the gate, the workload submits DISPYMON_E2E_JOBS jobs,
compute(0) … compute(N-1), with job ids "job-<n>". compute(n) raises
ValueError for odd n, KeyError for even n divisible by 3, and returns n
otherwise, so the tests can work out every job's outcome from its id.

The workload runs once per test: it leaves a marker next to the gate, and a
server restarted by the test (same module, same gate) submits nothing, so
the history after the restart holds exactly the first run's jobs.
"""

import os
import pathlib

import dispy
from gate import cluster_options, wait_for_gate


def setup():
    return 0


def compute(n):
    import time

    time.sleep(0.2)
    if n % 2 == 1:
        raise ValueError(f"odd {n}")
    if n % 3 == 0:
        raise KeyError(n)
    return n


cluster = dispy.JobCluster(
    compute,
    setup=setup,
    **cluster_options(),
)


def workload():
    ran = pathlib.Path(os.environ["DISPYMON_E2E_GATE"] + ".ran")
    if ran.exists():
        return  # a restarted server: the first run's jobs are all there are
    wait_for_gate()
    ran.write_text("ran")
    jobs = []
    for n in range(int(os.environ["DISPYMON_E2E_JOBS"])):
        job = cluster.submit(n)
        job.id = f"job-{n}"
        jobs.append(job)
    for job in jobs:
        job()
