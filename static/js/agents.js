// /agents — the user's agents: list, create and edit (name, model from
// GET /api/models, optional project, instructions), delete with confirmation.
// ?new=1 opens "New agent".
import { api, clearFieldErrors } from './api.js';
import { $, checkForm, el, formatDate, handleAuthLoss, queryParam, setPageStatus, withBusy } from './page.js';
import { loadUsage, startShell, toast } from './shell.js';
import { confirmDialog, openDialog, plural, showError, showFormError } from './ui.js';

const PER_PAGE = 50;
const list = $('#agent-list');
const status = $('#agents-status');
const message = $('#agents-message');
const more = $('#agents-more');
const dialog = $('#agent-dialog');
const form = $('#agent-form');
let models = [];
let projects = [];
let page = 1;
let total = 0;
let editing = null;

const modelName = (id) => (models.find((m) => m.id === id) || {}).name || id;
const projectOf = (id) => projects.find((p) => p.id === id) || null;

function render(a) {
  const li = el('li', 'item');
  li.dataset.id = a.id;
  const main = el('div', 'item-main');
  main.append(el('h2', 'item-title', a.name));
  const meta = el('p', 'item-meta');
  meta.append(`Model: ${modelName(a.model)} · `);
  const p = a.project_id ? projectOf(a.project_id) : null;
  if (p) {
    meta.append('Cites ');
    const link = el('a', null, p.name);
    link.href = `/project?id=${encodeURIComponent(p.id)}`;
    meta.append(link);
  } else {
    meta.append(a.project_id ? 'Bound to a project' : 'No project');
  }
  meta.append(` · updated ${formatDate(a.updated_at)}`);
  main.append(meta);
  if (a.system_prompt) {
    const text = a.system_prompt.length > 160 ? `${a.system_prompt.slice(0, 160)}…` : a.system_prompt;
    main.append(el('p', 'item-text small', text));
  }
  li.append(main);
  const actions = el('div', 'item-actions');
  const chat = el('a', 'button button-small', 'Chat');
  chat.href = `/chat?agent=${encodeURIComponent(a.id)}`;
  chat.setAttribute('aria-label', `Chat with ${a.name}`);
  const edit = el('button', 'button-secondary button-small', 'Edit');
  edit.type = 'button';
  edit.setAttribute('aria-label', `Edit ${a.name}`);
  edit.setAttribute('aria-haspopup', 'dialog');
  edit.addEventListener('click', () => openEditor(a));
  const del = el('button', 'button-secondary button-small', 'Delete');
  del.type = 'button';
  del.setAttribute('aria-label', `Delete ${a.name}`);
  del.setAttribute('aria-haspopup', 'dialog');
  del.addEventListener('click', () => remove(a, li));
  actions.append(chat, edit, del);
  li.append(actions);
  return li;
}

function updateStatus() {
  const shown = list.children.length;
  status.textContent = shown === 0 ? 'No agents yet. Create one, then chat with it.' : plural(total, 'agent', 'agents');
  more.hidden = shown >= total;
}

async function load(reset) {
  if (reset) { page = 1; list.replaceChildren(); }
  try {
    const data = await api(`/api/agents?page=${page}&per_page=${PER_PAGE}`);
    const items = (data && data.items) || [];
    for (const a of items) list.append(render(a));
    total = Number(data && data.total) || list.children.length;
    if (!items.length) total = list.children.length;
    message.hidden = true;
    updateStatus();
    return true;
  } catch (err) {
    if (!handleAuthLoss(err)) showError(message, err, { prefix: 'Agents could not be loaded.' });
    return false;
  }
}

/** Models and projects for the pickers; failures are reported, not fatal. */
async function loadChoices() {
  const [m, p] = await Promise.allSettled([api('/api/models'), api('/api/projects?per_page=200')]);
  if (m.status === 'fulfilled') models = (m.value && m.value.items) || [];
  if (p.status === 'fulfilled') projects = (p.value && p.value.items) || [];
  const failed = [m, p].find((x) => x.status === 'rejected');
  if (failed && !handleAuthLoss(failed.reason)) {
    showError(message, failed.reason, { prefix: 'The models or projects could not be loaded.' });
  }
}

function fillSelects(agent) {
  const modelSelect = form.elements.model;
  modelSelect.replaceChildren();
  if (!models.length) modelSelect.append(new Option('No model is available on your plan', ''));
  for (const m of models) modelSelect.append(new Option(m.name || m.id, m.id));
  // An agent made under another plan may use a model this one lacks: keep it visible.
  if (agent && agent.model && !models.some((m) => m.id === agent.model)) {
    modelSelect.append(new Option(`${agent.model} (not on your plan)`, agent.model));
  }
  modelSelect.value = agent ? agent.model : (models[0] ? models[0].id : '');

  const projectSelect = form.elements.project_id;
  projectSelect.replaceChildren(new Option('No project', ''));
  for (const p of projects) projectSelect.append(new Option(p.name, p.id));
  projectSelect.value = (agent && agent.project_id) || '';
}

function openEditor(agent) {
  editing = agent || null;
  form.reset();
  clearFieldErrors(form);
  fillSelects(editing);
  $('#agent-dialog-title').textContent = editing ? `Edit ${editing.name}` : 'New agent';
  $('#agent-submit').textContent = editing ? 'Save changes' : 'Create agent';
  if (editing) {
    form.elements.name.value = editing.name || '';
    form.elements.system_prompt.value = editing.system_prompt || '';
  }
  openDialog(dialog);
}

for (const b of dialog.querySelectorAll('[data-close]')) b.addEventListener('click', () => dialog.close());

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = checkForm(form);
  if (!form.elements.model.value) {
    const errors = (problem && problem.errors) || {};
    errors.model = 'Choose a model.';
    showFormError(form, { code: 'validation_failed', errors });
    return;
  }
  if (problem) { showFormError(form, problem); return; }
  clearFieldErrors(form);
  const body = {
    name: form.elements.name.value.trim(),
    model: form.elements.model.value,
    project_id: form.elements.project_id.value || null,
    system_prompt: form.elements.system_prompt.value,
  };
  const was = editing;
  try {
    const saved = await withBusy($('#agent-submit'), () => (was
      ? api(`/api/agents/${encodeURIComponent(was.id)}`, { method: 'PATCH', body })
      : api('/api/agents', { method: 'POST', body })), 'Saving…');
    dialog.close();
    const li = render(saved);
    const old = list.querySelector(`li[data-id="${CSS.escape(saved.id)}"]`);
    if (old) old.replaceWith(li);
    else { list.prepend(li); total += 1; }
    updateStatus();
    if (!was) loadUsage({ fresh: true }).catch(() => {});
    toast(was ? `Agent “${saved.name}” saved.` : `Agent “${saved.name}” created.`);
    li.querySelector('a, button').focus();
  } catch (err) {
    if (handleAuthLoss(err)) return;
    showFormError(form, err);
  }
});

async function remove(a, li) {
  const ok = await confirmDialog({
    title: `Delete “${a.name}”?`,
    body: 'Its conversations are deleted with it. This cannot be undone.',
    confirmLabel: 'Delete agent',
  });
  if (!ok) return;
  try {
    await api(`/api/agents/${encodeURIComponent(a.id)}`, { method: 'DELETE' });
  } catch (err) {
    if (handleAuthLoss(err)) return;
    if (err.status !== 404) { showError(message, err, { prefix: `“${a.name}” could not be deleted.` }); return; }
  }
  const next = li.nextElementSibling || li.previousElementSibling;
  li.remove();
  total = Math.max(0, total - 1);
  updateStatus();
  loadUsage({ fresh: true }).catch(() => {});
  toast(`Agent “${a.name}” deleted.`);
  const focus = next && next.querySelector('a, button');
  (focus || $('#new-agent')).focus();
}

$('#new-agent').addEventListener('click', () => openEditor(null));
more.addEventListener('click', async () => {
  page += 1;
  await withBusy(more, () => load(false), 'Loading…');
});

const user = await startShell();
if (user) {
  await loadChoices();
  const ok = await load(true);
  setPageStatus('');
  $('#content').hidden = false;
  if (ok && queryParam('new')) {
    history.replaceState(null, '', '/agents');
    openEditor(null);
  }
}
