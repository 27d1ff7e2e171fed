// Load: the production mix (lib/mix.js) at a constant arrival rate, sent on schedule
// whatever the latency (open loop), under the SLO thresholds.
//
// Environment: BASE_URL, JWT_SECRET; RATE (requests/s, 2000), DURATION (60s), OWNERS (50),
// SEED_PER_OWNER (10), PRE_VUS (100), MAX_VUS (1000).
import { mixIteration, seed } from './lib/mix.js';
import { seconds } from './lib/phases.js';
import { gateThresholds } from './lib/slo.js';
import { TREND_STATS, displayThresholds, rateLine, summarize } from './lib/summary.js';

const rate = Number(__ENV.RATE || 2000);
const duration = __ENV.DURATION || '60s';

export const options = {
  setupTimeout: '5m',
  scenarios: {
    load: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration,
      preAllocatedVUs: Number(__ENV.PRE_VUS || 100),
      maxVUs: Number(__ENV.MAX_VUS || 1000),
    },
  },
  thresholds: { ...displayThresholds(), ...gateThresholds({ checks: ['rate==1'] }) },
  summaryTrendStats: TREND_STATS,
};

export function setup() {
  return seed();
}

export default function (data) {
  mixIteration(data);
}

export function handleSummary(data) {
  return summarize(data, `load at ${rate}/s`, [rateLine(data, rate, seconds(duration))]);
}
