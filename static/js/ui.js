// ui.js — small pieces the app pages share: modal dialogs with focus handling,
// a confirmation dialog, the search snippet renderer (<mark> only), usage
// meters, the "upgrade" notice of a 402, and number/size formatting.

import { METRIC_NOUNS, clearFieldErrors, showFieldErrors } from './api.js';
import { el, formatDate } from './page.js';

// ---------------------------------------------------------------- formatting

export function formatNumber(n) {
  return Number(n || 0).toLocaleString('en-US');
}

/** "1 document", "3 documents". */
export function plural(n, one, many) {
  return `${formatNumber(n)} ${Number(n) === 1 ? one : many}`;
}

export function formatBytes(n) {
  const v = Number(n || 0);
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(v < 10 * 1024 ? 1 : 0)} KB`;
  return `${(v / (1024 * 1024)).toFixed(1)} MB`;
}

/** The number of UTF-8 bytes of a string (the API's document limit is in bytes). */
export function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

// ---------------------------------------------------------------- dialogs

/**
 * Open a <dialog> modally. Focus goes to `focus` (an element or selector inside
 * it; default: its first field, else its first button) and, when the dialog
 * closes (button, Escape), back to the element that had it before.
 */
export function openDialog(dialog, { focus = null } = {}) {
  const opener = document.activeElement;
  dialog.showModal();
  let target = typeof focus === 'string' ? dialog.querySelector(focus) : focus;
  if (!target) target = dialog.querySelector('input:not([type="hidden"]), select, textarea, button');
  if (target) target.focus();
  dialog.addEventListener('close', () => {
    // Back to the opener, unless the page has already put the focus somewhere on purpose
    // (e.g. on the item the dialog just created).
    const now = document.activeElement;
    const free = !now || now === document.body || dialog.contains(now);
    if (free && opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  }, { once: true });
}

/**
 * Ask for confirmation in a modal dialog. Resolves true when confirmed.
 * `body` is text (or a node). The cancel button has the focus first, so Enter
 * cannot destroy anything by accident.
 */
export function confirmDialog({ title, body, confirmLabel = 'Delete', danger = true }) {
  return new Promise((resolve) => {
    const dialog = el('dialog', 'confirm-dialog');
    const titleId = `confirm-title-${Math.random().toString(36).slice(2)}`;
    const bodyId = `${titleId}-body`;
    dialog.setAttribute('aria-labelledby', titleId);
    dialog.setAttribute('aria-describedby', bodyId);
    const h = el('h2', null, title);
    h.id = titleId;
    const p = el('div', 'confirm-body');
    p.id = bodyId;
    if (typeof body === 'string') p.append(el('p', null, body)); else if (body) p.append(body);
    const actions = el('div', 'form-actions');
    const ok = el('button', danger ? 'button-danger' : null, confirmLabel);
    ok.type = 'button';
    const cancel = el('button', 'button-secondary', 'Cancel');
    cancel.type = 'button';
    actions.append(ok, cancel);
    dialog.append(h, p, actions);
    document.body.append(dialog);
    let answer = false;
    ok.addEventListener('click', () => { answer = true; dialog.close(); });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    }, { once: true });
    openDialog(dialog, { focus: cancel });
  });
}

// ---------------------------------------------------------------- search snippets

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (whole, name) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    const v = ENTITIES[name.toLowerCase()];
    return v === undefined ? whole : v;
  });
}

/**
 * A search snippet of the API (terms wrapped in <mark>…</mark>, everything else
 * HTML-escaped) as DOM nodes: the text between the marks becomes text nodes and
 * each mark a <mark> element. Nothing else is ever interpreted as markup, so a
 * document that contains "<script>" shows it as text.
 */
export function snippetFragment(snippet) {
  const frag = document.createDocumentFragment();
  const parts = String(snippet || '').split(/(<mark>|<\/mark>)/i);
  let inMark = false;
  for (const part of parts) {
    if (/^<mark>$/i.test(part)) { inMark = true; continue; }
    if (/^<\/mark>$/i.test(part)) { inMark = false; continue; }
    if (!part) continue;
    const text = decodeEntities(part);
    frag.append(inMark ? el('mark', null, text) : document.createTextNode(text));
  }
  return frag;
}

// ---------------------------------------------------------------- quotas and usage

/**
 * The notice for an error, placed near what failed: a 402 says which limit and
 * links to /pricing; others carry the error's message.
 */
export function errorNotice(err, { prefix = '' } = {}) {
  const box = el('div', 'notice notice-error');
  box.setAttribute('role', 'alert');
  box.tabIndex = -1;
  const p = el('p', null, prefix ? `${prefix} ${err.message}` : err.message);
  box.append(p);
  if (err.status === 402) {
    box.className = 'notice notice-warning notice-quota';
    const a = el('a', 'button button-small', 'See plans and upgrade');
    a.href = '/pricing';
    box.append(a);
  }
  return box;
}

/**
 * The error of a form's request, in the form: a 402 as a notice with the link to
 * the plans; anything else by showFieldErrors (messages next to the fields).
 */
export function showFormError(form, err) {
  if (!err || err.status !== 402) { showFieldErrors(form, err); return; }
  clearFieldErrors(form);
  const notice = errorNotice(err);
  notice.classList.add('form-message');
  const firstField = form.querySelector(':scope > .field, :scope > fieldset');
  if (firstField) firstField.before(notice); else form.prepend(notice);
  notice.focus();
}

/** Put errorNotice(err) into `holder` (replacing what it had) and focus it. */
export function showError(holder, err, opts) {
  const notice = errorNotice(err, opts);
  holder.replaceChildren(notice);
  holder.hidden = false;
  notice.focus();
  return notice;
}

export const METRIC_LABELS = {
  monthly_tokens: 'Tokens this period',
  projects: 'Projects',
  documents: 'Documents',
  agents: 'Agents',
};
export const METRICS = ['monthly_tokens', 'projects', 'documents', 'agents'];

/**
 * One usage meter: label, a <meter> (omitted when unlimited) and "used of limit".
 * data is a metric of GET /api/usage ({used, reserved?, limit, percent}).
 */
export function usageMeter(metric, data, { idPrefix = 'meter' } = {}) {
  const m = data || { used: 0, limit: null };
  const wrap = el('div', 'usage-meter');
  wrap.dataset.metric = metric;
  const id = `${idPrefix}-${metric}`;
  const head = el('div', 'usage-meter-head');
  const label = el('span', 'usage-meter-label', METRIC_LABELS[metric] || metric);
  label.id = `${id}-label`;
  head.append(label);
  const used = Number(m.used || 0);
  const reserved = Number(m.reserved || 0);
  const unlimited = m.limit === null || m.limit === undefined;
  const nouns = METRIC_NOUNS[metric] || ['', ''];
  let text;
  if (unlimited) text = `${formatNumber(used)} used · unlimited`;
  else text = `${formatNumber(used)} of ${formatNumber(m.limit)}`;
  const value = el('span', 'usage-meter-value', text);
  value.id = `${id}-value`;
  head.append(value);
  wrap.append(head);
  if (!unlimited) {
    const limit = Number(m.limit);
    const meter = document.createElement('meter');
    meter.id = id;
    meter.min = 0;
    meter.max = Math.max(limit, 1);
    meter.value = Math.min(used + reserved, meter.max);
    meter.low = meter.max * 0.8;
    meter.high = meter.max * 0.9999;
    meter.optimum = 0;
    meter.setAttribute('aria-labelledby', `${id}-label ${id}-value`);
    const pct = Number.isFinite(m.percent) ? m.percent : (limit > 0 ? ((used + reserved) * 100) / limit : 100);
    meter.textContent = `${Math.round(pct)}%`;
    if (pct >= 100) wrap.classList.add('usage-full');
    else if (pct >= 80) wrap.classList.add('usage-high');
    wrap.append(meter);
    const notes = [];
    if (reserved > 0) notes.push(`${formatNumber(reserved)} reserved for replies in progress`);
    if (pct >= 100) notes.push(`Limit reached: no more ${nouns[1]} this period on your plan.`);
    else if (pct >= 80) notes.push(`${Math.round(pct)}% used.`);
    if (notes.length) wrap.append(el('p', 'usage-meter-note', notes.join(' ')));
  }
  return wrap;
}

/** "Resets on Jan 1, 2027" for the period of /api/usage (its end is the first instant of the next one). */
export function periodText(period) {
  if (!period || !period.end) return '';
  return `Resets on ${formatDate(period.end)}`;
}
