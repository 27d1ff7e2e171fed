#!/usr/bin/env bash
# The log pipeline's torture test for as long as you like: random rotations (rename with
# gzip, copytruncate), kill -9s and Loki outages at once; fails if any written line never
# reached the Loki receiver. TORTURE_SECONDS (default 600) sets the length; the seed is
# printed first, and TORTURE_SEED=<seed> replays a failed run.
#   TORTURE_SECONDS=600 scripts/torture-logs.sh
# The agent and the test run from a pinned copy of both binaries, so a build in the shared
# target directory during a long run cannot swap the agent between two restarts.
# NODE_AGENT_TEST_KEEP=1 keeps the pods' files and the positions file for a post-mortem;
# NODE_AGENT_TEST_VERBOSE=1 NODE_AGENT__LOG__LEVEL=info shows the agent's own log.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
cd "$WATCHPOST_ROOT"
export TORTURE_SECONDS=${TORTURE_SECONDS:-600}
log "building the agent and the torture test (debug)"
test_binary=$(cargo test -p node-agent --test logs_torture --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "logs_torture" and m.get("executable"):
        print(m["executable"])')
make_scratch torture
cp "$test_binary" "$scratch/logs_torture"
cp "${CARGO_TARGET_DIR:-target}/debug/node-agent" "$scratch/node-agent"
export NODE_AGENT_TEST_BINARY="$scratch/node-agent"
log "torture test for ${TORTURE_SECONDS} s${TORTURE_SEED:+ (seed $TORTURE_SEED)}"
"$scratch/logs_torture" --nocapture
