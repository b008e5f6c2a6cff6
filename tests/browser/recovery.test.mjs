// Account recovery in the browser (issue #4): forgot password → the email
// arrives at the test SMTP server (TG_MAIL_DIR) → open its link → set a new
// password → sign in. Also: the verification link from the welcome email.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  MAIL_DIR, TEST_TIMEOUT, assertNoProblems, closeBrowser, closePage, loginViaUi, newPage, newUser,
  registerViaApi, url, waitForEmailLink, waitForPath,
} from './lib.mjs';

after(closeBrowser);

const skip = MAIL_DIR ? false : 'TG_MAIL_DIR is not set (directory of the test SMTP server\'s .eml files)';

test('forgot password → email link → new password → sign in', { timeout: TEST_TIMEOUT, skip }, async () => {
  const page = await newPage();
  try {
    const user = newUser('reset');
    await registerViaApi(page, user);

    const since = Date.now();
    await page.goto(url('/forgot-password'));
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByText(`If an account exists for ${user.email}`).waitFor();

    const link = await waitForEmailLink(user.email, '/reset-password', { since });
    assert.match(new URL(link).searchParams.get('token') || '', /^[A-Za-z0-9_-]{20,}$/, 'a base64url token');
    await page.goto(link);
    const newPassword = `${user.password}-reset`;
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.getByText('Your password has been changed').waitFor();

    // the link is single-use
    await page.goto(link);
    await page.getByLabel('New password', { exact: true }).fill(`${newPassword}-again`);
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.getByText('This reset link is invalid').waitFor();

    await loginViaUi(page, user.email, newPassword);
    await waitForPath(page, '/app');
    await page.locator('#user-email').filter({ hasText: user.email }).waitFor();
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});

test('the verification link from the registration email verifies the address', { timeout: TEST_TIMEOUT, skip }, async () => {
  const page = await newPage();
  try {
    const user = newUser('verify');
    const since = Date.now();
    await registerViaApi(page, user);
    const link = await waitForEmailLink(user.email, '/verify-email', { since });
    await page.goto(link);
    await page.getByText('is verified').waitFor();

    await loginViaUi(page, user.email, user.password);
    await waitForPath(page, '/app');
    // the first-run checklist ticks "Verify your email address"
    await page.locator('#checklist li[data-step="verify"].done').waitFor({ state: 'attached' });
    assert.equal(await page.locator('#verify-banner').isVisible(), false, 'no "verify your email" banner');
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});
