// page.js — what every page does on load: find the session, fill in the header
// (Sign in / Register, or the user and Sign out), the mobile menu, the
// "service unavailable" banner, plus small formatting helpers.
// API calls, tokens and error parsing live in api.js.

import { ensureSession, getUser, logout, onUserChange, UNAVAILABLE_MESSAGE } from './api.js';

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** "/app" for "/app.html", "/" for "/index.html": the clean form of a path. */
export function cleanPath(pathname) {
  let p = pathname.replace(/\.html$/, '');
  if (p.endsWith('/index')) p = p.slice(0, -'index'.length);
  return p || '/';
}

/**
 * The redirect target carried in ?next=, or `fallback`. Only a same-site path is
 * accepted: it must start with "/" but not "//" or "/\", and must resolve to this
 * origin (so "/\t/evil.example" and friends are refused too).
 */
export function safeNext(raw, fallback = '/app') {
  if (typeof raw !== 'string' || raw.length > 2000) return fallback;
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\')) return fallback;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(raw)) return fallback;
  try {
    const url = new URL(raw, window.location.origin);
    if (url.origin !== window.location.origin) return fallback;
    // never back to a sign-in page (it would send a signed-in visitor round in circles)
    if (['/login', '/register'].includes(cleanPath(url.pathname))) return fallback;
    const result = url.pathname + url.search + url.hash;
    // "/.//evil" normalises to "//evil", which a browser reads as another host
    if (result.startsWith('//') || result.startsWith('/\\')) return fallback;
    return result;
  } catch {
    return fallback;
  }
}

/** Encode a path for a query value, keeping "/" readable (/login?next=/app). */
export function encodeNext(path) {
  return encodeURIComponent(path).replace(/%2F/gi, '/');
}

/** The value of ?name= in the page's URL, or null. */
export function queryParam(name) {
  return new URLSearchParams(window.location.search).get(name);
}

/** Send the visitor to sign in, coming back here afterwards. */
export function redirectToLogin(next = cleanPath(window.location.pathname) + window.location.search) {
  window.location.replace(`/login?next=${encodeNext(next)}`);
}

/** Show (or hide with an empty text) the banner under the header. */
export function showServiceBanner(text) {
  const banner = $('#service-banner');
  if (!banner) return;
  banner.textContent = text || '';
  banner.hidden = !text;
}

/**
 * Replace the page's "#page-status" placeholder with a message (kind: "loading",
 * "error", "info"); `retry` adds a "Try again" button that reloads the page.
 */
export function setPageStatus(text, { kind = 'info', retry = false } = {}) {
  const box = $('#page-status');
  if (!box) return;
  box.replaceChildren();
  box.hidden = !text;
  box.className = kind === 'loading' ? 'loading' : `notice notice-${kind === 'error' ? 'error' : 'info'}`;
  if (!text) return;
  const p = document.createElement(kind === 'loading' ? 'span' : 'p');
  p.textContent = text;
  box.append(p);
  if (retry) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'button-secondary button-small';
    b.textContent = 'Try again';
    b.addEventListener('click', () => window.location.reload());
    box.append(b);
  }
}

function renderAccount(user) {
  for (const el of $$('[data-auth="in"]')) el.hidden = !user;
  for (const el of $$('[data-auth="out"]')) el.hidden = !!user;
  const name = $('#nav-user');
  if (name) {
    name.textContent = user ? (user.name || user.email) : '';
    if (user) name.title = user.email;
  }
}

function markCurrentNav() {
  const here = cleanPath(window.location.pathname);
  for (const a of $$('.site-nav a, .footer-links a')) {
    if (a.origin === window.location.origin && cleanPath(a.pathname) === here) {
      a.setAttribute('aria-current', 'page');
    }
  }
}

function wireMenu() {
  const toggle = $('#menu-toggle');
  const header = $('.site-header');
  if (!toggle || !header) return;
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    header.classList.toggle('nav-open', open);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && toggle.getAttribute('aria-expanded') === 'true') {
      toggle.setAttribute('aria-expanded', 'false');
      header.classList.remove('nav-open');
      toggle.focus();
    }
  });
}

function wireSignOut() {
  const button = $('#sign-out');
  if (!button) return;
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await logout();
      window.location.assign('/login?signed_out=1');
    } catch (err) {
      showServiceBanner(`Could not sign out: ${err.message}`);
      button.disabled = false;
    }
  });
}

let started = false;

/**
 * Run once per page. Finds the session (refresh through the cookie), renders the
 * header for it and resolves the user (or null).
 * - requireAuth: without a session the visitor is sent to /login?next=<this page>
 *   and the promise resolves null.
 * - When the API cannot answer, a banner says so, "#page-status" (if any) shows
 *   the message with a retry button, and the promise resolves null.
 */
export async function initPage({ requireAuth = false } = {}) {
  if (!started) {
    started = true;
    markCurrentNav();
    wireMenu();
    wireSignOut();
    onUserChange(renderAccount);
  }
  let user = null;
  try {
    user = await ensureSession();
  } catch (err) {
    const text = err && err.message ? err.message : UNAVAILABLE_MESSAGE;
    renderAccount(null);
    if (requireAuth) setPageStatus(text, { kind: 'error', retry: true });
    else showServiceBanner(text);
    return null;
  }
  renderAccount(user);
  if (requireAuth && !user) {
    setPageStatus('Redirecting to sign in…', { kind: 'loading' });
    redirectToLogin();
    return null;
  }
  return user;
}

/** The user currently signed in (after initPage), or null. */
export function currentUser() {
  return getUser();
}

/**
 * Disable `button` (aria-busy) while `fn` runs; optional busy label.
 * Resolves fn's result.
 */
export async function withBusy(button, fn, busyLabel) {
  const label = button ? button.textContent : '';
  if (button) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    if (busyLabel) button.textContent = busyLabel;
  }
  try {
    return await fn();
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      if (busyLabel) button.textContent = label;
    }
  }
}

// ---------------------------------------------------------------- formatting

/** A date (and optionally time) in the visitor's locale; "—" when missing. */
export function formatDate(iso, { time = false } = {}) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const opts = { year: 'numeric', month: 'short', day: 'numeric' };
  if (time) Object.assign(opts, { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleString(undefined, opts);
}

/**
 * An integer count of minor units as money: formatMoney(1900, "usd") → "$19.00";
 * with { whole: true } a round amount drops its decimals ("$19").
 */
export function formatMoney(amount, currency, { whole = false } = {}) {
  if (amount === null || amount === undefined || !currency) return '—';
  const code = String(currency).toUpperCase();
  try {
    const fmt = new Intl.NumberFormat(undefined, { style: 'currency', currency: code });
    const digits = fmt.resolvedOptions().maximumFractionDigits;
    const value = Number(amount) / 10 ** digits;
    if (whole && Number.isInteger(value)) {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency: code, minimumFractionDigits: 0, maximumFractionDigits: 0 }).format(value);
    }
    return fmt.format(value);
  } catch {
    return `${(Number(amount) / 100).toFixed(2)} ${code}`;
  }
}

/** Only same-site paths and http(s) URLs may become links. */
export function safeHref(raw) {
  if (typeof raw !== 'string' || !raw) return null;
  if (raw.startsWith('/') && !raw.startsWith('//') && !raw.startsWith('/\\')) return raw;
  try {
    const u = new URL(raw);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

/** Create an element with a class and text: el('p', 'muted', 'Hello'). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/**
 * Client-side checks before a request (the server checks again): required
 * fields, minlength, a plausible email. Returns an error-like object for
 * showFieldErrors, or null when the form looks fine.
 */
export function checkForm(form) {
  const errors = {};
  for (const f of form.elements) {
    if (!(f instanceof HTMLInputElement) || f.disabled || !f.name) continue;
    if (f.type === 'hidden' || f.type === 'checkbox' || f.type === 'radio') continue;
    const value = f.type === 'password' ? f.value : f.value.trim();
    if (f.required && !value) errors[f.name] = 'This field is required.';
    else if (value && f.minLength > 0 && value.length < f.minLength) {
      errors[f.name] = `Must be at least ${f.minLength} characters.`;
    } else if (value && f.type === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) {
      errors[f.name] = 'Enter an email address like name@example.com.';
    }
  }
  return Object.keys(errors).length ? { code: 'validation_failed', errors } : null;
}

/** On a 401 (the session ended meanwhile) go to sign-in and return true. */
export function handleAuthLoss(err) {
  if (err && err.status === 401 && err.code !== 'invalid_credentials') {
    redirectToLogin();
    return true;
  }
  return false;
}
