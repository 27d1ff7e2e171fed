#!/usr/bin/env bash
# The log pipeline's torture test for as long as you like: random rotations (rename with
# gzip, copytruncate), kill -9s and Loki outages at once; fails if any written line never
# reached the Loki receiver. TORTURE_SECONDS (default 600) sets the length; the seed is
# printed first, and TORTURE_SEED=<seed> replays a failed run.
#   TORTURE_SECONDS=600 scripts/torture-logs.sh
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
cd "$WATCHPOST_ROOT"
export TORTURE_SECONDS=${TORTURE_SECONDS:-600}
log "torture test for ${TORTURE_SECONDS} s${TORTURE_SEED:+ (seed $TORTURE_SEED)}"
exec cargo test -p node-agent --test logs_torture -- --nocapture
