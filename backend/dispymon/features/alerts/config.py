"""`--alerts FILE`: the webhooks and the rules' settings, in TOML (read with tomllib).

    dashboard = "https://dispymon.example.org/"   # optional: the link webhooks carry
    [[webhook]]
    url = "http://127.0.0.1:9000/hook"   # http or https
    timeout = 5                          # seconds per attempt (0.1 to 300)
    retries = 3                          # attempts after the first (0 to 20)
    [rules.failure_rate]
    percent = 20
    [rules.long_job]
    seconds = 3600
    [rules.long_job.clusters.mycluster]
    seconds = 60
    terminate = true
    [rules.node_closed]
    enabled = false

A file that cannot be used raises AlertsConfigError with one line naming
the key (`rules.long_job.seconds: must be from 1 to 2.592e+06`), so a
bad setting stops the start instead of being ignored.
"""

from __future__ import annotations

import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispymon.features.alerts.rules import SPECS, check_params
from dispymon.features.alerts.webhooks import Webhook

MAX_WEBHOOKS = 20
MAX_CLUSTER_OVERRIDES = 1000


class AlertsConfigError(ValueError):
    """One line, naming the file and the key."""


@dataclass
class RuleSettings:
    enabled: bool | None = None  # None: as by default
    params: dict[str, Any] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class AlertsConfig:
    webhooks: list[Webhook] = field(default_factory=list)
    rules: dict[str, RuleSettings] = field(default_factory=dict)
    dashboard: str | None = None  # the dashboard's address as webhooks' readers reach it


def _table(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AlertsConfigError(f"{key}: must be a table")
    return value


def _url(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise AlertsConfigError(f"{key}: must be a text (an http or https address)")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertsConfigError(f"{key}: must be an http:// or https:// address, not {value[:100]!r}")
    return value


def _number(value: Any, key: str, low: float, high: float, whole: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise AlertsConfigError(f"{key}: must be {'a whole number' if whole else 'a number'} from {low:g} to {high:g}")
    if whole and value != int(value):
        raise AlertsConfigError(f"{key}: must be a whole number from {low:g} to {high:g}")
    return value


def parse(data: dict[str, Any]) -> AlertsConfig:
    """A parsed TOML document, checked (AlertsConfigError naming the key)."""
    config = AlertsConfig()
    for key in data:
        if key not in ("webhook", "rules", "dashboard"):
            raise AlertsConfigError(f"{key}: unknown key (expected webhook, rules, dashboard)")
    if "dashboard" in data:
        config.dashboard = _url(data["dashboard"], "dashboard")
    hooks = data.get("webhook", [])
    if not isinstance(hooks, list):
        raise AlertsConfigError("webhook: must be an array of tables ([[webhook]])")
    if len(hooks) > MAX_WEBHOOKS:
        raise AlertsConfigError(f"webhook: at most {MAX_WEBHOOKS} webhooks")
    for i, hook in enumerate(hooks):
        where = f"webhook[{i}]"
        hook = _table(hook, where)
        for key in hook:
            if key not in ("url", "timeout", "retries"):
                raise AlertsConfigError(f"{where}.{key}: unknown key (expected url, timeout, retries)")
        if "url" not in hook:
            raise AlertsConfigError(f"{where}.url: missing")
        config.webhooks.append(
            Webhook(
                _url(hook["url"], f"{where}.url"),
                float(_number(hook.get("timeout", 5), f"{where}.timeout", 0.1, 300)),
                int(_number(hook.get("retries", 3), f"{where}.retries", 0, 20, whole=True)),
            )
        )
    for name, table in _table(data.get("rules", {}), "rules").items():
        where = f"rules.{name}"
        spec = SPECS.get(name)
        if spec is None:
            raise AlertsConfigError(f"{where}: no such rule (rules: {', '.join(SPECS)})")
        table = dict(_table(table, where))
        settings = RuleSettings()
        if "enabled" in table:
            enabled = table.pop("enabled")
            if not isinstance(enabled, bool):
                raise AlertsConfigError(f"{where}.enabled: must be true or false")
            settings.enabled = enabled
        clusters = _table(table.pop("clusters", {}), f"{where}.clusters")
        if clusters and not spec.per_cluster:
            raise AlertsConfigError(f"{where}.clusters: {name} has no per-cluster settings")
        if len(clusters) > MAX_CLUSTER_OVERRIDES:
            raise AlertsConfigError(f"{where}.clusters: at most {MAX_CLUSTER_OVERRIDES} clusters")
        try:
            settings.params = check_params(name, table, f"{where}.")
            for cluster, override in clusters.items():
                settings.clusters[cluster] = check_params(
                    name, _table(override, f"{where}.clusters.{cluster}"), f"{where}.clusters.{cluster}."
                )
        except ValueError as exc:
            raise AlertsConfigError(str(exc)) from None
        config.rules[name] = settings
    return config


def load(path: str | Path) -> AlertsConfig:
    """Read and check `--alerts FILE` (AlertsConfigError: one line naming the file and the key)."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise AlertsConfigError(f"--alerts {path}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise AlertsConfigError(f"--alerts {path}: not TOML: {exc}") from None
    try:
        return parse(data)
    except AlertsConfigError as exc:
        raise AlertsConfigError(f"--alerts {path}: {exc}") from None
