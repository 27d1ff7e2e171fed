#!/usr/bin/env bash
# Benchmark (not a test): requests/s and p50/p99 latency of get, list and create on loopback,
# on SQLite and PostgreSQL, with telemetry on and off (TELEMETRY_ENABLED), with a release
# build and wrk. Prints one line per case.
#   BENCH_DURATION=10s BENCH_CONNECTIONS=64 ./scripts/bench-api.sh
# Extra task-api variables can be passed through BENCH_API_ENV ("VAR=value VAR2=value").
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$(dirname "$0")/lib/api.sh"
cd "$WATCHPOST_ROOT"

apt_install wrk wrk
ensure_postgres_binaries
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-64}
log "building task-api (release)"
cargo build --release -p task-api --locked >&2
binary="${CARGO_TARGET_DIR:-$WATCHPOST_ROOT/target}/release/task-api"

make_scratch bench
on_exit stop_api
on_exit stop_postgres "$scratch/pg"
mkdir -p "$scratch/pg"
pg_url=$(start_postgres "$scratch/pg")
secret="benchmark-secret-of-at-least-32-bytes!!"
export TOKEN
TOKEN=$(hs256_token "$secret" bench)

# cpu_ticks PID: user + system CPU time of PID in clock ticks (proc(5) fields 14 and 15).
cpu_ticks() {
  awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

bench_backend() {
  local label=$1 database_url=$2 telemetry=$3
  # shellcheck disable=SC2086
  start_api "$binary" "$database_url" "$scratch/api-$label.log" AUTH_JWT_SECRET="$secret" RUST_LOG=info \
    DATABASE_MAX_CONNECTIONS=16 TELEMETRY_ENABLED="$telemetry" ${BENCH_API_ENV:-}
  : >"$scratch/ids"
  for i in $(seq 1 500); do
    curl -fsS -X POST "$API_URL/api/v1/tasks" -H "Authorization: Bearer $TOKEN" \
      -H 'Content-Type: application/json' -d "{\"title\":\"seed $i\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' >>"$scratch/ids"
  done
  for mode in get list create; do
    local result before after requests
    before=$(cpu_ticks "$API_PID")
    result=$(MODE=$mode IDS_FILE="$scratch/ids" wrk -t1 -c"$connections" -d"$duration" \
      -s load-tests/wrk/task-api.lua "$API_URL" | grep '^RESULT')
    after=$(cpu_ticks "$API_PID")
    requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")
    # Server CPU time per request: unlike requests/s, barely moved by other load on the machine.
    printf '%-9s %-9s %-7s %s cpu_us_per_request=%.1f\n' "$label" "$telemetry" "$mode" "${result#RESULT }" \
      "$(python3 -c "print(($after - $before) / $(getconf CLK_TCK) / max($requests, 1) * 1e6)")"
  done
  stop_api
}

printf 'backend   telemetry case    figures (wrk -t1 -c%s -d%s, %s cores)\n' "$connections" "$duration" "$(nproc)"
for telemetry in true false; do
  bench_backend sqlite "sqlite://$scratch/bench-$telemetry.db" "$telemetry"
  bench_backend postgres "$(create_database "$pg_url" "bench_$telemetry")" "$telemetry"
done
