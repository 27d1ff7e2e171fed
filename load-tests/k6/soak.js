// Soak: the production mix at a steady, moderate rate for a long time, under the SLO
// thresholds, while a second scenario reads the API's own /metrics (ADMIN_URL) every
// WATCH_SECONDS: resident memory and the database pool's connections in use, whose trend
// over hours shows a leak or a pool that never gives back.
//
// Environment: BASE_URL, JWT_SECRET, ADMIN_URL (optional); RATE (200), DURATION (30m),
// WATCH_SECONDS (10), OWNERS, SEED_PER_OWNER, PRE_VUS (50), MAX_VUS (500).
import { sleep } from 'k6';
import http from 'k6/http';
import { Gauge } from 'k6/metrics';
import { mixIteration, seed } from './lib/mix.js';
import { seconds } from './lib/phases.js';
import { gateThresholds } from './lib/slo.js';
import { TREND_STATS, displayThresholds, rateLine, summarize } from './lib/summary.js';
import { CLIENT_OPTIONS } from './lib/tasks.js';

const duration = __ENV.DURATION || '30m';
const rate = Number(__ENV.RATE || 200);
const adminUrl = (__ENV.ADMIN_URL || '').replace(/\/$/, '');
const memory = new Gauge('api_resident_memory_bytes');
const memoryAtStart = new Gauge('api_resident_memory_bytes_at_start');
const poolInUse = new Gauge('api_db_connections_used');

const scenarios = {
  soak: {
    executor: 'constant-arrival-rate',
    rate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs: Number(__ENV.PRE_VUS || 50),
    maxVUs: Number(__ENV.MAX_VUS || 500),
  },
};
if (adminUrl) {
  scenarios.watch = {
    executor: 'constant-vus',
    vus: 1,
    duration,
    exec: 'watch',
  };
}

export const options = {
  ...CLIENT_OPTIONS,
  setupTimeout: '5m',
  scenarios,
  thresholds: { ...displayThresholds(), 'iterations{scenario:soak}': [], ...gateThresholds({ checks: ['rate==1'] }) },
  summaryTrendStats: TREND_STATS,
};

export function setup() {
  if (!adminUrl) {
    console.warn('ADMIN_URL is not set: memory and pool are not watched');
  }
  return seed();
}

export default function (data) {
  mixIteration(data);
}

function sample(text, pattern) {
  let total = null;
  for (const line of text.split('\n')) {
    const match = line.match(pattern);
    if (match) {
      total = (total ?? 0) + Number(match[1]);
    }
  }
  return total;
}

let watched = 0;

/** One look at the API's /metrics, then a pause. */
export function watch() {
  const res = http.get(`${adminUrl}/metrics`, { tags: { name: 'GET /metrics (admin)', slo_group: 'watch' }, responseType: 'text' });
  if (res.status === 200) {
    const resident = sample(res.body, /^process_resident_memory_bytes\s+(\S+)/);
    const used = sample(res.body, /^db_client_connections_usage\{[^}]*db_client_connection_state="used"[^}]*\}\s+(\S+)/);
    if (resident !== null) {
      memory.add(resident);
      if (watched === 0) {
        memoryAtStart.add(resident);
      }
      watched += 1;
    }
    if (used !== null) {
      poolInUse.add(used);
    }
  }
  sleep(Number(__ENV.WATCH_SECONDS || 10));
}

export function handleSummary(data) {
  const mib = (bytes) => (bytes === undefined ? '-' : `${(bytes / 1048576).toFixed(1)} MiB`);
  const resident = data.metrics.api_resident_memory_bytes?.values;
  const atStart = data.metrics.api_resident_memory_bytes_at_start?.values?.value;
  const pool = data.metrics.api_db_connections_used?.values;
  const lines = [rateLine(data, rate, seconds(duration), 'iterations{scenario:soak}')];
  if (resident) {
    lines.push(
      `API resident memory: ${mib(atStart)} at start, ${mib(resident.value)} at the end (${mib(resident.value - atStart)} growth), max ${mib(resident.max)}`,
      `database connections in use: ${pool?.value ?? '-'} at the end, max ${pool?.max ?? '-'}`,
    );
  } else {
    lines.push('API memory and pool not watched (no ADMIN_URL)');
  }
  return summarize(data, `soak at ${rate}/s for ${duration}`, lines);
}
