// /project?id=… — one project: rename, its documents (list, create, edit,
// delete), a .txt/.md file read in the browser, and full-text search (?q=)
// with the API's highlighted snippets. ?doc=… opens that document.
import { api, clearFieldErrors } from './api.js';
import { $, el, formatDate, handleAuthLoss, queryParam, setPageStatus, withBusy } from './page.js';
import { openProjectDialog } from './project-dialog.js';
import { loadUsage, startShell, toast } from './shell.js';
import {
  confirmDialog, formatBytes, formatNumber, openDialog, plural, showError, showFormError, snippetFragment,
  utf8Length,
} from './ui.js';

const MAX_BYTES = 1048576;
const PER_PAGE = 50;
const projectId = queryParam('id') || '';
const base = `/api/projects/${encodeURIComponent(projectId)}`;
const list = $('#document-list');
const status = $('#documents-status');
const message = $('#documents-message');
const more = $('#documents-more');
const searchForm = $('#search-form');
const dialog = $('#document-dialog');
const form = $('#document-form');
let project = null;
let page = 1;
let total = 0;
let query = '';
let editing = null;   // the document being edited (with content), or null

// ---------------------------------------------------------------- project

function renderProject(p) {
  project = p;
  document.title = `${p.name} — Tollgate`;
  $('#project-title').textContent = p.name;
  $('#crumb-name').textContent = p.name;
  $('#project-description').textContent = p.description || '';
  $('#project-description').hidden = !p.description;
}

$('#edit-project').addEventListener('click', () => openProjectDialog(project, (saved) => {
  renderProject(saved);
  toast('Project saved.');
}));

// ---------------------------------------------------------------- list and search

function render(d) {
  const li = el('li', 'item');
  li.dataset.id = d.id;
  const main = el('div', 'item-main');
  const title = el('h3', 'item-title');
  const open = el('a', null, d.title || 'Untitled');
  open.href = `/project?id=${encodeURIComponent(projectId)}&doc=${encodeURIComponent(d.id)}`;
  open.addEventListener('click', (e) => { e.preventDefault(); edit(d); });
  title.append(open);
  main.append(title);
  if (typeof d.snippet === 'string' && d.snippet) {
    const p = el('p', 'snippet');
    p.append(snippetFragment(d.snippet));
    main.append(p);
  } else if (d.excerpt) {
    main.append(el('p', 'item-text', d.excerpt.length >= 200 ? `${d.excerpt}…` : d.excerpt));
  }
  main.append(el('p', 'item-meta', `${formatBytes(d.size_bytes)} · updated ${formatDate(d.updated_at, { time: true })}`));
  li.append(main);
  const actions = el('div', 'item-actions');
  const edit1 = el('button', 'button-secondary button-small', 'Edit');
  edit1.type = 'button';
  edit1.setAttribute('aria-label', `Edit ${d.title}`);
  edit1.setAttribute('aria-haspopup', 'dialog');
  edit1.addEventListener('click', () => edit(d));
  const del = el('button', 'button-secondary button-small', 'Delete');
  del.type = 'button';
  del.setAttribute('aria-label', `Delete ${d.title}`);
  del.setAttribute('aria-haspopup', 'dialog');
  del.addEventListener('click', () => remove(d, li));
  actions.append(edit1, del);
  li.append(actions);
  return li;
}

function updateStatus() {
  const shown = list.children.length;
  if (query) {
    status.textContent = shown === 0
      ? `No document matches “${query}”.`
      : `${plural(total, 'document matches', 'documents match')} “${query}”, best first.`;
  } else {
    status.textContent = shown === 0 ? 'No documents yet. Add one: write it, paste it, or load a .txt or .md file.' : '';
  }
  $('#documents-count').textContent = query ? '' : plural(total, 'document', 'documents');
  more.hidden = shown >= total;
}

async function load(reset) {
  if (reset) { page = 1; list.replaceChildren(); }
  const params = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE) });
  if (query) params.set('q', query);
  try {
    const data = await api(`${base}/documents?${params}`);
    const items = (data && data.items) || [];
    for (const d of items) list.append(render(d));
    total = Number(data && data.total) || list.children.length;
    if (!items.length) total = list.children.length;
    message.hidden = true;
    updateStatus();
  } catch (err) {
    if (!handleAuthLoss(err)) showError(message, err, { prefix: 'The documents could not be loaded.' });
  }
}

searchForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  query = searchForm.elements.q.value.trim();
  $('#search-clear').hidden = !query;
  const url = new URL(window.location.href);
  if (query) url.searchParams.set('q', query); else url.searchParams.delete('q');
  history.replaceState(null, '', url.pathname + url.search);
  await withBusy(searchForm.querySelector('button[type="submit"]'), () => load(true));
});
$('#search-clear').addEventListener('click', async () => {
  searchForm.elements.q.value = '';
  searchForm.requestSubmit();
  searchForm.elements.q.focus();
});
more.addEventListener('click', async () => {
  page += 1;
  await withBusy(more, () => load(false), 'Loading…');
});

// ---------------------------------------------------------------- editor

function sizeNote() {
  const bytes = utf8Length(form.elements.content.value);
  const note = $('#document-size');
  note.textContent = `${formatNumber(bytes)} of ${formatNumber(MAX_BYTES)} bytes`;
  note.classList.toggle('field-error', bytes > MAX_BYTES);
  return bytes;
}

function openEditor(doc) {
  editing = doc;
  form.reset();
  clearFieldErrors(form);
  $('#document-dialog-title').textContent = doc ? 'Edit document' : 'New document';
  $('#document-submit').textContent = doc ? 'Save changes' : 'Save document';
  if (doc) {
    form.elements.title.value = doc.title || '';
    form.elements.content.value = doc.content || '';
  }
  sizeNote();
  openDialog(dialog, { focus: doc ? '#document-content' : '#document-title' });
}

async function edit(d) {
  try {
    const doc = await api(`${base}/documents/${encodeURIComponent(d.id)}`);
    openEditor(doc);
  } catch (err) {
    if (!handleAuthLoss(err)) showError(message, err, { prefix: `“${d.title}” could not be opened.` });
  }
}

$('#new-document').addEventListener('click', () => openEditor(null));
for (const b of dialog.querySelectorAll('[data-close]')) b.addEventListener('click', () => dialog.close());
form.elements.content.addEventListener('input', sizeNote);

/** Read a chosen .txt/.md file as UTF-8 (refusing anything else) into the editor. */
$('#document-file').addEventListener('change', (event) => {
  const input = event.currentTarget;
  const file = input.files && input.files[0];
  clearFieldErrors(form);
  if (!file) return;
  const fail = (text) => showFormError(form, { code: 'validation_failed', errors: { content: text } });
  if (!/\.(txt|md|markdown)$/i.test(file.name)) { fail(`“${file.name}” is not a .txt or .md file.`); input.value = ''; return; }
  if (file.size > MAX_BYTES) { fail(`“${file.name}” is ${formatBytes(file.size)}; a document holds at most 1 MiB.`); input.value = ''; return; }
  const reader = new FileReader();
  reader.addEventListener('load', () => {
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(reader.result);
    } catch {
      fail(`“${file.name}” is not UTF-8 text.`);
      return;
    }
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    form.elements.content.value = text;
    if (!form.elements.title.value.trim()) form.elements.title.value = file.name.replace(/\.(txt|md|markdown)$/i, '').slice(0, 200);
    sizeNote();
    $('#document-size').textContent += ` — loaded from ${file.name}`;
  });
  reader.addEventListener('error', () => fail(`“${file.name}” could not be read.`));
  reader.readAsArrayBuffer(file);
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearFieldErrors(form);
  const title = form.elements.title.value.trim();
  const content = form.elements.content.value;
  const errors = {};
  if (!title) errors.title = 'This field is required.';
  if (utf8Length(content) > MAX_BYTES) errors.content = `A document holds at most ${formatNumber(MAX_BYTES)} bytes (1 MiB).`;
  if (Object.keys(errors).length) { showFormError(form, { code: 'validation_failed', errors }); return; }
  const button = $('#document-submit');
  const was = editing;
  try {
    const saved = await withBusy(button, () => (was
      ? api(`${base}/documents/${encodeURIComponent(was.id)}`, { method: 'PATCH', body: { title, content } })
      : api(`${base}/documents`, { method: 'POST', body: { title, content } })), 'Saving…');
    dialog.close();
    const li = render(saved);
    const old = list.querySelector(`li[data-id="${CSS.escape(saved.id)}"]`);
    if (old) old.replaceWith(li);
    else if (!query) { list.prepend(li); total += 1; }
    updateStatus();
    toast(was ? `“${saved.title}” saved.` : `Document “${saved.title}” added.`);
    if (!was) loadUsage({ fresh: true }).catch(() => {});
    if (li.isConnected) li.querySelector('a').focus();
  } catch (err) {
    if (handleAuthLoss(err)) return;
    showFormError(form, err);
  }
});

async function remove(d, li) {
  const ok = await confirmDialog({
    title: `Delete “${d.title}”?`,
    body: 'Agents will no longer find or cite it. This cannot be undone.',
    confirmLabel: 'Delete document',
  });
  if (!ok) return;
  try {
    await api(`${base}/documents/${encodeURIComponent(d.id)}`, { method: 'DELETE' });
  } catch (err) {
    if (handleAuthLoss(err)) return;
    if (err.status !== 404) { showError(message, err, { prefix: `“${d.title}” could not be deleted.` }); return; }
  }
  const next = li.nextElementSibling || li.previousElementSibling;
  li.remove();
  total = Math.max(0, total - 1);
  updateStatus();
  loadUsage({ fresh: true }).catch(() => {});
  toast(`Document “${d.title}” deleted.`);
  const focus = next && next.querySelector('a');
  (focus || $('#new-document')).focus();
}

// ---------------------------------------------------------------- start

const user = await startShell();
if (user) {
  try {
    renderProject(await api(base));
    query = (queryParam('q') || '').trim();
    searchForm.elements.q.value = query;
    $('#search-clear').hidden = !query;
    await load(true);
    setPageStatus('');
    $('#content').hidden = false;
    const doc = queryParam('doc');
    if (doc) edit({ id: doc, title: 'the document' });
  } catch (err) {
    if (!handleAuthLoss(err)) {
      setPageStatus(err.status === 404
        ? 'This project does not exist, or it is not yours. Go back to your projects.'
        : `The project could not be loaded. ${err.message}`, { kind: 'error', retry: err.status !== 404 });
      if (err.status === 404) {
        const a = el('a', 'button button-secondary button-small', 'Your projects');
        a.href = '/projects';
        $('#page-status').append(a);
      }
    }
  }
}
