"""Rules about dispy's effects that the adapters share, free of dispy.

The dispy adapter (DispyControl) and the simulated cluster (SimulatedControl),
which stands in for dispy in the demo and in fast tests, apply these same
rules, so neither holds a copy of dispy's quirks.
"""

from __future__ import annotations

from collections.abc import Mapping

from dispymon.commands.control import ControlRefused
from dispymon.model.state import CLOSED


def closed_stays_closed(action: str, ip: str, statuses: Mapping[str, str | None]) -> None:
    """Refuse to add or allocate a node that is closed in a target cluster.

    dispy 4.15.2 would put a closed node back in use without the computation:
    every job sent there comes back Cancelled. So a closed node stays closed
    while the program runs; the way out is a fresh dispynode at another address.
    """
    closed = [name for name, status in statuses.items() if status == CLOSED]
    if not closed:
        return
    if action == "add_node":
        raise ControlRefused(
            "not_allowed",
            f"{ip} was closed in {', '.join(closed)}; a closed node stays closed while "
            "this program runs. Add a fresh dispynode at another address instead",
        )
    if action == "allocate_node":
        raise ControlRefused(
            "not_allowed",
            f"{ip} was closed; dispy 4.15.2 would cancel every job sent to it, so a "
            "closed node stays closed while this program runs. Add a fresh dispynode "
            "at another address instead",
        )
