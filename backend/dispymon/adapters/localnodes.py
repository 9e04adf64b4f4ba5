"""Start and stop local `dispynode` processes on loopback addresses.

Used by `dispymon demo` and by the tests. Each node gets its own loopback
address, its own work directory (two nodes sharing one make the second exit,
and with --clean it kills the first) and an explicit port base away from
dispy's default 9700. Nodes run in their own session, so stopping a node's
process group also stops the job processes it forked.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


class NodeStartError(RuntimeError):
    pass


def port_free(host: str, port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def ephemeral_ports() -> range:
    """The ports the kernel hands out to outgoing connections (Linux's
    ip_local_port_range; the IANA range elsewhere)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return range(low, high + 1)
    except (OSError, ValueError):
        return range(49152, 65536)


def free_port_base(hosts: list[str], span: int = 3, low: int = 20000, high: int = 60000) -> int:
    """A port P such that P..P+span-1 are free on every host (dispy uses P, P+1, P+2).

    P is picked outside the ephemeral range: a port free now but in that range
    can be taken before dispy binds it (seconds later, after the nodes have
    started) by any outgoing connection on the machine, which then holds it
    until closed and a minute more in TIME_WAIT (SO_REUSEADDR does not bind
    over that). dispy's client then only logs "Could not bind TCP server",
    and a SharedJobCluster waits for its scheduler for ever (sharedwatch.py).
    """
    eph = ephemeral_ports()
    spans = [(a, b) for a, b in ((low, min(high, eph.start)), (max(low, eph.stop), high)) if b - a > span]
    rng = random.Random()
    for _ in range(200):
        a, b = rng.choice(spans) if spans else (low, high)
        base = rng.randrange(a, b - span + 1)
        if all(port_free(h, base + i) for h in hosts for i in range(span)):
            return base
    raise NodeStartError("no free dispy port base found on loopback")


def wait_for_tcp(
    host: str, port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "dispynode"
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise NodeStartError(f"{what} on {host} exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise NodeStartError(f"{what} on {host} did not listen on port {port} within {timeout:.0f} s")
        time.sleep(0.05)  # polling interval of a condition wait, not a synchronisation sleep


@dataclass
class LocalNode:
    ip: str
    cpus: int
    port_base: int
    workdir: Path
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 15.0, extra_args: list[str] | None = None) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "dispynode.log"
        cmd = [
            sys.executable,
            "-m",
            "dispy.dispynode",
            "-i",
            self.ip,
            "-p",
            str(self.port_base),
            "--cpus",
            str(self.cpus),
            "--dest_path_prefix",
            str(self.workdir / "node"),
            "--clean",
            "--daemon",  # no stdin to read commands from
            *(extra_args or []),
        ]
        self.proc = spawn(cmd, self.workdir, self.log_path)
        try:
            # a node listens on port_base + 1 (the client uses port_base)
            wait_for_tcp(self.ip, self.port_base + 1, timeout, self.proc)
        except NodeStartError:
            self.stop()
            raise

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the node alone (its jobs become orphans dispy must notice)."""
        proc = self.proc
        if proc is not None and proc.poll() is None:  # alive()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM the node's process group, then SIGKILL what is left."""
        if self.proc is not None:
            stop_group(self.proc, grace)


def stop_group(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM a process started in its own session, and its group; SIGKILL what is left."""
    pgid = proc.pid  # its own session: pgid == pid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        # the process is gone; make sure its children (job processes) are too
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        break


@dataclass
class LocalCluster:
    """A set of local nodes sharing one port base."""

    workdir: Path
    ips: list[str]
    cpus: int = 2
    port_base: int = 0
    nodes: list[LocalNode] = field(default_factory=list)
    extra_args: list[str] | None = None  # more dispynode options, for every node

    def __post_init__(self) -> None:
        if not self.port_base:
            self.port_base = free_port_base(["127.0.0.1", *self.ips])

    def start(self) -> LocalCluster:
        try:
            for ip in self.ips:
                self.add(ip)
        except BaseException:
            self.stop()
            raise
        return self

    def add(self, ip: str, cpus: int | None = None) -> LocalNode:
        node = LocalNode(ip, cpus or self.cpus, self.port_base, self.workdir / ip)
        self.nodes.append(node)
        node.start(extra_args=self.extra_args)
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def pids(self) -> list[int]:
        return [n.pid for n in self.nodes if n.pid]


@dataclass
class LocalScheduler:
    """A `dispyscheduler` for SharedJobCluster tests, serving the given nodes.

    It talks to the nodes on `port_base` (theirs: the nodes' own port base)
    and to clients on port_base + 2, so a SharedJobCluster uses
    `dispy_port=port_base` and `scheduler_host=ip`. Its `ip` must differ from
    the nodes' (dispy keeps one node per address) and from the client's.
    """

    ip: str
    nodes: list[str]
    port_base: int
    workdir: Path
    pulse_interval: float = 1.0
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 15.0) -> LocalScheduler:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "dispyscheduler.log"
        cmd = [
            sys.executable,
            "-m",
            "dispy.dispyscheduler",
            "-i",
            self.ip,
            "-p",
            str(self.port_base),
            *[arg for ip in self.nodes for arg in ("-n", ip)],
            "--pulse_interval",
            str(self.pulse_interval),
            "--dest_path_prefix",
            str(self.workdir / "scheduler"),
            "--clean",
            "--daemon",
        ]
        self.proc = spawn(cmd, self.workdir, self.log_path)
        try:
            wait_for_tcp(self.ip, self.port_base + 2, timeout, self.proc, "dispyscheduler")  # where clients connect
        except NodeStartError:
            self.stop()
            raise
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 3.0) -> None:
        if self.proc is not None:
            stop_group(self.proc, grace)


def spawn(cmd: list[str], workdir: Path, log_path: Path) -> subprocess.Popen:
    """A dispy daemon in its own session (stopping it stops its job processes too), output to `log_path`."""
    with open(log_path, "ab") as logf:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=workdir,
        )


def loopback_ips(count: int, first: int = 2) -> list[str]:
    return [f"127.0.0.{first + i}" for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    """`python -m dispymon.localnodes --ips A,B [--cpus N] [--port-base P] --workdir D`

    Starts the nodes, prints one JSON line {"port_base", "nodes": [{"ip", "pid"}]},
    then keeps them until SIGTERM/SIGINT or until stdin closes, and stops them.
    For test harnesses in other languages (the Playwright fixtures).
    """
    import argparse
    import json
    import threading

    parser = argparse.ArgumentParser(prog="python -m dispymon.localnodes")
    parser.add_argument("--ips", required=True, help="comma-separated loopback addresses")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--port-base", type=int, default=0)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--node-name", default=None, help="the name every node reports (dispynode --name)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    extra = ["--name", args.node_name] if args.node_name else None
    cluster = LocalCluster(
        Path(args.workdir), args.ips.split(","), cpus=args.cpus, port_base=args.port_base, extra_args=extra
    )
    try:
        cluster.start()
        print(
            json.dumps({"port_base": cluster.port_base, "nodes": [{"ip": n.ip, "pid": n.pid} for n in cluster.nodes]}),
            flush=True,
        )

        def stop_at_eof() -> None:  # the parent closed our stdin: it is gone or done
            sys.stdin.read()
            stop.set()

        threading.Thread(target=stop_at_eof, daemon=True).start()
        stop.wait()
    except NodeStartError as exc:
        print(f"localnodes: {exc}", file=sys.stderr)
        return 2
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
