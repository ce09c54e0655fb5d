#!/usr/bin/env bash
# Lint template.yaml offline: cfn-lint, then `sam validate --lint` (which runs
# cfn-lint on the SAM-transformed template). Both are installed once, from
# PyPI, into .valdrix-tools/sam-venv (git-ignored). No AWS account is needed:
# sam validate is given dummy credentials and a region, and talks to nothing.
# Then infra/template-cycles.py checks the transformed template for the
# dependency cycles (UpdatePolicy hooks) that neither linter sees.
#   infra/lint-template.sh            # lint template.yaml
#   infra/lint-template.sh other.yaml # lint another template (used by tests)
#   infra/lint-template.sh --install  # install only (the SAM transform of infra/local-stack)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${VALDRIX_TOOLS_DIR:-$root/.valdrix-tools}"
venv="$tools/sam-venv"
CFN_LINT_VERSION="1.58.0"
SAM_CLI_VERSION="1.170.0"
template="${1:-$root/template.yaml}"

log() { echo "lint-template: $*" >&2; }

installed() {
  [[ -x "$venv/bin/cfn-lint" && -x "$venv/bin/sam" ]] &&
    "$venv/bin/python" - "$CFN_LINT_VERSION" "$SAM_CLI_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(version("cfn-lint") != sys.argv[1] or version("aws-sam-cli") != sys.argv[2])
PY
}

if ! installed; then
  log "installing cfn-lint==$CFN_LINT_VERSION and aws-sam-cli==$SAM_CLI_VERSION into $venv"
  rm -rf "$venv"
  mkdir -p "$tools"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION" >&2
fi

[[ ${1:-} == --install ]] && exit 0

cd "$root"
log "cfn-lint $template"
"$venv/bin/cfn-lint" --regions us-east-1 -- "$template"

# sam validate needs a region and, for its (skipped) account look-ups, some
# credentials: dummy ones, in a throwaway config dir, with telemetry off.
samhome=$(mktemp -d)
trap 'rm -rf "$samhome"' EXIT
log "sam validate --lint $template"
env -u AWS_PROFILE \
  AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE \
  AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
  AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  AWS_EC2_METADATA_DISABLED=true \
  SAM_CLI_TELEMETRY=0 SAM_CLI_CONFIG_DIR="$samhome" \
  "$venv/bin/sam" validate --lint --region us-east-1 --template-file "$template" >&2
log "dependency cycles $template"
AWS_DEFAULT_REGION=us-east-1 "$venv/bin/python" "$root/infra/template-cycles.py" "$template" 2> >(grep -v "not available in Feature Toggle" >&2)
log "ok"
