"""Reading a job's arguments kept for resubmission, for both adapters' `submit`."""

from __future__ import annotations

import pickle

from dispymon.commands.control import ControlRefused


def unpickle_args(payload: bytes) -> tuple[tuple, dict]:
    """The (args, kwargs) of `pickle.dumps((args, kwargs))` as the jobs feature kept them.

    Runs the user's classes' code (their modules are imported, `__setstate__`
    runs): call it on a worker thread, never the loop. A payload that cannot
    be read is refused with the reason, as dispy's refusals are.
    """
    try:
        args, kwargs = pickle.loads(payload)
        return tuple(args), dict(kwargs)
    except Exception as exc:
        raise ControlRefused("cluster_error", f"the kept arguments cannot be read: {type(exc).__name__}") from None
