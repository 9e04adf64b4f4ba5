"""Cluster module for the cut-arguments test: two long jobs on one node, one
with arguments too long for its column (but under the server's 200-character
cut), one with short ones, submitted once the test opens the gate."""


import dispy
from gate import cluster_options, wait_for_gate


def setup():
    return 0


def compute(seconds, values=None, label=""):
    import time

    time.sleep(seconds)
    return seconds


cluster = dispy.JobCluster(compute, setup=setup, **cluster_options())


def workload():
    wait_for_gate()
    # one node with 2 CPUs: both run at once
    long_job = cluster.submit(300, list(range(0, 30000, 1000)), label="a label long enough to be cut on a phone")
    long_job.id = "long"
    short_job = cluster.submit(300)
    short_job.id = "short"
    for job in (long_job, short_job):
        job()
