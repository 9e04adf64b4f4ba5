"""How DispyHTTPServer.cluster_status finds the cluster of each event (no nodes needed).

dispy calls `cluster_status(status, node, job)` without saying which cluster;
the adapter tells them apart by the job's computation id, by job ids seen
earlier, and by the node objects each cluster holds. The events here are
built from dispy's own classes, as dispy builds them.
"""

from __future__ import annotations

import copy

import dispy
import pytest

from dispymon.adapters import dispy as adapter
from dispymon.model.events import ClusterAttached, ClusterDetached, StatusEvent
from dispymon.model.text import job_texts


def alpha(n):
    return n


def beta(n):
    return n


@pytest.fixture
def clusters(dispy_port):
    # No node runs at 127.0.0.250: clusters that exist and never run a job.
    made = [dispy.JobCluster(f, nodes=["127.0.0.250"], host="127.0.0.1", dispy_port=dispy_port,
                             loglevel=dispy.logger.WARNING) for f in (alpha, beta)]  # fmt: skip
    yield made
    for c in made:
        c.close(timeout=0, terminate=True)


def job_of(cluster, *args):
    """A job as dispy makes it for `cluster.submit(*args)`, and the copy a status event carries."""
    _job = dispy._DispyJob_(cluster._compute.id, None, args, {})
    return _job, copy.copy(_job.job)


def node_of(cluster, ip):
    node = dispy.DispyNode(ip, "n", 2)
    cluster._dispy_nodes[ip] = node
    return node


def statuses(fed):
    return [(e.cluster, e.status, e.node.ip_addr if e.node else None) for e in fed if isinstance(e, StatusEvent)]


def test_events_go_to_the_cluster_they_belong_to(clusters):
    a, b = clusters
    fed = []
    routes = adapter.DispyAdapter(fed.append)
    a.cluster_status = b.cluster_status = lambda *_: None  # both have callbacks: no tap installed
    routes.attach(a, chain=False)
    routes.attach(b, chain=False)
    assert a.cluster_status is not None and not hasattr(a.cluster_status, "__dispymon_chained__")
    node_a, node_b = node_of(a, "127.0.0.2"), node_of(b, "127.0.0.2")  # one node, one DispyNode per cluster
    _job, job = job_of(b, 1)
    routes.route_status(dispy.DispyNode.Initialized, node_b, None)
    routes.route_status(dispy.DispyJob.Created, None, job)
    routes.route_status(dispy.DispyJob.Running, node_b, job)
    done = copy.copy(job)
    done._dispy_job_ = None  # dispy drops the job's computation id before reporting its end
    routes.route_status(dispy.DispyJob.Finished, None, done)
    routes.route_status(dispy.DispyNode.AvailInfo, node_a, None)
    assert statuses(fed) == [("beta", 4, "127.0.0.2"), ("beta", 5, None), ("beta", 6, "127.0.0.2"),
                             ("beta", 11, None), ("alpha", 17, "127.0.0.2")]  # fmt: skip
    assert routes._job_routes == {}  # forgotten once the job ended


def test_a_cluster_reporting_without_being_added_is_added(clusters):
    a, b = clusters
    fed = []
    routes = adapter.DispyAdapter(fed.append)
    routes.attach(a, chain=False)
    b.cluster_status = routes.route_status  # the seed: cluster_status=http_server.cluster_status
    routes.route_status(dispy.DispyNode.Initialized, node_of(b, "127.0.0.3"), None)
    assert [e.cluster for e in fed if isinstance(e, ClusterAttached)] == ["alpha", "beta"]
    assert statuses(fed) == [("beta", 4, "127.0.0.3")]
    assert b.cluster_status == routes.route_status  # its callback stays


def test_a_deleted_clusters_events_are_dropped_and_unknown_ones_go_to_the_first(clusters):
    a, b = clusters
    fed = []
    routes = adapter.DispyAdapter(fed.append)
    routes.attach(a, chain=False)
    routes.attach(b, chain=False)
    assert routes.detach(b)
    assert isinstance(fed[-1], ClusterDetached)
    routes.route_status(dispy.DispyNode.Initialized, node_of(b, "127.0.0.4"), None)
    assert statuses(fed) == []  # not taken back
    stranger = dispy.DispyNode("127.0.0.5", "x", 1)  # in no cluster at all
    routes.route_status(dispy.DispyNode.Initialized, stranger, None)
    assert statuses(fed) == [("alpha", 4, "127.0.0.5")]


def test_a_cluster_without_callback_gets_the_tap_and_gets_it_back_on_detach(clusters):
    a, _ = clusters
    fed = []
    routes = adapter.DispyAdapter(fed.append)
    routes.attach(a, chain=False)
    tap = a.cluster_status
    assert tap.__dispymon_chained__ is None
    tap(dispy.DispyNode.Initialized, node_of(a, "127.0.0.6"), None)
    assert statuses(fed) == [("alpha", 4, "127.0.0.6")]
    routes.detach(a, announce=False)
    assert a.cluster_status is None and not isinstance(fed[-1], ClusterDetached)


def test_the_id_a_program_sets_after_submit_is_shown(clusters):
    a, _ = clusters
    _job, copied = job_of(a, 3)  # the event's copy carries dispy's own id (a counter)
    _job.job.id = "mine"  # what the seed's example does right after submit
    info = adapter.job_info(copied)
    assert job_texts(info.id, info.args, info.kwargs, True)[0] == "mine"
    assert adapter.job_info(_job.job).id == "mine"


def test_wait_for_callbacks_returns_once_dispy_has_run_the_queued_ones(clusters):
    a, _ = clusters
    ran = []
    scheduler = a._cluster
    scheduler.worker_Q.put((lambda: ran.append("queued before"), ()))
    routes = adapter.DispyAdapter(lambda e: None)
    routes.attach(a)
    assert routes.wait_for_callbacks(5)
    assert ran == ["queued before"]
