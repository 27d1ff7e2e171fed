// The request mix of the load, stress, soak and spike suites: one request per iteration,
// so an arrival rate in iterations/s is a rate in requests/s. Many owners, each with a
// token of its own; reads dominate, as they do in production.
//
// Each virtual user remembers the tasks it created (with their ETags) and only ever
// changes those, so no two users race on one task: a 412 would be a bug, not contention.
// Tasks seeded in setup() are only read.
import http from 'k6/http';
import { mintToken } from './auth.js';
import {
  PRIORITIES,
  SORTS,
  STATUSES,
  createTask,
  deleteTask,
  getTask,
  listTasks,
  session,
  updateTask,
} from './tasks.js';

const owners = Number(__ENV.OWNERS || 50);
const seedPerOwner = Number(__ENV.SEED_PER_OWNER || 10);
const tokenLifetime = Number(__ENV.TOKEN_LIFETIME_SECONDS || 86400);
// A virtual user holding this many tasks turns creates into deletes, so the table grows
// only by the tasks marked done.
const poolLimit = 50;

const ownerName = (i) => `load-owner-${i}`;

// Built on a virtual user's first iteration from the tokens setup() minted, once for the run.
let ownSessions = null;

function sessionsOf(data) {
  if (ownSessions === null) {
    ownSessions = data.tokens.map((token, i) => session(ownerName(i), token));
  }
  return ownSessions;
}

/** Operation weights (percent of requests). */
export const WEIGHTS = [
  ['get', 35],
  ['list', 22],
  ['list_next_page', 8],
  ['create', 15],
  ['update', 10],
  ['complete', 5],
  ['delete', 5],
];
const totalWeight = WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);

const pick = (items) => items[Math.floor(Math.random() * items.length)];

function pickOperation() {
  let roll = Math.random() * totalWeight;
  for (const [operation, weight] of WEIGHTS) {
    roll -= weight;
    if (roll < 0) {
      return operation;
    }
  }
  return WEIGHTS[0][0];
}

function newTask(owner) {
  const fields = { title: `${owner} task ${Math.random().toString(36).slice(2, 10)}`, priority: pick(PRIORITIES) };
  if (Math.random() < 0.5) {
    fields.due_at = new Date(Date.now() + Math.floor(Math.random() * 30 * 86400) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  }
  if (Math.random() < 0.2) {
    fields.description = 'x'.repeat(Math.floor(Math.random() * 500));
  }
  return fields;
}

/**
 * setup(): a token for every owner (minted once for the run, not per virtual user) and
 * SEED_PER_OWNER tasks for each, in parallel batches; returns `{tokens, seeded}` (ids).
 */
export function seed() {
  const tokens = Array.from({ length: owners }, (_, i) => mintToken(ownerName(i), tokenLifetime));
  const seeded = [];
  for (let i = 0; i < owners; i++) {
    const owner = session(ownerName(i), tokens[i]);
    const requests = Array.from({ length: seedPerOwner }, () => ({
      method: 'POST',
      url: `${__ENV.BASE_URL.replace(/\/$/, '')}/api/v1/tasks`,
      body: JSON.stringify({ ...newTask(owner.owner), status: pick(STATUSES) }),
      params: { headers: owner.headers, tags: { name: 'seed', slo_group: 'setup' }, responseType: 'text' },
    }));
    const responses = http.batch(requests);
    const ids = responses.filter((r) => r.status === 201).map((r) => r.json('id'));
    if (ids.length !== seedPerOwner) {
      throw new Error(`seeding owner ${i}: ${ids.length} of ${seedPerOwner} tasks created (status ${responses[0].status})`);
    }
    seeded.push(ids);
  }
  return { tokens, seeded };
}

// Per virtual user: the tasks it created ({ref, owner index}, across owners, so that
// updates and deletes find one from the first seconds) and the last page's cursor.
const pool = [];
let lastPage = null;

function listQuery() {
  const query = { sort: pick(SORTS), limit: pick([10, 20, 50]) };
  if (Math.random() < 0.5) {
    query.status = pick(STATUSES);
  }
  if (Math.random() < 0.3) {
    query.priority = pick(PRIORITIES);
  }
  return query;
}

function listPage(sessions, index, query, tags) {
  const page = listTasks(sessions[index], query, tags);
  lastPage = page && page.next ? { index, query: { ...query, cursor: page.next } } : null;
}

/** One request of the mix. */
export function mixIteration(data, tags = {}) {
  const sessions = sessionsOf(data);
  let operation = pickOperation();
  if (['update', 'complete', 'delete'].includes(operation) && pool.length === 0) {
    operation = 'create';
  }
  if (operation === 'create' && pool.length >= poolLimit) {
    operation = 'delete';
  }
  const randomOwner = Math.floor(Math.random() * owners);
  const position = Math.floor(Math.random() * pool.length);
  switch (operation) {
    case 'get':
      if (pool.length > 0 && Math.random() < 0.5) {
        getTask(sessions[pool[position].index], pool[position].ref, { tags });
      } else {
        getTask(sessions[randomOwner], { id: pick(data.seeded[randomOwner]) }, { tags });
      }
      break;
    case 'list':
      listPage(sessions, randomOwner, listQuery(), tags);
      break;
    case 'list_next_page':
      if (lastPage) {
        listPage(sessions, lastPage.index, lastPage.query, tags);
      } else {
        listPage(sessions, randomOwner, listQuery(), tags);
      }
      break;
    case 'create': {
      const ref = createTask(sessions[randomOwner], newTask(sessions[randomOwner].owner), tags);
      if (ref) {
        pool.push({ ref, index: randomOwner });
      }
      break;
    }
    case 'update':
    case 'complete': {
      const { ref, index } = pool[position];
      const fields =
        operation === 'complete' ? { status: 'done' } : { title: `${sessions[index].owner} edited`, priority: pick(PRIORITIES) };
      const updated = updateTask(sessions[index], ref, fields, tags);
      // A task whose update failed may or may not have changed (a timeout can come after
      // the commit): its ETag is unknown, so it leaves the pool rather than cause a 412.
      if (updated && operation === 'update') {
        pool[position] = { ref: updated, index };
      } else {
        pool.splice(position, 1);
      }
      break;
    }
    case 'delete':
      deleteTask(sessions[pool[position].index], pool[position].ref, tags);
      pool.splice(position, 1);
      break;
  }
}
