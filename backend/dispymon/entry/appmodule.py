"""Loading a user's cluster module (`dispymon serve --cluster-module app.py`).

The contract (also in docs/using.md, "The cluster module contract"):

- The module is imported from its file under the name `dispymon_app`, so its
  `if __name__ == '__main__':` block does not run.
- Clusters: every dispy `JobCluster` / `SharedJobCluster` bound to a name at
  module level, plus whatever an optional `create_clusters()` returns (one
  cluster or an iterable of clusters), each attached once.
- Workload: an optional `workload` function, called once in a background
  thread after the clusters are attached, as `workload()` or
  `workload(clusters)` (the attached clusters, in the order found) depending
  on how many parameters it takes.
- Classes the module defines are pickled as `__main__` classes (see
  `play_main`), as when the module runs as a script, so instances of them can
  be job arguments.
- Every failure is a `AppModuleError` whose text is one line.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from dispymon.adapters import dispy as adapter

MODULE_NAME = "dispymon_app"


class AppModuleError(Exception):
    """One line, fit to print as it is."""


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class AppModule:
    path: Path
    module: ModuleType
    clusters: list[Any]
    workload: Callable[..., Any] | None

    def run_workload(self) -> None:
        """Call the workload; raises AppModuleError if it raises."""
        if self.workload is None:
            return
        try:
            params = [
                p
                for p in inspect.signature(self.workload).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            if params:
                self.workload(list(self.clusters))
            else:
                self.workload()
        except Exception as exc:
            raise AppModuleError(f"the workload of {self.path.name} raised {one_line(exc)}") from exc


def load(path: str | Path) -> AppModule:
    path = Path(path)
    if not path.is_file():
        raise AppModuleError(f"cluster module {path} does not exist")
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise AppModuleError(f"cannot import {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    # dispy ships the computation's source (and `depends` classes) by
    # inspecting them, which needs the module registered under its name.
    sys.modules[MODULE_NAME] = module
    sys.path.insert(0, str(path.resolve().parent))  # the module's own imports
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(MODULE_NAME, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise AppModuleError(f"cannot import {path.name}: {one_line(exc)}") from exc

    play_main(module)
    clusters: list[Any] = []

    def add(obj: Any) -> None:
        if adapter.is_cluster(obj) and not any(obj is c for c in clusters):
            clusters.append(obj)

    for value in list(vars(module).values()):
        add(value)
    factory = getattr(module, "create_clusters", None)
    if callable(factory):
        try:
            made = factory()
        except Exception as exc:
            raise AppModuleError(f"create_clusters() in {path.name} raised {one_line(exc)}") from exc
        if adapter.is_cluster(made):
            add(made)
        elif made is not None:
            try:
                for obj in made:
                    if not adapter.is_cluster(obj):
                        raise AppModuleError(
                            f"create_clusters() in {path.name} returned {type(obj).__name__}, not a dispy cluster"
                        )
                    add(obj)
            except TypeError:
                raise AppModuleError(
                    f"create_clusters() in {path.name} must return a cluster or a list of clusters"
                ) from None
    if not clusters:
        raise AppModuleError(
            f"{path.name} defines no dispy cluster: bind a JobCluster or SharedJobCluster to a module-level name, "
            "or define create_clusters()"
        )
    workload = getattr(module, "workload", None)
    if workload is not None and not callable(workload):
        raise AppModuleError(f"`workload` in {path.name} is not a function")
    return AppModule(path, module, clusters, workload)


def play_main(module: ModuleType) -> None:
    """Let the module's classes travel to dispy's nodes as `__main__` classes.

    dispy ships a `depends` class's source to the node, which defines it in the
    job's `__main__`; job arguments are pickled by reference to their class's
    module. A class of a module imported as `dispymon_app` would be pickled as
    `dispymon_app.C`, which no node can import. So the module's classes are
    re-homed in `__main__` (as if the module ran as a script, but without its
    `if __name__ == '__main__':` block), and `__main__.__file__` names the
    module's file so `inspect` still finds their source for clusters created
    later.
    """
    main = sys.modules["__main__"]
    rehomed = False
    for name, obj in list(vars(module).items()):
        if isinstance(obj, type) and obj.__module__ == module.__name__ and getattr(main, name, obj) is obj:
            obj.__module__ = "__main__"
            setattr(main, name, obj)
            rehomed = True
    if rehomed:
        main.__file__ = module.__file__


def start_workload(app: AppModule, done: Callable[[AppModuleError | None], None]) -> threading.Thread:
    """Run the workload in a daemon thread; `done(error)` is called when it ends."""

    def run() -> None:
        try:
            app.run_workload()
        except AppModuleError as exc:
            done(exc)
        else:
            done(None)

    thread = threading.Thread(target=run, name="dispymon-workload", daemon=True)
    thread.start()
    return thread
