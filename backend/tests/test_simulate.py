"""The simulated cluster: well-formed events, a consistent state, commands that act on it.

The simulator is a second adapter for benchmarks and `dispymon demo
--simulate`; these tests check it tells the state a coherent story. (That
dispy's own features work is proven against real dispynode processes.)
"""

from __future__ import annotations

import asyncio
import collections
import threading

from dispymon.model import events as ev
from dispymon.commands.registry import Commands
from dispymon.runtime.hub import Hub
from dispymon.adapters.simulated import SimulatedCluster, SimulatedControl, node_address
from dispymon.model.state import CLOSED, DEALLOCATED, INITIALIZED, State
from dispymon.transport.protocol import OUTPUT_TAIL
from conftest import wait_until


def run(nodes=20, cpus=4, events=3000, **kw):
    log: list = []
    sim = SimulatedCluster(log.append, nodes, cpus, **kw)
    sim.attach()
    sim.emit(events)
    return sim, log


def test_events_are_what_the_dispy_adapter_produces():
    sim, log = run()
    attached = log[0]
    assert isinstance(attached, ev.ClusterAttached) and attached.kind == "JobCluster"
    assert len(attached.nodes) == 20 and all(isinstance(n, ev.NodeInfo) for n, _ in attached.nodes)
    assert len(attached.running) == round(0.75 * 20 * 4)
    seen = collections.Counter()
    for e in log[1:]:
        assert isinstance(e, ev.StatusEvent) and e.cluster == sim.name
        seen[e.status] += 1
        if e.status == ev.JOB_CREATED:  # as dispy: no node yet, no address
            assert e.node is None and e.job.ip_addr is None
        elif e.status == ev.NODE_AVAIL_INFO:
            assert e.job is None and isinstance(e.node.avail_info, ev.AvailInfo)
        else:
            assert isinstance(e.job, ev.JobInfo) and e.job.ip_addr == e.node.ip_addr
            assert 0 <= e.node.busy <= e.node.cpus
            if e.status == ev.JOB_TERMINATED:
                assert e.job.exception  # a failure, not a kill
    assert set(seen) == {ev.JOB_CREATED, ev.JOB_RUNNING, ev.JOB_FINISHED, ev.JOB_TERMINATED, ev.NODE_AVAIL_INFO}
    assert 0.05 < seen[ev.NODE_AVAIL_INFO] / sum(seen.values()) < 0.15  # avail_share 0.1
    assert node_address(0) == "10.0.0.1" and node_address(250) == "10.0.1.1"


def test_the_state_agrees_with_the_simulator_after_a_run():
    sim, log = run(events=20_000)
    state = State()
    for e in log:
        state.apply(e)
    c = state.clusters[sim.name]
    jobs = c.jobs_record()
    assert jobs["running"] == sim.running == sum(info.busy for info, _ in c.nodes.values())
    assert jobs["submitted"] == sim.jobs_created
    assert jobs["done"] == sim.jobs_done and jobs["failed"] > 0
    assert jobs["finished"] + jobs["failed"] == jobs["done"]
    assert sum(info.jobs_done for info, _ in c.nodes.values()) == sim.jobs_done
    for ip, node in sim.nodes.items():
        assert set(state.running_by_ip.get(ip, {})) == node.running


def test_the_thread_keeps_its_rate_and_stops():
    fed = []
    sim = SimulatedCluster(fed.append, 10, 2, rate=2000)
    sim.start()
    try:
        wait_until(lambda: len(fed) > 400, timeout=10, what="simulated events")
    finally:
        sim.stop()
    assert not any(t.name.startswith("simulated-") for t in threading.enumerate())
    count = len(fed)
    assert sim.events == count - 1  # everything after the ClusterAttached


async def test_commands_change_the_simulated_nodes():
    hub = Hub(asyncio.get_running_loop())
    sim = SimulatedCluster(hub.feed, 4, 2, fill=1.0, fail_rate=0.0)
    cmds = Commands(hub, SimulatedControl([sim]), timeout=5.0, add_node_wait=5.0)
    sim.attach()
    sim.emit(100)
    await hub.settle()
    state = hub.read()

    async def command(name, **args):
        result = await cmds.execute({"type": "command", "id": 1, "name": name, "args": args})
        assert result["ok"], result
        await hub.settle()
        return result["value"]

    # terminate a running job: it leaves the state, counted as terminated
    uid = next(iter(state.clusters[sim.name].running))
    assert (await command("terminate_jobs", uids=[uid]))["results"] == {str(uid): "terminated"}
    assert state.running_job(uid) is None and state.clusters[sim.name].terminated == 1

    # CPUs: dispy's effective value, applied to the node and honoured by the model
    ip = node_address(0)
    assert (await command("set_node_cpus", ip=ip, cpus=1))["cpus"] == {sim.name: 1}
    assert state.clusters[sim.name].nodes[ip][0].cpus == 1
    sim.emit(200)
    assert sim.nodes[ip].busy <= 1  # the jobs running there ended; no new one beyond 1 CPU

    # deallocate: no new job there; allocate again: jobs come back
    other = node_address(1)
    await command("deallocate_node", ip=other)
    assert state.node_status(sim.name, other) == DEALLOCATED
    sim.emit(300)
    assert sim.nodes[other].busy == 0
    await command("allocate_node", ip=other)
    sim.emit(300)
    assert sim.nodes[other].busy > 0 and state.node_status(sim.name, other) == INITIALIZED

    # close, terminating what runs there
    third = node_address(2)
    await command("close_node", ip=third, terminate_pending=True)
    sim.emit(300)
    await hub.settle()
    assert state.node_status(sim.name, third) == CLOSED and sim.nodes[third].busy == 0
    assert not state.running_by_ip.get(third)

    # add a node: it initialises at once and takes jobs
    value = await command("add_node", host="10.9.9.9", cpus=3)
    entry = next(e for e in state.audit if e["id"] == value["audit_id"])
    assert entry["state"] == "ok"
    sim.emit(300)
    await hub.settle()
    info, status = state.clusters[sim.name].nodes["10.9.9.9"]
    assert status == INITIALIZED and info.cpus == 3 and info.busy > 0

    # commands on something the simulator does not have fail cleanly
    result = await cmds.execute({"type": "command", "id": 2, "name": "set_node_cpus",
                                 "args": {"ip": "10.200.0.1", "cpus": 1}})  # fmt: skip
    assert not result["ok"] and result["error"]["code"] == "not_found"


def test_jobs_carry_keys_created_and_pinned_as_the_dispy_adapters_do():
    sim, log = run(events=6000)
    keys: dict[int, int] = {}  # uid -> key
    created = pinned = 0
    for e in log[1:]:
        if e.job is None:
            continue
        info = e.job
        assert info.key > 0 and info.created is not None
        assert keys.setdefault(info.uid, info.key) == info.key  # one key per job, from Created to its end
        if e.status == ev.JOB_CREATED:
            created += 1
            pinned += info.pinned is not None
            assert (info.pinned is not None) == (info.id % 50 == 0)
        elif e.status in ev.JOB_DONE_STATUSES:
            assert info.args == () and not info.kwargs and info.handle is None  # as dispy's ended copies
    assert len(set(keys.values())) == len(keys)  # never shared
    assert created > 500 and pinned in (created // 50, created // 50 + 1)
    assert sim.keys.live() == sim.running + len(sim._queue)  # ended jobs' keys are not kept live


def test_outputs_and_arguments_of_the_chosen_sizes():
    sim, log = run(events=3000, stdout_bytes=10_240, stderr_bytes=100_000, args_bytes=1024, result="int")
    ended = [e for e in log[1:] if e.status in (ev.JOB_FINISHED, ev.JOB_TERMINATED)]
    assert ended
    for e in ended:
        end = e.job.extra
        assert (end.stdout_len, len(end.stdout), end.stdout_kind) == (10_240, 10_240, "str")
        assert (end.stderr_len, len(end.stderr)) == (100_000, OUTPUT_TAIL)
        if e.status == ev.JOB_TERMINATED:
            assert end.traceback.endswith(e.job.exception + "\n") and end.result is None
        else:
            assert end.traceback is None and end.result == e.job.id
    assert len({id(e.job.extra.stdout) for e in ended}) == len(ended)  # a slice per job, no sharing
    created = [e for e in log[1:] if e.status == ev.JOB_CREATED]
    assert all(len(e.job.args[1]) == 1024 for e in created)
    _, plain_log = run(events=3000, fail_rate=0)
    assert all(e.job.extra is None for e in plain_log[1:] if e.status == ev.JOB_FINISHED)  # nothing: costs nothing


def test_submit_queues_a_job_with_the_arguments_and_refuses_an_unknown_node():
    import pickle

    import pytest

    from dispymon.commands.control import ControlRefused

    log: list = []
    sim = SimulatedCluster(log.append, 4, 1, fill=1.0, rate=0)
    control = SimulatedControl([sim])
    key = control.submit(sim.name, pickle.dumps((("x", 2), {"k": 3})), None)
    on_node = control.submit(sim.name, pickle.dumps(((1,), {})), node_address(2))
    made = [e for e in log if e.status == ev.JOB_CREATED]
    assert [(e.job.key, e.job.args, e.job.kwargs, e.job.pinned) for e in made] == [
        (key, ("x", 2), {"k": 3}, None), (on_node, (1,), {}, node_address(2))]  # fmt: skip
    seed = sim.attached_event()
    assert [j.key for j in seed.queued] == [key, on_node] and seed.pending == 4 + 2
    with pytest.raises(ControlRefused) as refused:
        control.submit(sim.name, pickle.dumps(((), {})), "10.9.9.9")
    assert refused.value.code == "cluster_error"
    sim.queue_limit = 2
    with pytest.raises(ControlRefused):
        control.submit(sim.name, pickle.dumps(((), {})), None)
