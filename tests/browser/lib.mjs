// Shared helpers of the browser tests: Chromium (Debian's, no download), the
// stack's URL and mail directory from the environment, console watching,
// unique users, and reading the emails the test SMTP server stores as .eml.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

/** Base URL of the stack under test (nginx), e.g. https://localhost:8443 — no trailing slash. */
export const BASE = (process.env.TG_URL || '').replace(/\/+$/, '');
/** Directory where the test SMTP server stores each received email as a .eml file. */
export const MAIL_DIR = process.env.TG_MAIL_DIR || '';
export const CHROMIUM = process.env.TG_CHROMIUM || '/usr/bin/chromium';

/** Per-test bound (ms); every test passes it as { timeout }. */
export const TEST_TIMEOUT = Number(process.env.TG_BROWSER_TEST_TIMEOUT_MS || 120_000);
/** Bound for one page action or navigation (ms). */
export const STEP_TIMEOUT = 15_000;

if (!BASE) {
  throw new Error('TG_URL is not set (e.g. TG_URL=https://localhost:8443); see tests/browser/run.sh');
}

export function url(pathname) {
  return `${BASE}${pathname}`;
}

let browserPromise = null;

/** One Chromium per test file. */
export function browser() {
  if (!browserPromise) {
    browserPromise = chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage'],
      timeout: 30_000,
    });
  }
  return browserPromise;
}

export async function closeBrowser() {
  if (browserPromise) {
    const b = await browserPromise;
    browserPromise = null;
    await b.close();
  }
}

/**
 * A fresh browser context (its own cookies) and page. The page records console
 * errors and uncaught exceptions in page.problems; assertNoProblems(page)
 * fails the test on any of them, except failed HTTP loads the pages expect
 * (4xx answers such as the 401 of a signed-out visitor's session refresh).
 */
export async function newPage({ width = 1280, height = 900 } = {}) {
  const b = await browser();
  const context = await b.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width, height },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(STEP_TIMEOUT);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // Chromium logs every non-2xx fetch as "Failed to load resource"; the pages
    // handle those answers themselves (e.g. 401 on refresh when signed out).
    if (/^Failed to load resource: the server responded with a status of 4\d\d\b/.test(text)) return;
    page.problems.push(`console: ${text}`);
  });
  page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
  return page;
}

export async function closePage(page) {
  await page.context().close();
}

/** Fail with the console errors, CSP violations and exceptions the page produced. */
export function assertNoProblems(page, assert) {
  assert.deepEqual(page.problems, [], `browser reported problems on ${page.url()}`);
}

/** A new user's details; the email is unique per call. */
export function newUser(prefix = 'bt') {
  const id = `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
  return {
    name: `Browser Test ${id}`,
    email: `${prefix}-${id}@example.com`,
    password: `Tg-${randomBytes(9).toString('base64url')}-pw`,
  };
}

/** The page's path (and query) without the origin. */
export function pathOf(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

/** Wait until the page's path matches `re` (string paths: exact, clean or .html). */
export async function waitForPath(page, expected, timeout = STEP_TIMEOUT) {
  const test = typeof expected === 'string'
    ? (u) => u.pathname === expected || u.pathname === `${expected}.html`
    : (u) => expected.test(u.pathname + u.search);
  await page.waitForURL((u) => test(new URL(u)), { timeout });
}

/** Register through the UI and wait for /app. */
export async function registerViaUi(page, user, next = '') {
  await page.goto(url(`/register${next ? `?next=${next}` : ''}`));
  await page.getByLabel('Name').fill(user.name);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Create account' }).click();
}

/** Sign in through the UI (does not wait for the redirect). */
export async function loginViaUi(page, email, password, next = '') {
  await page.goto(url(`/login${next ? `?next=${next}` : ''}`));
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Register through the API (body session: no cookie), for tests that only need a user. */
export async function registerViaApi(page, user) {
  const res = await page.context().request.post(url('/api/auth/register'), {
    data: { name: user.name, email: user.email, password: user.password, session: 'body' },
    timeout: STEP_TIMEOUT,
  });
  if (res.status() !== 201) throw new Error(`register via API: HTTP ${res.status()} ${await res.text()}`);
  return res.json();
}

// ---------------------------------------------------------------- email (.eml)

function unfoldHeaders(text) {
  return text.replace(/\r?\n[ \t]+/g, ' ');
}

function splitMessage(raw) {
  const m = /\r?\n\r?\n/.exec(raw);
  if (!m) return { headers: raw, body: '' };
  return { headers: raw.slice(0, m.index), body: raw.slice(m.index + m[0].length) };
}

function header(headers, name) {
  const re = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im');
  const m = re.exec(unfoldHeaders(headers));
  return m ? m[1].trim() : '';
}

function decodeQuotedPrintable(text) {
  const soft = text.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Every text part of a MIME message, decoded (quoted-printable, base64, nested multiparts). */
export function textParts(raw) {
  const { headers, body } = splitMessage(raw);
  const type = header(headers, 'Content-Type') || 'text/plain';
  const encoding = header(headers, 'Content-Transfer-Encoding').toLowerCase();
  const boundary = /boundary="?([^";]+)"?/i.exec(type);
  if (/^multipart\//i.test(type) && boundary) {
    const parts = body.split(`--${boundary[1]}`).slice(1);
    const out = [];
    for (const part of parts) {
      if (part.startsWith('--')) break;
      out.push(...textParts(part.replace(/^\r?\n/, '')));
    }
    return out;
  }
  if (encoding === 'base64') return [Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')];
  if (encoding === 'quoted-printable') return [decodeQuotedPrintable(body)];
  return [body];
}

/** True when the message's To (or envelope recipient) headers name `email`. */
function addressedTo(raw, email) {
  const { headers } = splitMessage(raw);
  const h = unfoldHeaders(headers).toLowerCase();
  const wanted = email.toLowerCase();
  return ['to', 'x-rcptto', 'x-original-to', 'delivered-to', 'envelope-to']
    .some((name) => header(h, name).includes(wanted));
}

/**
 * Wait (bounded) for an email to `email` in MAIL_DIR whose text contains a link
 * to `linkPath` (e.g. "/reset-password"), and return that link with its origin
 * replaced by TG_URL's (emails use the configured public origin).
 * Only files modified at or after `since` (ms) are considered.
 */
export async function waitForEmailLink(email, linkPath, { since = 0, timeout = 45_000 } = {}) {
  if (!MAIL_DIR) throw new Error('TG_MAIL_DIR is not set');
  const deadline = Date.now() + timeout;
  const seen = new Set();
  const linkRe = new RegExp(`https?://[^\\s"'<>]+?${linkPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\?token=[A-Za-z0-9_\\-%.~=]+`);
  while (Date.now() < deadline) {
    let files = [];
    try {
      files = fs.readdirSync(MAIL_DIR).filter((f) => f.endsWith('.eml'));
    } catch { /* the directory appears with the first message */ }
    const fresh = files
      .map((f) => path.join(MAIL_DIR, f))
      .map((f) => { try { return { f, t: fs.statSync(f).mtimeMs }; } catch { return null; } })
      .filter((x) => x && x.t >= since - 1000 && !seen.has(x.f))
      .map((x) => ({ ...x, settled: x.t < Date.now() - 2000 })) // not being written any more
      .sort((a, b) => b.t - a.t);
    for (const { f, settled } of fresh) {
      let raw;
      try { raw = fs.readFileSync(f, 'utf8'); } catch { continue; }
      if (!addressedTo(raw, email)) { if (settled) seen.add(f); continue; }
      for (const text of textParts(raw)) {
        const m = linkRe.exec(text.replace(/&amp;/g, '&'));
        if (m) {
          const link = new URL(m[0]);
          const base = new URL(BASE);
          link.protocol = base.protocol;
          link.host = base.host;
          return link.href;
        }
      }
      if (settled) seen.add(f);
    }
    await sleep(250);
  }
  throw new Error(`no email to ${email} with a ${linkPath} link in ${MAIL_DIR} within ${timeout} ms`);
}

// ---------------------------------------------------------------- signed-in pages (the app shell)

/** Open the account menu of the app shell (name, email, plan, sign out). */
export async function openAccountMenu(page) {
  const button = page.locator('#account-button');
  if (await button.getAttribute('aria-expanded') !== 'true') await button.click();
  await page.locator('#account-panel').waitFor();
}

/** Sign out through the account menu of the app shell (does not wait for /login). */
export async function signOutViaUi(page) {
  await openAccountMenu(page);
  await page.locator('#account-panel').getByRole('button', { name: 'Sign out', exact: true }).click();
}

/**
 * Call the API from inside the page, with the page's own session (the access
 * token lives in api.js's memory): resolves the JSON, or {error: {status, code}}.
 */
export function pageApi(page, path, { method = 'GET', body } = {}) {
  return page.evaluate(async ({ path: p, method: m, body: b }) => {
    const { api } = await import('/js/api.js');
    try {
      return await api(p, { method: m, body: b });
    } catch (e) {
      return { error: { status: e.status, code: e.code, message: e.message } };
    }
  }, { path, method, body });
}

let mockPromise = null;
/** True when TG_URL is tests/browser/mock/server.mjs rather than the real stack. */
export function isMock() {
  if (!mockPromise) {
    mockPromise = (async () => {
      const b = await browser();
      const ctx = await b.newContext({ ignoreHTTPSErrors: true });
      try {
        const res = await ctx.request.get(url('/__mock/up'), { timeout: STEP_TIMEOUT });
        return res.status() === 200 && (res.headers()['content-type'] || '').includes('json');
      } catch {
        return false;
      } finally {
        await ctx.close();
      }
    })();
  }
  return mockPromise;
}

/** document.documentElement.scrollWidth — no horizontal scrolling at `width` means <= width. */
export async function scrollWidth(page) {
  return page.evaluate(() => document.documentElement.scrollWidth);
}
