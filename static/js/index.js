// / — the landing page: header, a notice after account deletion, and the
// service status from GET /api/health.
import { api } from './api.js';
import { $, initPage, queryParam } from './page.js';

if (queryParam('deleted')) $('#deleted-notice').hidden = false;

async function health() {
  const box = $('#service-status');
  const text = $('#service-status-text');
  try {
    const data = await api('/api/health', { auth: false });
    box.className = 'status-ok';
    text.textContent = data && data.status === 'ok'
      ? `All systems operational${data.version ? ` (version ${data.version})` : ''}.`
      : 'Status unknown.';
  } catch (err) {
    box.className = 'status-down';
    text.textContent = err.message;
  }
}

const [user] = await Promise.all([initPage(), health()]);
if (user) {
  for (const a of document.querySelectorAll('[data-cta="start"]')) {
    a.href = '/app';
    a.textContent = 'Go to your dashboard';
  }
}
