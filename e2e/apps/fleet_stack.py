"""A whole fleet on loopback for the end-to-end tests (docs/fleet.md), every part real.

A `redis-server` (its own port and directory, no persistence), two programs
(`dispymon serve --cluster-module backend/tests/fleet_app.py --broker ...
--program lab-A|lab-B`, each with its own dispynode processes, one address
used by both), two central replicas (`dispymon serve --broker ...`) and an
`nginx` balancing browsers over them (its own prefix, configuration and port). Prints one JSON line
with the addresses, PIDs and the files where each program writes what
dispy's job objects said when its workload ended; then reads commands on
stdin, one per line, answering each with a JSON line:

- `restart-redis`: start redis-server again on its port (after the test
  stopped it by PID);

and stops everything it started, by PID, when stdin closes (or on SIGTERM).

    python e2e/apps/fleet_stack.py --workdir DIR [--jobs N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from dispymon.adapters.localnodes import LocalCluster, free_port_base, stop_group, wait_for_tcp

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "backend" / "tests" / "fleet_app.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.Popen:
    with log.open("ab") as sink:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def redis(workdir: Path, port: int) -> subprocess.Popen:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    workdir.mkdir(parents=True, exist_ok=True)
    proc = spawn([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
                  "--appendonly", "no", "--daemonize", "no"], workdir / "redis.log")  # fmt: skip
    wait_for_tcp("127.0.0.1", port, 15.0, proc, what="redis-server")
    return proc


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream centrals {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://centrals;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_connect_timeout 2s;
      proxy_read_timeout 3600s;
      proxy_next_upstream error timeout http_502;
    }}
  }}
}}
"""


def nginx(workdir: Path, port: int, upstreams: list[int]) -> subprocess.Popen:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    workdir.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=60s;" for p in upstreams)
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, servers=servers, port=port))
    proc = spawn([binary, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")], workdir / "out.log")
    wait_for_tcp("127.0.0.1", port, 15.0, proc, what="nginx")
    return proc


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    nodes: list[LocalCluster] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    redis_port = free_port()
    state: dict[str, Any] = {}
    redis_proc: subprocess.Popen | None = None
    try:
        redis_proc = redis(work / "redis", redis_port)
        url = f"redis://127.0.0.1:{redis_port}/0"
        py = sys.executable
        centrals = []
        for i in range(2):
            port = free_port()
            proc = spawn([py, "-m", "dispymon", "serve", "--broker", url, "--port", str(port), "--poll-sec", "0.2",
                          "--offline-after", "5"], work / f"central-{i}.log")  # fmt: skip
            procs.append(proc)
            wait_for_tcp("127.0.0.1", port, 60.0, proc, what="dispymon central")
            centrals.append({"port": port, "pid": proc.pid, "url": f"http://127.0.0.1:{port}/"})
        programs = []
        # 127.0.0.3 is a machine both programs use, with a dispynode for each (a dispynode serves
        # one client at a time): the central shows it once, with both programs (docs/fleet.md)
        for name, first, fail_every in (("lab-A", 2, 7), ("lab-B", 3, 9)):
            ips = [f"127.0.0.{first}", f"127.0.0.{first + 1}"]
            cluster = LocalCluster(work / f"nodes-{name}", ips, cpus=2, port_base=free_port_base(["127.0.0.1", *ips]))
            nodes.append(cluster.start())
            out = work / f"{name}.json"
            env = dict(os.environ, FLEET_NODES=",".join(ips), FLEET_PORT=str(cluster.port_base), FLEET_OUT=str(out),
                       FLEET_JOBS=str(args.jobs), FLEET_FAIL_EVERY=str(fail_every), FLEET_LONG_JOBS="1",
                       FLEET_SECONDS=str(args.seconds))  # fmt: skip
            env.pop("PYTHONPATH", None)
            # Each program in a folder of its own: dispy keeps its recovery file `_dispy_<second>` in
            # the working directory, so two programs started in the same second shared one, and the
            # first to finish deleted the other's (a FileNotFoundError ended it, and the stack with it)
            home = work / f"program-{name}"
            home.mkdir(exist_ok=True)
            proc = spawn([py, "-m", "dispymon", "serve", "--cluster-module", str(APP), "--port", "0", "--broker", url,
                          "--program", name], work / f"{name}.log", env, cwd=home)  # fmt: skip
            procs.append(proc)
            programs.append({"name": name, "pid": proc.pid, "out": str(out), "ips": ips})
        balancer_port = free_port()
        procs.append(nginx(work / "nginx", balancer_port, [c["port"] for c in centrals]))
        state = {"url": f"http://127.0.0.1:{balancer_port}/", "redis": {"port": redis_port, "pid": redis_proc.pid},
                 "centrals": centrals, "programs": programs}  # fmt: skip
        print(json.dumps(state), flush=True)
        for line in sys.stdin:
            if line.strip() == "restart-redis":
                if redis_proc.poll() is None:
                    stop_group(redis_proc, 5.0)
                redis_proc = redis(work / "redis", redis_port)
                print(json.dumps({"redis": {"port": redis_port, "pid": redis_proc.pid}}), flush=True)
    finally:
        for proc in reversed(procs):  # nginx, the programs, then the centrals
            if proc.poll() is None:
                stop_group(proc, 15.0)
        for cluster in nodes:
            cluster.stop()
        if redis_proc is not None and redis_proc.poll() is None:
            stop_group(redis_proc, 5.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
