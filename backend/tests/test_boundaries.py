"""The package's import boundaries (LAYOUT17.md), read from the source with `ast`.

Only the dispy adapter imports dispy (or pycos), only the codec imports
msgpack, the model imports nothing above it, the transport knows no adapter,
and the commands know no adapter and no dispy.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dispymon"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module the file imports (relative imports resolved), at any depth of the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return out


MODULES = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py")) if "static" not in p.parts}


def _importers(prefixes: tuple[str, ...]) -> set[str]:
    return {
        module
        for module, imported in MODULES.items()
        if any(name == prefix or name.startswith(prefix + ".") for name in imported for prefix in prefixes)
    }


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_walk_sees_the_package() -> None:
    # the rules below would pass on an empty walk: check it reads what it should
    assert "dispymon.adapters.dispy.adapter" in MODULES and "dispy" in MODULES["dispymon.adapters.dispy.adapter"]
    assert "msgpack" in MODULES["dispymon.transport.codec"]


def test_only_the_dispy_adapter_imports_dispy() -> None:
    offenders = {m for m in _importers(("dispy", "pycos")) if not _inside(m, "dispymon.adapters.dispy")}
    assert offenders == set()


def test_only_the_codec_imports_msgpack() -> None:
    assert _importers(("msgpack",)) == {"dispymon.transport.codec", "dispymon.transport.fleetcodec"}


ABOVE_MODEL = tuple(f"dispymon.{p}" for p in ("runtime", "commands", "adapters", "features", "entry"))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        # the model is pure; it shares only the protocol's leaf module (shapes and constants, no I/O)
        ("dispymon.model", ABOVE_MODEL + ("dispymon.transport.server", "dispymon.transport.codec",
                                          "dispymon.transport.security", "dispymon.transport.limits", "aiohttp")),
        ("dispymon.transport", ("dispymon.adapters", "dispy", "pycos")),
        ("dispymon.commands", ("dispymon.adapters", "dispy", "pycos")),
    ],
)
def test_a_package_does_not_import_what_sits_above_it(package: str, forbidden: tuple[str, ...]) -> None:
    offenders = {m for m in _importers(forbidden) if _inside(m, package)}
    assert offenders == set()


def test_the_protocol_module_is_a_leaf() -> None:
    assert not any(name.startswith("dispymon") for name in MODULES["dispymon.transport.protocol"])
