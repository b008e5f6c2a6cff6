// A stand-in for nginx + the Tollgate API, for developing the pages and the
// browser tests without the C stack. It serves static/ as nginx does (clean
// URLs, 404.html, a strict CSP) and answers the /api/ routes of shared/API.md
// from memory, writing emails as .eml files the way the test SMTP server does.
//
//   node tests/browser/mock/server.mjs [--port 8444] [--mail-dir DIR] [--http]
//
// It prints the URL it listens on. It is NOT the contract: shared/API.md is.
// Extra routes for tests: GET /__mock/down and /__mock/up make every /api/ route
// answer 503 (or come back); the fake Stripe Checkout page is /__mock/stripe/…;
// POST /__mock/limits and /__mock/llm tune the product routes (see product.mjs).

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { productRoutes } from './product.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const STATIC = path.resolve(here, '../../../static');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const PORT = Number(opt('port', process.env.MOCK_PORT || 0));
const MAIL_DIR = opt('mail-dir', process.env.TG_MAIL_DIR || '');
const USE_HTTP = args.includes('--http');

const CSP = "default-src 'self'; base-uri 'self'; form-action 'self' https://checkout.stripe.com; " +
  "frame-ancestors 'none'; object-src 'none'";
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.txt': 'text/plain; charset=utf-8',
};
const COMMON = new Set(['password', 'password1', 'password123', '12345678', '123456789', 'qwertyuiop', 'iloveyou1', 'letmein123']);

// ---------------------------------------------------------------- state

const users = new Map();          // id → user (with password)
const byEmail = new Map();        // email → id
const sessions = new Map();       // sid → {id, user_id, created_at, last_used_at, user_agent, ip, revoked}
const access = new Map();         // access token → {sid, exp}
const refresh = new Map();        // sha256(refresh) → {sid, used}
const tokens = new Map();         // sha256(token) → {kind, user_id, exp, used}
const lastResend = new Map();     // user_id → ms
let apiDown = false;
let origin = '';                  // set once listening
let mailOrigin = '';              // origin used in email links (localhost, like the real stack)

const PLANS = [
  { code: 'free', name: 'Free', description: 'For trying Tollgate out.', prices: [],
    limits: { projects: 3, documents: 50, agents: 1, monthly_tokens: 100000 }, features: ['3 projects', '50 documents', '1 agent', '100k tokens a month', 'Community support'] },
  { code: 'pro', name: 'Pro', description: 'For professionals and small teams.',
    prices: [{ interval: 'month', amount: 1900, currency: 'usd' }, { interval: 'year', amount: 19000, currency: 'usd' }],
    limits: { projects: 50, documents: 5000, agents: 20, monthly_tokens: 5000000 }, features: ['50 projects', '5,000 documents', '20 agents', '5M tokens a month', 'Email support'] },
  { code: 'enterprise', name: 'Enterprise', description: 'For organisations with larger needs.',
    prices: [{ interval: 'month', amount: 9900, currency: 'usd' }, { interval: 'year', amount: 99000, currency: 'usd' }],
    limits: { projects: null, documents: null, agents: null, monthly_tokens: 50000000 }, features: ['Unlimited projects, documents and agents', '50M tokens a month', 'Priority support'] },
];

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const sha = (s) => createHash('sha256').update(s).digest('hex');
const rnd = () => randomBytes(32).toString('base64url');

function publicUser(u) {
  return { id: u.id, email: u.email, name: u.name, role: u.role, email_verified: u.email_verified,
    mfa_enabled: false, plan: planOf(u), created_at: u.created_at };
}
function planOf(u) {
  return u.sub && ['active', 'trialing', 'past_due'].includes(u.sub.status) ? u.sub.plan : 'free';
}

// ---------------------------------------------------------------- http helpers

class Problem extends Error {
  constructor(status, code, detail, extra = {}) { super(detail); Object.assign(this, { status, code, detail, extra }); }
}
const TITLES = { 400: 'Bad request', 401: 'Unauthorized', 402: 'Quota exceeded', 403: 'Forbidden', 404: 'Not found', 409: 'Conflict',
  415: 'Unsupported media type', 422: 'Validation failed', 429: 'Too many requests', 502: 'Bad gateway',
  503: 'Service unavailable' };

function send(res, status, body, headers = {}) {
  const h = { 'Cache-Control': 'no-store', 'X-Request-Id': randomUUID(), ...headers };
  if (body === null || body === undefined) { res.writeHead(status, h); res.end(); return; }
  h['Content-Type'] = h['Content-Type'] || 'application/json';
  res.writeHead(status, h);
  res.end(JSON.stringify(body));
}
function problem(res, p) {
  const body = { type: `https://tollgate.invalid/problems/${p.code}`, title: TITLES[p.status] || 'Error',
    status: p.status, code: p.code, detail: p.detail, request_id: randomUUID(), ...p.extra };
  const headers = { 'Content-Type': 'application/problem+json' };
  if (p.status === 429 || p.status === 503) headers['Retry-After'] = '60';
  send(res, p.status, body, headers);
}
const invalid = (errors) => new Problem(422, 'validation_failed', 'The request has invalid fields.', { errors });

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (!raw) return {};
  if (!(req.headers['content-type'] || '').startsWith('application/json')) {
    throw new Problem(415, 'unsupported_media_type', 'Send application/json.');
  }
  try { return JSON.parse(raw); } catch { throw new Problem(400, 'invalid_json', 'The body is not valid JSON.'); }
}

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}
function cookieHeader(value, maxAge) {
  return `tg_refresh=${value}; Path=/api/auth; HttpOnly; ${USE_HTTP ? '' : 'Secure; '}SameSite=Strict; Max-Age=${maxAge}`;
}
function checkOrigin(req) {
  const o = req.headers.origin;
  if (o && o !== origin) throw new Problem(403, 'forbidden', 'Cross-origin request refused.');
}

function bearer(req) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  const a = m && access.get(m[1]);
  if (!a || a.exp < Date.now()) throw new Problem(401, 'unauthorized', 'Sign in to continue.');
  const s = sessions.get(a.sid);
  const u = s && users.get(s.user_id);
  if (!s || s.revoked || !u) throw new Problem(401, 'unauthorized', 'Your session has ended.');
  s.last_used_at = now();
  return { user: u, session: s };
}

function issue(res, req, user, sid, status = 200, mode = 'cookie') {
  let s = sid && sessions.get(sid);
  if (!s) {
    s = { id: randomUUID(), user_id: user.id, created_at: now(), last_used_at: now(),
      user_agent: req.headers['user-agent'] || '', ip: req.socket.remoteAddress, revoked: false };
    sessions.set(s.id, s);
  }
  const at = rnd();
  access.set(at, { sid: s.id, exp: Date.now() + 15 * 60 * 1000 });
  const rt = rnd();
  refresh.set(sha(rt), { sid: s.id, used: false });
  const body = { access_token: at, token_type: 'Bearer', expires_in: 900, user: publicUser(user) };
  if (mode === 'body') return send(res, status, { ...body, refresh_token: rt });
  return send(res, status, body, { 'Set-Cookie': cookieHeader(rt, 30 * 86400) });
}

function validatePassword(password, email) {
  if (typeof password !== 'string' || password.length < 8) return 'must be at least 8 characters';
  if (password.length > 128) return 'must be at most 128 characters';
  if (password.toLowerCase() === String(email).toLowerCase()) return 'must not be the same as the email';
  if (COMMON.has(password.toLowerCase())) return 'is too common';
  return null;
}

// ---------------------------------------------------------------- email

function qp(text) {
  // quoted-printable with soft line breaks, so the tests' decoder is exercised
  const enc = Buffer.from(text, 'utf8').toString('binary').split('').map((ch) => {
    const c = ch.charCodeAt(0);
    if (ch === '\n') return '\n';
    if (c === 61 || c > 126 || (c < 32 && ch !== '\t')) return `=${c.toString(16).toUpperCase().padStart(2, '0')}`;
    return ch;
  }).join('');
  return enc.split('\n').map((line) => {
    const out = [];
    while (line.length > 75) {
      let cut = 75;
      const eq = line.lastIndexOf('=', cut - 1);
      if (eq > cut - 3) cut = eq;
      out.push(`${line.slice(0, cut)}=`);
      line = line.slice(cut);
    }
    out.push(line);
    return out.join('\r\n');
  }).join('\r\n');
}

function mail(to, subject, text) {
  if (!MAIL_DIR) { console.log(`[mock] mail to ${to}: ${subject}\n${text}`); return; }
  const boundary = `b_${randomBytes(8).toString('hex')}`;
  const html = `<p>${text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\n/g, '<br>')
    .replace(/(https:\/\/\S+)/g, (u) => `<a href="${u.replace(/&amp;/g, '&amp;')}">${u}</a>`)}</p>`;
  const msg = [
    'From: Tollgate <no-reply@localhost>', `To: <${to}>`, `Subject: ${subject}`,
    `Date: ${new Date().toUTCString()}`, `Message-ID: <${randomUUID()}@localhost>`, 'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`, '',
    `--${boundary}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '',
    qp(text), `--${boundary}`, 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: base64', '',
    Buffer.from(html).toString('base64').replace(/.{76}/g, '$&\r\n'), `--${boundary}--`, '',
  ].join('\r\n');
  fs.mkdirSync(MAIL_DIR, { recursive: true });
  const file = path.join(MAIL_DIR, `${Date.now()}-${randomBytes(4).toString('hex')}.eml`);
  fs.writeFileSync(`${file}.tmp`, msg);
  fs.renameSync(`${file}.tmp`, file);
}

function newToken(kind, userId, ttlMs) {
  for (const [k, t] of tokens) if (t.kind === kind && t.user_id === userId) tokens.delete(k);
  const t = rnd();
  tokens.set(sha(t), { kind, user_id: userId, exp: Date.now() + ttlMs, used: false });
  return t;
}
function takeToken(kind, token) {
  const t = typeof token === 'string' && tokens.get(sha(token));
  if (!t || t.kind !== kind || t.used || t.exp < Date.now()) throw new Problem(400, 'invalid_token', 'The link is invalid or has expired.');
  t.used = true;
  return users.get(t.user_id);
}
function sendVerification(u) {
  const t = newToken('verify', u.id, 48 * 3600 * 1000);
  mail(u.email, 'Verify your email address', `Hello,\n\nconfirm your address for Tollgate:\n${mailOrigin}/verify-email?token=${t}\n\nThe link works for 48 hours.`);
}
function notify(u, kind, title, body, link = null) {
  u.notifications.unshift({ id: randomUUID(), kind, title, body, link, created_at: now(), read_at: null });
}

// ---------------------------------------------------------------- routes

function list(items, url) {
  const page = Math.max(1, Number(url.searchParams.get('page')) || 1);
  const per = Math.min(200, Math.max(1, Number(url.searchParams.get('per_page')) || 50));
  return { items: items.slice((page - 1) * per, page * per), page, per_page: per, total: items.length };
}

async function apiRoute(req, res, url) {
  const p = url.pathname;
  const m = req.method;
  const route = (method, pattern) => {
    if (m !== method) return null;
    const r = new RegExp(`^${pattern.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`).exec(p);
    return r ? (r.groups || {}) : null;
  };
  let g;

  if ((g = route('GET', '/api/health'))) return send(res, 200, { status: 'ok', version: 'mock' });
  if ((g = route('GET', '/api/billing/plans'))) return send(res, 200, { items: PLANS });

  if ((g = route('POST', '/api/auth/register'))) {
    const b = await readJson(req);
    const email = String(b.email || '').trim().toLowerCase();
    const errors = {};
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || email.length > 254) errors.email = 'must be a valid email address';
    const pw = validatePassword(b.password, email);
    if (pw) errors.password = pw;
    if (Object.keys(errors).length) throw invalid(errors);
    if (byEmail.has(email)) throw new Problem(409, 'email_taken', 'An account with this email already exists.');
    const u = { id: randomUUID(), email, name: String(b.name || '').trim(), role: 'user', email_verified: false,
      created_at: now(), password: b.password, prefs: { product_updates: true, usage_warnings: true, billing: true, security: true },
      notifications: [], sub: null, invoices: [] };
    users.set(u.id, u);
    byEmail.set(email, u.id);
    sendVerification(u);
    return issue(res, req, u, null, 201, b.session);
  }
  if ((g = route('POST', '/api/auth/login'))) {
    const b = await readJson(req);
    const u = users.get(byEmail.get(String(b.email || '').trim().toLowerCase()));
    if (!u || u.password !== b.password) throw new Problem(401, 'invalid_credentials', 'Invalid email or password.');
    return issue(res, req, u, null, 200, b.session);
  }
  if ((g = route('POST', '/api/auth/refresh'))) {
    checkOrigin(req);
    await readJson(req);
    const rt = cookies(req).tg_refresh;
    const r = rt && refresh.get(sha(rt));
    const s = r && sessions.get(r.sid);
    if (!r || !s || s.revoked) throw new Problem(401, 'unauthorized', 'No valid session.');
    if (r.used) { s.revoked = true; throw new Problem(401, 'refresh_token_reused', 'Session revoked.'); }
    r.used = true;
    return issue(res, req, users.get(s.user_id), s.id);
  }
  if ((g = route('POST', '/api/auth/logout'))) {
    checkOrigin(req);
    await readJson(req);
    const rt = cookies(req).tg_refresh;
    const r = rt && refresh.get(sha(rt));
    if (r && sessions.get(r.sid)) sessions.get(r.sid).revoked = true;
    return send(res, 204, null, { 'Set-Cookie': cookieHeader('', 0) });
  }
  if ((g = route('POST', '/api/auth/forgot-password'))) {
    const b = await readJson(req);
    const u = users.get(byEmail.get(String(b.email || '').trim().toLowerCase()));
    if (u) {
      const t = newToken('reset', u.id, 3600 * 1000);
      setTimeout(() => mail(u.email, 'Reset your Tollgate password',
        `Someone asked to reset your password.\n\nChoose a new one here (valid 1 hour):\n${mailOrigin}/reset-password?token=${t}\n\nIf it was not you, ignore this email.`), 300);
    }
    return send(res, 202, { status: 'accepted' });
  }
  if ((g = route('POST', '/api/auth/reset-password'))) {
    const b = await readJson(req);
    const u = takeToken('reset', b.token);
    const pw = validatePassword(b.password, u.email);
    if (pw) { tokens.get(sha(b.token)).used = false; throw invalid({ password: pw }); }
    u.password = b.password;
    u.email_verified = true;
    for (const s of sessions.values()) if (s.user_id === u.id) s.revoked = true;
    notify(u, 'password_changed', 'Your password was changed', 'Your password was reset through the emailed link.');
    return send(res, 204, null);
  }
  if ((g = route('POST', '/api/auth/verify-email'))) {
    const b = await readJson(req);
    const u = takeToken('verify', b.token);
    u.email_verified = true;
    notify(u, 'welcome', 'Welcome to Tollgate', 'Your email address is verified.', '/app');
    return send(res, 200, publicUser(u));
  }

  // everything below needs a bearer token
  const { user, session } = bearer(req);
  if (await product.handle(req, res, url, user, route)) return undefined;

  if ((g = route('GET', '/api/auth/me'))) return send(res, 200, publicUser(user));
  if ((g = route('POST', '/api/auth/logout-all'))) {
    for (const s of sessions.values()) if (s.user_id === user.id) s.revoked = true;
    return send(res, 204, null);
  }
  if ((g = route('GET', '/api/auth/sessions'))) {
    const items = [...sessions.values()].filter((s) => s.user_id === user.id && !s.revoked)
      .map((s) => ({ id: s.id, created_at: s.created_at, last_used_at: s.last_used_at, user_agent: s.user_agent,
        ip: s.ip, current: s.id === session.id }));
    return send(res, 200, { items });
  }
  if ((g = route('DELETE', '/api/auth/sessions/{id}'))) {
    const s = sessions.get(g.id);
    if (!s || s.user_id !== user.id || s.revoked) throw new Problem(404, 'not_found', 'No such session.');
    s.revoked = true;
    return send(res, 204, null);
  }
  if ((g = route('POST', '/api/auth/resend-verification'))) {
    if (Date.now() - (lastResend.get(user.id) || 0) < 60000) throw new Problem(429, 'rate_limited', 'Try again in a minute.');
    lastResend.set(user.id, Date.now());
    if (!user.email_verified) sendVerification(user);
    return send(res, 202, { status: 'accepted' });
  }
  if ((g = route('PATCH', '/api/profile'))) {
    const b = await readJson(req);
    const name = String(b.name ?? '').trim();
    if (!name || name.length > 200) throw invalid({ name: 'must be 1 to 200 characters' });
    user.name = name;
    return send(res, 200, publicUser(user));
  }
  if ((g = route('POST', '/api/profile/change-password'))) {
    const b = await readJson(req);
    if (b.current_password !== user.password) throw invalid({ current_password: 'is not correct' });
    const pw = validatePassword(b.new_password, user.email);
    if (pw) throw invalid({ new_password: pw });
    user.password = b.new_password;
    for (const s of sessions.values()) if (s.user_id === user.id && s.id !== session.id) s.revoked = true;
    notify(user, 'password_changed', 'Your password was changed', 'If this was not you, reset your password now.', '/forgot-password');
    return send(res, 204, null);
  }
  if ((g = route('POST', '/api/profile/delete-account'))) {
    const b = await readJson(req);
    if (b.password !== user.password) throw invalid({ password: 'is not correct' });
    for (const s of sessions.values()) if (s.user_id === user.id) s.revoked = true;
    users.delete(user.id);
    byEmail.delete(user.email);
    return send(res, 204, null);
  }
  if ((g = route('GET', '/api/profile/notification-preferences'))) return send(res, 200, user.prefs);
  if ((g = route('PUT', '/api/profile/notification-preferences'))) {
    const b = await readJson(req);
    const errors = {};
    for (const k of ['product_updates', 'usage_warnings', 'billing', 'security']) {
      if (typeof b[k] !== 'boolean') errors[k] = 'must be true or false';
    }
    if (b.security === false) errors.security = 'cannot be turned off';
    if (Object.keys(errors).length) throw invalid(errors);
    user.prefs = { product_updates: b.product_updates, usage_warnings: b.usage_warnings, billing: b.billing, security: true };
    return send(res, 200, user.prefs);
  }
  if ((g = route('GET', '/api/notifications'))) {
    const items = url.searchParams.get('unread') === '1' ? user.notifications.filter((n) => !n.read_at) : user.notifications;
    return send(res, 200, { ...list(items, url), unread: user.notifications.filter((n) => !n.read_at).length });
  }
  if ((g = route('POST', '/api/notifications/read-all'))) {
    for (const n of user.notifications) n.read_at = n.read_at || now();
    return send(res, 204, null);
  }
  if ((g = route('POST', '/api/notifications/{id}/read'))) {
    const n = user.notifications.find((x) => x.id === g.id);
    if (!n) throw new Problem(404, 'not_found', 'No such notification.');
    n.read_at = n.read_at || now();
    return send(res, 204, null);
  }
  if ((g = route('GET', '/api/billing/subscription'))) {
    return send(res, 200, user.sub || { plan: 'free', status: 'none' });
  }
  if ((g = route('GET', '/api/billing/invoices'))) return send(res, 200, list(user.invoices, url));
  if ((g = route('POST', '/api/billing/checkout'))) {
    const b = await readJson(req);
    const plan = PLANS.find((x) => x.code === b.plan && x.prices.length);
    if (!plan || !['month', 'year'].includes(b.interval)) throw invalid({ plan: 'must be a paid plan' });
    if (user.sub && ['active', 'trialing', 'past_due'].includes(user.sub.status)) throw new Problem(409, 'already_subscribed', 'You already have a subscription.');
    const sid = `cs_test_${randomBytes(8).toString('hex')}`;
    pendingCheckouts.set(sid, { user_id: user.id, plan: plan.code, interval: b.interval });
    return send(res, 200, { url: `${origin}/__mock/stripe/checkout/${sid}`, session_id: sid });
  }
  if ((g = route('POST', '/api/billing/portal'))) {
    if (!user.sub) throw new Problem(409, 'no_customer', 'No billing account yet.');
    return send(res, 200, { url: `${origin}/__mock/stripe/portal` });
  }
  throw new Problem(404, 'not_found', 'No such API route.');
}

const pendingCheckouts = new Map();
const product = productRoutes({ Problem, send, readJson, list, now, notify, planOf, PLANS });

function stripePage(res, title, body) {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title><link rel="stylesheet" href="/css/app.css"></head><body><main id="main" class="container container-narrow"><h1>${title}</h1>${body}</main></body></html>`);
}

async function mockRoute(req, res, url) {
  if (await product.control(req, res, url)) return undefined;
  if (url.pathname === '/__mock/down') { apiDown = true; return send(res, 200, { down: true }); }
  if (url.pathname === '/__mock/up') { apiDown = false; return send(res, 200, { down: false }); }
  const m = /^\/__mock\/stripe\/checkout\/([\w]+)$/.exec(url.pathname);
  if (m && req.method === 'GET') {
    const c = pendingCheckouts.get(m[1]);
    if (!c) return stripePage(res, 'Unknown checkout', '<p>Expired.</p>');
    return stripePage(res, 'Stripe Checkout (mock)', `<p>Plan ${c.plan}, ${c.interval}.</p><form method="post"><button type="submit">Pay</button></form>`);
  }
  if (m && req.method === 'POST') {
    const c = pendingCheckouts.get(m[1]);
    if (c) {
      pendingCheckouts.delete(m[1]);
      setTimeout(() => {  // the "webhook" arrives a little later
        const u = users.get(c.user_id);
        if (!u) return;
        const start = new Date();
        const end = new Date(start);
        if (c.interval === 'year') end.setUTCFullYear(end.getUTCFullYear() + 1); else end.setUTCMonth(end.getUTCMonth() + 1);
        const iso = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
        u.sub = { plan: c.plan, status: 'active', interval: c.interval, current_period_start: iso(start),
          current_period_end: iso(end), cancel_at_period_end: false, canceled_at: null };
        const price = PLANS.find((x) => x.code === c.plan).prices.find((x) => x.interval === c.interval);
        u.invoices.unshift({ id: `in_${randomBytes(6).toString('hex')}`, number: `MOCK-${u.invoices.length + 1}`, status: 'paid',
          amount_due: price.amount, amount_paid: price.amount, amount_refunded: 0, currency: price.currency,
          hosted_invoice_url: `${origin}/__mock/stripe/invoice`, invoice_pdf: `${origin}/__mock/stripe/invoice.pdf`,
          period_start: iso(start), period_end: iso(end), created: iso(start) });
      }, 1500);
    }
    res.writeHead(303, { Location: `/checkout-success?session_id=${m[1]}` });
    return res.end();
  }
  if (url.pathname.startsWith('/__mock/stripe/')) return stripePage(res, 'Stripe (mock)', '<p><a href="/billing">Back to Tollgate</a></p>');
  res.writeHead(404); res.end();
}

// ---------------------------------------------------------------- static files (nginx try_files)

function serveStatic(req, res, url) {
  let rel;
  try { rel = decodeURIComponent(url.pathname); } catch { rel = '/'; }
  const candidates = rel.endsWith('/') ? [`${rel}index.html`] : [rel, `${rel}.html`];
  for (const c of candidates) {
    const file = path.join(STATIC, path.normalize(c));
    if (!file.startsWith(STATIC + path.sep)) break;
    if (fs.existsSync(file) && fs.statSync(file).isFile()) {
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
        'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'same-origin',
        'Cache-Control': 'no-cache' });
      return fs.createReadStream(file).pipe(res);
    }
  }
  res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP });
  return fs.createReadStream(path.join(STATIC, '404.html')).pipe(res);
}

async function handler(req, res) {
  const url = new URL(req.url, origin || 'http://localhost');
  try {
    if (url.pathname.startsWith('/__mock/')) return await mockRoute(req, res, url);
    if (url.pathname.startsWith('/api/')) {
      if (apiDown) throw new Problem(503, 'unavailable', 'The database is unreachable.');
      return await apiRoute(req, res, url);
    }
    return serveStatic(req, res, url);
  } catch (err) {
    if (err instanceof Problem) return problem(res, err);
    console.error(err);
    return problem(res, new Problem(500, 'internal', 'Internal error.'));
  }
}

function certificate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-mock-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '2',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const out = { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

const server = USE_HTTP ? http.createServer(handler) : https.createServer(certificate(), handler);
server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  const scheme = USE_HTTP ? 'http' : 'https';
  origin = `${scheme}://127.0.0.1:${port}`;
  mailOrigin = `${scheme}://localhost:${port}`;
  console.log(`${origin}`);
});
