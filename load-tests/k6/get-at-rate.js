// Latency at a fixed load: GET a task by id at RATE requests a second for DURATION, sent on
// schedule whatever the server's latency (open loop, k6's constant-arrival-rate), so a slow
// response cannot hold back the next request and hide its own cost. A closed loop such as
// `wrk -c64` at saturation measures queueing instead: its p50 is the connection count
// divided by the throughput.
//
// Environment: BASE_URL, TOKEN, IDS_FILE (one task id per line), RATE (default 1000),
// DURATION (default 5s). Prints one line:
//   RESULT requests=N p50_ms=… p90_ms=… p99_ms=… failed=N dropped=N
// `dropped` counts requests k6 could not send on time (it ran out of virtual users): a run
// with any is not a measurement at RATE.
import http from 'k6/http';

const ids = open(__ENV.IDS_FILE).split('\n').filter((line) => line.length > 0);
const params = { headers: { Authorization: `Bearer ${__ENV.TOKEN}` } };
const url = `${__ENV.BASE_URL}/api/v1/tasks/`;

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['p(50)', 'p(90)', 'p(99)'],
  scenarios: {
    get_at_rate: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 1000),
      timeUnit: '1s',
      duration: __ENV.DURATION || '5s',
      preAllocatedVUs: 200,
      maxVUs: 400,
    },
  },
};

export default function () {
  http.get(url + ids[Math.floor(Math.random() * ids.length)], params);
}

export function handleSummary(data) {
  const metric = (name) => data.metrics[name]?.values ?? {};
  const duration = metric('http_req_duration');
  const line = [
    'RESULT',
    `requests=${metric('http_reqs').count ?? 0}`,
    `p50_ms=${(duration['p(50)'] ?? 0).toFixed(3)}`,
    `p90_ms=${(duration['p(90)'] ?? 0).toFixed(3)}`,
    `p99_ms=${(duration['p(99)'] ?? 0).toFixed(3)}`,
    `failed=${metric('http_req_failed').passes ?? 0}`,
    `dropped=${metric('dropped_iterations').count ?? 0}`,
  ].join(' ');
  return { stdout: `${line}\n` };
}
