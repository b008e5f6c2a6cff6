// Small helpers shared by the billing pages (pricing, checkout success, billing).
import { api } from './api.js';
import { safeHref } from './page.js';

/** Subscription statuses that give the paid plan (past_due during the grace period). */
export const PAID_STATUSES = new Set(['active', 'trialing', 'past_due']);

export const STATUS_LABELS = {
  active: 'Active',
  trialing: 'Trial',
  past_due: 'Payment overdue',
  canceled: 'Canceled',
  unpaid: 'Unpaid',
  incomplete: 'Awaiting payment',
  incomplete_expired: 'Expired',
  paused: 'Paused',
  none: 'No subscription',
};

/** "pro" → "Pro" (a plan's own name is used where the plan list is known). */
export function planLabel(code, plans = []) {
  if (!code) return 'Free';
  const plan = plans.find((p) => String(p.code).toLowerCase() === String(code).toLowerCase());
  if (plan && plan.name) return plan.name;
  return code.charAt(0).toUpperCase() + code.slice(1).toLowerCase();
}

/** The plan code the user is on now ("free" without a subscription that gives one). */
export function currentPlanCode(sub) {
  if (!sub || !PAID_STATUSES.has(sub.status)) return 'free';
  return String(sub.plan || 'free').toLowerCase();
}

/** Follow a Stripe URL the API returned (Checkout or Customer Portal). */
export function goToStripe(data) {
  const href = data && safeHref(data.url);
  if (!href || href.startsWith('/')) throw new Error('The billing service returned an unexpected answer. Please try again.');
  window.location.assign(href);
}

/** POST /api/billing/portal and go there. */
export async function openPortal() {
  const data = await api('/api/billing/portal', { method: 'POST' });
  goToStripe(data);
}

/** The sentence for a billing error (no_customer, already_subscribed, 503 …). */
export function billingErrorMessage(err) {
  if (err.code === 'no_customer') {
    return 'You do not have a billing account yet. Choose a paid plan on the pricing page to start one.';
  }
  if (err.code === 'already_subscribed') {
    return 'You already have a subscription. Change your plan from the billing page (“Manage billing”).';
  }
  return err.message;
}
