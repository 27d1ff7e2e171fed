#!/usr/bin/env bash
# checkov (offline) on the charts' rendered manifests and on terraform/: no failed check,
# and every skip carries its written justification beside the code it concerns.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$WATCHPOST_ROOT"

venv_install chart-tests helm-python-sdk==0.2.2 pyyaml pytest
venv_install checkov checkov

export CHECKOV="$TOOLS_DIR/checkov/bin/checkov"
log "checkov on the rendered charts and on terraform/"
PYTHONDONTWRITEBYTECODE=1 "$TOOLS_DIR/chart-tests/bin/python" -m pytest -q -p no:cacheprovider charts/tests/test_checkov.py
