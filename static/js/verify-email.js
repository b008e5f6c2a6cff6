// /verify-email?token=… — confirm the address, or offer a way to get a new link.
import { api, getUser, setUser } from './api.js';
import { $, initPage, queryParam, setPageStatus, withBusy } from './page.js';

const token = queryParam('token');

function show(id) {
  for (const s of ['#verify-done', '#verify-failed']) $(s).hidden = s !== id;
  setPageStatus('');
  const box = $(id);
  box.focus();
}

async function offerResend(user) {
  const signedIn = $('#resend-signed-in');
  const signedOut = $('#resend-signed-out');
  const already = $('#resend-already');
  signedIn.hidden = !(user && !user.email_verified);
  already.hidden = !(user && user.email_verified);
  signedOut.hidden = !!user;
}

$('#resend-button').addEventListener('click', async (event) => {
  const status = $('#resend-status');
  try {
    await withBusy(event.currentTarget, () => api('/api/auth/resend-verification', { method: 'POST' }), 'Sending…');
    status.textContent = 'A new verification link is on its way. It is valid for 48 hours.';
  } catch (err) {
    status.textContent = err.status === 429
      ? 'A link was sent less than a minute ago. Please check your inbox, or try again in a minute.'
      : err.message;
  }
});

async function verify() {
  if (!token) {
    show('#verify-failed');
    $('#verify-failed-reason').textContent = 'This verification link is incomplete.';
    return;
  }
  setPageStatus('Verifying your email address…', { kind: 'loading' });
  try {
    const user = await api('/api/auth/verify-email', { method: 'POST', body: { token }, auth: false });
    const mine = getUser();
    if (mine && user && mine.id === user.id) setUser(user);
    if (user && user.email) $('#verify-done-email').textContent = user.email;
    show('#verify-done');
  } catch (err) {
    if (err.unavailable) {
      setPageStatus(err.message, { kind: 'error', retry: true });
      return;
    }
    $('#verify-failed-reason').textContent = err.code === 'invalid_token' || err.status === 400
      ? 'This verification link has expired or was already used.'
      : err.message;
    show('#verify-failed');
  }
}

const sessionPromise = initPage();
await verify();
offerResend(await sessionPromise);
