// Accounts in the browser (issue #3): register → /app → reload stays signed in
// (cookie refresh) → profile: change password → sign out → sign in with the new
// password; protected pages redirect to /login without a session; 375 px.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  TEST_TIMEOUT, assertNoProblems, closeBrowser, closePage, loginViaUi, newPage, newUser, openAccountMenu, pathOf,
  registerViaUi, scrollWidth, signOutViaUi, url, waitForPath,
} from './lib.mjs';

after(closeBrowser);

async function expectSignedInAs(page, user) {
  await page.locator('#user-email').filter({ hasText: user.email }).waitFor();
  await page.locator('#nav-user').filter({ hasText: user.name }).waitFor();
}

test('register, reload, change password, sign out, sign in with the new password', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage();
  try {
    const user = newUser('acct');
    await registerViaUi(page, user);
    await waitForPath(page, '/app');
    await expectSignedInAs(page, user);
    // a new account is unverified: the banner offers a resend
    await page.getByRole('button', { name: 'Resend verification email' }).waitFor();

    // the access token lives in memory only: a reload signs in again through the cookie
    await page.reload();
    await expectSignedInAs(page, user);
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0,
      'nothing is kept in web storage');

    // profile: a wrong current password is reported next to its field
    await page.goto(url('/profile'));
    await page.locator('#content').waitFor();
    const current = page.getByLabel('Current password', { exact: true });
    const fresh = page.getByLabel('New password', { exact: true });
    await current.fill(`${user.password}-wrong`);
    await fresh.fill(`${user.password}-new`);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.locator('#current-password[aria-invalid="true"]').waitFor({ state: 'attached' });
    await page.locator('#current-password-error').waitFor();

    // the right one changes it
    const newPassword = `${user.password}-new`;
    await current.fill(user.password);
    await fresh.fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Your password was changed').waitFor();
    await page.getByText('This device').waitFor();

    // sign out (the account menu)
    await signOutViaUi(page);
    await waitForPath(page, '/login');
    await page.goto(url('/app'));
    await waitForPath(page, '/login');

    // the old password no longer works
    await loginViaUi(page, user.email, user.password);
    await page.getByRole('alert').filter({ hasText: /invalid|incorrect|password/i }).waitFor();
    assert.match(pathOf(page), /^\/login/);

    // the new one does, by keyboard only (Enter submits)
    await page.getByLabel('Password', { exact: true }).fill('');
    await page.getByLabel('Email', { exact: true }).focus();
    await page.keyboard.press('Tab');
    await page.keyboard.type(newPassword);
    await page.keyboard.press('Enter');
    await waitForPath(page, '/app');
    await expectSignedInAs(page, user);
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});

test('protected pages redirect to /login?next=… without a session, and come back after sign-in', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage();
  try {
    for (const p of ['/app', '/profile', '/notifications', '/billing']) {
      await page.goto(url(p));
      await waitForPath(page, /^\/login(\.html)?\?/);
      const next = new URL(page.url()).searchParams.get('next');
      assert.equal(next, p, `redirect from ${p} carries next=${p}`);
    }
    // next must be a same-site path: anything else falls back to /app
    const user = newUser('next');
    await registerViaUi(page, user, encodeURIComponent('//evil.example/x'));
    await waitForPath(page, '/app');
    await signOutViaUi(page);
    await waitForPath(page, '/login');
    await loginViaUi(page, user.email, user.password, '/profile');
    await waitForPath(page, '/profile');
    await page.locator('#content').waitFor();
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});

test('login, register and profile fit 375 px without horizontal scrolling', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage({ width: 375, height: 812 });
  try {
    for (const p of ['/login', '/register']) {
      await page.goto(url(p));
      await page.locator('form').first().waitFor();
      assert.ok(await scrollWidth(page) <= 375, `${p} scrollWidth ${await scrollWidth(page)} > 375`);
    }
    const user = newUser('narrow');
    await registerViaUi(page, user);
    await waitForPath(page, '/app');
    await page.goto(url('/profile'));
    await page.locator('#content').waitFor();
    await page.locator('#session-list li').first().waitFor();
    assert.ok(await scrollWidth(page) <= 375, `/profile scrollWidth ${await scrollWidth(page)} > 375`);
    // the navigation folds behind "Menu" (a drawer) and opens by keyboard
    const menu = page.getByRole('button', { name: 'Menu', exact: true });
    await menu.focus();
    await page.keyboard.press('Enter');
    assert.equal(await menu.getAttribute('aria-expanded'), 'true');
    await page.locator('#app-sidebar').getByRole('link', { name: 'Projects' }).waitFor();
    assert.ok(await scrollWidth(page) <= 375, `/profile with the menu open is wider than 375 px`);
    await page.keyboard.press('Escape');
    assert.equal(await menu.getAttribute('aria-expanded'), 'false');
    // the account menu holds the email and "Sign out"
    await openAccountMenu(page);
    await page.locator('#account-panel').getByText(user.email).waitFor();
    await page.locator('#account-panel').getByRole('button', { name: 'Sign out', exact: true }).waitFor();
    assert.ok(await scrollWidth(page) <= 375, `/profile with the account menu open is wider than 375 px`);
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});
