# Shared set-up for scripts/test and scripts/demo: make whatever is missing,
# skip whatever is already current (each step keeps a stamp of its inputs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
cd "$ROOT"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

digest() { sha256sum "$@" | sha256sum | cut -c1-16; }

ensure_python() {
  local want
  want=$(digest pyproject.toml requirements.lock)
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.dispymon-stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  local py=${PYTHON:-python3}
  "$py" -c 'import sys; assert sys.version_info >= (3, 11), "dispymon needs Python 3.11 or newer"'
  say "Python virtualenv (.venv) with the locked dependencies"
  [ -x "$VENV/bin/python" ] || "$py" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.lock
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$VENV/.dispymon-stamp"
}

ensure_node_modules() {
  local want
  want=$(digest package.json package-lock.json frontend/package.json e2e/package.json)
  if [ -d node_modules ] && [ "$(cat node_modules/.dispymon-stamp 2>/dev/null)" = "$want" ]; then
    return
  fi
  say "npm ci (frontend and e2e workspaces, from package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.dispymon-stamp
}

ensure_frontend_build() {
  local want stamp=backend/dispymon/static/.build-stamp
  want=$(find frontend -path frontend/node_modules -prune -o -type f \
           \( -path 'frontend/src/*' -o -name '*.json' -o -name '*.ts' -o -name 'index.html' \) -print \
         | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
  if [ -f backend/dispymon/static/index.html ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  say "Building the dashboard (Vite) into backend/dispymon/static"
  npm run build -w frontend --silent
  echo "$want" > "$stamp"
}

ensure_chromium() {
  [ -x "${DISPYMON_CHROMIUM:-/usr/bin/chromium}" ] && return
  say "Installing Chromium from Debian's packages (for the end-to-end tests)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

ensure_prometheus() {
  # promtool (rule checks and rule unit tests) and prometheus (a real server
  # scraping a demo, for the Grafana dashboard's queries): Debian's package.
  # No recommends: prometheus-node-exporter is not needed.
  command -v promtool >/dev/null && command -v prometheus >/dev/null && return
  say "Installing Prometheus from Debian's packages (for the deploy/ rules and dashboard tests)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  local install=($sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus)
  # the package index may be stale (a mirror dropped the version it names): update once, then retry
  "${install[@]}" >/dev/null || { $sudo apt-get update -qq && "${install[@]}" >/dev/null; }
}

_apt_install() {
  # Debian's package, no recommends; the package index may be stale: update once, then retry
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  local install=($sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@")
  "${install[@]}" >/dev/null || { $sudo apt-get update -qq && "${install[@]}" >/dev/null; }
}

ensure_redis() {
  # redis-server for the fleet's tests (docs/fleet.md): each test starts its own
  # on 127.0.0.1 with its own port and directory; the package's service is not used.
  command -v redis-server >/dev/null && return
  say "Installing redis-server from Debian's packages (for the fleet tests)"
  _apt_install redis-server
}

ensure_nginx() {
  # nginx as the load balancer in front of central replicas (fleet tests): each
  # test runs its own with its own prefix, configuration and port.
  { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } && return
  say "Installing nginx from Debian's packages (for the fleet replica tests)"
  _apt_install nginx-light
}
