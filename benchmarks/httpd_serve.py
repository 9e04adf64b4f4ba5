"""dispy.httpd fed by the simulated cluster, in its own process (the comparison for targets 5 and 6).

    python -m benchmarks.httpd_serve --nodes 10000 --cpus 8 --rate 1000

The simulator's events become real dispy objects and calls of the server's
`cluster_status` (benchmarks/replay.py), from the simulator's thread as from
dispy's callback thread; each node's update_time is stamped at the call.
Prints {"port", "pid"}; stdin: `stats`, `quit`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import psutil


def main() -> None:
    import dispy
    import dispy.httpd

    from dispymon.adapters.simulated import SimulatedCluster

    from .common import free_port
    from .replay import DispyReplay

    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--cpus", type=int, default=8)
    p.add_argument("--rate", type=float, default=1000.0)
    p.add_argument("--poll-sec", type=int, default=1)
    args = p.parse_args()

    class StandIn:  # what DispyHTTPServer reads of a cluster
        name = "simulated"
        cluster_status = None

    dispy.logger.setLevel(dispy.logger.WARNING)  # dispy logs to stdout, where our answers go
    cluster = StandIn()
    port = free_port()
    server = dispy.httpd.DispyHTTPServer(cluster, host="127.0.0.1", port=port, poll_sec=args.poll_sec)
    replay = DispyReplay(cluster.cluster_status, realtime=True)
    sim = SimulatedCluster(replay, args.nodes, args.cpus, rate=args.rate, seed=1)
    sim.start()
    me = psutil.Process()
    print(json.dumps({"port": port, "pid": me.pid}), flush=True)
    try:
        for line in sys.stdin:
            word = line.strip()
            if word == "stats":
                times = me.cpu_times()
                print(json.dumps({"t": time.time(), "rss": me.memory_info().rss, "cpu": times.user + times.system,
                                  "sim_events": sim.events, "calls": replay.calls}), flush=True)  # fmt: skip
            elif word == "quit":
                break
    finally:
        sim.stop()
        server.shutdown(wait=False)


if __name__ == "__main__":
    main()
