"""Target 9: the frontend bundle shipped to the browser, gzip.

Every file of the Vite build in backend/dispymon/static (what the server
sends: index.html, JavaScript and CSS, the lazily loaded pages included),
each gzipped at level 9, added up; and apart, what the Monitor page loads
first (index.html and the files it references).
"""

from __future__ import annotations

import gzip
import re

from .common import REPO, Result, Row

STATIC = REPO / "backend" / "dispymon" / "static"
LIMIT = 90 * 1000  # KB as Vite reports it (1,000 bytes)


def run(quick: bool = False) -> Result:
    files = sorted(p for p in STATIC.rglob("*") if p.is_file() and p.suffix in (".html", ".js", ".css", ".svg", ".ico"))
    sizes = {str(p.relative_to(STATIC)): (p.stat().st_size, len(gzip.compress(p.read_bytes(), 9))) for p in files}
    total = sum(g for _, g in sizes.values())
    index = (STATIC / "index.html").read_text()
    first = {"index.html"} | {m.lstrip("/") for m in re.findall(r'(?:src|href)="(/assets/[^"]+)"', index)}
    # the entry chunk's static imports load with it
    for name in list(first):
        if name.endswith(".js"):
            text = (STATIC / name).read_text()
            first |= {f"assets/{m}" for m in re.findall(r'from"\./([\w.-]+\.js)"', text)}
            first |= {f"assets/{m}" for m in re.findall(r'import"\./([\w.-]+\.js)"', text)}
    initial = sum(sizes[n][1] for n in first if n in sizes)
    result = Result("bundle", "9. Frontend bundle")
    result.rows.append(Row(
        "9. Bundle (gzip)",
        f"{total / 1000:.1f} KB, every file of the build; {initial / 1000:.1f} KB loaded by the first page",
        "≤ 90 KB gzip", total <= LIMIT,
    ))  # fmt: skip
    lines = ["| file | bytes | gzip -9 | loaded first |", "|---|---|---|---|"]
    for name, (raw, gz) in sorted(sizes.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"| {name} | {raw:,} | {gz:,} | {'yes' if name in first else ''} |")
    lines.append(f"| **total** | {sum(r for r, _ in sizes.values()):,} | **{total:,}** | {initial:,} |")
    result.details = "\n".join(lines)
    result.method = "The files of `npm run build` (Vite) as the server ships them, each gzipped at level 9."
    result.data = {"files": sizes, "total_gzip": total, "initial_gzip": initial}
    return result


if __name__ == "__main__":
    from .common import main_for

    main_for(run)
