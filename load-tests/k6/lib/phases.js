// Named windows of a run (a stress step, a spike), so each window's requests carry a
// `phase` tag and get thresholds and figures of their own. The tag is set on the virtual
// user at the start of each iteration from the time since the scenario started.
import exec from 'k6/execution';

/**
 * Stages for ramping-arrival-rate that climb to each rate and hold it, and the hold
 * windows: [{name, rate, fromSeconds, toSeconds}]. Ramps are tagged "ramp".
 */
export function steps(rates, rampSeconds, holdSeconds) {
  const stages = [];
  const windows = [];
  let clock = 0;
  for (const rate of rates) {
    stages.push({ target: rate, duration: `${rampSeconds}s` }, { target: rate, duration: `${holdSeconds}s` });
    clock += rampSeconds;
    windows.push({ name: String(rate), rate, fromSeconds: clock, toSeconds: clock + holdSeconds });
    clock += holdSeconds;
  }
  return { stages, windows };
}

/** Tags this virtual user's next samples with the window the scenario is in now. */
export function tagPhase(windows, between = 'ramp') {
  const elapsed = (Date.now() - exec.scenario.startTime) / 1000;
  const current = windows.find((w) => elapsed >= w.fromSeconds && elapsed < w.toSeconds);
  exec.vu.metrics.tags.phase = current ? current.name : between;
}

/** `metric{tags}` with `phase:name` added to its tags. */
export function withPhase(key, name) {
  const brace = key.indexOf('{');
  if (brace < 0) {
    return `${key}{phase:${name}}`;
  }
  return `${key.slice(0, -1)},phase:${name}}`;
}

/** Seconds in a k6 duration such as "90s", "5m" or "1h30m". */
export function seconds(duration) {
  const units = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  for (const [, amount, unit] of String(duration).matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    total += Number(amount) * units[unit];
  }
  return total;
}
