// /projects — the user's projects: list (newest first), create, rename, delete
// (with a confirmation that says what goes with it). ?new=1 opens "New project".
import { api } from './api.js';
import { $, el, formatDate, handleAuthLoss, queryParam, setPageStatus } from './page.js';
import { openProjectDialog } from './project-dialog.js';
import { loadUsage, startShell, toast } from './shell.js';
import { confirmDialog, plural, showError } from './ui.js';

const PER_PAGE = 50;
const list = $('#project-list');
const status = $('#projects-status');
const message = $('#projects-message');
const more = $('#projects-more');
let page = 1;
let total = 0;

function projectHref(p) {
  return `/project?id=${encodeURIComponent(p.id)}`;
}

function render(p) {
  const li = el('li', 'item');
  li.dataset.id = p.id;
  const main = el('div', 'item-main');
  const title = el('h2', 'item-title');
  const a = el('a', null, p.name);
  a.href = projectHref(p);
  title.append(a);
  main.append(title);
  if (p.description) main.append(el('p', 'item-text', p.description));
  main.append(el('p', 'item-meta', `${plural(p.document_count || 0, 'document', 'documents')} · updated ${formatDate(p.updated_at)}`));
  li.append(main);

  const actions = el('div', 'item-actions');
  const rename = el('button', 'button-secondary button-small', 'Rename');
  rename.type = 'button';
  rename.setAttribute('aria-label', `Rename ${p.name}`);
  rename.setAttribute('aria-haspopup', 'dialog');
  rename.addEventListener('click', () => openProjectDialog(p, (saved) => {
    const fresh = render(saved);
    li.replaceWith(fresh);
    fresh.querySelector('button').focus();
    toast(`Project “${saved.name}” saved.`);
  }));
  const del = el('button', 'button-secondary button-small', 'Delete');
  del.type = 'button';
  del.setAttribute('aria-label', `Delete ${p.name}`);
  del.setAttribute('aria-haspopup', 'dialog');
  del.addEventListener('click', () => remove(p, li));
  actions.append(rename, del);
  li.append(actions);
  return li;
}

function updateStatus() {
  const shown = list.children.length;
  status.textContent = shown === 0
    ? 'No projects yet. Create one to hold the documents your agents will use.'
    : plural(total, 'project', 'projects');
  more.hidden = shown >= total;
}

async function load(reset) {
  if (reset) { page = 1; list.replaceChildren(); }
  try {
    const data = await api(`/api/projects?page=${page}&per_page=${PER_PAGE}`);
    const items = (data && data.items) || [];
    for (const p of items) list.append(render(p));
    total = Number(data && data.total) || list.children.length;
    if (!items.length) total = list.children.length;
    message.hidden = true;
    updateStatus();
    return true;
  } catch (err) {
    if (!handleAuthLoss(err)) showError(message, err, { prefix: 'Projects could not be loaded.' });
    return false;
  }
}

async function remove(p, li) {
  const ok = await confirmDialog({
    title: `Delete “${p.name}”?`,
    body: `Its ${plural(p.document_count || 0, 'document', 'documents')} will be deleted too, and agents bound to it will no longer cite anything. This cannot be undone.`,
    confirmLabel: 'Delete project',
  });
  if (!ok) return;
  try {
    await api(`/api/projects/${encodeURIComponent(p.id)}`, { method: 'DELETE' });
  } catch (err) {
    if (handleAuthLoss(err)) return;
    if (err.status !== 404) { showError(message, err, { prefix: `“${p.name}” could not be deleted.` }); return; }
  }
  const next = li.nextElementSibling || li.previousElementSibling;
  li.remove();
  total = Math.max(0, total - 1);
  updateStatus();
  loadUsage({ fresh: true }).catch(() => {});
  toast(`Project “${p.name}” deleted.`);
  const focus = next && next.querySelector('a');
  (focus || $('#new-project')).focus();
}

function create() {
  openProjectDialog(null, (p) => {
    const li = render(p);
    list.prepend(li);
    total += 1;
    updateStatus();
    loadUsage({ fresh: true }).catch(() => {});
    toast(`Project “${p.name}” created.`);
    li.querySelector('a').focus();
  });
}

$('#new-project').addEventListener('click', create);
more.addEventListener('click', async () => {
  page += 1;
  more.disabled = true;
  await load(false);
  more.disabled = false;
});

const user = await startShell();
if (user) {
  const ok = await load(true);
  setPageStatus('');
  $('#content').hidden = false;
  if (ok && queryParam('new')) {
    history.replaceState(null, '', '/projects');
    create();
  }
}
