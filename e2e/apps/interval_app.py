"""Cluster module for the update-interval test: a steady stream of jobs.

After the test opens the gate, the workload submits DISPYMON_E2E_JOBS short
jobs, one every half second (so the counters keep changing for a while),
waits for them all, then writes what dispy itself reports next to the gate
(`<gate>.dispy.json`): the job objects' outcomes and `cluster.status()`'s
nodes. The test compares the dashboard with that.
"""

import json
import os
import pathlib
import time

import dispy
from gate import cluster_options, wait_for_gate


def setup():
    return 0


def compute(seconds):
    import time

    time.sleep(seconds)
    return seconds


cluster = dispy.JobCluster(compute, setup=setup, **cluster_options())


def workload():
    wait_for_gate()
    jobs = []
    for _ in range(int(os.environ["DISPYMON_E2E_JOBS"])):
        jobs.append(cluster.submit(0.3))
        time.sleep(0.5)  # the workload's pace, not a synchronisation
    for job in jobs:
        job()
    status = cluster.status()
    report = {
        "submitted": len(jobs),
        "finished": sum(job.status == dispy.DispyJob.Finished for job in jobs),
        "pending": status.jobs_pending,
        "nodes": {n.ip_addr: {"jobs_done": n.jobs_done, "busy": n.busy} for n in status.nodes},
    }
    target = pathlib.Path(os.environ["DISPYMON_E2E_GATE"] + ".dispy.json")
    partial = target.with_suffix(".part")
    partial.write_text(json.dumps(report))
    partial.rename(target)  # the test never reads half a file
