// /app — the signed-in home: the "verify your email" banner, a first-run
// checklist, usage meters for the four metrics with the period's end, the plan
// and its state (a past_due banner), and the recent conversations.
import { api, onUserChange } from './api.js';
import { $, el, formatDate, handleAuthLoss, setPageStatus, withBusy } from './page.js';
import { loadUsage, startShell } from './shell.js';
import { METRICS, periodText, usageMeter } from './ui.js';
import { STATUS_LABELS, planLabel } from './billing-common.js';

const RECENT = 5;
const facts = { verified: false, projects: null, documents: null, agents: null, chats: null };

function renderUser(user) {
  if (!user) return;
  $('#user-name').textContent = user.name || user.email;
  $('#user-email').textContent = user.email;
  $('#verify-banner').hidden = !!user.email_verified;
  $('#verify-address').textContent = user.email;
  facts.verified = !!user.email_verified;
  renderChecklist();
}

// ---------------------------------------------------------------- checklist

function renderChecklist() {
  const steps = {
    verify: facts.verified,
    project: facts.projects > 0,
    document: facts.documents > 0,
    agent: facts.agents > 0,
    chat: facts.chats > 0,
  };
  // Until the counts are known the steps stay unticked (the card is shown from the
  // start, so the page does not jump when they arrive; it goes once all are done).
  if (facts.projects === null) return;
  let done = 0;
  for (const [step, ok] of Object.entries(steps)) {
    const li = $(`#checklist li[data-step="${step}"]`);
    li.classList.toggle('done', ok);
    li.querySelector('.step-state').textContent = ok ? ' (done)' : ' (to do)';
    if (ok) done += 1;
  }
  $('#checklist-progress').textContent = `${done} of 5 done`;
  $('#checklist-card').hidden = done === 5;
}

// ---------------------------------------------------------------- usage

async function renderUsage() {
  const box = $('#usage-meters');
  try {
    const usage = await loadUsage();
    box.replaceChildren(...METRICS.map((m) => usageMeter(m, usage.metrics && usage.metrics[m], { idPrefix: 'home' })));
    $('#usage-period').textContent = periodText(usage.period);
    const count = (m) => Number((usage.metrics && usage.metrics[m] && usage.metrics[m].used) || 0);
    facts.projects = count('projects');
    facts.documents = count('documents');
    facts.agents = count('agents');
    if (count('monthly_tokens') > 0) facts.chats = 1;
    renderChecklist();
  } catch (err) {
    if (handleAuthLoss(err)) return;
    box.replaceChildren(el('p', 'notice notice-error', `Usage could not be loaded. ${err.message}`));
  }
}

// ---------------------------------------------------------------- plan

async function renderPlan(user) {
  $('#plan-name').textContent = planLabel(user.plan);
  try {
    const sub = await api('/api/billing/subscription');
    const status = (sub && sub.status) || 'none';
    const badge = $('#plan-status');
    if (status !== 'none') {
      const cls = status === 'past_due' || status === 'unpaid' ? 'badge-danger'
        : status === 'active' || status === 'trialing' ? 'badge-success' : 'badge-muted';
      badge.replaceChildren(el('span', `badge ${cls}`, STATUS_LABELS[status] || status));
    }
    let renewal = '';
    if (sub && sub.current_period_end && ['active', 'trialing', 'past_due'].includes(status)) {
      renewal = sub.cancel_at_period_end
        ? `Ends on ${formatDate(sub.current_period_end)}.`
        : `Renews on ${formatDate(sub.current_period_end)}.`;
    }
    $('#plan-renewal').textContent = renewal;
    $('#past-due-banner').hidden = status !== 'past_due';
    $('#past-due-plan').textContent = planLabel(sub && sub.plan);
  } catch (err) {
    if (handleAuthLoss(err)) return;
    // Billing may be off (503 billing_unavailable): the plan from the user object stands.
    $('#plan-renewal').textContent = err.unavailable || err.code === 'billing_unavailable' ? '' : `Subscription details could not be loaded. ${err.message}`;
  }
}

// ---------------------------------------------------------------- recent conversations

async function renderRecent() {
  const status = $('#recent-status');
  const list = $('#recent-list');
  try {
    const agents = await api('/api/agents?per_page=20');
    const items = (agents && agents.items) || [];
    if (facts.agents === null) facts.agents = Number(agents && agents.total) || items.length;
    const names = new Map(items.map((a) => [a.id, a.name]));
    const lists = await Promise.all(items.slice(0, 10).map((a) =>
      api(`/api/agents/${encodeURIComponent(a.id)}/conversations?per_page=${RECENT}`)
        .then((d) => (d && d.items) || [])
        .catch(() => [])));
    const conversations = lists.flat()
      .sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)))
      .slice(0, RECENT);
    if (conversations.length) { facts.chats = 1; renderChecklist(); }
    list.replaceChildren();
    for (const c of conversations) {
      const li = el('li');
      const a = el('a', null, c.title || 'Untitled conversation');
      a.href = `/chat?agent=${encodeURIComponent(c.agent_id)}&conversation=${encodeURIComponent(c.id)}`;
      li.append(a);
      li.append(el('span', 'small muted',
        `${names.get(c.agent_id) || 'Agent'} · ${formatDate(c.updated_at, { time: true })}`));
      list.append(li);
    }
    if (conversations.length) status.hidden = true;
    else {
      status.hidden = false;
      status.textContent = items.length ? 'No conversations yet. Open the chat to talk to an agent.' : 'No conversations yet: create an agent first.';
    }
  } catch (err) {
    if (handleAuthLoss(err)) return;
    status.textContent = `Conversations could not be loaded. ${err.message}`;
  }
}

// ---------------------------------------------------------------- verification email

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

const user = await startShell();
if (user) {
  renderUser(user);
  onUserChange(renderUser);
  setPageStatus('');
  $('#content').hidden = false;
  renderUsage();
  renderPlan(user);
  renderRecent();
}
