"""Cluster module for the alerts tests: once the test opens the gate, one
long job pinned to the first node (the one the test kills), so dispy
declares that node dead after five pulses. What dispy itself reports is
written beside the gate file for the test to compare with the page: the
node's Closed status (`<gate>.closed`) and its job Abandoned
(`<gate>.job`)."""

import os
import pathlib

import dispy
from gate import cluster_options, wait_for_gate

GATE = pathlib.Path(os.environ["DISPYMON_E2E_GATE"])
VICTIM = os.environ["DISPYMON_E2E_NODES"].split(",")[0]


def setup():
    return 0


def compute(seconds):
    import time

    time.sleep(seconds)
    return seconds


def note_status(status, node, job):
    # dispy's own verdicts on the killed node and its job (passed as cluster_status=: dispymon chains it)
    if status == dispy.DispyNode.Closed and node is not None and node.ip_addr == VICTIM:
        GATE.with_name(GATE.name + ".closed").write_text(node.ip_addr)
    if status == dispy.DispyJob.Abandoned and job is not None:
        GATE.with_name(GATE.name + ".job").write_text(f"{job.id} abandoned")


cluster = dispy.JobCluster(compute, setup=setup, cluster_status=note_status, **cluster_options())


def workload():
    wait_for_gate()
    job = cluster.submit_node(VICTIM, 120)
    job.id = "victim-job"
    job()
