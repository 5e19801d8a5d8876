#!/usr/bin/env bash
# One entry point for a fresh machine.
#   ./setup.sh serve   install everything, start the local database (unless MONGODB_URI is set), seed it, run the service
#   ./setup.sh test    install everything (and Chromium for the browser tests), lint (ruff, hadolint), type-check (mypy) and run the whole test suite (what CI runs)
#   ./setup.sh install install only (venv + requirements + FerretDB + the Debian tools the deploy tests use)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
FERRETDB_VERSION=v1.24.2
FERRETDB_BIN=.tools/bin/ferretdb

install_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r requirements-dev.txt
}

# The console's browser tests drive Debian's chromium through Playwright (never `playwright install`).
install_browser() {
  if [ -x /usr/bin/chromium ]; then
    return
  fi
  command -v apt-get >/dev/null 2>&1 || { echo "Install Chromium at /usr/bin/chromium for the browser tests" >&2; exit 1; }
  apt-get update -qq
  apt-get install -y --no-install-recommends chromium
}

install_database() {
  if command -v mongod >/dev/null 2>&1 || [ -x "$FERRETDB_BIN" ]; then
    return
  fi
  command -v go >/dev/null 2>&1 || { echo "Go is needed to build FerretDB (or install mongod)" >&2; exit 1; }
  echo "Building FerretDB $FERRETDB_VERSION (one time, about a minute)..."
  # `go install` trips on the module proxy's deprecation lookup here, and the module zip lacks the
  # version file FerretDB embeds, so build from a writable copy of the downloaded module.
  local module_dir build_dir
  module_dir=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  build_dir=$(mktemp -d)
  cp -r "$module_dir/." "$build_dir/"
  chmod -R u+w "$build_dir"
  echo "$FERRETDB_VERSION" > "$build_dir/build/version/version.txt"
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  (cd "$build_dir" && go build -o "$OLDPWD/$FERRETDB_BIN" ./cmd/ferretdb)
  rm -rf "$build_dir"
}

# Debian packages the deploy tests use (docs/deploy.md): HAProxy (the two-node test's load balancer),
# promtool (in `prometheus`: checks deploy/prometheus/*.yml) and docker-compose (validates
# deploy/compose.yaml without a container engine). Skipped when present; apt-get update only when not.
install_system_tools() {
  local missing=()
  command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  [ ${#missing[@]} -eq 0 ] && return
  command -v apt-get >/dev/null 2>&1 || { echo "Install these (Debian package names): ${missing[*]}" >&2; exit 1; }
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
}

serve() {
  [ -f .env ] || { cp .env.example .env; echo "Created .env from .env.example: fill in your keys."; }
  local uri
  uri=${MONGODB_URI:-$(sed -n 's/^MONGODB_URI=//p' .env | tail -n 1)}
  uri=${uri:-mongodb://127.0.0.1:27017/}
  # The local default: start FerretDB on 27017 (data kept in .data/db) unless something already listens.
  if [[ "$uri" =~ ^mongodb://(127\.0\.0\.1|localhost):27017/?$ ]] && ! (exec 3<>/dev/tcp/127.0.0.1/27017) 2>/dev/null; then
    "$VENV/bin/python" -m devtools.ferretdb --port 27017 --data .data/db &
    db_pid=$!
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/27017) 2>/dev/null && break; sleep 0.2; done
  fi
  "$VENV/bin/python" app.py seed
  "$VENV/bin/python" app.py &
  app_pid=$!
  # Whoever stops this script (Ctrl-C, a service manager's SIGTERM) stops the app and the database too.
  trap 'kill $app_pid ${db_pid:-} 2>/dev/null || true' EXIT INT TERM
  wait "$app_pid"
}

# Lint, type check, then every test (unit, database, end-to-end, deploy). Extra arguments go to pytest.
run_tests() {
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check .
  "$VENV/bin/hadolint" Dockerfile
  "$VENV/bin/mypy"
  # Two workers (pytest-xdist), one test file each at a time so a file's module fixtures stay in one
  # process: the suite mostly waits on sockets, so it takes about half the time. TEST_WORKERS=0: one process.
  exec "$VENV/bin/python" -m pytest -q -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
}

case "${1:-install}" in
  install) install_python; install_database; install_system_tools ;;
  test) install_python; install_database; install_system_tools; install_browser; run_tests "${@:2}" ;;
  serve) install_python; install_database; serve ;;
  *) echo "usage: ./setup.sh [install|test|serve]" >&2; exit 2 ;;
esac
