#!/usr/bin/env bash
# The Helm charts (charts/): rendered by Helm's own engine (helm-python-sdk, no helm binary
# needed), `helm lint`, values schemas, every built-in object validated strictly against the
# Kubernetes 1.29 and 1.31 schemas (kubernetes-validate), every rendered node-agent config
# accepted by the real `node-agent --check-config`, observability objects in sync with
# alerts/ and dashboards/ (rules through promtool, the Alertmanager config through amtool),
# and sidecar mode end to end: the real task-api with the rendered environment, the real
# node-agent with the rendered sidecar config pushing to ministack (CloudWatch emulator).
# Needs the debug builds of task-api and node-agent (scripts/test builds them).
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$WATCHPOST_ROOT"

venv_install chart-tests helm-python-sdk==0.2.2 pyyaml pytest
venv_install kubernetes-validate kubernetes-validate
venv_install ministack ministack cbor2
apt_install promtool prometheus
apt_install amtool prometheus-alertmanager

export KUBERNETES_VALIDATE="$TOOLS_DIR/kubernetes-validate/bin/kubernetes-validate"
export NODE_AGENT_BIN="${CARGO_TARGET_DIR:-$WATCHPOST_ROOT/target}/debug/node-agent"
export TASK_API_BIN="${CARGO_TARGET_DIR:-$WATCHPOST_ROOT/target}/debug/task-api"
export MINISTACK="${MINISTACK:-$TOOLS_DIR/ministack/bin/ministack}"
log "chart tests (Helm engine, kubernetes-validate 1.29/1.31, node-agent --check-config, sidecar end to end)"
PYTHONDONTWRITEBYTECODE=1 "$TOOLS_DIR/chart-tests/bin/python" -m pytest -q -p no:cacheprovider charts/tests --ignore=charts/tests/test_checkov.py
