// /checkout-success — back from Stripe Checkout. Stripe tells us about the new
// subscription by webhook, so poll GET /api/billing/subscription until it is
// active (or trialing); say so clearly when that takes more than ~30 s.
import { api } from './api.js';
import { $, handleAuthLoss, setPageStatus } from './page.js';
import { startShell } from './shell.js';
import { planLabel } from './billing-common.js';

const SLOW_AFTER_MS = 30_000;
const GIVE_UP_AFTER_MS = 180_000;
const status = $('#checkout-status');
const slow = $('#checkout-slow');
const done = $('#checkout-done');
const again = $('#check-again');
let started = 0;
let timer = null;

function finish(sub) {
  clearTimeout(timer);
  $('#checkout-waiting').hidden = true;
  slow.hidden = true;
  $('#done-plan').textContent = planLabel(sub.plan);
  $('#done-status').textContent = sub.status === 'trialing' ? 'Your trial has started.' : 'Your subscription is active.';
  done.hidden = false;
  $('#checkout-title').textContent = 'You are all set';
  done.focus();
}

async function poll() {
  const elapsed = Date.now() - started;
  try {
    const sub = await api('/api/billing/subscription');
    if (sub && (sub.status === 'active' || sub.status === 'trialing')) { finish(sub); return; }
  } catch (err) {
    if (handleAuthLoss(err)) return;
    // Keep waiting through short outages; the text below explains the delay.
  }
  if (elapsed >= SLOW_AFTER_MS && slow.hidden) {
    slow.hidden = false;
    status.textContent = 'Still waiting for Stripe to confirm your payment…';
  }
  if (elapsed >= GIVE_UP_AFTER_MS) {
    status.textContent = 'We have not received the confirmation yet.';
    again.hidden = false;
    $('#checkout-spinner').hidden = true;
    return;
  }
  timer = setTimeout(poll, elapsed < SLOW_AFTER_MS ? 2000 : 5000);
}

function start() {
  started = Date.now();
  again.hidden = true;
  $('#checkout-spinner').hidden = false;
  status.textContent = 'Confirming your payment with Stripe…';
  poll();
}

again.addEventListener('click', start);

const user = await startShell();
if (user) {
  setPageStatus('');
  $('#content').hidden = false;
  start();
}
