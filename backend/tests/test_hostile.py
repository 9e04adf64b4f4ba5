"""Hostile load on a real dispy program (issue 16): 1,100 connections that
never finish their request, under a 1,024 open-file limit, held for more than
twice the head deadline. The full 60 s run is `python -m benchmarks.hostile`
(docs/benchmarks.md, "Hostile load")."""

from __future__ import annotations

import sys

import pytest

from dispymon.transport.limits import Limits
from conftest import REPO

sys.path.insert(0, str(REPO))
from benchmarks.hostile import run  # noqa: E402

pytestmark = pytest.mark.cluster


def test_idle_connections_take_down_neither_the_dashboard_nor_dispy(local_nodes, tmp_path):
    nodes = local_nodes(2, cpus=2, first=75, other_process=True)
    seconds = 2 * Limits().head_timeout + 5  # 5 s of piling up before the probes start
    figures = run(seconds, connections=1100, nofile=1024, nodes=nodes, workdir=tmp_path)
    print(figures)  # the figures, for whoever reads the test's output
    assert figures["exit_code"] == 0, figures["log_tail"]
    attack = figures["attack"]
    # The attack ran at full strength (every socket connected at least once). An
    # attacker's connect that times out waited in the listen queue while the gate
    # held its cap (more of them on a loaded machine): the attacker's loss; what
    # must not fail is a real request, checked below.
    assert attack["connects"] >= 1100
    assert attack["closed_by_server"] > 0  # the gate closed idle ones (the cap, or the head deadline)
    # every real request answered (each has 10 s; unfixed, they time out)
    assert figures["failed"] == 0, figures["failures"]
    assert figures["probes"] >= 10
    # dispy, in the same process, kept its nodes and its jobs: what its own callback and status() say
    dispy = figures["dispy"]
    assert dispy is not None, figures["log_tail"]
    assert dispy.get("node_closed", 0) == 0 and dispy.get("job_abandoned", 0) == 0, dispy
    assert dispy["dispy_nodes"] == sorted(n.ip for n in nodes.nodes)
    assert dispy.get("job_finished", 0) >= 4
    # the log says it once, with a count (unfixed: ~1.5 MB a second of accept tracebacks)
    assert figures["log_growth_bytes"] < 64 * 1024, figures["log_tail"]
