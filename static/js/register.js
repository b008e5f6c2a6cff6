// /register — create an account, then go to ?next= (a same-site path) or /app.
import { clearFieldErrors, register, showFieldErrors } from './api.js';
import { $, checkForm, encodeNext, initPage, queryParam, safeNext, withBusy } from './page.js';

const next = safeNext(queryParam('next'), '/app');
const form = $('#register-form');

if (queryParam('next')) {
  $('#login-link').href = `/login?next=${encodeNext(next)}`;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = checkForm(form);
  const email = form.elements.email.value.trim();
  const password = form.elements.password.value;
  if (!problem && password.toLowerCase() === email.toLowerCase()) {
    showFieldErrors(form, { code: 'validation_failed', errors: { password: 'Must not be the same as your email address.' } });
    return;
  }
  if (problem) { showFieldErrors(form, problem); return; }
  clearFieldErrors(form);
  const button = form.querySelector('button[type="submit"]');
  try {
    await withBusy(button, () => register({ name: form.elements.name.value.trim(), email, password }), 'Creating account…');
    window.location.assign(next);
  } catch (err) {
    showFieldErrors(form, err);
  }
});

const user = await initPage();
if (user) window.location.replace(next);
