"""dispymon: a live web dashboard for dispy clusters.

Sub-packages, dependencies pointing one way (checked by tests/test_boundaries.py):

    model/      the pure state (events, State, change log, audit, views): no I/O, no dispy
    runtime/    Hub (events into the loop), Settings, Runtime (assembles and runs the parts)
    transport/  the browser edge: protocol, codec (the only msgpack import), aiohttp server
    commands/   the command channel, cluster-agnostic
    adapters/   where events come from: dispy/ (the only dispy import), simulated, local nodes
    features/   history, series, persistence, metrics, REST routes
    entry/      cli, demo, the drop-in httpd, loading a user's module
"""

import importlib.util as _importlib_util
from typing import Any as _Any

__all__ = ["PROTOCOL_VERSION", "__version__", "publish"]

__version__ = "0.1.0"
from dispymon.transport.protocol import PROTOCOL_VERSION  # defined once, re-exported


def publish(
    cluster: _Any = None, broker: str | None = None, program: str | None = None, show_job_args: bool = True
) -> _Any:
    """Publish dispy clusters to a fleet's Redis broker (docs/fleet.md); see entry/httpd.py `publish`."""
    from dispymon.entry.httpd import publish as _publish  # imported on use: `import dispymon` stays light

    return _publish(cluster, broker=broker, program=program, show_job_args=show_job_args)


# dispy 4.15.2 needs inspect.getargspec, gone in Python 3.11: a program that
# imports dispymon gets the shim before it makes its JobCluster.
if _importlib_util.find_spec("dispy") is not None:
    from dispymon.adapters.dispy import compat as _compat

    _compat.install()
