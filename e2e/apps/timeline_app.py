"""Cluster module for the timeline test: jobs on every node, finished and failed, one held running.

After the test opens the gate, the workload submits `held` (job id "held"),
which runs until the test creates `<gate>.release`, then DISPYMON_E2E_JOBS
jobs "job-<n>" of 0.3 s each; odd n raise ValueError. When those have
ended it writes `<gate>.dispy.json`: what dispy's own job objects report
(id, status, ip_addr, start_time, end_time), which the test compares with
the timeline; when `held` ends too, `<gate>.held.json`, the same for it.
"""

import json
import os
import pathlib

import dispy
from gate import cluster_options, wait_for_gate


def setup():
    return 0


def compute(n, hold):
    import os
    import time

    while hold and not os.path.exists(hold):
        time.sleep(0.05)  # the test releases it by creating the file
    time.sleep(0.3)
    if n % 2 == 1:
        raise ValueError(f"job {n} failed on purpose")
    return n


cluster = dispy.JobCluster(compute, setup=setup, **cluster_options())


def report(jobs, path):
    def status(job):
        if job.status == dispy.DispyJob.Terminated:
            return "failed" if job.exception and "Traceback" in job.exception else "terminated"
        names = {dispy.DispyJob.Finished: "finished", dispy.DispyJob.Cancelled: "cancelled", dispy.DispyJob.Abandoned: "abandoned"}
        return names.get(job.status, str(job.status))

    rows = [
        {"id": job.id, "status": status(job), "ip_addr": job.ip_addr, "start_time": job.start_time, "end_time": job.end_time}
        for job in jobs
    ]
    path = pathlib.Path(path)
    path.with_suffix(".tmp").write_text(json.dumps(rows))
    path.with_suffix(".tmp").rename(path)  # whole or absent for the test


def workload():
    gate = os.environ["DISPYMON_E2E_GATE"]
    wait_for_gate()
    held = cluster.submit(0, gate + ".release")
    held.id = "held"
    jobs = []
    for n in range(int(os.environ["DISPYMON_E2E_JOBS"])):
        job = cluster.submit(n, None)
        job.id = f"job-{n}"
        jobs.append(job)
    for job in jobs:
        job()
    report(jobs, gate + ".dispy.json")
    held()
    report([held], gate + ".held.json")
