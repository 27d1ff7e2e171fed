#!/usr/bin/env bash
# Benchmarks node-agent against node_exporter on this machine, measured in the same run:
# both serve a scrape every 15 s for BENCH_SECONDS (default 120) while the agent collects
# every 10 s (node_exporter collects on each scrape); then each gets BENCH_BURST (default
# 200) back-to-back scrapes for latency percentiles. Prints CPU and resident memory of
# both processes and their scrape latencies, and checks the targets: agent RSS <= 15 MiB
# and an agent scrape no slower than node_exporter's.
#
# BENCH_PROFILE=debug measures the existing debug build instead (a smoke run of the
# script itself; its figures are not the release targets'). BENCH_CLOUDWATCH=1 also enables the CloudWatch sink (pushing every 10 s to a local
# ministack), to measure the agent with the AWS SDK active. BENCH_STRICT=1 exits 1 when a
# target is missed. Traffic stays on loopback and the run stops by itself.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
cd "$WATCHPOST_ROOT"

duration=${BENCH_SECONDS:-120}
burst=${BENCH_BURST:-200}
scrape_every=15
target_dir=${CARGO_TARGET_DIR:-$WATCHPOST_ROOT/target}
profile=${BENCH_PROFILE:-release}
case "$profile" in
  release) build_flags=(--release) ;;
  debug) build_flags=() ;; # not built here: the test command's debug build
  *) echo "BENCH_PROFILE must be release or debug, got $profile" >&2; exit 2 ;;
esac

apt_install prometheus-node-exporter prometheus-node-exporter
apt_install curl curl
node_exporter=${NODE_EXPORTER:-$(command -v prometheus-node-exporter)}

# The debug binary is the test command's (built with the whole workspace): building the
# one package here would resolve features differently and rebuild every dependency.
if [ "$profile" = release ]; then
  log "building node-agent ($profile)"
  cargo build "${build_flags[@]}" --locked -p node-agent
fi
agent=$target_dir/$profile/node-agent
[ -x "$agent" ] || { echo "no $agent: build it first (cargo build --workspace)" >&2; exit 2; }

make_scratch bench-agent
pids=()
on_exit kill_pids

agent_port=$(free_port)
exporter_port=$(free_port)
cloudwatch="  cloudwatch: {enabled: false}"
if [ "${BENCH_CLOUDWATCH:-0}" = 1 ]; then
  venv_install ministack ministack cbor2
  ministack_port=$(free_port)
  GATEWAY_PORT=$ministack_port BIND_HOST=127.0.0.1 "$TOOLS_DIR/ministack/bin/ministack" >"$scratch/ministack.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ministack_port/_ministack/health" >/dev/null && break; sleep 0.2; done
  cloudwatch="  cloudwatch: {enabled: true, region: us-east-1, endpoint: 'http://127.0.0.1:$ministack_port', push_interval_seconds: 10}"
  export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
fi
cat >"$scratch/agent.yaml" <<YAML
server: {listen_address: '127.0.0.1:$agent_port'}
log: {level: warn}
sources:
  node: {collect_interval_seconds: 10}
sinks:
$cloudwatch
YAML

log "starting node-agent on :$agent_port and node_exporter on :$exporter_port"
"$agent" --config "$scratch/agent.yaml" 2>"$scratch/agent.log" &
agent_pid=$!
pids+=("$agent_pid")
# node_exporter with the same selection rules as the agent's defaults, so both do the same work.
"$node_exporter" --web.listen-address="127.0.0.1:$exporter_port" \
  --collector.filesystem.mount-points-exclude='^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)' \
  --collector.netdev.device-exclude='^lo$' 2>"$scratch/exporter.log" &
exporter_pid=$!
pids+=("$exporter_pid")
for url in "http://127.0.0.1:$agent_port/metrics" "http://127.0.0.1:$exporter_port/metrics"; do
  for _ in $(seq 100); do curl -sf "$url" -o /dev/null && break; sleep 0.1; done
done

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
scrape_ms() { curl -s -o /dev/null -w '%{time_total}\n' "$1" | awk '{printf "%.3f\n", $1 * 1000}'; }

agent_ticks0=$(cpu_ticks "$agent_pid")
exporter_ticks0=$(cpu_ticks "$exporter_pid")
agent_rss_max=0
exporter_rss_max=0
start=$(date +%s)
log "steady state: ${duration}s, a scrape of each every ${scrape_every}s"
for ((t = 0; t < duration; t++)); do
  if ((t % scrape_every == 0)); then
    scrape_ms "http://127.0.0.1:$agent_port/metrics" >>"$scratch/agent.steady"
    scrape_ms "http://127.0.0.1:$exporter_port/metrics" >>"$scratch/exporter.steady"
  fi
  a=$(rss_kib "$agent_pid")
  e=$(rss_kib "$exporter_pid")
  ((a > agent_rss_max)) && agent_rss_max=$a
  ((e > exporter_rss_max)) && exporter_rss_max=$e
  sleep 1
done
elapsed=$(($(date +%s) - start))
agent_cpu=$(awk -v t="$(($(cpu_ticks "$agent_pid") - agent_ticks0))" -v hz="$clk_tck" -v s="$elapsed" 'BEGIN {printf "%.2f s (%.3f%% of a core)", t / hz, 100 * t / hz / s}')
exporter_cpu=$(awk -v t="$(($(cpu_ticks "$exporter_pid") - exporter_ticks0))" -v hz="$clk_tck" -v s="$elapsed" 'BEGIN {printf "%.2f s (%.3f%% of a core)", t / hz, 100 * t / hz / s}')
agent_rss_end=$(rss_kib "$agent_pid")
exporter_rss_end=$(rss_kib "$exporter_pid")

log "burst: $burst back-to-back scrapes of each"
for ((i = 0; i < burst; i++)); do
  scrape_ms "http://127.0.0.1:$agent_port/metrics" >>"$scratch/agent.burst"
  scrape_ms "http://127.0.0.1:$exporter_port/metrics" >>"$scratch/exporter.burst"
done
agent_rss_burst=$(rss_kib "$agent_pid")
exporter_rss_burst=$(rss_kib "$exporter_pid")

# pct FILE P: the P-quantile (nearest rank) of the numbers in FILE.
pct() { sort -n "$1" | awk -v p="$2" '{v[NR] = $1} END {i = int(p * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; printf "%.2f", v[i]}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
series() { curl -s "$1" | grep -vc '^#'; }

agent_series=$(series "http://127.0.0.1:$agent_port/metrics")
exporter_series=$(series "http://127.0.0.1:$exporter_port/metrics")
collect_ms=$(curl -s "http://127.0.0.1:$agent_port/metrics" | awk '
  /^node_agent_collector_duration_seconds_sum/ {sum += $2}
  /^node_agent_collector_duration_seconds_count\{collector="stat"\}/ {n = $2}
  END {if (n > 0) printf "%.2f", 1000 * sum / n; else print "n/a"}')

printf '\n%-38s %-28s %-28s\n' "" "node-agent ($profile)" "node_exporter"
printf '%-38s %-28s %-28s\n' "series served" "$agent_series" "$exporter_series"
printf '%-38s %-28s %-28s\n' "CPU over ${elapsed}s steady state" "$agent_cpu" "$exporter_cpu"
printf '%-38s %-28s %-28s\n' "RSS max, steady state (MiB)" "$(mib "$agent_rss_max")" "$(mib "$exporter_rss_max")"
printf '%-38s %-28s %-28s\n' "RSS at end of steady state (MiB)" "$(mib "$agent_rss_end")" "$(mib "$exporter_rss_end")"
printf '%-38s %-28s %-28s\n' "RSS after burst (MiB)" "$(mib "$agent_rss_burst")" "$(mib "$exporter_rss_burst")"
printf '%-38s %-28s %-28s\n' "steady scrape p50 / max (ms)" "$(pct "$scratch/agent.steady" 0.5) / $(pct "$scratch/agent.steady" 1)" "$(pct "$scratch/exporter.steady" 0.5) / $(pct "$scratch/exporter.steady" 1)"
printf '%-38s %-28s %-28s\n' "burst scrape p50 / p90 / p99 (ms)" \
  "$(pct "$scratch/agent.burst" 0.5) / $(pct "$scratch/agent.burst" 0.9) / $(pct "$scratch/agent.burst" 0.99)" \
  "$(pct "$scratch/exporter.burst" 0.5) / $(pct "$scratch/exporter.burst" 0.9) / $(pct "$scratch/exporter.burst" 0.99)"
printf '%-38s %-28s %-28s\n' "one node collection (ms, mean)" "$collect_ms" "(collects per scrape)"
if [ "${BENCH_CLOUDWATCH:-0}" = 1 ]; then
  sent=$(curl -s "http://127.0.0.1:$agent_port/metrics" | awk '/^node_agent_sink_sent_events_total\{sink="cloudwatch"\}/ {print $2}')
  printf '%-38s %-28s\n' "CloudWatch sink (ministack)" "enabled, ${sent:-0} datums delivered"
else
  printf '%-38s %-28s\n' "CloudWatch sink" "disabled (BENCH_CLOUDWATCH=1 to enable)"
fi

failed=0
rss_peak=$((agent_rss_max > agent_rss_burst ? agent_rss_max : agent_rss_burst))
if ((rss_peak <= 15 * 1024)); then
  echo "PASS agent resident memory $(mib "$rss_peak") MiB <= 15 MiB"
else
  echo "FAIL agent resident memory $(mib "$rss_peak") MiB > 15 MiB"
  failed=1
fi
if awk -v a="$(pct "$scratch/agent.burst" 0.5)" -v e="$(pct "$scratch/exporter.burst" 0.5)" 'BEGIN {exit !(a <= e)}'; then
  echo "PASS agent scrape p50 $(pct "$scratch/agent.burst" 0.5) ms <= node_exporter $(pct "$scratch/exporter.burst" 0.5) ms"
else
  echo "FAIL agent scrape p50 $(pct "$scratch/agent.burst" 0.5) ms > node_exporter $(pct "$scratch/exporter.burst" 0.5) ms"
  failed=1
fi
if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$failed" = 1 ]; then exit 1; fi
