"""dispy 4.15.2 on Python 3.11: the getargspec shim.

Installed by `import dispymon` (when dispy is importable), so a program that
imports dispymon before making its JobCluster gets it, and again (idempotent)
by the dispy adapter.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import dispy

# -- Python 3.11 compatibility -------------------------------------------------
#
# dispy 4.15.2 validates `cluster_status=` / `job_status=` with
# inspect.getargspec, which Python 3.11 removed, so passing either to
# JobCluster(...) fails with 'Invalid "cluster_status" function'. We give dispy
# (only dispy: its module-level name `inspect`, not the standard library's
# module) a view of `inspect` that has getargspec again, built on
# getfullargspec with the old field names.


class ArgSpec(NamedTuple):
    """inspect.ArgSpec of Python < 3.11 (its name and fields)."""

    args: list[str]
    varargs: str | None
    keywords: str | None
    defaults: tuple[Any, ...] | None


def _getargspec(func: Callable[..., Any]) -> ArgSpec:
    spec = inspect.getfullargspec(func)
    return ArgSpec(spec.args, spec.varargs, spec.varkw, spec.defaults)


class _InspectWithGetargspec(types.ModuleType):
    def __init__(self) -> None:
        super().__init__("inspect")
        self.getargspec = _getargspec

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)


def install() -> None:
    """Idempotent."""
    if not hasattr(dispy.inspect, "getargspec"):
        dispy.inspect = _InspectWithGetargspec()
