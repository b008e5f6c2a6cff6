// api.js — the one module that talks to the Tollgate API (see shared/API.md).
//
// - The access token lives in this module's memory only (never localStorage or
//   sessionStorage). A page load gets a fresh one through the HttpOnly refresh
//   cookie (`tg_refresh`, Path=/api/auth) with ensureSession().
// - api(path, {method, body}) sends JSON with `Authorization: Bearer`; on a 401 it
//   refreshes once (one refresh in flight per page) and retries the request once.
// - Errors become ApiError with .status, .code, .detail, .errors (field → message)
//   and a .message fit to show a person. Network failures, 502/503/504 say clearly
//   that the service is unavailable.
// - showFieldErrors(form, err) puts those messages next to the matching fields.
// - apiStream(path, {body, signal, onEvent}) POSTs and reads a text/event-stream
//   answer (the chat route) event by event as it arrives.

export const UNAVAILABLE_MESSAGE =
  'The Tollgate service is unavailable right now. Please try again in a few minutes.';

let accessToken = null;
let currentUser = null;
let refreshInFlight = null;
const userListeners = new Set();

export class ApiError extends Error {
  constructor({ status = 0, code = 'error', title = '', detail = '', errors = null,
                requestId = '', retryAfter = null, message = '', problem = null } = {}) {
    super(message || detail || title || `Request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
    // The whole problem document: extension members such as `metric`, `used`
    // and `limit` of 402 quota_exceeded.
    this.problem = problem || {};
  }

  /** True when the service (or one of its dependencies) cannot answer now. */
  get unavailable() {
    if (this.code === 'llm_error') return false; // the model refused: not an outage
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504 ||
      (this.status >= 500 && this.code === 'unavailable');
  }

  /** 402 quota_exceeded: a plan limit was reached (see .metric, .used, .limit). */
  get quotaExceeded() {
    return this.status === 402;
  }

  get metric() { return typeof this.problem.metric === 'string' ? this.problem.metric : null; }
  get used() { return Number.isFinite(this.problem.used) ? this.problem.used : null; }
  get limit() { return Number.isFinite(this.problem.limit) ? this.problem.limit : null; }
}

/** How a metric of /api/usage is named in a sentence ("2 of 3 projects"). */
export const METRIC_NOUNS = {
  monthly_tokens: ['token', 'tokens'],
  projects: ['project', 'projects'],
  documents: ['document', 'documents'],
  agents: ['agent', 'agents'],
};

function quotaMessage(problem) {
  const metric = problem && problem.metric;
  const limit = problem && Number.isFinite(problem.limit) ? problem.limit : null;
  const nouns = METRIC_NOUNS[metric];
  if (!nouns) return 'You have reached a limit of your plan. Upgrade your plan to continue.';
  const amount = limit === null ? `all the ${nouns[1]}` : `${limit.toLocaleString()} ${limit === 1 ? nouns[0] : nouns[1]}`;
  if (metric === 'monthly_tokens') {
    return `You have used ${limit === null ? 'all the tokens' : `the ${amount}`} your plan includes this period. ` +
      'Upgrade your plan to keep chatting, or wait for the next period.';
  }
  return `Your plan allows ${amount}, and you have reached that limit. ` +
    `Upgrade your plan, or delete ${nouns[1]} you no longer need.`;
}

function retryText(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return 'in a moment';
  if (seconds < 90) return `in ${Math.ceil(seconds)} seconds`;
  return `in ${Math.ceil(seconds / 60)} minutes`;
}

function capitalize(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

/** The sentence shown to a person for an error answer. */
function messageFor(status, code, title, detail, retryAfter, requestId, problem = {}) {
  if (code === 'quota_exceeded' || status === 402) return quotaMessage(problem);
  if (code === 'llm_unavailable') {
    return `The AI model service is not reachable right now. Please try again ${retryText(retryAfter)}. ` +
      'Nothing was charged.';
  }
  if (code === 'llm_error') {
    return `The AI model could not answer this request${detail ? `: ${detail}` : '.'}`.replace(/([^.!?])$/, '$1.');
  }
  if (status === 0 || status === 502 || status === 504 || (status >= 500 && code === 'unavailable')) {
    return UNAVAILABLE_MESSAGE;
  }
  if (status === 503) {
    if (code === 'billing_unavailable') {
      return 'Billing is not available right now.' + (detail ? ` ${capitalize(detail)}` : '') +
        ' No payment was taken.';
    }
    if (code && code !== 'unavailable' && detail) return capitalize(detail);
    return UNAVAILABLE_MESSAGE;
  }
  if (status === 429) return `Too many attempts. Please try again ${retryText(retryAfter)}.`;
  if (status >= 500) {
    return 'Something went wrong on our side. Please try again.' +
      (requestId ? ` (Reference: ${requestId})` : '');
  }
  if (code === 'validation_failed') return 'Please correct the highlighted fields.';
  if (detail) return capitalize(detail);
  if (title) return capitalize(title);
  return `The request failed (HTTP ${status}).`;
}

async function toApiError(res) {
  let problem = {};
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try { problem = await res.json(); } catch { problem = {}; }
  }
  if (!problem || typeof problem !== 'object') problem = {};
  const status = res.status;
  let code = typeof problem.code === 'string' ? problem.code : '';
  // A 5xx that is not one of our problem documents comes from a proxy or a
  // missing backend: for the visitor, the service is unavailable.
  if (!code) code = status >= 500 ? 'unavailable' : `http_${status}`;
  const title = typeof problem.title === 'string' ? problem.title : '';
  const detail = typeof problem.detail === 'string' ? problem.detail : '';
  const errors = problem.errors && typeof problem.errors === 'object' ? problem.errors : null;
  const requestId = problem.request_id || res.headers.get('X-Request-Id') || '';
  const retryHeader = Number.parseInt(res.headers.get('Retry-After') || '', 10);
  const retryAfter = Number.isFinite(retryHeader) ? retryHeader : null;
  return new ApiError({
    status, code, title, detail, errors, requestId, retryAfter, problem,
    message: messageFor(status, code, title, detail, retryAfter, requestId, problem),
  });
}

/** An `event: error` of a stream ({code, detail}) as an ApiError. */
export function streamError(data) {
  const code = data && typeof data.code === 'string' ? data.code : 'stream_error';
  const detail = data && typeof data.detail === 'string' ? data.detail : '';
  const status = code === 'quota_exceeded' ? 402 : code === 'llm_unavailable' ? 503 : 502;
  return new ApiError({
    status, code, detail, problem: data || {},
    message: code === 'stream_error' || code === 'internal'
      ? `The reply stopped before it was complete${detail ? `: ${detail}` : '.'}`
      : messageFor(status, code, '', detail, null, '', data || {}),
  });
}

function networkError() {
  return new ApiError({ status: 0, code: 'network', message: UNAVAILABLE_MESSAGE });
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** One HTTP exchange, no retry. Resolves the parsed JSON (null for 204). */
async function send(path, { method = 'GET', body, token = null, signal } = {}) {
  method = method.toUpperCase();
  const headers = { Accept: 'application/json, application/problem+json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal };
  if (BODY_METHODS.has(method)) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw networkError();
  }
  if (!res.ok) throw await toApiError(res);
  if (res.status === 204 || res.status === 205) return null;
  const type = res.headers.get('Content-Type') || '';
  if (!type.includes('json')) {
    // An HTML page where JSON was expected: a proxy error page, a missing API.
    throw new ApiError({ status: 502, code: 'unavailable', message: UNAVAILABLE_MESSAGE });
  }
  try {
    return await res.json();
  } catch {
    throw new ApiError({ status: 502, code: 'invalid_response', message: UNAVAILABLE_MESSAGE });
  }
}

function notify() {
  for (const fn of userListeners) {
    try { fn(currentUser); } catch (e) { console.warn(e); }
  }
}

function acceptTokenResponse(data) {
  if (!data || typeof data.access_token !== 'string') {
    throw new ApiError({ status: 502, code: 'invalid_response', message: UNAVAILABLE_MESSAGE });
  }
  accessToken = data.access_token;
  currentUser = data.user || null;
  notify();
  return currentUser;
}

/** Forget the in-memory session (the cookie is the server's business). */
export function clearSession() {
  const had = accessToken !== null || currentUser !== null;
  accessToken = null;
  currentUser = null;
  if (had) notify();
}

/** The signed-in user as last seen, or null. */
export function getUser() {
  return currentUser;
}

/** Replace the cached user (e.g. after PATCH /api/profile) and tell the listeners. */
export function setUser(user) {
  currentUser = user;
  notify();
}

/** Call fn(user) whenever the signed-in user changes. Returns an unsubscribe function. */
export function onUserChange(fn) {
  userListeners.add(fn);
  return () => userListeners.delete(fn);
}

/**
 * Refresh the access token through the HttpOnly cookie. One refresh at a time per
 * page: concurrent callers share it (a second use of a rotated refresh token would
 * count as reuse). Resolves true when a new token came back, false when there is no
 * valid session (401/400/403); throws ApiError when the service is unavailable.
 */
function refresh() {
  if (!refreshInFlight) {
    refreshInFlight = send('/api/auth/refresh', { method: 'POST', body: {} })
      .then((data) => { acceptTokenResponse(data); return true; })
      .catch((err) => {
        if (err instanceof ApiError && !err.unavailable && err.status < 500) {
          clearSession();
          return false;
        }
        throw err;
      })
      .finally(() => { refreshInFlight = null; });
  }
  return refreshInFlight;
}

/**
 * Authenticated JSON call. `opts`: {method, body, auth = true, signal}.
 * With auth, a 401 triggers one refresh and one retry; a second 401 clears the
 * session and rejects with that error (status 401, code "unauthorized").
 */
export async function api(path, opts = {}) {
  const { auth = true } = opts;
  if (!auth) return send(path, opts);
  try {
    return await send(path, { ...opts, token: accessToken });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    const renewed = await refresh();
    if (!renewed) throw err;
    try {
      return await send(path, { ...opts, token: accessToken });
    } catch (err2) {
      if (err2 instanceof ApiError && err2.status === 401) clearSession();
      throw err2;
    }
  }
}

// ---------------------------------------------------------------- streaming

/**
 * Incremental parser of a text/event-stream body (the WHATWG "server-sent events"
 * format): feed it decoded text as it arrives; it calls onEvent({event, data, id})
 * for every complete event (`event` defaults to "message"; several `data:` lines
 * are joined with "\n"; comments and unknown fields are ignored).
 */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    this.reset();
  }

  reset() {
    this.event = '';
    this.data = [];
    this.id = '';
  }

  push(text) {
    this.buffer += text;
    let nl;
    // A line ends at \r\n, \n or \r; a lone \r at the end may be half of a \r\n.
    while ((nl = this.buffer.search(/\r\n|\n|\r(?!$)/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      const skip = this.buffer.startsWith('\r\n', nl) ? 2 : 1;
      this.buffer = this.buffer.slice(nl + skip);
      this.line(line);
    }
  }

  /** The stream ended: a last event without its blank line is dropped, as the spec says. */
  end() {
    this.buffer = '';
    this.reset();
  }

  line(line) {
    if (line === '') {
      if (this.data.length) this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
      this.reset();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }
}

async function openStream(path, body, signal) {
  const headers = {
    Accept: 'text/event-stream, application/json, application/problem+json',
    'Content-Type': 'application/json',
  };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  let res;
  try {
    res = await fetch(path, {
      method: 'POST', headers, body: JSON.stringify(body), credentials: 'same-origin', cache: 'no-store', signal,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw networkError();
  }
  if (!res.ok) throw await toApiError(res);
  return res;
}

/**
 * POST `body` to `path` and read the answer as server-sent events, calling
 * onEvent(name, data) for each (data parsed as JSON when it is JSON) as soon as
 * it arrives. A 401 before the stream starts refreshes the session and retries
 * once, like api(). Errors before the stream (402, 503, …) reject with an
 * ApiError; `signal` (an AbortController's) stops the request, rejecting with
 * an AbortError. A server that answers JSON instead of a stream gets it passed
 * to onEvent('json', data). Resolves when the stream ends.
 */
export async function apiStream(path, { body = {}, signal, onEvent = () => {} } = {}) {
  let res;
  try {
    res = await openStream(path, body, signal);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    const renewed = await refresh();
    if (!renewed) throw err;
    try {
      res = await openStream(path, body, signal);
    } catch (err2) {
      if (err2 instanceof ApiError && err2.status === 401) clearSession();
      throw err2;
    }
  }
  const type = res.headers.get('Content-Type') || '';
  if (!type.includes('text/event-stream')) {
    if (!type.includes('json')) throw new ApiError({ status: 502, code: 'unavailable', message: UNAVAILABLE_MESSAGE });
    onEvent('json', await res.json());
    return;
  }
  const parser = new SseParser(({ event, data }) => {
    let parsed = data;
    try { parsed = JSON.parse(data); } catch { /* not JSON: passed as text */ }
    onEvent(event, parsed);
  });
  const reader = res.body.getReader();
  const decoder = new TextDecoder('utf-8');
  try {
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (e && e.name === 'AbortError') throw e;
        throw new ApiError({ status: 0, code: 'network', message: 'The connection was lost before the reply was complete.' });
      }
      if (chunk.done) break;
      parser.push(decoder.decode(chunk.value, { stream: true }));
    }
    parser.push(decoder.decode());
    parser.end();
  } finally {
    reader.releaseLock();
  }
}

/**
 * Called on page load: resolves the signed-in user, or null when there is no
 * session. Rejects with an ApiError (err.unavailable) when the API cannot answer,
 * so a page can say so instead of pretending the visitor is signed out.
 */
export async function ensureSession() {
  if (accessToken && currentUser) return currentUser;
  const ok = await refresh();
  return ok ? currentUser : null;
}

/** Sign in with email and password (cookie session). Resolves the user. */
export async function login(email, password) {
  const data = await send('/api/auth/login', { method: 'POST', body: { email, password } });
  if (data && data.mfa_required) {
    throw new ApiError({
      status: 401, code: 'mfa_required',
      message: 'This account uses two-factor authentication, which this sign-in page does not support yet.',
    });
  }
  return acceptTokenResponse(data);
}

/** Create an account ({name?, email, password}) and sign in. Resolves the user. */
export async function register({ name, email, password }) {
  const body = { email, password };
  if (name) body.name = name;
  const data = await send('/api/auth/register', { method: 'POST', body });
  return acceptTokenResponse(data);
}

/** Sign out this browser: revokes the session and clears the cookie. */
export async function logout() {
  try {
    // Cookie-authenticated (API.md): no bearer, so an expired access token cannot
    // turn a sign-out into a 401 that leaves the refresh cookie alive.
    await send('/api/auth/logout', { method: 'POST', body: {} });
  } catch (err) {
    // Already signed out (no or dead cookie) is fine; anything else is reported.
    if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 400)) throw err;
  }
  clearSession();
}

/** Sign out every device of this user, this one included. */
export async function logoutAll() {
  await api('/api/auth/logout-all', { method: 'POST' });
  clearSession();
  try { await logout(); } catch { /* the session is already revoked */ }
}

// ---------------------------------------------------------------- form errors

const CODE_FIELDS = {
  email_taken: ['email', 'An account with this email address already exists.'],
};

function describedBy(el) {
  return (el.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
}

function formMessageElement(form) {
  return form.querySelector(':scope > .form-message') || null;
}

/** Remove the messages that showFieldErrors/showFormMessage put in `form`. */
export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) {
    const id = el.id;
    el.remove();
    for (const input of form.querySelectorAll(`[aria-describedby~="${CSS.escape(id)}"]`)) {
      const ids = describedBy(input).filter((x) => x !== id);
      if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
      else input.removeAttribute('aria-describedby');
    }
  }
  for (const input of form.querySelectorAll('[aria-invalid="true"]')) input.removeAttribute('aria-invalid');
  const msg = formMessageElement(form);
  if (msg) msg.remove();
}

/**
 * Show a message at the top of `form`. kind: "error" (announced at once),
 * "success" or "info" (announced politely). Returns the element.
 */
export function showFormMessage(form, text, kind = 'error') {
  const old = formMessageElement(form);
  if (old) old.remove();
  const el = document.createElement('div');
  el.className = `form-message form-message-${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.tabIndex = -1;
  el.textContent = text;
  // Just above the fields (after any heading or intro text of the form).
  const firstField = form.querySelector(':scope > .field, :scope > fieldset, :scope > .checkbox');
  if (firstField) firstField.before(el);
  else form.prepend(el);
  return el;
}

function fieldLabel(form, name) {
  const field = form.elements.namedItem(name);
  const id = field && field.id;
  const label = id ? form.querySelector(`label[for="${CSS.escape(id)}"]`) : null;
  return label ? label.textContent.trim() : name.replace(/_/g, ' ');
}

/**
 * Put the errors of `err` next to the fields of `form` whose name matches a key
 * of err.errors (aria-invalid + aria-describedby), and a form-level message for
 * the rest. Focuses the first invalid field (or the message).
 */
export function showFieldErrors(form, err) {
  clearFieldErrors(form);
  const errors = {};
  if (err && err.errors && typeof err.errors === 'object') Object.assign(errors, err.errors);
  if (err && CODE_FIELDS[err.code] && !Object.keys(errors).length) {
    const [field, text] = CODE_FIELDS[err.code];
    errors[field] = text;
  }
  let first = null;
  const leftovers = [];
  for (const [name, raw] of Object.entries(errors)) {
    const field = form.elements.namedItem(name);
    const rawText = String(raw).trim();
    // The API's messages are fragments ("must be at least 8 characters"): name the field.
    const text = /^[a-z]/.test(rawText) ? `${fieldLabel(form, name)} ${rawText}` : rawText;
    if (!(field instanceof HTMLInputElement || field instanceof HTMLSelectElement ||
          field instanceof HTMLTextAreaElement) || field.type === 'hidden') {
      leftovers.push(/^[a-z]/.test(rawText) ? `${text}.` : `${fieldLabel(form, name)}: ${text}`);
      continue;
    }
    const base = field.id || `${form.id || 'form'}-${name}`;
    const p = document.createElement('p');
    p.className = 'field-error';
    p.id = `${base}-error`;
    p.textContent = text;
    const holder = field.closest('.field') || field.parentElement;
    holder.append(p);
    field.setAttribute('aria-invalid', 'true');
    field.setAttribute('aria-describedby', [...describedBy(field), p.id].join(' '));
    if (!first) first = field;
  }
  let message;
  if (leftovers.length) message = leftovers.join(' ');
  else if (first) message = 'Please correct the highlighted fields.';
  else message = (err && err.message) || 'Something went wrong. Please try again.';
  const box = showFormMessage(form, message, 'error');
  (first || box).focus();
}
