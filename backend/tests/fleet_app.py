"""A program of the fleet's tests: a JobCluster on the nodes it is given, a workload, and what dispy reported.

Environment: FLEET_NODES (IPs), FLEET_PORT (dispy's port base), FLEET_JOBS
short jobs of FLEET_SECONDS (one in FLEET_FAIL_EVERY raises), FLEET_LONG_JOBS
jobs of 600 s (for terminate tests), FLEET_OUT (JSON: the counts of dispy's
own job objects, written when every job has ended).
"""

import json
import os

import dispy


def setup():
    # jobs that go through `setup` avoid dispynode 4.15.2's short-job race
    return 0


def compute(seconds, fail=False):
    import time

    time.sleep(seconds)
    if fail:
        raise ValueError("failing on purpose")
    return seconds


NODES = os.environ["FLEET_NODES"].split(",")
cluster = dispy.JobCluster(
    compute, nodes=NODES, host="127.0.0.1", dispy_port=int(os.environ["FLEET_PORT"]), setup=setup,
    pulse_interval=1, loglevel=dispy.logger.WARNING,
)  # fmt: skip


def workload():
    jobs_n, every = int(os.environ["FLEET_JOBS"]), int(os.environ["FLEET_FAIL_EVERY"])
    seconds = float(os.environ["FLEET_SECONDS"])
    jobs = [cluster.submit(600) for _ in range(int(os.environ["FLEET_LONG_JOBS"]))]
    for i, job in enumerate(jobs):
        job.id = f"long-{i}"  # dispy's own field, which the dashboard shows
    jobs += [cluster.submit(seconds, fail=every > 0 and i % every == 0) for i in range(jobs_n)]
    for job in jobs:
        job()
    counts = {"submitted": len(jobs), "finished": 0, "failed": 0, "terminated": 0, "cancelled": 0, "abandoned": 0}
    for job in jobs:
        if job.status == dispy.DispyJob.Finished:
            counts["finished"] += 1
        elif job.status == dispy.DispyJob.Terminated:
            counts["failed" if job.exception else "terminated"] += 1
        elif job.status == dispy.DispyJob.Cancelled:
            counts["cancelled"] += 1
        elif job.status == dispy.DispyJob.Abandoned:
            counts["abandoned"] += 1
    counts["statuses"] = {str(job.id): job.status for job in jobs}
    out = os.environ["FLEET_OUT"]
    with open(out + ".tmp", "w") as f:
        json.dump(counts, f)
    os.replace(out + ".tmp", out)
