"""Target 3: simulated events absorbed per second on the event loop, with 10 browsers connected.

The server (benchmarks/serve.py) holds a simulated cluster of 10,000 nodes
and 10 headless clients (their own process, permessage-deflate offered,
1 s interval) receive its deltas. For each measurement the server makes
1,000,000 events beforehand (untimed, out of the garbage collector's way),
attaches their cluster afresh and lets the browsers receive it (untimed:
every measurement starts from the same state, not with the jobs earlier
measurements left running), hands the events to the hub at once, and times
its loop until the last one is applied — while the clients' deltas go out in
between the hub's slices.
"""

from __future__ import annotations

from .common import PYTHON, Child, Result, Row, median, say

NODES = 10_000
EVENTS = 1_000_000


def run(quick: bool = False) -> Result:
    repeats = 2 if quick else 5
    events = EVENTS // (5 if quick else 1)
    figures: dict[str, list[float]] = {"10 browsers": [], "no browser": []}
    server = Child([PYTHON, "-m", "benchmarks.serve", "--nodes", str(NODES), "--rate", "0", "--poll-sec", "1"])
    clients = None
    frames = None
    try:
        server.ask(f"ingest {events // 10}")  # warm-up
        for _ in range(repeats):  # without browsers first, then with, alternating
            figures["no browser"].append(server.ask(f"ingest {events}")["per_sec"])
            if clients is None:
                url = f"ws://127.0.0.1:{server.hello['port']}/ws"
                clients = Child([PYTHON, "-m", "benchmarks.clients", "--url", url, "--clients", "10", "--interval", "1"])
                clients.ask("mark")
            got = server.ask(f"ingest {events}")
            figures["10 browsers"].append(got["per_sec"])
            say(f"ingest: {got['per_sec']:,.0f} events/s with 10 browsers")
            frames = clients.ask("mark")
            clients.stop()
            clients = None
    finally:
        if clients is not None:
            clients.stop()
        server.stop()
    with_b, without = median(figures["10 browsers"]), median(figures["no browser"])
    result = Result("ingest", "3. Ingest on the event loop")
    result.rows.append(Row(
        "3. Ingest",
        f"{with_b:,.0f} events/s with 10 browsers connected (median of {repeats}); {without:,.0f} with none",
        "≥ 200,000 events/s", with_b >= 200_000,
    ))  # fmt: skip
    per_client = [c["frames"] for c in frames["clients"]] if frames else []
    result.details = (
        "| run | no browser, events/s | 10 browsers, events/s |\n|---|---|---|\n"
        + "\n".join(f"| {i + 1} | {a:,.0f} | {b:,.0f} |" for i, (a, b) in enumerate(zip(figures["no browser"], figures["10 browsers"])))
        + f"\n| **median** | **{without:,.0f}** | **{with_b:,.0f}** |\n\n"
        f"During the last run with browsers each of the 10 received {min(per_client, default=0)}–"
        f"{max(per_client, default=0)} frames (one a second while the backlog was applied)."
    )
    result.method = (
        f"{events:,} events per run (job created / running / finished or failed, avail info; {NODES:,} nodes), "
        f"made by the simulator before the clock starts, their cluster attached afresh (untimed; the browsers "
        f"receive it before the clock starts), fed to the hub at once; the loop applies them in slices "
        f"of hub.DRAIN_LIMIT, with the 10 clients' ticks in between. {repeats} runs each, alternating with and "
        f"without browsers (a fresh set of 10 clients per run)."
    )
    result.data = {"per_sec": figures, "median_with_browsers": with_b, "median_without": without}
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
