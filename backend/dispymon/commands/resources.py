"""The read-only `node_resources` query: a node's resources over time, or the nodes table's sparklines.

`{node, span: "10m" | "day"}`: one node's CPU, memory, disk and swap
(features/resources.py `query`); `{nodes: [ip, ...] (at most 300), span:
"10m"}`: CPU % free over ten minutes per node, for the Monitor page's
sparkline column (`sparks`). Also `GET /api/resources` (features/rest.py).
"""

from __future__ import annotations

from typing import Any

from dispymon.commands.queries import one_of
from dispymon.commands.registry import IP, Check, CommandError, Commands, command, list_of
from dispymon.features.resources import MAX_SPARK_NODES, Resources
from dispymon.transport.codec import Packed

SPANS = ("10m", "day")
RESOURCES_ARGS: dict[str, Check] = {
    "node": IP,
    "nodes": list_of(IP, 1, MAX_SPARK_NODES),
    "span": one_of(SPANS),
}
RESOURCES_LISTS = frozenset({"nodes"})


def resources_value(resources: Resources, state: Any, **args: Any) -> dict[str, Any]:
    """The answer of `node_resources` (and of its REST route) for checked arguments."""
    node, nodes, span = args.get("node"), args.get("nodes"), args.get("span", "10m")
    if (node is None) == (nodes is None):
        raise CommandError("invalid", "give either node or nodes")
    resources.drain(state)  # the samples applied before the question are in the answer
    if nodes is not None:
        if span != "10m":
            raise CommandError("invalid", "nodes (the sparklines) have span 10m only")
        return resources.sparks(list(dict.fromkeys(nodes)))
    return resources.query(str(node), span)


def _of(cmds: Commands) -> Resources:
    resources = getattr(cmds, "resources", None)
    if resources is None:  # Commands made without an app (install was not called)
        raise CommandError("not_allowed", "this server keeps no resource history")
    return resources


@command("node_resources", optional=RESOURCES_ARGS, read_only=True)
async def node_resources_command(cmds: Commands, who: str | None, **args: Any) -> Packed | dict[str, Any]:
    resources = _of(cmds)
    state = cmds.hub.read()
    if cmds.insight is not None:  # shared by every asker while nothing changed (Insight.answer)
        key = ("node_resources", *sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in args.items()))
        return cmds.insight.answer(key, lambda: resources_value(resources, state, **args))
    return resources_value(resources, state, **args)
