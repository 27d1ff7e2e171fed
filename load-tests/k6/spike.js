// Spike: the production mix at a base rate, a sudden jump to SPIKE_RATE, and back. The
// SLO thresholds apply to the whole run (users do not forgive a spike); the summary also
// shows each phase (before, spike, after) so a slow recovery is visible.
//
// Environment: BASE_URL, JWT_SECRET; BASE_RATE (200), SPIKE_RATE (2000), BEFORE_SECONDS
// (20), SPIKE_SECONDS (20), AFTER_SECONDS (40), OWNERS, SEED_PER_OWNER, PRE_VUS (100),
// MAX_VUS (1000).
import { mixIteration, seed } from './lib/mix.js';
import { tagPhase } from './lib/phases.js';
import { gateThresholds, thresholdGroups } from './lib/slo.js';
import { TREND_STATS, displayThresholds, summarize } from './lib/summary.js';
import { CLIENT_OPTIONS } from './lib/tasks.js';

const base = Number(__ENV.BASE_RATE || 200);
const spike = Number(__ENV.SPIKE_RATE || 2000);
const before = Number(__ENV.BEFORE_SECONDS || 20);
const during = Number(__ENV.SPIKE_SECONDS || 20);
const after = Number(__ENV.AFTER_SECONDS || 40);
// Rates change in one second, about as sudden as an arrival rate can be.
const windows = [
  { name: 'before', fromSeconds: 0, toSeconds: before },
  { name: 'spike', fromSeconds: before + 1, toSeconds: before + 1 + during },
  { name: 'after', fromSeconds: before + 2 + during, toSeconds: before + 2 + during + after },
];

function phaseDisplay() {
  const shown = {};
  for (const window of windows) {
    for (const group of thresholdGroups()) {
      shown[`http_req_duration{slo_group:${group},phase:${window.name}}`] = [];
      shown[`http_req_failed{slo_group:${group},phase:${window.name}}`] = [];
    }
  }
  return shown;
}

export const options = {
  ...CLIENT_OPTIONS,
  setupTimeout: '5m',
  scenarios: {
    spike: {
      executor: 'ramping-arrival-rate',
      startRate: base,
      timeUnit: '1s',
      stages: [
        { target: base, duration: `${before}s` },
        { target: spike, duration: '1s' },
        { target: spike, duration: `${during}s` },
        { target: base, duration: '1s' },
        { target: base, duration: `${after}s` },
      ],
      preAllocatedVUs: Number(__ENV.PRE_VUS || 100),
      maxVUs: Number(__ENV.MAX_VUS || 1000),
    },
  },
  thresholds: { ...displayThresholds(), ...phaseDisplay(), ...gateThresholds({ checks: ['rate==1'] }) },
  summaryTrendStats: TREND_STATS,
};

export function setup() {
  return seed();
}

export default function (data) {
  tagPhase(windows, 'transition');
  mixIteration(data);
}

export function handleSummary(data) {
  const lines = ['phases:'];
  for (const window of windows) {
    for (const group of thresholdGroups()) {
      const tags = `{slo_group:${group},phase:${window.name}}`;
      const p99 = data.metrics[`http_req_duration${tags}`]?.values?.['p(99)'];
      const failed = data.metrics[`http_req_failed${tags}`]?.values?.rate;
      lines.push(`  ${window.name.padEnd(7)} ${group.padEnd(10)} p99 ${p99?.toFixed(1) ?? '-'} ms, failed ${((failed ?? 0) * 100).toFixed(3)}%`);
    }
  }
  return summarize(data, `spike ${base}/s -> ${spike}/s -> ${base}/s`, lines);
}
