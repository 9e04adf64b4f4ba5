"""Cluster module whose job ids and arguments are markup that would run script
if a page injected it as HTML (the injection test)."""


import dispy
from gate import cluster_options, wait_for_gate

PAYLOAD = '<img src=x onerror="window.__pwned=1">'


def setup():
    return 0


def compute(seconds, text, label=""):
    import time

    time.sleep(seconds)
    return seconds


cluster = dispy.JobCluster(
    compute,
    setup=setup,
    **cluster_options(),
)


def workload():
    wait_for_gate()
    job = cluster.submit(300, "<script>window.__pwned=2</script>", label=PAYLOAD)
    job.id = PAYLOAD
    job()
