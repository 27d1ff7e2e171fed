// The end-of-test summary every suite writes: `summary.json` (k6's own summary data, for
// tools) and `summary.txt` (for people: each SLO group's figures, each threshold and
// whether it held) in SUMMARY_DIR, and the text on stdout.
import { sloGroups, thresholdGroups } from './slo.js';

const ROUTES = [...new Set(Object.values(sloGroups).flat())];

/** Sub-metrics shown in the summary: k6 computes a sub-metric only when a threshold names it. */
export function displayThresholds() {
  const shown = {};
  for (const group of thresholdGroups()) {
    shown[`http_req_duration{slo_group:${group}}`] = [];
    shown[`http_req_failed{slo_group:${group}}`] = [];
  }
  for (const route of ROUTES) {
    shown[`http_req_duration{name:${route}}`] = [];
    shown[`http_req_failed{name:${route}}`] = [];
  }
  return shown;
}

export const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)'];

const pad = (text, width) => String(text).padEnd(width);
const ms = (value) => (value === undefined ? '-' : value.toFixed(2));
const percent = (value) => (value === undefined ? '-' : `${(value * 100).toFixed(3)}%`);

function figuresTable(data, label, keys) {
  const lines = [`${pad(label, 30)} ${pad('requests', 9)} ${pad('failed', 9)} ${pad('p50 ms', 9)} ${pad('p90 ms', 9)} ${pad('p99 ms', 9)} max ms`];
  for (const key of keys) {
    const duration = data.metrics[`http_req_duration{${key}}`]?.values;
    const failed = data.metrics[`http_req_failed{${key}}`]?.values;
    if (!duration || !failed) {
      continue;
    }
    const requests = (failed.passes ?? 0) + (failed.fails ?? 0);
    lines.push(
      `${pad(key.split(':').slice(1).join(':'), 30)} ${pad(requests, 9)} ${pad(percent(failed.rate), 9)} ${pad(ms(duration['p(50)']), 9)} ${pad(ms(duration['p(90)']), 9)} ${pad(ms(duration['p(99)']), 9)} ${ms(duration.max)}`,
    );
  }
  return lines;
}

/** The thresholds of the run and whether each held: [{metric, expression, ok}]. */
export function thresholdResults(data) {
  const results = [];
  for (const [metric, summary] of Object.entries(data.metrics)) {
    for (const [expression, outcome] of Object.entries(summary.thresholds ?? {})) {
      results.push({ metric, expression, ok: outcome.ok });
    }
  }
  return results.sort((a, b) => a.metric.localeCompare(b.metric));
}

function failedChecks(group) {
  const failed = (group.checks ?? []).filter((c) => c.fails > 0).map((c) => `  ${c.name}: ${c.fails} of ${c.passes + c.fails} failed`);
  return failed.concat(...(group.groups ?? []).map(failedChecks));
}

/** handleSummary's answer for `suite`; `extraLines` go between the figures and the verdict. */
export function summarize(data, suite, extraLines = []) {
  const requests = data.metrics.http_reqs?.values ?? {};
  const checks = data.metrics.checks?.values ?? {};
  const dropped = data.metrics.dropped_iterations?.values?.count ?? 0;
  const seconds = data.state.testRunDurationMs / 1000;
  const thresholds = thresholdResults(data);
  const broken = thresholds.filter((t) => !t.ok);
  const failing = failedChecks(data.root_group ?? {});
  const lines = [
    `k6 ${suite}: ${requests.count ?? 0} requests (setup's included) in ${seconds.toFixed(1)} s (${(requests.rate ?? 0).toFixed(1)}/s), ` +
      `${dropped} iterations dropped (k6 short of virtual users), checks ${percent(checks.rate)} of ${(checks.passes ?? 0) + (checks.fails ?? 0)}`,
    '',
    ...figuresTable(data, 'SLO group', thresholdGroups().map((g) => `slo_group:${g}`)),
    '',
    ...figuresTable(data, 'route', ROUTES.map((r) => `name:${r}`)),
    '',
    'thresholds (load-tests/generated/thresholds.json and the suite\'s own guards):',
    ...thresholds.map((t) => `  ${t.ok ? 'ok    ' : 'BROKEN'} ${t.metric} ${t.expression}`),
    ...(failing.length ? ['', 'failed checks:', ...failing] : []),
    ...(extraLines.length ? ['', ...extraLines] : []),
    '',
    broken.length === 0 ? 'verdict: every threshold held' : `verdict: ${broken.length} threshold(s) broken: k6 exits 99`,
  ];
  const text = `${lines.join('\n')}\n`;
  const out = { stdout: text };
  if (__ENV.SUMMARY_DIR) {
    out[`${__ENV.SUMMARY_DIR}/summary.json`] = JSON.stringify(data, null, 2);
    out[`${__ENV.SUMMARY_DIR}/summary.txt`] = text;
  }
  return out;
}

/**
 * How close the mix came to the rate asked: its iterations are its requests (setup's are
 * not iterations). `metric` names the scenario's iterations when the suite has others.
 */
export function rateLine(data, askedRate, durationSeconds, metric = 'iterations') {
  const sent = data.metrics[metric]?.values?.count ?? 0;
  return `mix: ${sent} requests in ${durationSeconds} s, ${(sent / durationSeconds).toFixed(1)}/s (asked ${askedRate}/s)`;
}
