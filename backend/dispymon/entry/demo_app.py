"""The demo's cluster module: a sample computation and a steady workload.

Loaded by `dispymon demo` exactly as a user's module is loaded by
`dispymon serve --cluster-module`, so the demo exercises the same path. The
local nodes' addresses and port base come from the environment the demo
command sets.
"""

from __future__ import annotations

import collections
import os
import random
from typing import Any

from dispymon.adapters.dispy import job_cluster


def setup():
    # A computation with `setup` avoids dispynode 4.15.2's race with very
    # short jobs (see docs/dispy-notes.md); it is also where real programs
    # load their data once per node.
    return 0


def compute(seconds, fail=False):
    import time

    time.sleep(seconds)
    if fail:
        raise RuntimeError("demo job failed on purpose")
    return seconds


def create_clusters():
    nodes = os.environ["DISPYMON_DEMO_NODES"].split(",")
    return job_cluster(
        compute,
        nodes=nodes,
        host="127.0.0.1",
        dispy_port=int(os.environ["DISPYMON_DEMO_PORT"]),
        setup=setup,
        pulse_interval=2,
        recover_file=os.environ.get("DISPYMON_DEMO_RECOVER"),
    )


def workload(clusters):
    """Keep about two jobs per CPU in flight, for ever; 1 in 20 fails."""
    cluster = clusters[0]
    in_flight: collections.deque[Any] = collections.deque()  # dispy jobs
    target = int(os.environ.get("DISPYMON_DEMO_IN_FLIGHT", "8"))
    rng = random.Random()
    n = 0
    while True:
        while len(in_flight) < target:
            job = cluster.submit(round(rng.uniform(0.5, 3.0), 2), fail=rng.random() < 0.05)
            if job is None:  # the cluster was closed: the demo is stopping
                return
            n += 1
            job.id = f"demo-{n}"
            in_flight.append(job)
        job = in_flight.popleft()
        while not job.finish.wait(1.0):
            if getattr(cluster, "_compute", None) is None:
                return
