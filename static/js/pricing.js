// /pricing — plans from the API, monthly/yearly switch, the current plan marked,
// and a button that starts Stripe Checkout (signed-out visitors register first).
import { api } from './api.js';
import { $, $$, el, encodeNext, formatMoney, initPage, queryParam, redirectToLogin, setPageStatus, withBusy } from './page.js';
import { billingErrorMessage, currentPlanCode, goToStripe, openPortal, planLabel } from './billing-common.js';

const state = { interval: 'month', plans: [], sub: null, user: null, focus: null };
const grid = $('#plans');
const message = $('#pricing-message');

function showMessage(text, kind = 'error') {
  message.replaceChildren();
  message.hidden = !text;
  message.className = `notice notice-${kind}`;
  if (!text) return;
  message.append(el('p', null, text));
  if (kind === 'error') message.focus();
}

function isFree(plan) {
  const prices = plan.prices || [];
  return String(plan.code).toLowerCase() === 'free' || prices.length === 0 || prices.every((p) => !p.amount);
}

function limitText(value, singular, plural) {
  if (value === null || value === undefined) return `Unlimited ${plural}`;
  const n = Number(value);
  return `${n.toLocaleString()} ${n === 1 ? singular : plural}`;
}

function priceFor(plan) {
  return (plan.prices || []).find((p) => p.interval === state.interval) || null;
}

async function startCheckout(plan, button) {
  showMessage('');
  try {
    const data = await withBusy(button, () => api('/api/billing/checkout', {
      method: 'POST', body: { plan: plan.code, interval: state.interval },
    }), 'Opening checkout…');
    goToStripe(data);
  } catch (err) {
    if (err.status === 401) { redirectToLogin(`/pricing?plan=${plan.code}&interval=${state.interval}`); return; }
    showMessage(billingErrorMessage(err));
  }
}

async function portal(button) {
  showMessage('');
  try {
    await withBusy(button, openPortal, 'Opening billing portal…');
  } catch (err) {
    if (err.status === 401) { redirectToLogin('/pricing'); return; }
    showMessage(billingErrorMessage(err));
  }
}

function actionFor(plan, current, price) {
  const code = String(plan.code).toLowerCase();
  const name = planLabel(plan.code, state.plans);
  const free = isFree(plan);
  if (!state.user) {
    const next = free ? '/app' : `/pricing?plan=${code}&interval=${state.interval}`;
    const a = el('a', 'button plan-action', free ? 'Get started for free' : `Choose ${name}`);
    a.href = `/register?next=${encodeNext(next)}`;
    return a;
  }
  if (code === current) {
    const b = el('button', 'button-secondary plan-action', 'Your current plan');
    b.type = 'button';
    b.disabled = true;
    return b;
  }
  const b = el('button', free ? 'button-secondary plan-action' : 'plan-action');
  b.type = 'button';
  b.dataset.plan = code;
  if (current !== 'free') {
    // A subscription exists: plan changes (with proration) and cancellation
    // happen in Stripe's Customer Portal.
    b.textContent = free ? `Downgrade to ${name}` : `Switch to ${name}`;
    b.addEventListener('click', () => portal(b));
    return b;
  }
  if (!price) {
    b.textContent = `${name} is not offered ${state.interval === 'year' ? 'yearly' : 'monthly'}`;
    b.disabled = true;
    return b;
  }
  b.textContent = `Upgrade to ${name}`;
  b.addEventListener('click', () => startCheckout(plan, b));
  return b;
}

function render() {
  grid.replaceChildren();
  const current = state.user ? currentPlanCode(state.sub) : null;
  for (const plan of state.plans) {
    const code = String(plan.code).toLowerCase();
    const card = el('section', code === current ? 'card plan plan-current' : 'card plan');
    card.setAttribute('aria-labelledby', `plan-${code}-name`);
    const h2 = el('h2');
    h2.id = `plan-${code}-name`;
    h2.append(document.createTextNode(planLabel(plan.code, state.plans)));
    if (code === current) {
      h2.append(' ');
      h2.append(el('span', 'badge badge-success', 'Current plan'));
    }
    card.append(h2);
    if (plan.description) card.append(el('p', 'muted', plan.description));

    const price = priceFor(plan);
    const priceLine = el('p', 'plan-price');
    if (isFree(plan)) {
      priceLine.append(formatMoney(0, (plan.prices && plan.prices[0] && plan.prices[0].currency) || 'usd', { whole: true }));
      priceLine.append(el('span', 'per', ' forever'));
    } else if (price) {
      priceLine.append(formatMoney(price.amount, price.currency, { whole: true }));
      priceLine.append(el('span', 'per', state.interval === 'year' ? ' per year' : ' per month'));
    } else {
      priceLine.append(el('span', 'per', state.interval === 'year' ? 'Not offered yearly' : 'Not offered monthly'));
    }
    card.append(priceLine);
    if (price && state.interval === 'year' && price.amount) {
      card.append(el('p', 'muted small', `${formatMoney(Math.round(price.amount / 12), price.currency)} per month, billed yearly`));
    }

    // The plan's own feature list when it has one (the operator writes it and it
    // usually restates the limits); otherwise the limits, spelled out.
    const ul = el('ul');
    const features = (plan.features || []).filter((f) => typeof f === 'string' && f.trim());
    if (features.length) {
      for (const f of features) ul.append(el('li', null, f));
    } else {
      const limits = plan.limits || {};
      ul.append(el('li', null, limitText(limits.projects, 'project', 'projects')));
      ul.append(el('li', null, limitText(limits.documents, 'document', 'documents')));
      ul.append(el('li', null, limitText(limits.agents, 'AI agent', 'AI agents')));
      ul.append(el('li', null, `${limitText(limits.monthly_tokens, 'LLM token', 'LLM tokens')} per month`));
    }
    card.append(ul);

    const actions = el('div', 'form-actions');
    actions.append(actionFor(plan, current, price));
    card.append(actions);
    grid.append(card);
  }
  if (state.focus) {
    const target = grid.querySelector(`[data-plan="${CSS.escape(state.focus)}"]`) ||
      grid.querySelector(`#plan-${CSS.escape(state.focus)}-name`);
    state.focus = null;
    if (target) {
      if (target.tagName === 'H2') target.tabIndex = -1;
      target.focus();
    }
  }
}

for (const radio of $$('input[name="interval"]')) {
  radio.addEventListener('change', () => {
    if (!radio.checked) return;
    state.interval = radio.value;
    render();
  });
}

async function main() {
  const wanted = queryParam('interval');
  if (wanted === 'year' || wanted === 'month') {
    state.interval = wanted;
    for (const r of $$('input[name="interval"]')) r.checked = r.value === wanted;
  }
  const plan = queryParam('plan');
  if (plan && /^[a-z0-9_-]{1,40}$/i.test(plan)) state.focus = plan.toLowerCase();

  const [user, plans] = await Promise.all([
    initPage(),
    api('/api/billing/plans', { auth: false }).then(
      (data) => ({ ok: true, items: (data && data.items) || [] }),
      (err) => ({ ok: false, err }),
    ),
  ]);
  state.user = user;
  if (!plans.ok) {
    setPageStatus(`The plans could not be loaded. ${plans.err.message}`, { kind: 'error', retry: true });
    return;
  }
  state.plans = plans.items;
  if (user) {
    try {
      state.sub = await api('/api/billing/subscription');
    } catch (err) {
      state.sub = null;
      if (!err.unavailable && err.status !== 404) showMessage(`Your current plan could not be loaded. ${err.message}`, 'warning');
    }
    if (state.sub && state.sub.status === 'past_due') {
      showMessage('Your last payment failed. Update your payment method on the billing page to keep your plan.', 'warning');
    }
  }
  if (!state.plans.length) {
    setPageStatus('No plans are available right now.', { kind: 'info' });
    return;
  }
  setPageStatus('');
  $('#content').hidden = false;
  render();
}

main();
