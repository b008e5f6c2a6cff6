// /billing — the subscription dashboard: plan, status, renewal or end date,
// past_due banner, invoices (hosted page and PDF), "Manage billing" (Stripe
// Customer Portal).
import { api } from './api.js';
import { $, el, formatDate, formatMoney, handleAuthLoss, safeHref, setPageStatus, withBusy } from './page.js';
import { startShell } from './shell.js';
import { PAID_STATUSES, STATUS_LABELS, billingErrorMessage, currentPlanCode, openPortal, planLabel } from './billing-common.js';

const PER_PAGE = 50;
const message = $('#billing-message');
let invoicePage = 1;

function showMessage(text) {
  message.textContent = text || '';
  message.hidden = !text;
  if (text) message.focus();
}

function statusBadge(status) {
  const cls = {
    active: 'badge-success', trialing: 'badge-success', past_due: 'badge-danger',
    canceled: 'badge-muted', none: 'badge-muted', unpaid: 'badge-danger',
  }[status] || 'badge-warning';
  return el('span', `badge ${cls}`, STATUS_LABELS[status] || status || 'Unknown');
}

function renderSubscription(sub) {
  const status = (sub && sub.status) || 'none';
  const paid = PAID_STATUSES.has(status);
  $('#sub-plan').textContent = planLabel(paid ? sub.plan : currentPlanCode(sub));
  $('#sub-status').replaceChildren(statusBadge(status));
  $('#sub-interval').textContent = sub && sub.interval ? (sub.interval === 'year' ? 'Yearly' : 'Monthly') : '—';

  let dateLabel = 'Renews on';
  let date = sub && sub.current_period_end;
  if (!paid && status !== 'none') {
    dateLabel = 'Ended on';
    date = (sub && (sub.canceled_at || sub.current_period_end)) || null;
  } else if (sub && sub.cancel_at_period_end) {
    dateLabel = 'Ends on';
  }
  $('#sub-date-label').textContent = dateLabel;
  $('#sub-date').textContent = status === 'none' ? '—' : formatDate(date);

  $('#past-due-banner').hidden = status !== 'past_due';
  $('#past-due-plan').textContent = planLabel(sub && sub.plan);
  $('#cancel-note').hidden = !(paid && sub.cancel_at_period_end);
  if (paid && sub.cancel_at_period_end) {
    $('#cancel-note-date').textContent = formatDate(sub.current_period_end);
  }
  $('#free-note').hidden = paid;
  // Without any subscription there is no Stripe customer, so no portal (409 no_customer).
  $('#manage-billing').hidden = status === 'none';
}

function invoiceRow(inv) {
  const tr = el('tr');
  const cell = (label, text, cls) => {
    const td = el('td', cls || null, text);
    td.dataset.label = label;
    tr.append(td);
    return td;
  };
  const number = inv.number || inv.id;
  cell('Date', formatDate(inv.created), 'nowrap');
  cell('Invoice', number, 'nowrap');
  cell('Period', inv.period_start ? `${formatDate(inv.period_start)} – ${formatDate(inv.period_end)}` : '—');
  const paid = inv.status === 'paid' ? inv.amount_paid : inv.amount_due;
  const amount = cell('Amount', formatMoney(paid, inv.currency), 'num');
  if (inv.amount_refunded) {
    amount.append(el('br'));
    amount.append(el('span', 'small muted', `${formatMoney(inv.amount_refunded, inv.currency)} refunded`));
  }
  const st = cell('Status', '');
  const label = { paid: 'Paid', open: 'Due', void: 'Void', uncollectible: 'Uncollectible', draft: 'Draft' }[inv.status] || inv.status || '—';
  st.append(el('span', `badge ${inv.status === 'paid' ? 'badge-success' : inv.status === 'open' ? 'badge-warning' : 'badge-muted'}`, label));
  const links = cell('Links', '');
  const wrap = el('span', 'table-links');
  const hosted = safeHref(inv.hosted_invoice_url);
  const pdf = safeHref(inv.invoice_pdf);
  if (hosted) {
    const a = el('a', null, 'View');
    a.href = hosted;
    a.rel = 'noopener';
    a.append(el('span', 'visually-hidden', ` invoice ${number}`));
    wrap.append(a);
  }
  if (pdf) {
    const a = el('a', null, 'PDF');
    a.href = pdf;
    a.rel = 'noopener';
    a.append(el('span', 'visually-hidden', ` of invoice ${number}`));
    wrap.append(a);
  }
  if (!hosted && !pdf) wrap.append('—');
  links.append(wrap);
  return tr;
}

async function loadInvoices(reset) {
  const body = $('#invoice-rows');
  const more = $('#invoices-more');
  const status = $('#invoices-status');
  if (reset) { invoicePage = 1; body.replaceChildren(); }
  try {
    const data = await api(`/api/billing/invoices?page=${invoicePage}&per_page=${PER_PAGE}`);
    const items = (data && data.items) || [];
    for (const inv of items) body.append(invoiceRow(inv));
    const shown = body.children.length;
    const total = Number(data && data.total) || shown;
    $('#invoice-table').hidden = shown === 0;
    status.textContent = shown === 0 ? 'No invoices yet.' : '';
    status.hidden = shown !== 0;
    more.hidden = shown >= total || items.length === 0;
  } catch (err) {
    if (handleAuthLoss(err)) return;
    status.hidden = false;
    status.textContent = `Invoices could not be loaded. ${err.message}`;
  }
}

for (const button of document.querySelectorAll('[data-action="portal"]')) {
  button.addEventListener('click', async () => {
    showMessage('');
    try {
      await withBusy(button, openPortal, 'Opening…');
    } catch (err) {
      if (!handleAuthLoss(err)) showMessage(billingErrorMessage(err));
    }
  });
}

$('#invoices-more').addEventListener('click', async (event) => {
  invoicePage += 1;
  await withBusy(event.currentTarget, () => loadInvoices(false), 'Loading…');
});

const user = await startShell();
if (user) {
  try {
    const sub = await api('/api/billing/subscription');
    renderSubscription(sub);
    setPageStatus('');
    $('#content').hidden = false;
    loadInvoices(true);
  } catch (err) {
    if (!handleAuthLoss(err)) {
      setPageStatus(`Your subscription could not be loaded. ${billingErrorMessage(err)}`, { kind: 'error', retry: true });
    }
  }
}
