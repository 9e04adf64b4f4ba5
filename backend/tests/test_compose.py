"""docker-compose.yml cannot run here (no Docker engine): check it by parsing."""

from __future__ import annotations

import re

import yaml

from conftest import REPO


def load():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_services_ports_and_commands():
    services = load()["services"]
    assert set(services) == {"dashboard", "node1", "node2", "node3"}
    dash = services["dashboard"]
    assert dash["ports"] == ["8181:8181"]
    cmd = dash["command"]
    assert cmd[:2] == ["dispymon", "serve"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0" and cmd[cmd.index("--port") + 1] == "8181"
    assert set(dash["depends_on"]) == {"node1", "node2", "node3"}
    assert dash["environment"]["DISPY_NODES"].split(",") == ["node1", "node2", "node3"]
    for name in ("node1", "node2", "node3"):
        assert services[name]["command"][0] == "dispynode.py"
        assert "--daemon" in services[name]["command"]  # no terminal in a container


def test_every_referenced_file_exists():
    services = load()["services"]
    for svc in services.values():
        assert (REPO / svc["build"] / "Dockerfile").is_file()
    dockerfile = (REPO / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, flags=re.M):
        for path in src.split():
            assert (REPO / path).exists(), f"Dockerfile copies {path}, which does not exist"
    module = services["dashboard"]["command"][services["dashboard"]["command"].index("--cluster-module") + 1]
    assert f"/app/{(REPO / 'examples' / 'compose_app.py').name}" == module
    assert "COPY examples/compose_app.py /app/compose_app.py" in dockerfile
