#!/usr/bin/env bash
# The page, end to end (generator/tests/e2e_page.py): the task API (debug build, fault
# injection on), the node agent and loki-receiver, a real Prometheus with the SLO rules
# generated at 1/60 of their windows, a real Alertmanager on alerts/alertmanager.yml with a
# webhook in the test. 10% injected errors page with links that resolve; clearing the fault
# resolves the page; every dashboard PromQL target returns data. About 75 s.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$WATCHPOST_ROOT"

target_dir=${CARGO_TARGET_DIR:-$WATCHPOST_ROOT/target}
for binary in task-api node-agent loki-receiver; do
  [ -x "$target_dir/debug/$binary" ] || { echo "$target_dir/debug/$binary missing: run through scripts/test, which builds it" >&2; exit 1; }
done
export PROMETHEUS=${PROMETHEUS:-$(command -v prometheus || true)}
export ALERTMANAGER=${ALERTMANAGER:-$(command -v prometheus-alertmanager || true)}
[ -x "$PROMETHEUS" ] || { echo "prometheus not found: run through scripts/test, which installs it" >&2; exit 1; }
[ -x "$ALERTMANAGER" ] || { echo "prometheus-alertmanager not found: run through scripts/test, which installs it" >&2; exit 1; }
generator/generate.sh --check

log "end to end: 10% injected errors page, the page resolves, dashboards return data"
"$TOOLS_DIR/generator/bin/python" generator/tests/e2e_page.py "$target_dir/debug"
