// Load: the production mix (lib/mix.js) at a constant arrival rate, sent on schedule
// whatever the latency (open loop), under the SLO thresholds.
//
// Environment: BASE_URL, JWT_SECRET; RATE (requests/s, 2000), DURATION (60s), OWNERS (50),
// SEED_PER_OWNER (10), PRE_VUS (RATE/10, at least 100), MAX_VUS (1000).
import { mixIteration, seed } from './lib/mix.js';
import { seconds } from './lib/phases.js';
import { gateThresholds } from './lib/slo.js';
import { TREND_STATS, displayThresholds, rateLine, summarize } from './lib/summary.js';
import { CLIENT_OPTIONS } from './lib/tasks.js';

const rate = Number(__ENV.RATE || 2000);
const duration = __ENV.DURATION || '60s';

export const options = {
  ...CLIENT_OPTIONS,
  setupTimeout: '5m',
  scenarios: {
    load: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration,
      // Enough users for a mean latency of 100 ms, allocated before the run: a user allocated
      // during the run evaluates the whole script then, when the machine is busiest.
      preAllocatedVUs: Number(__ENV.PRE_VUS || Math.max(100, Math.ceil(rate / 10))),
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
