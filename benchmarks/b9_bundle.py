"""Target 9: the frontend bundle shipped to the browser, gzip.

Every file of the Vite build in backend/dispymon/static (what the server
sends: index.html, JavaScript and CSS, the lazily loaded modules included),
each at its gzip size: the build's own `.gz` beside it (what the server sends
a browser that accepts gzip), or the file gzipped at level 9 here when it
has none. Apart:

- the first page: index.html and what it references (its script, module
  preloads, stylesheet), with the static imports of those scripts, followed
  to the end: what a browser must fetch before the app runs;
- what a browser opening the Monitor page of a small cluster (4 nodes,
  benchmarks/serve.py with the simulated cluster) fetches in all, watched in
  Chromium (benchmarks/browser.mjs `requests`) until the page's chart is
  drawn and 3 s more: the first page plus what its code loads by itself once
  data arrives (the chart's plot);
- the lazy rest: modules only other pages, or a table above 100 rows, load.
"""

from __future__ import annotations

import gzip
import re

from .b7_browser import browser, serve
from .common import REPO, Result, Row, say

STATIC = REPO / "backend" / "dispymon" / "static"
LIMIT = 90 * 1000  # KB as Vite reports it (1,000 bytes)
TEXT = (".html", ".js", ".css", ".svg", ".ico")
# static imports in the minified output: `import"./x.js"`, `from"./x.js"`
IMPORTS = re.compile(r'(?:from|import)\s*"\./([\w.-]+\.js)"')


def gzip_size(path) -> tuple[int, bool]:
    """The gzip size of a file as the server can send it, and whether the build shipped that .gz."""
    shipped = path.with_name(path.name + ".gz")
    if shipped.is_file():
        return shipped.stat().st_size, True
    return len(gzip.compress(path.read_bytes(), 9)), False


def first_page() -> set[str]:
    index = (STATIC / "index.html").read_text()
    first = {"index.html"} | {m.lstrip("/") for m in re.findall(r'(?:src|href)="(/assets/[^"]+)"', index)}
    todo = [name for name in first if name.endswith(".js")]
    while todo:
        text = (STATIC / todo.pop()).read_text()
        for name in IMPORTS.findall(text):
            name = f"assets/{name}"
            if name not in first:
                first.add(name)
                todo.append(name)
    return first


def run(quick: bool = False) -> Result:
    files = sorted(p for p in STATIC.rglob("*") if p.is_file() and p.suffix in TEXT)
    sizes: dict[str, tuple[int, int]] = {}
    shipped = 0
    for p in files:
        gz, has_gz = gzip_size(p)
        sizes[str(p.relative_to(STATIC))] = (p.stat().st_size, gz)
        shipped += has_gz
    total = sum(g for _, g in sizes.values())
    first = first_page()
    initial = sum(sizes[n][1] for n in first if n in sizes)

    say("bundle: the files a browser fetches opening the Monitor page of a small cluster")
    with serve("--nodes", "4", "--cpus", "2", "--rate", "20", "--poll-sec", "1") as s:
        seen = browser("requests", f"http://127.0.0.1:{s.hello['port']}/", "3")
    fetched = {f["path"].lstrip("/") or "index.html" for f in seen["files"] if f["status"] == 200}
    fetched = {n for n in fetched if n in sizes}
    missed = sorted(first - fetched)  # the static analysis above names a file the browser did not fetch
    later = fetched - first
    monitor = sum(sizes[n][1] for n in fetched | first)
    later_bytes = sum(sizes[n][1] for n in later)
    lazy = set(sizes) - first - later
    lazy_bytes = sum(sizes[n][1] for n in lazy)
    on_wire = sum(f["bodyBytes"] for f in seen["files"] if f["status"] == 200)
    gzipped = sorted({f["path"] for f in seen["files"] if f["encoding"] == "gzip"})

    result = Result("bundle", "9. Frontend bundle")
    later_names = ", ".join(sorted(re.sub(r"-[\w-]{8}\.", ".", n.removeprefix("assets/")) for n in later)) or "nothing"
    result.rows.append(Row(
        "9. Bundle (gzip)",
        f"{initial / 1000:.1f} KB loaded by the first page; the Monitor page then fetches {later_bytes / 1000:.1f} KB "
        f"more by itself ({later_names}): {monitor / 1000:.1f} KB in all; {lazy_bytes / 1000:.1f} KB more only for "
        f"other pages or tables over 100 rows; {total / 1000:.1f} KB every file of the build",
        "≤ 90 KB gzip (first page)", initial <= LIMIT,
    ))  # fmt: skip
    lines = ["| file | bytes | gzip | loaded |", "|---|---|---|---|"]
    for name, (raw, gz) in sorted(sizes.items(), key=lambda kv: -kv[1][1]):
        when = "first page" if name in first else "Monitor page, after" if name in later else "lazy"
        lines.append(f"| {name} | {raw:,} | {gz:,} | {when} |")
    lines.append(f"| **total** | {sum(r for r, _ in sizes.values()):,} | **{total:,}** | first page {initial:,}; "
                 f"Monitor page {monitor:,}; lazy {lazy_bytes:,} |")  # fmt: skip
    lines.append(
        f"\nThe build wrote a `.gz` beside {shipped} of {len(sizes)} files"
        f"{' (the others would not shrink: gzipped here)' if shipped < len(sizes) else ''}. Chromium opening "
        f"the Monitor page fetched {len(fetched)} of them, {on_wire:,} bytes of bodies as sent "
        f"({'gzip for ' + str(len(gzipped)) + ' files' if gzipped else 'none gzip-encoded by the server'}); "
        f"the table's first rows were in the DOM after {seen['paintedMs']} ms."
        + (f" Named first-page files the browser did not fetch: {', '.join(missed)}." if missed else "")
    )  # fmt: skip
    result.details = "\n".join(lines)
    result.method = (
        "The files of `npm run build` (Vite) as the server ships them, at their gzip size (the build's `.gz`, level "
        "9). First page: index.html, what it references and those scripts' static imports, followed to the end. "
        "Monitor page: the files Chromium fetched opening the Monitor page of a 4-node simulated cluster, until its "
        "chart was drawn and 3 s more. Lazy: the other files, fetched only by other pages or a table over 100 rows."
    )
    result.data = {"files": sizes, "total_gzip": total, "initial_gzip": initial, "first": sorted(first),
                   "monitor_gzip": monitor, "monitor_later": sorted(later), "lazy_gzip": lazy_bytes,
                   "fetched": seen["files"], "missed": missed, "gz_shipped": shipped}  # fmt: skip
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
