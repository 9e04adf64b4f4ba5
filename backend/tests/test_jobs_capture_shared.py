"""The attach seed of a SharedJobCluster lists its queued jobs (real dispyscheduler and dispynode).

In a subprocess, as test_httpd_shared.py explains: a SharedJobCluster takes
over the process's one dispy client scheduler.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from dispymon.adapters.localnodes import LocalScheduler
from conftest import REPO

pytestmark = pytest.mark.cluster

APP = textwrap.dedent("""
    import json, os, time
    import dispy
    from dispymon.adapters.dispy import DispyAdapter
    from dispymon.model.events import ClusterAttached
    from dispymon.model.jobkeys import JobKeys

    def setup():
        return 0

    def compute(seconds):
        import time
        time.sleep(seconds)
        return seconds

    if __name__ == '__main__':
        cluster = dispy.SharedJobCluster(
            compute, nodes=[os.environ['NODE']], setup=setup, scheduler_host=os.environ['SCHEDULER'],
            dispy_port=int(os.environ['PORT']), ip_addr='127.0.0.1', ext_host='127.0.0.1',
            loglevel=dispy.logger.WARNING)
        try:
            jobs = [cluster.submit(60) for _ in range(3)]
            deadline = time.monotonic() + 60
            while not any(j.status == dispy.DispyJob.Running for j in jobs):  # the scheduler's JOB_STATUS
                assert time.monotonic() < deadline, [j.status for j in jobs]
                time.sleep(0.05)
            fed = []
            DispyAdapter(fed.append, keys=JobKeys()).attach(cluster)
            statuses = {j._uid: j.status for j in jobs}
            seed = next(e for e in fed if type(e) is ClusterAttached)
            print('seed ' + json.dumps({
                'created': sorted(u for u, s in statuses.items() if s == dispy.DispyJob.Created),
                'running': sorted(u for u, s in statuses.items() if s == dispy.DispyJob.Running),
                'queued': sorted(j.uid for j in seed.queued),
                'seed_running': sorted(j.uid for j in seed.running),
                'args': [list(j.args) for j in seed.queued],
                'created_times': sorted(j.created for j in seed.queued) == sorted(
                    j.submit_time for j in jobs if j.status == dispy.DispyJob.Created),
                'keys': sorted(j.key for j in (*seed.queued, *seed.running)),
            }), flush=True)
        finally:
            cluster.close(timeout=5, terminate=True)
            cluster.shutdown()
""")


@pytest.fixture
def scheduler(local_nodes, tmp_path):
    nodes = local_nodes(1, cpus=1, first=70, other_process=True)
    sched = LocalScheduler("127.0.0.72", [n.ip for n in nodes.nodes], nodes.port_base, tmp_path / "scheduler").start()
    yield nodes, sched
    sched.stop()
    assert not sched.alive(), f"dispyscheduler (PID {sched.pid}) still running"


def test_the_seed_of_a_shared_cluster_lists_its_queued_jobs(scheduler, tmp_path):
    nodes, sched = scheduler
    app = tmp_path / "shared_seed.py"
    app.write_text(APP)
    env = {**os.environ, "NODE": nodes.nodes[0].ip, "SCHEDULER": sched.ip, "PORT": str(nodes.port_base),
           "PYTHONPATH": str(REPO / "backend")}  # fmt: skip
    done = subprocess.run([sys.executable, str(app)], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=180)  # fmt: skip
    line = next((x for x in done.stdout.splitlines() if x.startswith("seed ")), None)
    assert line is not None, done.stdout + done.stderr
    seen = json.loads(line[len("seed "):])
    # what dispy's client says of its jobs, read right after the attach (60 s jobs on one CPU)
    assert len(seen["running"]) == 1 and len(seen["created"]) == 2
    assert seen["queued"] == seen["created"] and seen["seed_running"] == seen["running"]
    assert seen["args"] == [[60], [60]] and seen["created_times"] is True
    assert seen["keys"] == [1, 2, 3]
