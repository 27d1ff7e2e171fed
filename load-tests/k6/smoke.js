// Smoke: a few users each walk every route once, the way a client does (create, read with
// and without If-None-Match, list with filters and follow the cursor, update with If-Match
// and with a stale ETag, complete, delete, and look at another owner's task), under the
// SLO thresholds. Seconds long; run by every test run against the real API.
//
// Environment: BASE_URL, JWT_SECRET; SMOKE_VUS (2), SMOKE_ITERATIONS (2 per user).
import { check } from 'k6';
import { mintToken } from './lib/auth.js';
import { gateThresholds } from './lib/slo.js';
import { TREND_STATS, displayThresholds, summarize } from './lib/summary.js';
import {
  CLIENT_OPTIONS,
  createTask,
  deleteTask,
  getMissingTask,
  getTask,
  listTasks,
  session,
  updateStale,
  updateTask,
} from './lib/tasks.js';

export const options = {
  ...CLIENT_OPTIONS,
  scenarios: {
    smoke: {
      executor: 'per-vu-iterations',
      vus: Number(__ENV.SMOKE_VUS || 2),
      iterations: Number(__ENV.SMOKE_ITERATIONS || 2),
      maxDuration: '2m',
    },
  },
  // Correctness is not an SLO: every answer below 500 must be the one the API documents.
  thresholds: { ...displayThresholds(), ...gateThresholds({ checks: ['rate==1'] }) },
  summaryTrendStats: TREND_STATS,
};

const owner = session(`smoke-owner-${__VU}`, mintToken(`smoke-owner-${__VU}`, 3600));
const stranger = session(`smoke-stranger-${__VU}`, mintToken(`smoke-stranger-${__VU}`, 3600));

export default function () {
  const created = [
    createTask(owner, { title: 'write the runbook', priority: 'high', due_at: '2027-01-15T09:00:00Z' }),
    createTask(owner, { title: 'review the alert', priority: 'low' }),
    createTask(owner, { title: 'rotate the key', priority: 'medium', status: 'in_progress', due_at: '2027-02-01T00:00:00Z' }),
  ];
  if (created.some((ref) => ref === null)) {
    return;
  }
  const [first, second, third] = created;

  getTask(owner, first);
  getTask(owner, first, { ifNoneMatch: true });

  // One task a page, so the cursor is followed across the owner's tasks.
  const seen = [];
  let query = { status: 'todo', limit: 1 };
  for (let page = 0; page < 50; page++) {
    const answer = listTasks(owner, query);
    if (answer === null) {
      return;
    }
    seen.push(...answer.ids);
    if (!answer.next) {
      break;
    }
    query = { ...query, cursor: answer.next };
  }
  check(seen, {
    'list: the cursor visits every todo task once': (ids) =>
      new Set(ids).size === ids.length && ids.includes(first.id) && ids.includes(second.id) && !ids.includes(third.id),
  });
  listTasks(owner, { priority: 'high', sort: '-due_at', limit: 100 });

  const renamed = updateTask(owner, first, { title: 'write the runbook (v2)' });
  if (renamed === null) {
    return;
  }
  updateStale(owner, renamed, first.etag);
  const done = updateTask(owner, renamed, { status: 'done' });

  getMissingTask(stranger, second.id);

  for (const ref of [done ?? renamed, second, third]) {
    deleteTask(owner, ref);
  }
  getMissingTask(owner, first.id);
}

export function handleSummary(data) {
  return summarize(data, 'smoke');
}
