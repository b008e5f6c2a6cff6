// The "New project" / "Rename project" dialog (#project-dialog), shared by
// /projects and /project. POST /api/projects or PATCH /api/projects/{id}.
import { api, clearFieldErrors } from './api.js';
import { $, checkForm, handleAuthLoss, withBusy } from './page.js';
import { openDialog, showFormError } from './ui.js';

const dialog = $('#project-dialog');
const form = $('#project-form');
let current = null;   // the project being edited, or null to create
let done = null;      // callback(project, created)

/**
 * Open the dialog to create a project (project null) or edit `project`;
 * onSaved(project, created) runs after a successful save, once the dialog is closed.
 */
export function openProjectDialog(project, onSaved) {
  current = project || null;
  done = onSaved;
  form.reset();
  clearFieldErrors(form);
  $('#project-dialog-title').textContent = current ? 'Rename project' : 'New project';
  $('#project-submit').textContent = current ? 'Save changes' : 'Create project';
  if (current) {
    form.elements.name.value = current.name || '';
    form.elements.description.value = current.description || '';
  }
  openDialog(dialog);
}

for (const b of dialog.querySelectorAll('[data-close]')) b.addEventListener('click', () => dialog.close());

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = checkForm(form);
  if (problem) { showFormError(form, problem); return; }
  clearFieldErrors(form);
  const body = { name: form.elements.name.value.trim(), description: form.elements.description.value.trim() };
  const button = $('#project-submit');
  try {
    const saved = await withBusy(button, () => (current
      ? api(`/api/projects/${encodeURIComponent(current.id)}`, { method: 'PATCH', body })
      : api('/api/projects', { method: 'POST', body })), 'Saving…');
    const created = !current;
    dialog.close();
    if (done) done(saved, created);
  } catch (err) {
    if (handleAuthLoss(err)) return;
    showFormError(form, err);
  }
});
