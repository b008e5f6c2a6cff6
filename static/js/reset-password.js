// /reset-password?token=… — set a new password with the emailed token.
import { api, clearFieldErrors, showFieldErrors } from './api.js';
import { $, checkForm, initPage, queryParam, withBusy } from './page.js';

const token = queryParam('token');

const form = $('#reset-form');
const done = $('#reset-done');
const invalid = $('#reset-invalid');

function showInvalid() {
  form.hidden = true;
  invalid.hidden = false;
  invalid.focus();
}

if (!token) {
  showInvalid();
} else {
  form.hidden = false;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = checkForm(form);
  if (problem) { showFieldErrors(form, problem); return; }
  clearFieldErrors(form);
  const button = form.querySelector('button[type="submit"]');
  try {
    await withBusy(button, () => api('/api/auth/reset-password', {
      method: 'POST', body: { token, password: form.elements.password.value }, auth: false,
    }), 'Saving…');
    form.hidden = true;
    done.hidden = false;
    done.focus();
  } catch (err) {
    if (err.code === 'invalid_token' || (err.status === 400 && !err.errors)) showInvalid();
    else showFieldErrors(form, err);
  }
});

initPage();
