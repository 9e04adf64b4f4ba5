"""A SharedJobCluster client of a dispyscheduler, for `dispymon scheduler`'s tests
(backend/tests/test_scheduler.py, e2e/tests/scheduler.spec.ts).

Run as a program, one process per client (dispy keeps one client scheduler
per process). Environment: DISPYMON_E2E_NODES (comma-separated),
DISPYMON_E2E_SCHEDULER (its address), DISPYMON_E2E_PORT (the dispy port
base), DISPYMON_E2E_CLIENT (this client's own address: each client needs
its own, as it listens on the port base there), DISPYMON_E2E_GATE (a file
the jobs wait for), DISPYMON_E2E_JOBS (how many to submit at once).

Prints `submitted N`; then, line by line on stdin: `report` prints
`report {json}`, what dispy tells this client (each job's status and node,
and `cluster.status()`'s nodes' jobs done and pending jobs); `submit K`
submits K more; `quit` closes the cluster and prints `closed`.
"""

import json
import os
import sys

import dispy


def setup():  # a computation with setup= makes dispynode 4.15.2's short-job race rarer (docs/dispy-notes.md)
    return 0


def compute(gate, n):
    import os
    import time

    while not os.path.exists(gate):  # held until the test opens the gate
        time.sleep(0.05)
    # and lasting a little: with jobs that end at once, dispynode 4.15.2's reply thread hit its
    # race ("can only join a started process": that node never answers again) though there is a setup
    time.sleep(0.25)
    return n


def main() -> None:
    env = os.environ
    ip = env["DISPYMON_E2E_CLIENT"]
    # a SharedJobCluster wants its own address as ip_addr with ext_host (host= crashes it)
    cluster = dispy.SharedJobCluster(
        compute,
        nodes=env["DISPYMON_E2E_NODES"].split(","),
        setup=setup,
        scheduler_host=env["DISPYMON_E2E_SCHEDULER"],
        dispy_port=int(env["DISPYMON_E2E_PORT"]),
        ip_addr=ip,
        ext_host=ip,
        loglevel=dispy.logger.WARNING,
    )
    gate = env["DISPYMON_E2E_GATE"]
    jobs = [cluster.submit(gate, i) for i in range(int(env["DISPYMON_E2E_JOBS"]))]
    print("submitted", len(jobs), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command == ["report"]:
            status = cluster.status()
            report = {
                "jobs": [[job.status, job.ip_addr] for job in jobs],
                # the scheduler's pseudo-node has no name
                "nodes": {n.ip_addr: n.jobs_done for n in status.nodes if n.name is not None},
                "pending": status.jobs_pending,
                # why a job ended otherwise than Finished (the last line of its traceback), by its index
                "exceptions": {
                    i: str(job.exception).strip().splitlines()[-1:] for i, job in enumerate(jobs) if job.exception
                },
            }
            print("report", json.dumps(report), flush=True)
        elif command[:1] == ["submit"]:
            jobs += [cluster.submit(gate, len(jobs) + i) for i in range(int(command[1]))]
            print("submitted", len(jobs), flush=True)
        elif command == ["quit"]:
            break
    cluster.close(timeout=30)
    cluster.shutdown()
    print("closed", flush=True)


if __name__ == "__main__":
    main()
