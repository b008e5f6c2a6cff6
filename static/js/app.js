// /app — the signed-in home: who you are, your plan, the "verify your email"
// banner with a resend button, unread notifications, usage (placeholder).
import { api, onUserChange } from './api.js';
import { $, formatDate, handleAuthLoss, initPage, setPageStatus, withBusy } from './page.js';

function planName(code) {
  if (!code) return 'Free';
  return code.charAt(0).toUpperCase() + code.slice(1).toLowerCase();
}

function render(user) {
  if (!user) return;
  $('#user-name').textContent = user.name || user.email;
  $('#user-email').textContent = user.email;
  $('#detail-name').textContent = user.name || '—';
  $('#detail-email').textContent = user.email;
  $('#detail-verified').textContent = user.email_verified ? 'Verified' : 'Not verified yet';
  $('#detail-created').textContent = formatDate(user.created_at);
  $('#plan-name').textContent = planName(user.plan);
  $('#verify-banner').hidden = !!user.email_verified;
  $('#verify-address').textContent = user.email;
}

async function loadUnread() {
  const out = $('#unread-count');
  try {
    const data = await api('/api/notifications?unread=1&per_page=1');
    const n = Number(data && data.total) || 0;
    out.textContent = n === 0 ? 'No unread notifications.' : `${n} unread notification${n === 1 ? '' : 's'}.`;
  } catch (err) {
    if (handleAuthLoss(err)) return;
    out.textContent = 'Notifications could not be loaded right now.';
  }
}

$('#resend-verification').addEventListener('click', async (event) => {
  const status = $('#resend-status');
  status.textContent = '';
  try {
    await withBusy(event.currentTarget, () => api('/api/auth/resend-verification', { method: 'POST' }), 'Sending…');
    status.textContent = 'Sent. Check your inbox for a new verification link (valid for 48 hours).';
  } catch (err) {
    if (handleAuthLoss(err)) return;
    status.textContent = err.status === 429
      ? 'An email was sent less than a minute ago. Please wait a minute before asking again.'
      : err.message;
  }
});

const user = await initPage({ requireAuth: true });
if (user) {
  render(user);
  onUserChange(render);
  setPageStatus('');
  $('#content').hidden = false;
  loadUnread();
}
