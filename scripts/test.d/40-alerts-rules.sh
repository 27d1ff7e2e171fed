#!/usr/bin/env bash
# The on-call surface, statically: the generated files match alerts/slos.yaml and the
# generator, whose unit tests pass; every rule file passes `promtool check rules --lint=all --lint-fatal` and its
# unit tests (`promtool test rules`, alerts/tests/); alerts/alertmanager.yml passes
# `amtool check-config` and routes every severity and inhibition as intended; every
# runbook_url and dashboard_url resolves.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$WATCHPOST_ROOT"

promtool=${PROMTOOL:-$(command -v promtool || true)}
amtool=${AMTOOL:-$(command -v amtool || true)}
[ -x "$promtool" ] || { echo "promtool not found: run through scripts/test, which installs it" >&2; exit 1; }
[ -x "$amtool" ] || { echo "amtool not found: run through scripts/test, which installs it" >&2; exit 1; }

log "generated files are up to date (generator/generate.sh --check)"
generator/generate.sh --check

log "generator unit tests"
"$TOOLS_DIR/generator/bin/python" -m unittest discover -s generator/tests -p 'test_*.py'

log "promtool check rules --lint=all --lint-fatal"
"$promtool" check rules --lint=all --lint-fatal alerts/generated/*.yaml alerts/rules/*.yaml

log "amtool check-config alerts/alertmanager.yml"
"$amtool" check-config alerts/alertmanager.yml

log "promtool test rules alerts/tests/*.test.yaml"
"$promtool" test rules alerts/tests/*.test.yaml

log "amtool: every severity and inhibition routes as intended"
"$TOOLS_DIR/generator/bin/python" generator/tests/alertmanager_routes.py "$amtool" alerts/alertmanager.yml

log "every alert's runbook_url and dashboard_url resolve; every runbook is linked"
"$TOOLS_DIR/generator/bin/python" generator/tests/links.py
