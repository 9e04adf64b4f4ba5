"""Turning users' objects into text, guarded.

dispy.httpd calls str() on job ids and arguments and can crash on an object
whose __str__ raises. Here a failing __str__ becomes a placeholder and a huge
text is cut, so one bad object breaks nothing else. Only called for jobs a
browser is looking at, on the event loop, never on dispy's thread.
"""

from __future__ import annotations

from typing import Any

LIMIT = 200


class Late:
    """A value read when it is shown (an adapter's subclass says how: `current`).

    dispy's programs set `job.id` after `submit()`; the dispy adapter hands
    the state such a wrapper around the user's job. Reading the wrapped
    value is an attribute read, no user code: whether its text can be made
    on the loop is decided on that value, not on the wrapper.
    """

    __slots__ = ()

    def current(self) -> Any:
        raise NotImplementedError

    def __str__(self) -> str:
        return str(self.current())


def safe_str(obj: Any, limit: int = LIMIT) -> str:
    if isinstance(obj, str):
        text = obj
    else:
        try:
            text = str(obj)
            if not isinstance(text, str):  # a __str__ returning bytes, say
                raise TypeError(f"__str__ returned {type(text).__name__}")
        except Exception as exc:
            return f"<unprintable {type(obj).__name__}: __str__ raised {type(exc).__name__}>"
    if len(text) > limit:
        return f"{text[:limit]}… ({len(text)} chars)"
    return text


def job_texts(job_id: Any, args: tuple, kwargs: dict, with_args: bool) -> tuple[str, str, str]:
    """(id, args, kwargs) as the Node page shows them; args only when wanted."""
    if not with_args:
        return safe_str(job_id), "", ""
    try:
        args_text = ", ".join(safe_str(a) for a in (args or ()))
        kwargs_text = ", ".join(f"{safe_str(k)}={safe_str(v)}" for k, v in (kwargs or {}).items())
    except Exception as exc:  # args/kwargs that are not even iterable
        args_text = kwargs_text = f"<unprintable arguments: {type(exc).__name__}>"
    return safe_str(job_id), safe_str(args_text, LIMIT * 2), safe_str(kwargs_text, LIMIT * 2)


def count_text(n: int, singular: str, plural: str | None = None) -> str:
    """A count in plain English for audit messages: "1 CPU", "2 CPUs", "0 CPUs"."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
