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
from dispymon.model.text import job_texts

if TYPE_CHECKING:
    from dispymon.model.state import State

SLACK = 1024  # entries beyond twice the running jobs kept before a sweep


class JobTexts:
    __slots__ = ("entries", "show", "limit")

    def __init__(self) -> None:
        # uid -> (the job it was made for, (id, args, kwargs))
        self.entries: dict[int, tuple[JobInfo, tuple[str, str, str]]] = {}
        self.show: bool | None = None  # the show_job_args the entries were made with
        self.limit = SLACK

    def texts(self, state: State, job: JobInfo) -> tuple[str, str, str]:
        show = state.settings["show_job_args"]
        if show != self.show:
            self.entries.clear()
            self.show = show
        entry = self.entries.get(job.uid)
        if entry is not None and entry[0] is job:
            return entry[1]
        text = job_texts(job.id, job.args, job.kwargs, show)
        self.entries[job.uid] = (job, text)
        if len(self.entries) > self.limit:
            self._sweep(state)
        return text

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
