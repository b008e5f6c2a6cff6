// /notifications — the in-app notifications: unread count, mark read, mark all read.
import { api } from './api.js';
import { $, el, formatDate, handleAuthLoss, safeHref, setPageStatus, withBusy } from './page.js';
import { refreshBell, startShell } from './shell.js';

const PER_PAGE = 50;
const list = $('#notification-list');
const countOut = $('#unread-count');
const status = $('#notifications-status');
const unreadOnly = $('#unread-only');
const markAll = $('#mark-all');
const more = $('#load-more');
let page = 1;
let unread = 0;

function setUnread(n) {
  unread = Math.max(0, n);
  countOut.textContent = unread === 0 ? 'No unread notifications' : `${unread} unread`;
  markAll.disabled = unread === 0;
}

function render(item) {
  const li = el('li', item.read_at ? 'notification' : 'notification notification-unread');
  const body = el('div', 'notification-body');
  const title = el('p', 'notification-title');
  title.append(el('span', 'visually-hidden', item.read_at ? '' : 'Unread: '));
  title.append(document.createTextNode(item.title || 'Notification'));
  body.append(title);
  if (item.body) body.append(el('p', 'notification-text', item.body));
  const meta = el('p', 'notification-meta');
  const time = el('time', null, formatDate(item.created_at, { time: true }));
  if (item.created_at) time.dateTime = item.created_at;
  meta.append(time);
  const href = safeHref(item.link);
  if (href) {
    meta.append(' · ');
    const a = el('a', null, 'Open');
    a.href = href;
    a.setAttribute('aria-label', `Open: ${item.title || 'notification'}`);
    meta.append(a);
  }
  body.append(meta);
  li.append(body);
  if (!item.read_at) {
    const b = el('button', 'button-secondary button-small', 'Mark as read');
    b.type = 'button';
    b.setAttribute('aria-label', `Mark as read: ${item.title || 'notification'}`);
    b.addEventListener('click', () => markRead(item, li, b));
    li.append(b);
  }
  return li;
}

async function markRead(item, li, button) {
  try {
    await withBusy(button, () => api(`/api/notifications/${encodeURIComponent(item.id)}/read`, { method: 'POST' }));
    item.read_at = new Date().toISOString();
    setUnread(unread - 1);
    refreshBell();
    status.textContent = `Marked “${item.title || 'notification'}” as read.`;
    const replacement = render(item);
    li.replaceWith(replacement);
    if (unreadOnly.checked) replacement.remove();
    const nextButton = list.querySelector('.notification-unread button');
    (nextButton || countOut).focus();
  } catch (err) {
    if (!handleAuthLoss(err)) status.textContent = `Could not mark it as read. ${err.message}`;
  }
}

async function loadCount() {
  try {
    const data = await api('/api/notifications?unread=1&per_page=1');
    setUnread(Number.isFinite(data && data.unread) ? data.unread : Number(data && data.total) || 0);
  } catch (err) {
    if (!handleAuthLoss(err)) countOut.textContent = 'Unread count unavailable';
  }
}

async function load(reset) {
  if (reset) { page = 1; list.replaceChildren(); }
  const query = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE) });
  if (unreadOnly.checked) query.set('unread', '1');
  status.textContent = 'Loading…';
  try {
    const data = await api(`/api/notifications?${query}`);
    const items = (data && data.items) || [];
    for (const item of items) list.append(render(item));
    const shown = list.children.length;
    const total = Number(data && data.total) || shown;
    more.hidden = shown >= total || items.length === 0;
    status.textContent = shown === 0
      ? (unreadOnly.checked ? 'You have read everything.' : 'You have no notifications yet.')
      : '';
    $('#empty').hidden = shown !== 0;
    $('#empty').textContent = status.textContent;
    status.textContent = '';
  } catch (err) {
    if (!handleAuthLoss(err)) status.textContent = `Notifications could not be loaded. ${err.message}`;
  }
}

markAll.addEventListener('click', async () => {
  try {
    await withBusy(markAll, () => api('/api/notifications/read-all', { method: 'POST' }), 'Marking…');
    setUnread(0);
    refreshBell();
    await load(true);
    status.textContent = 'All notifications are marked as read.';
  } catch (err) {
    if (!handleAuthLoss(err)) status.textContent = `Could not mark all as read. ${err.message}`;
  }
});

unreadOnly.addEventListener('change', () => load(true));
more.addEventListener('click', async () => {
  page += 1;
  await withBusy(more, () => load(false), 'Loading…');
});

const user = await startShell();
if (user) {
  setPageStatus('');
  $('#content').hidden = false;
  loadCount();
  load(true);
}
