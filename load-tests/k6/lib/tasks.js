// The task API as a client uses it (docs/api.md): every call is tagged with its method and
// route template as `name` (bounded, unlike the URL) and with the SLO group of that route,
// and checks the status and body a correct server gives. Answers in 5xx, and requests
// with no answer, are not checked: they are what `http_req_failed` and the SLO count.
import http from 'k6/http';
import { check } from 'k6';
import { sloGroupOf } from './slo.js';

const baseUrl = (__ENV.BASE_URL || '').replace(/\/$/, '');
if (!baseUrl) {
  throw new Error('BASE_URL is not set: the task API to test, e.g. http://127.0.0.1:8080');
}

// Only server errors and requests without an answer fail: a 404 or 412 is the API
// answering correctly, and the checks below say whether it was the expected one.
http.setResponseCallback(http.expectedStatuses({ min: 100, max: 499 }));

const COLLECTION = '/api/v1/tasks';
const ITEM = '/api/v1/tasks/{id}';
export const STATUSES = ['todo', 'in_progress', 'done'];
export const PRIORITIES = ['low', 'medium', 'high'];
export const SORTS = ['created_at', '-created_at', 'due_at', '-due_at'];

/**
 * What every suite adds to its options: response bodies are dropped unless a request asks
 * for its body (`responseType: 'text'`, the requests whose body is checked), and samples
 * carry only the tags the thresholds and the summary read. The `url` tag especially: it
 * holds a task id, so it would make a time series of every sample (and of every task in
 * Prometheus, with remote write); `name` holds the route template instead.
 */
export const CLIENT_OPTIONS = {
  discardResponseBodies: true,
  systemTags: ['status', 'method', 'name', 'check', 'error', 'error_code', 'scenario', 'expected_response'],
};

/** A client acting for one owner. */
export function session(owner, token) {
  return { owner, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } };
}

// The tags of each route, built once: a request's params are built per request.
const routeTags = {};

function tagsOf(method, route) {
  const name = `${method} ${route}`;
  if (!routeTags[name]) {
    routeTags[name] = { name, slo_group: sloGroupOf(name) };
  }
  return routeTags[name];
}

/** Request params: the session's headers, the route's tags, and the body only when it is read. */
function params(s, method, route, { headers, tags, readBody = false } = {}) {
  const routeTag = tagsOf(method, route);
  return {
    headers: headers ? { ...s.headers, ...headers } : s.headers,
    tags: tags && Object.keys(tags).length > 0 ? { ...routeTag, ...tags } : routeTag,
    responseType: readBody ? 'text' : 'none',
  };
}

/**
 * Checks an answer against the documented one, as one `checks` sample named `label` when
 * every condition holds (a sample per condition would cost k6 more CPU per request than
 * the request itself), and as one failed sample per condition that does not.
 */
function verify(res, label, conditions) {
  const failed = Object.keys(conditions).filter((name) => {
    try {
      return !conditions[name](res);
    } catch (_) {
      return true;
    }
  });
  if (failed.length === 0) {
    return check(res, { [label]: () => true });
  }
  const outcome = {};
  for (const name of failed) {
    outcome[name] = () => false;
  }
  return check(res, outcome);
}

function answered(res) {
  return res.status > 0 && res.status < 500;
}

function body(res) {
  try {
    return res.json();
  } catch (_) {
    return null;
  }
}

function etagOf(task) {
  return `"${task.version}"`;
}

/** POSTs a task; returns `{id, etag, task}` or null. */
export function createTask(s, fields, tags = {}) {
  const res = http.post(`${baseUrl}${COLLECTION}`, JSON.stringify(fields), params(s, 'POST', COLLECTION, { tags, readBody: true }));
  if (!answered(res)) {
    return null;
  }
  const task = body(res);
  const ok = verify(res, 'create: as documented', {
    'create: 201': (r) => r.status === 201,
    'create: Location names the task': (r) => task !== null && (r.headers.Location || '').endsWith(`/tasks/${task.id}`),
    'create: ETag is the version': (r) => task !== null && r.headers.Etag === etagOf(task),
    'create: body echoes the title': () => task !== null && task.title === fields.title && task.status === (fields.status || 'todo'),
  });
  return ok ? { id: task.id, etag: etagOf(task), task } : null;
}

/** GETs a task that must exist; with `ifNoneMatch` a 304 is the expected answer. */
export function getTask(s, ref, { ifNoneMatch = false, tags = {} } = {}) {
  const headers = ifNoneMatch ? { 'If-None-Match': ref.etag } : undefined;
  const res = http.get(`${baseUrl}${COLLECTION}/${ref.id}`, params(s, 'GET', ITEM, { headers, tags, readBody: !ifNoneMatch }));
  if (!answered(res)) {
    return null;
  }
  if (ifNoneMatch) {
    check(res, { 'get: 304 on a matching If-None-Match': (r) => r.status === 304 });
    return null;
  }
  const task = body(res);
  verify(res, 'get: as documented', {
    'get: 200': (r) => r.status === 200,
    'get: the task asked for': () => task !== null && task.id === ref.id,
    'get: ETag is the version': (r) => task !== null && r.headers.Etag === etagOf(task),
  });
  return task;
}

/** GETs a task that must answer 404 (deleted, or another owner's). */
export function getMissingTask(s, id, tags = {}) {
  const res = http.get(`${baseUrl}${COLLECTION}/${id}`, params(s, 'GET', ITEM, { tags }));
  if (answered(res)) {
    check(res, { 'get: 404 for a deleted or foreign task': (r) => r.status === 404 });
  }
}

/**
 * GETs one page; every item must match the filters. Returns `{ids, next}` or null. The
 * page is read with k6's JSON paths (parsed in Go): JSON.parse of a 50-task page costs
 * k6's JavaScript engine about 1.6 ms, several times the request itself.
 */
export function listTasks(s, query, tags = {}) {
  const search = Object.entries(query)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${encodeURIComponent(value)}`)
    .join('&');
  const res = http.get(`${baseUrl}${COLLECTION}?${search}`, params(s, 'GET', COLLECTION, { tags, readBody: true }));
  if (!answered(res)) {
    return null;
  }
  const field = (path) => {
    try {
      return res.json(path);
    } catch (_) {
      return undefined;
    }
  };
  const ids = field('items.#.id');
  const next = field('next');
  const ok = verify(res, 'list: as documented', {
    'list: 200': (r) => r.status === 200,
    'list: at most limit items': () => Array.isArray(ids) && ids.length <= (query.limit || 20),
    'list: items match the filters': () =>
      (!query.status || field('items.#.status').every((status) => status === query.status)) &&
      (!query.priority || field('items.#.priority').every((priority) => priority === query.priority)),
    'list: next is a cursor, absent on the last page': () => next === undefined || typeof next === 'string',
  });
  return ok ? { ids, next } : null;
}

/** PATCHes with If-Match; returns the updated ref, or null. */
export function updateTask(s, ref, fields, tags = {}) {
  const res = http.patch(
    `${baseUrl}${COLLECTION}/${ref.id}`,
    JSON.stringify(fields),
    params(s, 'PATCH', ITEM, { headers: { 'If-Match': ref.etag }, tags, readBody: true }),
  );
  if (!answered(res)) {
    return null;
  }
  const task = body(res);
  const ok = verify(res, 'update: as documented', {
    'update: 200': (r) => r.status === 200,
    'update: fields applied': () => task !== null && Object.entries(fields).every(([key, value]) => task[key] === value),
    'update: new ETag': (r) => task !== null && r.headers.Etag === etagOf(task) && r.headers.Etag !== ref.etag,
  });
  return ok ? { id: ref.id, etag: etagOf(task), task } : null;
}

/** PATCHes with an ETag that is no longer current: 412, nothing written. */
export function updateStale(s, ref, staleEtag, tags = {}) {
  const res = http.patch(
    `${baseUrl}${COLLECTION}/${ref.id}`,
    JSON.stringify({ title: 'lost update' }),
    params(s, 'PATCH', ITEM, { headers: { 'If-Match': staleEtag }, tags }),
  );
  if (answered(res)) {
    check(res, { 'update: 412 on a stale If-Match': (r) => r.status === 412 });
  }
}

/** DELETEs with If-Match; true when the task is gone. */
export function deleteTask(s, ref, tags = {}) {
  const res = http.del(`${baseUrl}${COLLECTION}/${ref.id}`, null, params(s, 'DELETE', ITEM, { headers: { 'If-Match': ref.etag }, tags }));
  if (!answered(res)) {
    return false;
  }
  return check(res, { 'delete: 204': (r) => r.status === 204 });
}
