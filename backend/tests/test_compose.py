"""docker-compose.yml cannot run here (no Docker engine): check it by parsing."""

from __future__ import annotations

import os
import re
import tomllib
from importlib.metadata import distribution

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import REPO


def load():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_services_ports_and_commands():
    services = {name: svc for name, svc in load()["services"].items() if "profiles" not in svc}  # the default set
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


def test_the_fleet_profile():
    """Redis, two central replicas behind a balancer, two programs and their nodes (docs/fleet.md)."""
    from dispymon.entry.cli import build_parser
    from dispymon.fleet.broker import parse

    services = load()["services"]
    fleet = {name: svc for name, svc in services.items() if svc.get("profiles") == ["fleet"]}
    assert set(fleet) == {"redis", "central1", "central2", "balancer", "program-a", "node-a1", "node-a2",
                          "program-b", "node-b1", "node-b2"}  # fmt: skip
    assert fleet["redis"]["image"].startswith("redis:")
    brokers = set()
    for name in ("central1", "central2", "program-a", "program-b"):
        args = build_parser().parse_args(fleet[name]["command"][1:])  # the real CLI accepts each command
        brokers.add(parse(args.broker).host)
        if name.startswith("central"):
            assert args.cluster_module is None and args.host == "0.0.0.0" and args.port == 8181
            # one token for both replicas, required (a browser moved to the other keeps its access)
            assert fleet[name]["environment"]["DISPYMON_TOKEN"].startswith("${DISPYMON_TOKEN:?")
        else:
            assert args.program in ("lab-A", "lab-B") and args.no_http
            nodes = fleet[name]["environment"]["DISPY_NODES"].split(",")
            assert set(fleet[name]["depends_on"]) == {"redis", *nodes} and all(n in fleet for n in nodes)
    assert brokers == {"redis"}
    # the balancer's upstreams are the two replicas, WebSockets passed on
    conf = (REPO / "deploy" / "fleet" / "nginx.conf").read_text()
    assert fleet["balancer"]["volumes"] == ["./deploy/fleet/nginx.conf:/etc/nginx/nginx.conf:ro"]
    assert re.findall(r"server (central\d):8181", conf) == ["central1", "central2"]
    assert "proxy_set_header Upgrade $http_upgrade;" in conf and "listen 8181;" in conf
    assert fleet["balancer"]["ports"] == ["8182:8181"]


def test_every_referenced_file_exists():
    services = {name: svc for name, svc in load()["services"].items() if "build" in svc}
    for svc in services.values():
        assert (REPO / svc["build"] / "Dockerfile").is_file()
    dockerfile = (REPO / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, flags=re.M):
        for path in src.split():
            assert (REPO / path).exists(), f"Dockerfile copies {path}, which does not exist"
    module = services["dashboard"]["command"][services["dashboard"]["command"].index("--cluster-module") + 1]
    assert f"/app/{(REPO / 'examples' / 'compose_app.py').name}" == module
    assert "COPY examples/compose_app.py /app/compose_app.py" in dockerfile


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME:-default}` substitution (the form the file uses)."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), value)


def dashboard_access(monkeypatch, env: dict[str, str]):
    """The access policy `dispymon` builds from the compose file's command and
    environment, given the variables of the shell running `docker compose`."""
    from dispymon.entry.cli import _settings, build_parser
    from dispymon.transport.security import make_access

    dash = load()["services"]["dashboard"]
    with monkeypatch.context() as m:
        for name in [k for k in os.environ if k.startswith("DISPYMON_")]:
            m.delenv(name)
        for name, value in dash["environment"].items():
            m.setenv(name, interpolate(str(value), env))
        settings = _settings(build_parser().parse_args(dash["command"][1:]))  # defaults read the environment
    return make_access(settings.host, settings.token, settings.viewer_token, settings.allow_hosts)


def test_the_published_address_can_be_allowed_through_the_environment(monkeypatch):
    # no variable set: a NAT'd or published address is refused (DNS rebinding check)...
    plain = dashboard_access(monkeypatch, {})
    assert not plain.host_allowed("192.168.1.50:8181") and plain.host_allowed("localhost:8181")
    assert plain.generated  # ...and a token is generated (bound to 0.0.0.0)
    # ...and allowed when the compose user names it
    named = dashboard_access(monkeypatch, {"DISPYMON_ALLOW_HOST": "192.168.1.50,dash.example.org",
                                           "DISPYMON_TOKEN": "compose-token-0123456789"})  # fmt: skip
    assert named.host_allowed("192.168.1.50:8181") and named.host_allowed("dash.example.org")
    assert not named.host_allowed("192.168.1.51:8181")
    assert named.operator_token == "compose-token-0123456789" and not named.generated


def lock(name: str) -> dict[str, str]:
    pins = {}
    for line in (REPO / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            pkg, version = line.split("==")
            pins[canonicalize_name(pkg)] = version
    return pins


def runtime_closure() -> set[str]:
    """pyproject's runtime dependencies and theirs (from the installed metadata), for Python 3.11 on Linux."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
           "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython",
           "platform_python_implementation": "CPython", "extra": ""}  # fmt: skip
    seen: set[str] = set()
    todo = [Requirement(r) for r in project["dependencies"]]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen or (req.marker is not None and not req.marker.evaluate(env)):
            continue
        seen.add(name)
        todo += [Requirement(r) for r in (distribution(name).requires or [])]
    return seen


def test_the_image_installs_a_runtime_only_lock():
    dockerfile = (REPO / "Dockerfile").read_text()
    installs = re.findall(r"pip install[^\n]*?-r (\S+)", dockerfile)
    assert installs == ["requirements-runtime.lock"], installs
    runtime, full = lock("requirements-runtime.lock"), lock("requirements.lock")
    assert set(runtime) == runtime_closure()  # every runtime package, and nothing else (no pytest, hypothesis...)
    assert not {"pytest", "hypothesis", "pyyaml", "prometheus-client", "pytest-aiohttp"} & set(runtime)
    for name, version in runtime.items():  # the same versions as the tests run with
        assert full.get(name) == version, (name, version, full.get(name))


def test_the_aiohttp_floor_is_past_the_published_advisories():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (aiohttp,) = [Requirement(r) for r in project["dependencies"] if canonicalize_name(Requirement(r).name) == "aiohttp"]
    for vulnerable in ("3.9.0", "3.12.13", "3.13.3", "3.14.0", "3.14.2"):
        assert not aiohttp.specifier.contains(vulnerable), vulnerable
    assert aiohttp.specifier.contains(lock("requirements.lock")["aiohttp"])
    assert aiohttp.specifier.contains(lock("requirements-runtime.lock")["aiohttp"])
