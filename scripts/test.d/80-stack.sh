#!/usr/bin/env bash
# The local stack (scripts/stack) as a newcomer runs it, on free loopback ports:
# - `stack status --wait` passes: every component answers, Prometheus loaded every rule of
#   the repository and scrapes every target, alerts reach Alertmanager, and data flows
#   (API log -> agent -> Loki receiver, agent -> CloudWatch emulator, k6 -> remote write);
# - `stack fault --error-ratio 1` makes the API answer 500, `stack fault off` heals it;
# - SIGINT (Ctrl-C) stops the stack with status 0 and every process it started.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$WATCHPOST_ROOT"

make_scratch stack-test
dir="$scratch/stack"
stack_pid=""
stop_stack() {
  if [ -n "$stack_pid" ]; then
    kill -TERM "$stack_pid" 2>/dev/null || true
    wait "$stack_pid" 2>/dev/null || true
  fi
}
on_exit stop_stack
passed=0
fail() {
  echo "FAIL: $*" >&2
  echo "--- stack output:" >&2
  cat "$scratch/up.out" >&2
  exit 1
}

log "starting the stack"
scripts/stack --dir "$dir" up --free-ports --traffic 20 >"$scratch/up.out" 2>&1 &
stack_pid=$!
for _ in $(seq 1200); do
  [ -f "$dir/state.json" ] && break
  kill -0 "$stack_pid" 2>/dev/null || fail "the stack exited before it was up"
  sleep 0.5
done
[ -f "$dir/state.json" ] || fail "the stack was not up within 10 minutes"

log "stack status --wait 120"
scripts/stack --dir "$dir" status --wait 120 || fail "stack status"
passed=$((passed + 1))

eval "$(scripts/stack --dir "$dir" env)"
answer() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$WATCHPOST_API_URL/api/v1/tasks"; }
[ "$(answer)" = 200 ] || fail "the API answered $(answer) before any fault"
scripts/stack --dir "$dir" fault --error-ratio 1 >/dev/null
[ "$(answer)" = 500 ] || fail "with fault --error-ratio 1 the API answered $(answer)"
scripts/stack --dir "$dir" fault off >/dev/null
[ "$(answer)" = 200 ] || fail "after fault off the API answered $(answer)"
passed=$((passed + 1))

pids=$(python3 -c 'import json,sys; print(*json.load(open(sys.argv[1]))["pids"].values())' "$dir/state.json")
log "SIGINT to the stack"
kill -INT "$stack_pid"
status=0
wait "$stack_pid" || status=$?
stack_pid=""
[ "$status" -eq 0 ] || fail "the stack exited with $status on SIGINT"
for pid in $pids; do
  if kill -0 "$pid" 2>/dev/null; then fail "process $pid outlived the stack"; fi
done
[ ! -f "$dir/state.json" ] || fail "state.json outlived the stack"
grep -q "stack stopped" "$scratch/up.out" || fail "no 'stack stopped'"
passed=$((passed + 1))
echo "stack: $passed passed, 0 failed"
