"""Cluster module for the Node page tests: long jobs with readable and
unprintable arguments, submitted once the test opens the gate."""


import dispy
from gate import cluster_options, wait_for_gate


def setup():
    return 0


def compute(seconds, obj=None, label=""):
    import time

    time.sleep(seconds)
    return seconds


class Readable:
    def __init__(self, n):
        self.n = n

    def __str__(self):
        return f"Readable({self.n})"


class Unprintable:
    def __str__(self):
        raise RuntimeError("no text for you")


cluster = dispy.JobCluster(
    compute,
    setup=setup,
    depends=[Readable, Unprintable],
    **cluster_options(),
)


def workload():
    wait_for_gate()
    # one node with 2 CPUs: 'readable' and 'unprintable' run, 'queued' waits
    jobs = [
        cluster.submit(300, Readable(7), label="first"),
        cluster.submit(300, Unprintable()),
        cluster.submit(300, label="queued"),
    ]
    for job, name in zip(jobs, ("readable", "unprintable", "queued")):
        job.id = name
    for job in jobs:
        job()
