#!/usr/bin/env bash
# Benchmarks the log pipeline end to end: CRI log files on disk → node-agent (release) →
# loki-receiver (release, counting only), every line acknowledged. Prints throughput
# (MiB/s and lines/s of file data, from agent start to the last acknowledged line), the
# agent's CPU-seconds per GiB and what that means per core, and its peak resident memory.
#
# The agent is pinned to CPU 0 and the receiver to CPU 1 (taskset), so the end-to-end
# figure is what the agent does on one core; BENCH_LOGS_PIN=0 lets them float.
#
# BENCH_LOGS_MIB (default 1024) of logs in BENCH_LOGS_FILES (default 8) pod log files,
# lines of ~150-250 bytes, one in four JSON with request_id/trace_id (structured metadata
# path). Target: >= 200 MiB/s on one core, i.e. <= 5.12 CPU-s per GiB; BENCH_STRICT=1
# exits 1 when missed. BENCH_LOGS_PROFILE=debug uses the debug binaries as they are (the
# smoke run in scripts/test.d; its figures mean nothing). Traffic stays on loopback; the run
# stops by itself.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
cd "$WATCHPOST_ROOT"

size_mib=${BENCH_LOGS_MIB:-1024}
files=${BENCH_LOGS_FILES:-8}
target_dir=${CARGO_TARGET_DIR:-$WATCHPOST_ROOT/target}
command -v curl >/dev/null || apt_install curl curl
command -v perl >/dev/null || apt_install perl perl

profile=${BENCH_LOGS_PROFILE:-release}
if [ "$profile" = release ]; then
  log "building node-agent and loki-receiver (release)"
  cargo build --release --locked -p node-agent -p loki-receiver
fi
agent=$target_dir/$profile/node-agent
receiver=$target_dir/$profile/loki-receiver

make_scratch bench-logs
pids=()
on_exit kill_pids

log "writing $size_mib MiB of CRI logs into $files files"
# A seed (up to 16 MiB) of unique lines stamped now, repeated to size (the receiver only counts,
# so repeats cost nothing there).
file_mib=$(( size_mib / files > 0 ? size_mib / files : 1 ))
SEED_MIB=$(( file_mib < 16 ? file_mib : 16 )) perl -e '
  use POSIX qw(strftime);
  my $t = time; my $ts = strftime("%Y-%m-%dT%H:%M:%S", gmtime($t));
  my @paths = ("/api/v1/tasks", "/api/v1/tasks/1234", "/healthz", "/metrics");
  my $n = 0; my $bytes = 0;
  while ($bytes < $ENV{SEED_MIB} * 1048576) {
    my $ns = sprintf("%09d", $n % 1000000000);
    my $line;
    if ($n % 4 == 0) {
      $line = sprintf(q({"level":"info","msg":"request finished","method":"GET","path":"%s","status":200,"duration_ms":%d,"request_id":"req-%08d","trace_id":"4bf92f3577b34da6a3ce929d0e0e%04x"}), $paths[$n % 4], $n % 97, $n, $n % 65536);
    } else {
      $line = sprintf(q(10.0.%d.%d - - "GET %s HTTP/1.1" 200 %d "-" "k6/1.1 (https://k6.io/)" rt=0.%03d uct=0.000 seq=%d), $n % 256, $n % 200, $paths[$n % 4], 100 + $n % 900, $n % 1000, $n);
    }
    my $out = "$ts.${ns}Z " . ($n % 10 == 0 ? "stderr" : "stdout") . " F $line\n";
    print $out; $bytes += length($out); $n++;
  }' >"$scratch/seed.log"
seed_bytes=$(stat -c %s "$scratch/seed.log")
per_file=$(( (size_mib * 1048576 / files + seed_bytes - 1) / seed_bytes ))
for i in $(seq 1 "$files"); do
  dir="$scratch/pods/bench_load-$i""_0b1c2d3e-1111-2222-3333-44445555666$i/app"
  mkdir -p "$dir"
  for _ in $(seq 1 "$per_file"); do cat "$scratch/seed.log"; done >"$dir/0.log"
done
total_bytes=$(cat "$scratch"/pods/*/app/0.log | wc -c)
total_lines=$(cat "$scratch"/pods/*/app/0.log | wc -l)

receiver_port=$(free_port)
agent_port=$(free_port)
pin_agent=() pin_receiver=()
if [ "${BENCH_LOGS_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_agent=(taskset -c 0) pin_receiver=(taskset -c 1)
fi
"${pin_receiver[@]}" "$receiver" --listen "127.0.0.1:$receiver_port" --count-only --rate-mib 1000000 >"$scratch/receiver.log" 2>&1 &
receiver_pid=$!
pids+=("$receiver_pid")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$receiver_port/ready" >/dev/null && break; sleep 0.1; done

cat >"$scratch/agent.yaml" <<YAML
server: {listen_address: '127.0.0.1:$agent_port'}
log: {level: warn}
identity: {node: bench-node}
sources:
  node: {enabled: false}
  kubernetes_logs:
    enabled: true
    include: ['$scratch/pods/*/*/*.log']
    positions_path: '$scratch/positions.json'
sinks:
  loki:
    enabled: true
    endpoint: 'http://127.0.0.1:$receiver_port'
${BENCH_LOGS_SINK_EXTRA:-}
YAML

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
entries() { curl -sf "http://127.0.0.1:$receiver_port/stats" | sed -n 's/.*"entries":\([0-9]*\).*/\1/p'; }

log "shipping $total_lines lines ($((total_bytes / 1048576)) MiB)${pin_agent:+, agent on CPU 0, receiver on CPU 1}"
start=$(date +%s.%N)
${BENCH_LOGS_WRAP:-} "${pin_agent[@]}" "$agent" --config "$scratch/agent.yaml" 2>"$scratch/agent.log" &
agent_pid=$!
pids+=("$agent_pid")
deadline=$(( $(date +%s) + 600 ))
while :; do
  got=$(entries || echo 0)
  [ "${got:-0}" -ge "$total_lines" ] && break
  if ! kill -0 "$agent_pid" 2>/dev/null; then echo "node-agent died:" >&2; cat "$scratch/agent.log" >&2; exit 1; fi
  if [ "$(date +%s)" -gt "$deadline" ]; then echo "timed out at $got of $total_lines lines" >&2; exit 1; fi
  sleep 0.05
done
end=$(date +%s.%N)
agent_cpu=$(awk -v t="$(cpu_ticks "$agent_pid")" -v hz="$clk_tck" 'BEGIN {print t / hz}')
receiver_cpu=$(awk -v t="$(cpu_ticks "$receiver_pid")" -v hz="$clk_tck" 'BEGIN {print t / hz}')
peak_rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$agent_pid/status")
curl -sf "http://127.0.0.1:$agent_port/metrics" >"$scratch/metrics.txt"
dropped=$(awk '/^node_agent_sink_dropped_events_total\{sink="loki"/ {s += $2} END {print s + 0}' "$scratch/metrics.txt")
pushes=$(awk '/^node_agent_sink_attempt_duration_seconds_count\{sink="loki"/ {print $2}' "$scratch/metrics.txt")
push_seconds=$(awk '/^node_agent_sink_attempt_duration_seconds_sum\{sink="loki"/ {print $2}' "$scratch/metrics.txt")

awk -v b="$total_bytes" -v l="$total_lines" -v s="$start" -v e="$end" -v cpu="$agent_cpu" \
    -v rcpu="$receiver_cpu" -v rss="$peak_rss" -v dropped="$dropped" -v strict="${BENCH_STRICT:-0}" \
    -v pushes="$pushes" -v push_s="$push_seconds" -v profile="$profile" 'BEGIN {
  t = e - s; gib = b / 1073741824
  printf "lines acknowledged      %d of %d (dropped %d)\n", l, l, dropped
  printf "data                    %.1f MiB in %.2f s\n", b / 1048576, t
  printf "end-to-end throughput   %.1f MiB/s, %.0f lines/s\n", b / 1048576 / t, l / t
  printf "agent CPU               %.2f s = %.2f CPU-s per GiB (%.0f MiB/s per core)\n", cpu, cpu / gib, 1024 / (cpu / gib)
  printf "receiver CPU            %.2f s (same machine, 2 cores shared)\n", rcpu
  printf "pushes                  %d, mean %.1f ms each, %.1f in flight on average\n", pushes, 1000 * push_s / pushes, push_s / t
  printf "agent peak RSS          %.1f MiB\n", rss / 1024
  ok = (cpu / gib <= 5.12)
  if (profile != "release") { print "debug build: the target applies to release builds only"; exit 0 }
  printf "target >= 200 MiB/s on one core (<= 5.12 CPU-s/GiB): %s\n", ok ? "met" : "MISSED"
  exit (strict == 1 && !ok) ? 1 : 0
}'
