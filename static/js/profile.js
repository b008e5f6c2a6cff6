// /profile — name, password, notification preferences, sessions, sign out
// everywhere, delete account.
import {
  api, clearFieldErrors, clearSession, logoutAll, setUser, showFieldErrors, showFormMessage,
} from './api.js';
import {
  $, checkForm, el, formatDate, handleAuthLoss, setPageStatus, withBusy,
} from './page.js';
import { startShell, toast } from './shell.js';

function fail(form, err) {
  if (handleAuthLoss(err)) return;
  showFieldErrors(form, err);
}

// ---------------------------------------------------------------- name

const nameForm = $('#name-form');
nameForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = checkForm(nameForm);
  if (problem) { showFieldErrors(nameForm, problem); return; }
  clearFieldErrors(nameForm);
  const button = nameForm.querySelector('button[type="submit"]');
  try {
    const user = await withBusy(button, () => api('/api/profile', {
      method: 'PATCH', body: { name: nameForm.elements.name.value.trim() },
    }), 'Saving…');
    if (user && user.id) setUser(user);
    toast('Your name was saved.');
  } catch (err) {
    fail(nameForm, err);
  }
});

// ---------------------------------------------------------------- password

const passwordForm = $('#password-form');
passwordForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = checkForm(passwordForm);
  if (problem) { showFieldErrors(passwordForm, problem); return; }
  clearFieldErrors(passwordForm);
  const button = passwordForm.querySelector('button[type="submit"]');
  try {
    await withBusy(button, () => api('/api/profile/change-password', {
      method: 'POST',
      body: {
        current_password: passwordForm.elements.current_password.value,
        new_password: passwordForm.elements.new_password.value,
      },
    }), 'Changing…');
    passwordForm.reset();
    showFormMessage(passwordForm, 'Your password was changed. Your other devices were signed out.', 'success');
    loadSessions();
  } catch (err) {
    fail(passwordForm, err);
  }
});

// ---------------------------------------------------------------- preferences

const prefsForm = $('#prefs-form');
const PREFS = ['product_updates', 'usage_warnings', 'billing'];

async function loadPrefs() {
  try {
    const prefs = await api('/api/profile/notification-preferences');
    for (const key of PREFS) prefsForm.elements[key].checked = !!(prefs && prefs[key]);
    for (const key of PREFS) prefsForm.elements[key].disabled = false;
    prefsForm.querySelector('button[type="submit"]').disabled = false;
    clearFieldErrors(prefsForm);
  } catch (err) {
    if (handleAuthLoss(err)) return;
    showFormMessage(prefsForm, `Your preferences could not be loaded. ${err.message}`, 'error');
  }
}

prefsForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearFieldErrors(prefsForm);
  const body = { security: true };
  for (const key of PREFS) body[key] = prefsForm.elements[key].checked;
  const button = prefsForm.querySelector('button[type="submit"]');
  try {
    await withBusy(button, () => api('/api/profile/notification-preferences', { method: 'PUT', body }), 'Saving…');
    toast('Your email preferences were saved.');
  } catch (err) {
    fail(prefsForm, err);
  }
});

// ---------------------------------------------------------------- sessions

/** "Chrome on Linux" from a user agent string (the full string is the title). */
function describeAgent(ua) {
  if (!ua) return 'Unknown device';
  const browser = [
    [/Edg(e|A|iOS)?\//, 'Edge'], [/OPR\/|Opera/, 'Opera'], [/Firefox\/|FxiOS/, 'Firefox'],
    [/Chrome\/|CriOS|Chromium/, 'Chrome'], [/Safari\//, 'Safari'], [/curl\//, 'curl'],
  ].find(([re]) => re.test(ua));
  const os = [
    [/Windows/, 'Windows'], [/iPhone|iPad|iPod/, 'iOS'], [/Android/, 'Android'],
    [/Mac OS X|Macintosh/, 'macOS'], [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux'],
  ].find(([re]) => re.test(ua));
  if (!browser && !os) return ua.length > 60 ? `${ua.slice(0, 57)}…` : ua;
  return [browser ? browser[1] : 'Browser', os ? `on ${os[1]}` : ''].join(' ').trim();
}

const sessionList = $('#session-list');
const sessionStatus = $('#sessions-status');

function renderSessions(items) {
  sessionList.replaceChildren();
  const sorted = [...items].sort((a, b) => (b.current ? 1 : 0) - (a.current ? 1 : 0));
  for (const s of sorted) {
    const li = el('li', 'session');
    const info = el('div', 'session-info');
    const agent = el('p', 'session-agent', describeAgent(s.user_agent));
    if (s.user_agent) agent.title = s.user_agent;
    if (s.current) {
      agent.append(' ');
      agent.append(el('span', 'badge badge-success', 'This device'));
    }
    info.append(agent);
    const meta = [];
    if (s.ip) meta.push(`IP ${s.ip}`);
    meta.push(`last active ${formatDate(s.last_used_at || s.created_at, { time: true })}`);
    meta.push(`signed in ${formatDate(s.created_at, { time: true })}`);
    info.append(el('p', 'session-meta', meta.join(' · ')));
    li.append(info);
    const button = el('button', 'button-secondary button-small', s.current ? 'Sign out' : 'Revoke');
    button.type = 'button';
    button.setAttribute('aria-label', s.current
      ? 'Sign out this device'
      : `Revoke session: ${describeAgent(s.user_agent)}, signed in ${formatDate(s.created_at, { time: true })}`);
    button.addEventListener('click', () => revoke(s, li, button));
    li.append(button);
    sessionList.append(li);
  }
  sessionStatus.textContent = items.length === 1 ? '1 active session.' : `${items.length} active sessions.`;
}

async function loadSessions() {
  try {
    const data = await api('/api/auth/sessions');
    renderSessions((data && data.items) || []);
  } catch (err) {
    if (handleAuthLoss(err)) return;
    sessionStatus.textContent = `Sessions could not be loaded. ${err.message}`;
  }
}

async function revoke(session, li, button) {
  try {
    await withBusy(button, () => api(`/api/auth/sessions/${encodeURIComponent(session.id)}`, { method: 'DELETE' }));
    if (session.current) {
      clearSession();
      window.location.assign('/login?signed_out=1');
      return;
    }
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    sessionStatus.textContent = 'The session was revoked.';
    const focusTarget = next && next.querySelector('button');
    (focusTarget || $('#logout-all')).focus();
  } catch (err) {
    if (handleAuthLoss(err)) return;
    if (err.status === 404) { li.remove(); sessionStatus.textContent = 'That session had already ended.'; return; }
    sessionStatus.textContent = `Could not revoke the session. ${err.message}`;
  }
}

$('#logout-all').addEventListener('click', async (event) => {
  try {
    await withBusy(event.currentTarget, () => logoutAll(), 'Signing out…');
    window.location.assign('/login?signed_out=1');
  } catch (err) {
    if (handleAuthLoss(err)) return;
    sessionStatus.textContent = `Could not sign out everywhere. ${err.message}`;
  }
});

// ---------------------------------------------------------------- delete account

const dialog = $('#delete-dialog');
const deleteForm = $('#delete-form');
const opener = $('#delete-open');

opener.addEventListener('click', () => {
  deleteForm.reset();
  clearFieldErrors(deleteForm);
  dialog.showModal();
  deleteForm.elements.password.focus();
});
$('#delete-cancel').addEventListener('click', () => dialog.close());
dialog.addEventListener('close', () => opener.focus());

deleteForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = checkForm(deleteForm);
  if (problem) { showFieldErrors(deleteForm, problem); return; }
  clearFieldErrors(deleteForm);
  const button = deleteForm.querySelector('button[type="submit"]');
  try {
    await withBusy(button, () => api('/api/profile/delete-account', {
      method: 'POST', body: { password: deleteForm.elements.password.value },
    }), 'Deleting…');
    clearSession();
    window.location.assign('/?deleted=1');
  } catch (err) {
    fail(deleteForm, err);
  }
});

// ---------------------------------------------------------------- start

const user = await startShell();
if (user) {
  nameForm.elements.name.value = user.name || '';
  $('#profile-email').textContent = user.email;
  setPageStatus('');
  $('#content').hidden = false;
  loadPrefs();
  loadSessions();
}
