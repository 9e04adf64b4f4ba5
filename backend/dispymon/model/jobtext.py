"""The running jobs of a node as the Node page shows them, their text made once.

A job's id and arguments are users' objects: turning them into text
(text.job_texts, guarded) costs, so each running job's text is made once and
shared by every browser watching its node. The cache lives beside the state
(`State.job_texts`) but the state never touches it: an entry is checked
against the job it was made for (a job rescheduled, or a uid reused, gets new
text) and against the show_job_args setting, and entries of jobs no longer
running are dropped once the cache outgrows the running jobs (bounded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dispymon.model.events import JobInfo
from dispymon.model.text import LIMIT, Late, job_texts

if TYPE_CHECKING:
    from dispymon.model.state import State

SLACK = 1024  # entries beyond twice the running jobs kept before a sweep
PLACEHOLDER = "…"  # a text the guard has not made yet
_PLAIN = frozenset({int, float, bool, str, bytes, type(None)})
_SMALL = 64  # items of a tuple/dict of plain values made on the loop (more go to the guard)


def _plain(value: Any) -> bool:
    """Whether making the text of `value` runs no user code (exact builtin types, small)."""
    if isinstance(value, Late):  # the id a program set after submit: usually a number
        value = value.current()
    kind = type(value)
    if kind in _PLAIN:
        return True
    if kind is tuple or kind is list:
        return len(value) <= _SMALL and all(type(v) in _PLAIN for v in value)
    if kind is dict:
        return len(value) <= _SMALL and all(type(k) in _PLAIN and type(v) in _PLAIN for k, v in value.items())
    return False


class JobTexts:
    __slots__ = ("entries", "show", "limit", "guard")

    def __init__(self) -> None:
        # uid -> (the job it was made for, (id, args, kwargs))
        self.entries: dict[int, tuple[JobInfo, tuple[str, str, str]]] = {}
        self.show: bool | None = None  # the show_job_args the entries were made with
        self.limit = SLACK
        self.guard: Any = None  # runtime/guard.Guard, when the server runs one

    def texts(self, state: State, job: JobInfo) -> tuple[str, str, str]:
        show = state.settings["show_job_args"]
        if show != self.show:
            self.entries.clear()
            self.show = show
        entry = self.entries.get(job.uid)
        if entry is not None and entry[0] is job:
            return entry[1]
        if self.guard is None or (_plain(job.id) and (not show or (_plain(job.args) and _plain(job.kwargs)))):
            text = job_texts(job.id, job.args, job.kwargs, show)
        else:
            text = self._ask(state, job, show)
        self.entries[job.uid] = (job, text)
        if len(self.entries) > self.limit:
            self._sweep(state)
        return text

    def _ask(self, state: State, job: JobInfo, show: bool) -> tuple[str, str, str]:
        """Placeholders now; the guard makes the texts off the loop, and its answers replace them."""
        plain_id = _plain(job.id)
        with_args = show and not (_plain(job.args) and _plain(job.kwargs))
        id_text = job_texts(job.id, (), {}, False)[0] if plain_id else PLACEHOLDER
        if with_args:
            args_text, kwargs_text = PLACEHOLDER, ""
        else:
            _, args_text, kwargs_text = job_texts("", job.args, job.kwargs, show)
        # held before asking: an answer may come at once (the guard's refusals, its fast path)
        self.entries[job.uid] = (job, (id_text, args_text, kwargs_text))

        def answered(part: int, value: tuple[str, ...]) -> None:
            entry = self.entries.get(job.uid)
            if entry is None or entry[0] is not job or self.show != show:
                return  # the job moved on, or the setting changed: these texts are not wanted
            parts = list(entry[1])
            parts[part : part + len(value)] = value
            self.entries[job.uid] = (job, (parts[0], parts[1], parts[2]))
            # the node's running jobs changed: the next delta sends this job again
            state._dirty_running.add(job.ip_addr or "")

        def id_done(answer: Any) -> None:
            value = str(answer.value)
            if answer.cut:
                value = f"{value}… ({answer.length} chars)"
            answered(0, (value,))

        def args_done(answer: Any) -> None:
            value = answer.value
            answered(1, value if isinstance(value, tuple) else (str(value), ""))

        if not plain_id:
            self.guard.ask("str", job.id, id_done, LIMIT)
        if with_args:
            self.guard.ask("args", (job.args, job.kwargs), args_done, LIMIT)
        return self.entries[job.uid][1]

    def _sweep(self, state: State) -> None:
        """Keep only the entries of jobs still running as they were made for."""
        kept = {}
        for uid, entry in self.entries.items():
            found = state.running_job(uid)
            if found is not None and found[1] is entry[0]:
                kept[uid] = entry
        self.entries = kept
        self.limit = 2 * len(kept) + SLACK


def job_record(state: State, job: JobInfo, cluster: str) -> dict[str, Any]:
    """A running job of `cluster` for the Node page; the text is made once per job."""
    show = state.settings["show_job_args"]
    text = state.job_texts.texts(state, job)
    return {
        "uid": job.uid,
        "key": job.key,
        "cluster": cluster,
        "id": text[0],
        "args": text[1] if show else None,
        "kwargs": text[2] if show else None,
        "start_time": job.start_time,
        "ip_addr": job.ip_addr or "",
    }


def node_jobs(state: State, ip: str) -> dict[str, Any]:
    """The jobs running on node `ip` (any cluster), by uid as text."""
    on_node = state.running_by_ip.get(ip, {})
    return {str(uid): job_record(state, c.running[uid], c.name) for uid, c in on_node.items()}
