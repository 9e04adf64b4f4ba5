"""Cluster module for the job page and Jobs view tests: jobs that print and raise.

After the test opens the gate, the workload submits DISPYMON_E2E_JOBS jobs,
compute(0, hold) … compute(N-1, None), with job ids "job-<n>". Each prints a
line to stdout and one to stderr; odd n raise ValueError, even n return
{"n": n}. Job 0 holds until the test creates `<gate>.release`: with one node
of one CPU, job 0 stays running and every other job stays queued until then.

When every job has ended, the workload writes `<gate>.dispy.json`: what
dispy's own job objects report (id, status, stdout, stderr, exception,
result), which the tests compare with the dashboard.

The workload runs once per test: it leaves a marker next to the gate, and a
server restarted by the test (same module, same gate) submits nothing, so
the jobs after the restart are the first run's, from the history database.
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
    import sys
    import time

    print(f"stdout of job {n}: {'o' * n}")
    sys.stderr.write(f"stderr of job {n}\n")
    while hold and not os.path.exists(hold):
        time.sleep(0.05)  # the test releases it by creating the file
    if n % 2 == 1:
        raise ValueError(f"job {n} failed on purpose")
    return {"n": n}


cluster = dispy.JobCluster(compute, setup=setup, **cluster_options())


def workload():
    gate = os.environ["DISPYMON_E2E_GATE"]
    ran = pathlib.Path(gate + ".ran")
    if ran.exists():
        return  # a restarted server: the first run's jobs are all there are
    wait_for_gate()
    ran.write_text("ran")
    jobs = []
    for n in range(int(os.environ["DISPYMON_E2E_JOBS"])):
        job = cluster.submit(n, gate + ".release" if n == 0 else None)
        job.id = f"job-{n}"
        jobs.append(job)
    for job in jobs:
        job()
    def status(job):
        # dispy gives Terminated both to a job that raised and to one killed by cancel()
        if job.status == dispy.DispyJob.Terminated:
            return "failed" if job.exception and "Traceback" in job.exception else "terminated"
        names = {dispy.DispyJob.Finished: "finished", dispy.DispyJob.Cancelled: "cancelled", dispy.DispyJob.Abandoned: "abandoned"}
        return names.get(job.status, str(job.status))

    report = [
        {
            "id": job.id,
            "status": status(job),
            "stdout": job.stdout,
            "stderr": job.stderr,
            "exception": job.exception,
            "result": repr(job.result) if job.result is not None else None,
            "ip_addr": job.ip_addr,
        }
        for job in jobs
    ]
    path = pathlib.Path(gate + ".dispy.json")
    path.with_suffix(".tmp").write_text(json.dumps(report))
    path.with_suffix(".tmp").rename(path)  # whole or absent for the test
