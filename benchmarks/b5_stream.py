"""Targets 5 and 6: on one event stream, latency to the client and bytes on the wire, dispymon vs dispy.httpd.

The stream: a simulated cluster of 10,000 nodes at 1,000 events per second,
turned into real dispy objects and callback calls (benchmarks/replay.py),
each node's update_time stamped with the wall clock at the call. dispymon's
server takes the calls through its own tap (`--via-dispy`); dispy.httpd's
`cluster_status` takes them in its server process. One after the other,
for the same time each.

Latency: for every node record a client decodes, now − the record's
update_time (clients and servers share the machine's clock). dispymon's
clients ask for their interval — 0.05 s (live: the minimum, the page's Live
button), 0.1 s and 1 s — and offer
permessage-deflate as browsers do; dispy.httpd's page polls
/cluster_updates every poll_sec = 1 s (its minimum) after each answer.

Bytes: what crosses a byte-counting TCP proxy from server to client —
frames or HTTP answers with their headers — in the same window, initial
load excluded (and shown apart).
"""

from __future__ import annotations

import time

from .common import PYTHON, Child, Result, Row, percentile, say

NODES = 10_000
CPUS = 8
RATE = 1000.0


def run(quick: bool = False) -> Result:
    duration = 10 if quick else 60
    out: dict = {}

    # -- dispymon ---------------------------------------------------------------
    say(f"stream: dispymon, {NODES} nodes, {RATE:g} events/s, {duration} s")
    server = Child([PYTHON, "-m", "benchmarks.serve", "--nodes", str(NODES), "--cpus", str(CPUS), "--rate", str(RATE),
                    "--via-dispy", "--realtime", "--poll-sec", "1"])  # fmt: skip
    clients: dict[float, Child] = {}
    try:
        url = f"ws://127.0.0.1:{server.hello['port']}/ws"
        for interval in (0.05, 0.1, 1.0):
            clients[interval] = Child([PYTHON, "-m", "benchmarks.clients", "--url", url, "--clients", "1",
                                       "--interval", str(interval), "--proxy"])  # fmt: skip
        time.sleep(2)  # past the snapshots
        first = {i: c.ask("mark") for i, c in clients.items()}
        s0 = server.ask("stats")
        time.sleep(duration)
        last = {i: c.ask("mark") for i, c in clients.items()}
        s1 = server.ask("stats")
    finally:
        for c in clients.values():
            c.stop()
        server.stop()
    elapsed = last[1.0]["t"] - first[1.0]["t"]
    for interval in clients:
        c = last[interval]["clients"][0]
        out[f"dispymon {interval:g} s"] = {
            "ages_ms": [a * 1000 for a in c["ages"]],
            "wire_bytes": last[interval]["wire_down"] - first[interval]["wire_down"],
            "initial_bytes": first[interval]["wire_down"],
            "frames": c["frames"],
            "payload_bytes": c["bytes"],
            "seconds": elapsed,
        }
    dm_cpu = (s1["cpu"] - s0["cpu"]) / (s1["t"] - s0["t"])

    # -- dispy.httpd --------------------------------------------------------------
    say(f"stream: dispy.httpd, {NODES} nodes, {RATE:g} events/s, {duration} s")
    server = Child([PYTHON, "-m", "benchmarks.httpd_serve", "--nodes", str(NODES), "--cpus", str(CPUS),
                    "--rate", str(RATE), "--poll-sec", "1"])  # fmt: skip
    poller = None
    try:
        poller = Child([PYTHON, "-m", "benchmarks.poll_httpd", "--url", f"http://127.0.0.1:{server.hello['port']}",
                        "--poll-sec", "1", "--proxy"])  # fmt: skip
        time.sleep(2)
        p0 = poller.ask("mark")
        h0 = server.ask("stats")
        time.sleep(duration)
        p1 = poller.ask("mark")
        h1 = server.ask("stats")
    finally:
        if poller is not None:
            poller.stop()
        server.stop()
    out["dispy.httpd 1 s"] = {
        "ages_ms": [a * 1000 for a in p1["ages"]],
        "wire_bytes": p1["wire_down"] - p0["wire_down"],
        "initial_bytes": p0["wire_down"],
        "frames": p1["requests"],
        "payload_bytes": p1["body_bytes"],
        "seconds": p1["t"] - p0["t"],
    }
    httpd_cpu = (h1["cpu"] - h0["cpu"]) / (h1["t"] - h0["t"])

    def lat(name: str) -> tuple[float, float]:
        ages = out[name]["ages_ms"]
        return percentile(ages, 50), percentile(ages, 99)

    live50, live99 = lat("dispymon 0.05 s")
    h50, h99 = lat("dispy.httpd 1 s")
    per_sec = {name: o["wire_bytes"] / o["seconds"] for name, o in out.items()}
    ratio = per_sec["dispymon 1 s"] / per_sec["dispy.httpd 1 s"]
    ratio_live = per_sec["dispymon 0.05 s"] / per_sec["dispy.httpd 1 s"]

    result = Result("stream", "5–6. One event stream: latency and bytes, dispymon vs dispy.httpd")
    result.rows.append(Row(
        "5. Latency, callback → decoded",
        f"dispymon live (0.05 s): p50 {live50:.0f} ms, p99 {live99:.0f} ms (at 0.1 s: p99 {lat('dispymon 0.1 s')[1]:.0f} "
        f"ms); dispy.httpd (poll_sec 1): p50 {h50:.0f} ms, p99 {h99:.0f} ms",
        "p99 ≤ 100 ms", live99 <= 100,
    ))  # fmt: skip
    result.rows.append(Row(
        "6. Bytes on the wire",
        f"{per_sec['dispymon 1 s'] / 1000:.1f} KB/s (dispymon, 1 s) vs {per_sec['dispy.httpd 1 s'] / 1000:.1f} KB/s "
        f"(dispy.httpd /cluster_updates, 1 s): ratio {ratio:.3f}; at dispymon's live 0.05 s: {ratio_live:.3f}",
        "≤ 0.25", ratio <= 0.25,
    ))  # fmt: skip
    lines = ["| client | records (or nodes) received | latency p50 | p90 | p99 | max | bytes on the wire, KB/s | "
             "payload, KB/s | initial load, KB |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, o in out.items():
        ages = o["ages_ms"]
        lines.append(
            f"| {name} | {len(ages):,} | {percentile(ages, 50):.0f} ms | {percentile(ages, 90):.0f} ms | "
            f"{percentile(ages, 99):.0f} ms | {max(ages):.0f} ms | {o['wire_bytes'] / o['seconds'] / 1000:.1f} | "
            f"{o['payload_bytes'] / o['seconds'] / 1000:.1f} | {o['initial_bytes'] / 1000:.0f} |"
        )
    result.details = "\n".join(lines) + (
        f"\n\nServer process CPU meanwhile (simulator and replay included): dispymon {dm_cpu * 100:.0f} % of a core, "
        f"dispy.httpd {httpd_cpu * 100:.0f} %. Payload: dispymon's frames as decompressed (msgpack), dispy.httpd's "
        f"JSON bodies (it does not compress). dispymon's frames are compressed by permessage-deflate, which every "
        f"browser offers and aiohttp accepts."
    )
    result.method = (
        f"{NODES:,} simulated nodes ({CPUS} CPUs each), {RATE:,.0f} events/s as dispy callback calls with real "
        f"dispy objects, {duration} s per server, one server after the other; clients in their own processes "
        f"through a counting TCP proxy. Latency: every node record decoded, now − its update_time (stamped at the "
        f"callback). Percentiles by nearest rank."
    )
    result.data = {name: {k: v for k, v in o.items() if k != "ages_ms"} | {
        "p50_ms": percentile(o["ages_ms"], 50), "p99_ms": percentile(o["ages_ms"], 99), "records": len(o["ages_ms"])}
        for name, o in out.items()}  # fmt: skip
    result.data["ratio_bytes"] = ratio
    result.data["server_cpu"] = {"dispymon": dm_cpu, "dispy.httpd": httpd_cpu}
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
