// /forgot-password — ask for a reset link. The API answers 202 whether or not the
// address is known, and so does this page.
import { api, clearFieldErrors, showFieldErrors } from './api.js';
import { $, checkForm, initPage, withBusy } from './page.js';

const form = $('#forgot-form');
const done = $('#forgot-done');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = checkForm(form);
  if (problem) { showFieldErrors(form, problem); return; }
  clearFieldErrors(form);
  const email = form.elements.email.value.trim();
  const button = form.querySelector('button[type="submit"]');
  try {
    await withBusy(button, () => api('/api/auth/forgot-password', { method: 'POST', body: { email }, auth: false }), 'Sending…');
    $('#forgot-done-email').textContent = email;
    form.hidden = true;
    done.hidden = false;
    done.focus();
  } catch (err) {
    showFieldErrors(form, err);
  }
});

$('#forgot-again').addEventListener('click', () => {
  done.hidden = true;
  form.hidden = false;
  form.elements.email.focus();
});

initPage();
