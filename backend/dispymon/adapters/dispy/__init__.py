"""The dispy adapter: the only module that imports dispy.

It chains each attached cluster's `cluster_status` callback with a tap that
copies the few fields the dashboard needs into event tuples and hands them to
`feed` (the hub). The tap does O(1) work on dispy's callback thread: attribute
reads and one deque append; no str() of user objects, no locks, no I/O. A
deferred tap (`defer=True`, as `dispymon serve` uses) only appends; with
`patch_queue=True` (an explicit opt-in) it runs on dispy's scheduler thread as
dispy queues the event (queue.py).

The drop-in `dispymon.entry.httpd.DispyHTTPServer` follows dispy's documented rule
instead: the tap is installed only on a cluster without a callback; a user's
own callback passes the events on by calling the server's
`cluster_status(status, node, job)`, which `DispyAdapter.route_status` sends
to the cluster they belong to.

The package, split as its parts are: clusters.py (recognising, making and
closing clusters), tap.py (the status callback tap and its copies of dispy's
objects), seed.py (what a cluster has when attached, read in one pycos step),
adapter.py (DispyAdapter: attach, detach, route), control.py (DispyControl),
compat.py (the Python 3.11 shim), shared.py (SharedJobCluster watch),
queue.py (the opt-in worker_Q.put patch), scheduler.py (dispy's dispyscheduler
run in-process, for `dispymon scheduler`). This module is the façade.
"""

from __future__ import annotations

from dispymon.adapters.dispy import compat
from dispymon.adapters.dispy.shared import install_shared_watch

# Python 3.11 compatibility (getargspec) lives in compat.py; `import dispymon`
# installs it, and so does importing this adapter (before the modules below import dispy's parts).
install_compat = compat.install
install_compat()
install_shared_watch()  # a SharedJobCluster that cannot reach its scheduler says so (shared.py)

from dispymon.adapters.dispy.adapter import DispyAdapter  # noqa: E402
from dispymon.adapters.dispy.clusters import close_cluster, cluster_kind, is_cluster, job_cluster  # noqa: E402
from dispymon.adapters.dispy.control import DispyControl  # noqa: E402
from dispymon.adapters.dispy.seed import SEED_WAIT  # noqa: E402
from dispymon.adapters.dispy.tap import _make_tap, ended_job_info, job_info, node_info, status_event  # noqa: E402

__all__ = [
    "SEED_WAIT",
    "DispyAdapter",
    "DispyControl",
    "_make_tap",
    "close_cluster",
    "cluster_kind",
    "compat",
    "ended_job_info",
    "install_compat",
    "is_cluster",
    "job_cluster",
    "job_info",
    "node_info",
    "status_event",
]
