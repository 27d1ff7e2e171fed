#!/usr/bin/env bash
# Writes every generated file (alerts/generated/, dashboards/*.json, load-tests/generated/)
# from alerts/slos.yaml. Arguments go to the generator: --check compares instead of writing,
# --rules-out DIR --time-scale N writes only the SLO rules with shortened windows.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib/tools.sh"
venv_install generator "grafana-foundation-sdk==1769699379!11.6.0" "pyyaml==6.0.2"
cd "$WATCHPOST_ROOT/generator"
exec "$TOOLS_DIR/generator/bin/python" -m watchpost_gen "$@"
