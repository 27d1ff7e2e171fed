#!/usr/bin/env bash
# The log pipeline outside cargo: node-agent (debug) ships a pod log to loki-receiver
# (debug); its /metrics, with every node_agent_logs_* and Loki sink series present, must
# pass `promtool check metrics`. Then a smoke run of scripts/bench-logs.sh on the debug
# build (16 MiB) checks the benchmark script end to end; its figures mean nothing.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$WATCHPOST_ROOT"

target_dir=${CARGO_TARGET_DIR:-$WATCHPOST_ROOT/target}
promtool=${PROMTOOL:-$(command -v promtool || true)}
[ -x "$promtool" ] || { echo "promtool not found: run through scripts/test, which installs it" >&2; exit 1; }
command -v curl >/dev/null || apt_install curl curl

make_scratch logs
pids=()
on_exit kill_pids

pod="$scratch/pods/shop_api-0_0b1c2d3e-1111-2222-3333-444455556666/app"
mkdir -p "$pod"
now=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
for i in $(seq 1 50); do echo "$now stdout F line $i"; done >"$pod/0.log"

receiver_port=$(free_port)
agent_port=$(free_port)
"$target_dir/debug/loki-receiver" --listen "127.0.0.1:$receiver_port" >"$scratch/receiver.log" 2>&1 &
pids+=($!)
cat >"$scratch/agent.yaml" <<YAML
server: {listen_address: '127.0.0.1:$agent_port'}
log: {level: warn}
sources:
  node: {enabled: false}
  kubernetes_logs: {enabled: true, include: ['$scratch/pods/*/*/*.log'], positions_path: '$scratch/positions.json'}
sinks:
  loki: {enabled: true, endpoint: 'http://127.0.0.1:$receiver_port', batch_wait_seconds: 0.1}
YAML
"$target_dir/debug/node-agent" --config "$scratch/agent.yaml" 2>"$scratch/agent.log" &
pids+=($!)

log "waiting for the agent to ship 50 lines"
for _ in $(seq 100); do
  got=$(curl -sf "http://127.0.0.1:$receiver_port/stats" | sed -n 's/.*"entries":\([0-9]*\).*/\1/p' || true)
  [ "${got:-0}" -ge 50 ] && break
  sleep 0.1
done
[ "${got:-0}" -ge 50 ] || { echo "only ${got:-0} of 50 lines arrived" >&2; cat "$scratch/agent.log" >&2; exit 1; }

curl -sf "http://127.0.0.1:$agent_port/metrics" >"$scratch/metrics.txt"
for series in node_agent_logs_read_lines_total node_agent_logs_lag_bytes node_agent_logs_files_watched \
              'node_agent_sink_sent_events_total{sink="loki"}' 'node_agent_sink_retries_total{sink="loki"}'; do
  grep -qF "$series" "$scratch/metrics.txt" || { echo "missing series $series" >&2; exit 1; }
done
log "promtool check metrics on the agent's /metrics (logs pipeline active)"
"$promtool" check metrics <"$scratch/metrics.txt"

log "bench-logs.sh smoke run (debug build, 16 MiB)"
BENCH_LOGS_PROFILE=debug BENCH_LOGS_MIB=16 BENCH_LOGS_FILES=2 bash scripts/bench-logs.sh
