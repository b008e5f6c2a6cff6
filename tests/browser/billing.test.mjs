// Pricing → Stripe Checkout (the Stripe stand-in's hosted page) → success page →
// /billing shows the paid plan and the invoice (issue #5). Runs only when
// TG_STRIPE_URL (the stand-in's base URL) is set.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  BASE, TEST_TIMEOUT, assertNoProblems, closeBrowser, closePage, newPage, newUser, url, waitForPath,
} from './lib.mjs';

after(closeBrowser);

const STRIPE = (process.env.TG_STRIPE_URL || '').replace(/\/+$/, '');
const PLAN = process.env.TG_BROWSER_PLAN || 'Pro';
const skip = STRIPE ? false : 'TG_STRIPE_URL is not set (billing stack with the Stripe stand-in)';

test('pricing → checkout → success page → /billing shows the plan and the invoice', { timeout: TEST_TIMEOUT, skip }, async () => {
  const page = await newPage();
  try {
    // signed out: choosing a plan goes through registration first
    await page.goto(url('/pricing'));
    await page.getByRole('link', { name: new RegExp(`^Choose ${PLAN}$`, 'i') }).click();
    await waitForPath(page, /^\/register(\.html)?\?next=/);
    const user = newUser('pay');
    await page.getByLabel('Name', { exact: true }).fill(user.name);
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByLabel('Password', { exact: true }).fill(user.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await waitForPath(page, /^\/pricing/);

    // signed in on free: the plan's button starts Checkout
    await page.getByRole('heading', { name: /^Free/ }).getByText('Current plan').waitFor();
    await page.getByRole('button', { name: new RegExp(`^Upgrade to ${PLAN}$`, 'i') }).click();
    await page.waitForURL((u) => !(String(u).startsWith(BASE) && /^\/pricing/.test(new URL(u).pathname)), { timeout: 30_000 });
    if (!/\/checkout-success/.test(new URL(page.url()).pathname)) {
      // the stand-in's hosted page: complete the payment if it asks for a click
      const pay = page.getByRole('button', { name: /pay|subscribe|complete|confirm|succeed/i }).first();
      if (await pay.isVisible().catch(() => false)) await pay.click();
    }
    await waitForPath(page, '/checkout-success', 60_000);
    await page.getByText(/Your (subscription is active|trial has started)/).waitFor({ timeout: 60_000 });

    await page.goto(url('/billing'));
    await page.locator('#content').waitFor();
    assert.match(await page.locator('#sub-plan').innerText(), new RegExp(PLAN, 'i'));
    await page.locator('#sub-status').filter({ hasText: /Active|Trial/ }).waitFor();
    await page.locator('#invoice-rows tr').first().waitFor({ timeout: 30_000 });
    const links = page.locator('#invoice-rows tr').first().getByRole('link');
    assert.ok(await links.count() >= 1, 'the invoice links to its hosted page or PDF');
    assertNoProblems(page, assert);
  } finally {
    await closePage(page);
  }
});
