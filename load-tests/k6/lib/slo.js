// The SLO contract, read from what the SLO generator writes from alerts/slos.yaml:
// `thresholds.json` is used as k6's `options.thresholds` unchanged, and `slo-groups.json`
// maps each group to the route templates it covers. No threshold number lives in a k6
// script, so the release gate and the on-call alerts cannot disagree.
//
// SLO_DIR (absolute) overrides the folder, for a contract other than the repository's.

const dir = __ENV.SLO_DIR ? `file://${__ENV.SLO_DIR.replace(/\/$/, '')}/` : import.meta.resolve('../../generated/');

/** k6 thresholds keyed by metric and SLO group, as generated. */
export const sloThresholds = JSON.parse(open(`${dir}thresholds.json`));

/** `{group: ["METHOD /route/{template}", ...]}`, as generated. */
export const sloGroups = JSON.parse(open(`${dir}slo-groups.json`));

const groupOfRoute = {};
for (const [group, routes] of Object.entries(sloGroups)) {
  for (const route of routes) {
    groupOfRoute[route] = group;
  }
}

/** The SLO group of a route ("GET /api/v1/tasks/{id}"), or "none" when no SLO covers it. */
export function sloGroupOf(route) {
  return groupOfRoute[route] ?? 'none';
}

/** The groups the generated thresholds name (the `slo_group:` tag of each key). */
export function thresholdGroups() {
  const groups = new Set();
  for (const key of Object.keys(sloThresholds)) {
    const match = key.match(/slo_group:([^,}]+)/);
    if (match) {
      groups.add(match[1]);
    }
  }
  return [...groups];
}

/**
 * The generated thresholds plus one guard per group: each group must have been sent
 * requests, since a threshold on a sub-metric without samples passes vacuously.
 */
export function gateThresholds(extra = {}) {
  const thresholds = { ...sloThresholds };
  for (const group of thresholdGroups()) {
    thresholds[`http_reqs{slo_group:${group}}`] = ['count>0'];
  }
  return { ...thresholds, ...extra };
}
