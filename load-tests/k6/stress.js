// Stress: the production mix at a rate that climbs in steps (ramp, then hold) until the SLO
// breaks. Each step's hold window has the SLO thresholds of its own; the first step that
// breaks them aborts the run once half its window is over, and the highest step before it
// is the rate that held. A step also fails when k6 could not send 95% of its rate (it ran
// short of virtual users): that is no measurement at that rate.
//
// Environment: BASE_URL, JWT_SECRET; STRESS_START_RATE (200), STRESS_STEP_RATE (200),
// STRESS_MAX_RATE (4000), STRESS_RAMP_SECONDS (5), STRESS_HOLD_SECONDS (20), OWNERS,
// SEED_PER_OWNER, PRE_VUS (100), MAX_VUS (1500). Writes SUMMARY_DIR/stress.json.
import { mixIteration, seed } from './lib/mix.js';
import { steps, tagPhase, withPhase } from './lib/phases.js';
import { sloThresholds, thresholdGroups } from './lib/slo.js';
import { TREND_STATS, displayThresholds, summarize } from './lib/summary.js';
import { CLIENT_OPTIONS } from './lib/tasks.js';

const start = Number(__ENV.STRESS_START_RATE || 200);
const increment = Number(__ENV.STRESS_STEP_RATE || 200);
const max = Number(__ENV.STRESS_MAX_RATE || 4000);
const hold = Number(__ENV.STRESS_HOLD_SECONDS || 20);
const rates = [];
for (let rate = start; rate <= max; rate += increment) {
  rates.push(rate);
}
const { stages, windows } = steps(rates, Number(__ENV.STRESS_RAMP_SECONDS || 5), hold);
const SENT_SHARE = 0.95;

function stepThresholds() {
  const thresholds = {};
  for (const window of windows) {
    const delay = `${Math.ceil(window.fromSeconds + hold / 2)}s`;
    for (const [key, expressions] of Object.entries(sloThresholds)) {
      thresholds[withPhase(key, window.name)] = expressions.map((expression) =>
        typeof expression === 'string' ? { threshold: expression, abortOnFail: true, delayAbortEval: delay } : expression,
      );
    }
    thresholds[`http_reqs{phase:${window.name}}`] = [];
  }
  return thresholds;
}

export const options = {
  ...CLIENT_OPTIONS,
  setupTimeout: '5m',
  scenarios: {
    stress: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      stages,
      preAllocatedVUs: Number(__ENV.PRE_VUS || 100),
      maxVUs: Number(__ENV.MAX_VUS || 1500),
    },
  },
  thresholds: { ...displayThresholds(), ...stepThresholds(), checks: ['rate==1'] },
  summaryTrendStats: TREND_STATS,
};

export function setup() {
  return seed();
}

export default function (data) {
  tagPhase(windows);
  mixIteration(data);
}

function stepResults(data) {
  const results = [];
  for (const window of windows) {
    const sent = data.metrics[`http_reqs{phase:${window.name}}`]?.values?.count ?? 0;
    if (sent === 0) {
      break;
    }
    const keys = Object.keys(sloThresholds).map((key) => withPhase(key, window.name));
    const thresholdsOk = keys.every((key) => Object.values(data.metrics[key]?.thresholds ?? {}).every((t) => t.ok));
    const achieved = sent / (window.toSeconds - window.fromSeconds);
    const groups = {};
    for (const group of thresholdGroups()) {
      const tags = `{slo_group:${group},phase:${window.name}}`;
      groups[group] = {
        p99_ms: data.metrics[`http_req_duration${tags}`]?.values?.['p(99)'],
        failed_rate: data.metrics[`http_req_failed${tags}`]?.values?.rate,
      };
    }
    results.push({
      rate: window.rate,
      achieved_rate: achieved,
      thresholds_ok: thresholdsOk,
      held: thresholdsOk && achieved >= SENT_SHARE * window.rate,
      groups,
    });
  }
  return results;
}

export function handleSummary(data) {
  const results = stepResults(data);
  const firstBroken = results.findIndex((step) => !step.held);
  const held = firstBroken === -1 ? results : results.slice(0, firstBroken);
  const checksOk = Object.values(data.metrics.checks?.thresholds ?? {}).every((t) => t.ok);
  const verdict = {
    highest_rate_held: checksOk && held.length > 0 ? held[held.length - 1].rate : null,
    checks_ok: checksOk,
    steps: results,
  };
  const lines = ['steps (rate held = SLO thresholds of the step held and 95% of the rate sent):'];
  for (const step of results) {
    const figures = Object.entries(step.groups)
      .map(([group, g]) => `${group} p99 ${g.p99_ms?.toFixed(1) ?? '-'} ms failed ${((g.failed_rate ?? 0) * 100).toFixed(3)}%`)
      .join(', ');
    lines.push(`  ${String(step.rate).padStart(5)}/s sent ${step.achieved_rate.toFixed(0).padStart(5)}/s ${step.held ? 'held  ' : 'BROKEN'} ${figures}`);
  }
  lines.push(`highest rate that held the SLO: ${verdict.highest_rate_held ?? 'none'}${verdict.highest_rate_held ? ' requests/s' : ''}`);
  if (!checksOk) {
    lines.push('checks failed: the API answered wrongly (see the checks above), so no rate counts as held');
  }
  const out = summarize(data, `stress ${start}..${max}/s`, lines);
  if (__ENV.SUMMARY_DIR) {
    out[`${__ENV.SUMMARY_DIR}/stress.json`] = JSON.stringify(verdict, null, 2);
  }
  return out;
}
