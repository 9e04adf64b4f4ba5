"""The text of running jobs (model/jobtext.py): made once per job, bounded, never stale."""

from __future__ import annotations

from dispymon.model import events as ev
from dispymon.model.events import SettingChanged
from dispymon.model.jobtext import SLACK, job_record, node_jobs
from dispymon.model.state import State
from factories import applied, attached, job, node, status


def test_the_cache_keeps_no_more_than_the_running_jobs_and_a_slack():
    s = applied(State(), attached())
    for uid in range(5 * SLACK):
        applied(s, status("c", ev.JOB_RUNNING, node(busy=1), job(uid)))
        assert node_jobs(s, "127.0.0.2")[str(uid)]["id"] == f"job-{uid}"
        applied(s, status("c", ev.JOB_FINISHED, node(), job(uid)))
    assert len(s.job_texts.entries) <= SLACK + 1


def test_a_job_gets_new_text_when_it_changes_or_the_setting_does():
    s = applied(State(), attached(), status("c", ev.JOB_RUNNING, node(busy=1), job(7, args=("x",))))
    assert job_record(s, s.clusters["c"].running[7], "c")["args"] == "x"
    # the same uid, a new copy (rescheduled, or a uid reused): not the old text
    applied(s, status("c", ev.JOB_RUNNING, node(busy=1), job(7, args=("y",))))
    assert node_jobs(s, "127.0.0.2")["7"]["args"] == "y"
    applied(s, SettingChanged("show_job_args", False))
    assert node_jobs(s, "127.0.0.2")["7"]["args"] is None
    applied(s, SettingChanged("show_job_args", True))
    assert node_jobs(s, "127.0.0.2")["7"]["args"] == "y"
