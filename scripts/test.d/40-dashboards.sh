#!/usr/bin/env bash
# Dashboards, statically: the lint rules (one `datasource` variable, `$__rate_interval` in
# every rate, a unit and description on every panel, provisioned data sources linked) and
# every LogQL target parsed by Grafana's LogQL grammar. PromQL targets run against a real
# Prometheus in 40-alerts-e2e.sh.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$WATCHPOST_ROOT"

command -v node >/dev/null || apt_install node nodejs
command -v npm >/dev/null || apt_install npm npm
lezer="$TOOLS_DIR/lezer-logql"
if [ ! -f "$lezer/.installed-0.4.2" ]; then
  log "installing @grafana/lezer-logql@0.4.2 into $lezer"
  mkdir -p "$lezer"
  npm install --prefix "$lezer" --no-audit --no-fund --silent @grafana/lezer-logql@0.4.2
  touch "$lezer/.installed-0.4.2"
fi
generator/generate.sh --check

log "dashboard lint"
"$TOOLS_DIR/generator/bin/python" generator/tests/dashboards_lint.py

log "LogQL targets parse"
"$TOOLS_DIR/generator/bin/python" generator/tests/dashboards_lint.py --logql |
  LEZER_LOGQL_MODULE="$lezer/node_modules/@grafana/lezer-logql/index.es.js" node generator/tests/logql_parse.mjs
