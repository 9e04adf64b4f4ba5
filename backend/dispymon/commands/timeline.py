"""The `timeline` query (issue 19): the job timeline's bars in a window (features/timeline.py).

Read-only, so a viewer may ask; also the REST route `GET /api/timeline`
(features/rest.py), which answers with `timeline_value` too.
"""

from __future__ import annotations

import time
from typing import Any

from dispymon.commands.jobs import number
from dispymon.commands.queries import NAME, _of
from dispymon.commands.registry import IP, Check, CommandError, Commands, command, integer
from dispymon.features.timeline import LIMIT_MAX, timeline
from dispymon.transport.codec import Packed

TIMELINE_ARGS: dict[str, Check] = {"node": IP, "limit": integer(1, LIMIT_MAX)}
TIMELINE_REQUIRED: dict[str, Check] = {"cluster": NAME, "start": number(), "end": number()}


def timeline_value(cmds: Commands, **args: Any) -> dict[str, Any]:
    """The query's value (checked arguments); `invalid` when the window is empty."""
    insight = _of(cmds)
    if not args["end"] > args["start"]:
        raise CommandError("invalid", "end must be after start")
    jobs = cmds.jobs
    # The jobs feature makes the text of a running job's id that is a user object off the loop
    # (its guard), as the Jobs view does; without it, a placeholder.
    id_text = jobs._id if jobs is not None else (lambda key, job_id: str(job_id) if isinstance(job_id, str) else "…")
    return timeline(cmds.hub.read(), insight.history, id_text, now=time.time(), **args)


@command("timeline", optional=TIMELINE_ARGS, read_only=True, **TIMELINE_REQUIRED)
async def timeline_command(cmds: Commands, who: str | None, **args: Any) -> Packed:
    insight = _of(cmds)
    # `now` changes every call, so the shared answer is keyed by the clock's second (Insight.answer)
    return insight.answer(("timeline", *sorted(args.items())), lambda: timeline_value(cmds, **args))
