// The API client: JSON over fetch with the admin key from sessionStorage (never localStorage or cookies).

const KEY_NAME = 'llmwf.dashboard.apiKey';
const BASE = '/api/v1';

export const getKey = () => sessionStorage.getItem(KEY_NAME);
export const setKey = (key) => sessionStorage.setItem(KEY_NAME, key);
export const clearKey = () => sessionStorage.removeItem(KEY_NAME);

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** Calls /api/v1{path}; throws ApiError with a readable message on any non-2xx answer. */
export async function api(path, { method = 'GET', body, signal, key } = {}) {
  // X-LlmWorkflow-Dashboard: the service traces none of the dashboard's reads (it repeats them every few seconds).
  const headers = { 'X-API-Key': key ?? getKey() ?? '', Accept: 'application/json', 'X-LlmWorkflow-Dashboard': '1' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'The API could not be reached. Check that the service is running.', null);
  }

  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }

  if (!response.ok) throw new ApiError(response.status, describe(response.status, data), data);
  return { data, status: response.status };
}

function describe(status, data) {
  const detail = data && typeof data === 'object'
    ? [data.title, data.detail ?? data.message, data.errors ? Object.values(data.errors).flat().join(' ') : null].filter(Boolean).join(': ')
    : typeof data === 'string' ? data.slice(0, 300) : '';
  switch (status) {
    case 401: return 'The API key was not accepted. Sign out and enter a valid admin key.';
    case 403: return 'This key is not an admin key; admin views need an admin key.';
    case 404: return detail || 'Not found.';
    case 429: return 'Too many requests; the dashboard will try again shortly.';
    default: return detail || `The API answered ${status}.`;
  }
}

let capabilities;

/**
 * Which routes this API offers, read once from its OpenAPI document, so views for routes that are not deployed
 * yet show a clear message instead of calling them. Null when the document is unavailable (then views just try).
 */
export function routes() {
  capabilities ??= fetch('/openapi/v1.json', { headers: { Accept: 'application/json' } })
    .then((r) => (r.ok ? r.json() : null))
    .then((doc) => {
      if (!doc?.paths) return null;
      const set = new Set();
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const method of Object.keys(item)) set.add(`${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, '{}')}`);
      }
      return set;
    })
    .catch(() => null);
  return capabilities;
}

/** True when the API documents `METHOD /api/v1/...` (path parameters written as {}), or when unknown. */
export async function offers(method, path) {
  const set = await routes();
  return set === null || set.has(`${method} ${BASE}${path}`);
}

/** URL of a job's live event stream; EventSource cannot send headers, so the key goes in the query. */
export function eventsUrl(jobId, lastEventId) {
  const query = new URLSearchParams({ api_key: getKey() ?? '' });
  if (lastEventId) query.set('last_event_id', lastEventId);
  return `${BASE}/jobs/${encodeURIComponent(jobId)}/events?${query}`;
}
