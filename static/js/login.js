// /login — sign in, then go to ?next= (a same-site path) or /app.
import { clearFieldErrors, login, showFieldErrors, showFormMessage } from './api.js';
import { $, checkForm, encodeNext, initPage, queryParam, safeNext, withBusy } from './page.js';

const next = safeNext(queryParam('next'), '/app');
const form = $('#login-form');

if (queryParam('next')) {
  $('#register-link').href = `/register?next=${encodeNext(next)}`;
}
if (queryParam('signed_out')) showFormMessage(form, 'You have been signed out.', 'info');
else if (queryParam('reset')) showFormMessage(form, 'Your password was changed. Sign in with your new password.', 'success');
else if (queryParam('expired')) showFormMessage(form, 'Your session has ended. Please sign in again.', 'info');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = checkForm(form);
  if (problem) { showFieldErrors(form, problem); return; }
  clearFieldErrors(form);
  const button = form.querySelector('button[type="submit"]');
  try {
    await withBusy(button, () => login(form.elements.email.value.trim(), form.elements.password.value), 'Signing in…');
    window.location.assign(next);
  } catch (err) {
    showFieldErrors(form, err);
    if (err.code === 'invalid_credentials') form.elements.password.value = '';
  }
});

const user = await initPage();
if (user) window.location.replace(next);
