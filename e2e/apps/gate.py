"""The end-to-end tests' gate: workloads wait for the test to open it."""

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
