#!/usr/bin/env bash
# The Terraform modules and environments (terraform/): fmt, init + validate with the real
# AWS provider from the machine's plugin mirror (offline), and each module's `terraform
# test`. Terraform itself is part of the machine image (/usr/local/bin/terraform).
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$WATCHPOST_ROOT"

command -v terraform >/dev/null || { echo "terraform not found: install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install)" >&2; exit 1; }
[ -d "${TF_PLUGIN_DIR:-/opt/tf-plugins}" ] || log "WARNING: ${TF_PLUGIN_DIR:-/opt/tf-plugins} is missing: terraform init/validate/test are skipped, only fmt runs"
venv_install chart-tests helm-python-sdk==0.2.2 pyyaml pytest

log "terraform fmt, init -backend=false + validate, terraform test"
PYTHONDONTWRITEBYTECODE=1 "$TOOLS_DIR/chart-tests/bin/python" -m pytest -q -p no:cacheprovider terraform/tests
