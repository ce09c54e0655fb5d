#!/usr/bin/env bash
# Install (once) and start/stop the emulators the test suite needs, on loopback.
#   eval "$(infra/emulators.sh start)"   # prints the export lines for the tests
#   infra/emulators.sh stop
# Tools live in .valdrix-tools/ (git-ignored); nothing is taken from the machine
# beyond python3.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${VALDRIX_TOOLS_DIR:-$root/.valdrix-tools}"
state="$tools/run"
MOTO_VERSION="5.2.5"

log() { echo "emulators: $*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url seconds name
  local url=$1 deadline=$((SECONDS + $2))
  until python3 -c "import urllib.request,sys; urllib.request.urlopen('$url', timeout=1)" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      log "$3 did not answer at $url; its log: $state/$3.log"
      tail -n 20 "$state/$3.log" >&2 || true
      return 1
    fi
    sleep 0.3
  done
}

ensure_moto() {
  local venv="$tools/moto-venv"
  if [[ ! -x "$venv/bin/moto_server" ]] || ! "$venv/bin/python" -c "import moto,sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    log "installing moto[server]==$MOTO_VERSION into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  fi
}

start_moto() {
  local port
  port=$(free_port)
  "$tools/moto-venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
  echo $! >"$state/moto.pid"
  wait_http "http://127.0.0.1:$port/moto-api/" 60 moto
  log "moto on 127.0.0.1:$port"
  echo "export VALDRIX_TEST_MOTO_ENDPOINT=http://127.0.0.1:$port"
}

stop_all() {
  local pidfile
  for pidfile in "$state"/*.pid; do
    [[ -e "$pidfile" ]] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "${1:-}" in
  start)
    mkdir -p "$state"
    stop_all
    ensure_moto
    start_moto
    ;;
  stop) stop_all ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
