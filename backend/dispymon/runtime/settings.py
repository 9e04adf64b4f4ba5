"""Settings: every option of `dispymon serve`/`demo`, the drop-in server and the benchmarks, in one place.

The command line and the drop-in's constructor each fill one `Settings`;
the runtime derives the server's own `ServerConfig` from it once.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from dispymon.transport.limits import Limits
from dispymon.transport.security import Access
from dispymon.transport.server import PACKAGED_STATIC, ServerConfig


@dataclass
class Settings:
    host: str = "127.0.0.1"  # '' or None: every interface
    port: int = 8181  # 0: a free port (Runtime.port says which)
    poll_sec: float = 10.0  # each browser's initial update interval
    show_job_args: bool = True
    static_dir: Path = PACKAGED_STATIC
    ssl_context: ssl.SSLContext | None = None
    # tokens and hosts (security.make_access): an operator token is generated
    # when binding beyond loopback without one
    token: str | None = None
    viewer_token: str | None = None
    allow_hosts: tuple[str, ...] = ()
    token_names: tuple[str, str] = ("the operator token", "the viewer token")  # how errors name them
    stuck_after: float = 300.0
    stale_after: float = 30.0
    history_size: int = 10_000
    history_db: str | os.PathLike[str] | None = None  # SQLite file for the history and series (off by default)
    # Bytes kept of ended jobs' outputs/texts in memory, of pickled arguments for resubmission (0: off),
    # and of the history database on disk (with history_db)
    outputs_budget: int = 64 * 2**20
    resubmit_budget: int = 64 * 2**20
    history_bytes: int = 256 * 2**20
    limits: Limits = field(default_factory=Limits)
    # Opt-in: the dispy adapter's deferred tap, which wraps the scheduler's
    # `worker_Q.put` so dispymon's own status events skip dispy's worker
    # thread (adapters/dispy/queue.py). `serve`, `demo` and the drop-in opt in.
    patch_dispy_queue: bool = False
    access_log: bool = False  # log each request (`-v`), tokens redacted
    # `serve`/`demo` only: stop when the workload ends; how long closing the clusters may take
    exit_after_workload: bool = False
    close_timeout: float = 10.0
    # The fleet (docs/fleet.md): a broker URL (redis:// or rediss://, with its
    # password: never printed), and this program's name to publish under
    # (None with a broker: a central, fed by fleet.central.FleetSource)
    broker: str | None = field(default=None, repr=False)
    program: str | None = None
    fleet_retention: int = 10_000  # entries kept in a program's stream (MAXLEN ~)
    fleet_backlog: int = 100_000  # events a program holds while the broker is slow or down
    heartbeat: float = 1.0  # seconds between a program's heartbeats (and a central's looks)
    offline_after: float = 10.0  # a central shows a program silent this long as offline
    forget_after: float = 86_400.0  # ... and forgets it after this long offline
    command_timeout: float = 10.0  # a central's command waits this long for its program
    serve_http: bool = True  # False: publish only, no listening port (`--no-http`, dispymon.publish)

    def server_config(self, access: Access) -> ServerConfig:
        return ServerConfig(
            poll_sec=float(self.poll_sec),
            show_job_args=bool(self.show_job_args),
            static_dir=self.static_dir,
            access=access,
            history_size=self.history_size,
            history_db=Path(self.history_db) if self.history_db is not None else None,
            outputs_budget=self.outputs_budget,
            resubmit_budget=self.resubmit_budget,
            history_bytes=self.history_bytes,
            limits=self.limits,
        )
