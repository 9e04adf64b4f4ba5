"""What the end-to-end apps share: the fixture's cluster options, and the gate
workloads wait on until the test opens it."""

import os
import pathlib
import time


def wait_for_gate(timeout: float = 120) -> None:
    """Block until the test creates DISPYMON_E2E_GATE (it does once the page is ready)."""
    gate = pathlib.Path(os.environ["DISPYMON_E2E_GATE"])
    deadline = time.monotonic() + timeout
    while not gate.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the end-to-end test never opened the gate")
        time.sleep(0.05)  # polls a file the test process creates


def cluster_options() -> dict:
    """JobCluster keywords for the fixture's nodes and port (its environment)."""
    import dispy

    return {
        "nodes": os.environ["DISPYMON_E2E_NODES"].split(","),
        "host": "127.0.0.1",
        # one port for every cluster of a process: one dispy scheduler per process
        "dispy_port": int(os.environ["DISPYMON_E2E_PORT"]),
        "pulse_interval": 1,
        "loglevel": dispy.logger.WARNING,
    }
