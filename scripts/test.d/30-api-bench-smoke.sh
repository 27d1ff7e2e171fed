#!/usr/bin/env bash
# Smoke run of scripts/bench-telemetry on the debug build (already built by
# scripts/test): two server pairs of one short round each per backend, then one latency
# round, checking the script runs end to end (both servers, restarted on their seeded
# databases, every request answered 2xx, k6 sending on schedule at a rate a debug build
# keeps up with, stdout through the default pipe) and reports every figure. Its
# figures mean nothing on a debug build; the release benchmark is run by hand (see
# docs/telemetry.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
binary="${CARGO_TARGET_DIR:-$PWD/target}/debug/task-api"
out=$(BENCH_BINARY=$binary BENCH_PAIRS=2 BENCH_ROUNDS=1 BENCH_DURATION=1s BENCH_CONNECTIONS=8 BENCH_SEED=20 BENCH_RATE=200 \
  scripts/bench-telemetry 2>&1) || {
  printf '%s\n' "$out" >&2
  echo "bench-telemetry failed" >&2
  exit 1
}
printf '%s\n' "$out"
for expected in "sqlite   on  median" "sqlite   off median" "sqlite   overhead" \
  "sqlite   throughput overhead per server pair" "postgres throughput overhead per server pair" \
  "sqlite   overhead at 200 req/s" "postgres on  median" "postgres off median" \
  "postgres overhead" "postgres overhead at 200 req/s"; do
  if ! grep -q "$expected" <<<"$out"; then
    echo "bench-telemetry output lacks \"$expected\"" >&2
    exit 1
  fi
done
echo "bench-telemetry: 1 passed, 0 failed"
