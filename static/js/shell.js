// shell.js — the app shell of every signed-in page: the sidebar (a drawer below
// 760 px), the account menu (name, email, plan, profile, sign out), the
// notification bell with the unread count, the "Upgrade" link once a usage meter
// passes 80 %, and toasts for transient success. The markup is in each page
// (so its space is reserved before this runs); this module fills it in.
//
//   const user = await startShell();   // null: not signed in (redirecting) or API down
//   toast('Project created.');

import { api, getUser, onUserChange } from './api.js';
import { $, $$, cleanPath, el, handleAuthLoss, initPage } from './page.js';

const DRAWER_QUERY = '(max-width: 760px)';
let usagePromise = null;

// ---------------------------------------------------------------- toasts

/**
 * A short success message at the corner of the screen, announced politely,
 * gone after a few seconds (errors stay inline, next to what failed).
 */
export function toast(text, { timeout = 6000 } = {}) {
  const region = $('#toast-region');
  if (!region) return;
  const item = el('div', 'toast');
  item.append(el('p', null, text));
  const close = el('button', 'toast-close button-link', '×');
  close.type = 'button';
  close.setAttribute('aria-label', 'Dismiss message');
  const remove = () => item.remove();
  close.addEventListener('click', remove);
  item.append(close);
  region.append(item);
  let timer = setTimeout(remove, timeout);
  // Reading takes longer than a timeout: hovering or focusing keeps it.
  item.addEventListener('mouseenter', () => clearTimeout(timer));
  item.addEventListener('focusin', () => clearTimeout(timer));
  item.addEventListener('mouseleave', () => { timer = setTimeout(remove, timeout); });
}

// ---------------------------------------------------------------- usage (shared)

/**
 * GET /api/usage, once per page load unless `fresh`: the shell, the dashboard
 * and the usage page share it. Rejects with the ApiError.
 */
export function loadUsage({ fresh = false } = {}) {
  if (fresh || !usagePromise) {
    usagePromise = api('/api/usage');
    usagePromise.then(renderUpgrade, () => { usagePromise = null; });
  }
  return usagePromise;
}

/** The percentage of a metric of /api/usage (tokens count what is reserved too), or null when unlimited. */
export function metricPercent(m) {
  if (!m || m.limit === null || m.limit === undefined) return null;
  if (Number.isFinite(m.percent)) return m.percent;
  const limit = Number(m.limit);
  const value = Number(m.used || 0) + Number(m.reserved || 0);
  return limit > 0 ? (value * 100) / limit : 100;
}

function renderUpgrade(usage) {
  const link = $('#upgrade-link');
  if (!link || !usage || !usage.metrics) return;
  const high = Object.values(usage.metrics).some((m) => {
    const p = metricPercent(m);
    return p !== null && p >= 80;
  });
  link.hidden = !high;
}

// ---------------------------------------------------------------- account

function planLabel(code) {
  if (!code) return 'Free';
  return code.charAt(0).toUpperCase() + code.slice(1).toLowerCase();
}

function initials(user) {
  const source = (user.name || user.email || '?').trim();
  const parts = source.split(/[\s@._-]+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : source.slice(0, 2);
  return letters.toUpperCase();
}

function renderAccount(user) {
  if (!user) return;
  $('#nav-user').textContent = user.name || user.email;
  $('#account-avatar').textContent = initials(user);
  $('#account-name').textContent = user.name || user.email;
  $('#account-email').textContent = user.email;
  $('#account-plan').textContent = planLabel(user.plan);
  $('#account-button').setAttribute('aria-label', `Account: ${user.name || user.email}`);
}

function wireAccountMenu() {
  const button = $('#account-button');
  const panel = $('#account-panel');
  if (!button || !panel) return;
  const set = (open, { focus = false } = {}) => {
    button.setAttribute('aria-expanded', String(open));
    panel.hidden = !open;
    if (open && focus) {
      const first = panel.querySelector('a, button');
      if (first) first.focus();
    }
  };
  button.addEventListener('click', () => set(button.getAttribute('aria-expanded') !== 'true'));
  button.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); set(true, { focus: true }); }
  });
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.stopPropagation(); set(false); button.focus(); }
  });
  document.addEventListener('click', (e) => {
    if (button.getAttribute('aria-expanded') === 'true' && !panel.contains(e.target) && !button.contains(e.target)) set(false);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && button.getAttribute('aria-expanded') === 'true') { set(false); button.focus(); }
  });
  panel.addEventListener('focusout', (e) => {
    if (e.relatedTarget && !panel.contains(e.relatedTarget) && e.relatedTarget !== button) set(false);
  });
}

// ---------------------------------------------------------------- notifications bell

function setBell(count) {
  const bell = $('#bell');
  const badge = $('#bell-count');
  if (!bell || !badge) return;
  const n = Math.max(0, Number(count) || 0);
  badge.textContent = n > 99 ? '99+' : String(n);
  badge.hidden = n === 0;
  bell.setAttribute('aria-label', n === 0 ? 'Notifications, none unread' : `Notifications, ${n} unread`);
}

/** Re-read the unread count (the notifications page calls it after marking). */
export async function refreshBell() {
  try {
    const data = await api('/api/notifications?unread=1&per_page=1');
    setBell(data && Number.isFinite(data.unread) ? data.unread : data && data.total);
  } catch (err) {
    handleAuthLoss(err);
  }
}

// ---------------------------------------------------------------- sidebar / drawer

function wireDrawer() {
  const toggle = $('#drawer-toggle');
  const drawer = $('#app-sidebar');
  const close = $('#drawer-close');
  const backdrop = $('#drawer-backdrop');
  if (!toggle || !drawer) return;
  const narrow = window.matchMedia(DRAWER_QUERY);
  const outside = () => $$('.app-topbar, .app-main');

  const set = (open, { restoreFocus = true } = {}) => {
    const wasOpen = drawer.classList.contains('drawer-open');
    drawer.classList.toggle('drawer-open', open);
    document.body.classList.toggle('drawer-is-open', open);
    toggle.setAttribute('aria-expanded', String(open));
    if (backdrop) backdrop.hidden = !open;
    // While the drawer is open, the rest of the page is out of reach (keyboard
    // and screen readers) until it closes: a modal drawer.
    for (const part of outside()) part.inert = open;
    if (open) {
      drawer.setAttribute('role', 'dialog');
      drawer.setAttribute('aria-modal', 'true');
      (drawer.querySelector('[aria-current="page"]') || drawer.querySelector('a')).focus();
    } else {
      drawer.removeAttribute('role');
      drawer.removeAttribute('aria-modal');
      if (wasOpen && restoreFocus) toggle.focus();
    }
  };
  toggle.addEventListener('click', () => set(!drawer.classList.contains('drawer-open')));
  if (close) close.addEventListener('click', () => set(false));
  if (backdrop) backdrop.addEventListener('click', () => set(false));
  drawer.addEventListener('keydown', (e) => {
    if (!drawer.classList.contains('drawer-open')) return;
    if (e.key === 'Escape') { e.preventDefault(); set(false); return; }
    if (e.key !== 'Tab') return;
    const items = $$('a[href], button:not([disabled])', drawer).filter((x) => x.offsetParent !== null);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
  });
  // Back to a wide window: the sidebar is a sidebar again.
  narrow.addEventListener('change', (e) => { if (!e.matches) set(false, { restoreFocus: false }); });
}

/** Mark the sidebar link of this page's section (a page may name it: <body data-section="/projects">). */
function markSection() {
  const here = document.body.dataset.section || cleanPath(window.location.pathname);
  for (const a of [...$$('.app-nav a'), $('#bell')].filter(Boolean)) {
    if (cleanPath(a.pathname) === here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// ---------------------------------------------------------------- start

let shellStarted = false;

/**
 * Start a signed-in page: find the session (else go to /login?next=…), fill the
 * shell in, and resolve the user; null when redirecting or when the API is down
 * (then "#page-status" says so with a "Try again" button).
 */
export async function startShell() {
  if (!shellStarted) {
    shellStarted = true;
    markSection();
    wireDrawer();
    wireAccountMenu();
    onUserChange(renderAccount);
  }
  const user = await initPage({ requireAuth: true });
  if (!user) return null;
  renderAccount(getUser() || user);
  refreshBell();
  loadUsage().catch((err) => { handleAuthLoss(err); });
  return user;
}
