"""Alerts (issue 19): built-in rules evaluated once a second, the `alerts` part, webhooks, `--alerts FILE`.

rules.py: the rules, their settings and their pure evaluation; engine.py: the
hub subscriber that fires and resolves alerts; webhooks.py: delivery;
config.py: the TOML file. Wired into the server by features/rest.py; the
commands are commands/alerts.py.
"""

from dispymon.features.alerts.config import AlertsConfig, AlertsConfigError
from dispymon.features.alerts.engine import AlertEngine

__all__ = ["AlertEngine", "AlertsConfig", "AlertsConfigError"]
