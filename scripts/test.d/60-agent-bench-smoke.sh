#!/usr/bin/env bash
# Smoke run of scripts/bench-agent.sh on the debug build (already built by scripts/test):
# a short steady state and burst, checking the script runs end to end and reports every
# figure. The release benchmark itself is run by hand (see docs/agent.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(BENCH_PROFILE=debug BENCH_SECONDS=16 BENCH_BURST=10 bash scripts/bench-agent.sh 2>&1) || {
  printf '%s\n' "$out" >&2
  echo "bench-agent.sh failed" >&2
  exit 1
}
printf '%s\n' "$out"
for expected in "series served" "CPU over" "RSS max, steady state" "burst scrape p50" "one node collection" "agent resident memory" "agent scrape p50"; do
  if ! grep -q "$expected" <<<"$out"; then
    echo "bench-agent.sh output lacks \"$expected\"" >&2
    exit 1
  fi
done
echo "bench-agent: 1 passed, 0 failed"
