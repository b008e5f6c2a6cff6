/* billing_sql.c — every SQL statement of the billing area. */
#include "billing_sql.h"

static const char *const sql[B_STMT__COUNT] = {
	[B_PLANS] =
		"SELECT p.code, p.name, p.description, p.features::text, p.limit_projects, p.limit_documents,"
		" p.limit_agents, p.limit_monthly_tokens,"
		" coalesce((SELECT json_agg(json_build_object('interval', pp.interval, 'amount', pp.amount,"
		"   'currency', pp.currency) ORDER BY pp.interval = 'year') FROM plan_prices pp"
		"   WHERE pp.plan_code = p.code), '[]')::text"
		" FROM plans p WHERE p.archived_at IS NULL ORDER BY p.sort_order, p.code",

	/* $1 plan $2 interval */
	[B_PRICE] =
		"SELECT p.code, pp.interval IS NOT NULL, pp.stripe_price_id FROM plans p"
		" LEFT JOIN plan_prices pp ON pp.plan_code = p.code AND pp.interval = $2"
		" WHERE p.code = $1 AND p.archived_at IS NULL",

	/* $1 plan $2 interval $3 price id */
	[B_SET_PRICE] =
		"UPDATE plan_prices SET stripe_price_id = $3 WHERE plan_code = $1 AND interval = $2"
		" AND stripe_price_id IS DISTINCT FROM $3",

	[B_CUSTOMER_GET] = "SELECT stripe_customer_id FROM stripe_customers WHERE user_id = $1",

	/* The first customer saved for a user wins. No row: another one was saved first (and may
	 * not be visible to this statement's snapshot yet: read it with B_CUSTOMER_GET). */
	[B_CUSTOMER_SAVE] =
		"INSERT INTO stripe_customers (user_id, stripe_customer_id) VALUES ($1, $2)"
		" ON CONFLICT DO NOTHING RETURNING stripe_customer_id",

	/* checkout.session.completed: $1 user (client_reference_id) $2 customer */
	[B_CUSTOMER_LINK] =
		"INSERT INTO stripe_customers (user_id, stripe_customer_id)"
		" SELECT $1::uuid, $2 WHERE EXISTS (SELECT 1 FROM users WHERE id = $1::uuid)"
		" ON CONFLICT DO NOTHING",

	[B_LIVE_SUBSCRIPTIONS] =
		"SELECT stripe_subscription_id FROM subscriptions WHERE user_id = $1"
		" AND status NOT IN ('canceled', 'incomplete_expired')",

	/* $1 user $2 plan $3 interval: recorded before Stripe is called (the user's checkout lock is held) */
	[B_INTENT_BEGIN] =
		"INSERT INTO checkout_intents (user_id, plan_code, interval) VALUES ($1, $2, $3) RETURNING id",

	/* $1 intent $2 state $3 session id (or NULL) */
	[B_INTENT_FINISH] =
		"UPDATE checkout_intents SET state = $2, stripe_session_id = $3, finished_at = now()"
		" WHERE id = $1 AND state = 'pending'",

	/* $1 seconds: pending intents older than that, with their user and customer (candidates for
	 * the recovery task, which takes the user's checkout lock before touching one). */
	[B_INTENT_STALE] =
		"SELECT i.id, i.user_id, c.stripe_customer_id FROM checkout_intents i"
		" LEFT JOIN stripe_customers c ON c.user_id = i.user_id"
		" WHERE i.state = 'pending' AND i.created_at < now() - make_interval(secs => $1)"
		" ORDER BY i.created_at LIMIT 20",

	/* $1 user: every pending intent of the user is settled (the caller holds the user's lock, so
	 * none of them is running). */
	[B_INTENT_ABANDON] =
		"UPDATE checkout_intents SET state = 'abandoned', finished_at = now()"
		" WHERE user_id = $1 AND state = 'pending'",

	[B_INTENT_ABANDON_ONE] =
		"UPDATE checkout_intents SET state = 'abandoned', finished_at = now() WHERE id = $1 AND state = 'pending'",

	[B_SUBSCRIPTION_CURRENT] =
		"SELECT user_plan(s.user_id), s.status, s.interval, rfc3339(s.current_period_start),"
		" rfc3339(s.current_period_end), s.cancel_at_period_end, rfc3339(s.canceled_at), s.plan_code,"
		" rfc3339(s.grace_until)"
		" FROM subscriptions s WHERE s.user_id = $1"
		" ORDER BY s.status NOT IN ('canceled', 'incomplete_expired') DESC, s.created_at DESC LIMIT 1",

	/* $1 user $2 limit $3 offset. At least one row: the total, with NULLs past the last page. */
	[B_INVOICES] =
		"WITH mine AS (SELECT * FROM invoices WHERE user_id = $1)"
		" SELECT p.id, p.number, p.status, p.amount_due, p.amount_paid, p.amount_refunded,"
		" p.currency, p.hosted_invoice_url, p.invoice_pdf, rfc3339(p.period_start), rfc3339(p.period_end),"
		" rfc3339(p.created), c.total FROM (SELECT count(*) AS total FROM mine) c LEFT JOIN LATERAL"
		" (SELECT * FROM mine ORDER BY created DESC, stripe_invoice_id DESC LIMIT $2 OFFSET $3) p ON true",

	[B_EVENT_SEEN] = "SELECT 1 FROM stripe_events WHERE id = $1",

	/* $1 id $2 type $3 created $4 payload: stored and (in the same transaction) applied */
	[B_EVENT_INSERT] =
		"INSERT INTO stripe_events (id, type, created, payload, processed_at, attempts)"
		" VALUES ($1, $2, $3, $4::jsonb, now(), 1) ON CONFLICT (id) DO NOTHING RETURNING id",

	/* $1 id $2 type $3 created $4 payload $5 error $6 seconds: stored, not applied (retried) */
	[B_EVENT_INSERT_FAILED] =
		"INSERT INTO stripe_events (id, type, created, payload, attempts, last_error, next_attempt_at)"
		" VALUES ($1, $2, $3, $4::jsonb, 1, $5, now() + make_interval(secs => $6))"
		" ON CONFLICT (id) DO NOTHING",

	[B_EVENT_DONE] =
		"UPDATE stripe_events SET processed_at = now(), attempts = attempts + 1, last_error = NULL,"
		" next_attempt_at = NULL WHERE id = $1",

	/* $1 id $2 error $3 seconds until the next attempt */
	[B_EVENT_FAILED] =
		"UPDATE stripe_events SET attempts = attempts + 1, last_error = $2,"
		" next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",

	/* $1 id $2 error: no more automatic attempts (processed_at stays NULL, visible to operators) */
	[B_EVENT_GIVE_UP] =
		"UPDATE stripe_events SET attempts = attempts + 1, last_error = 'gave up: ' || $2,"
		" next_attempt_at = NULL WHERE id = $1",

	[B_EVENT_CLAIM] =
		"SELECT id, payload::text, attempts FROM stripe_events"
		" WHERE processed_at IS NULL AND next_attempt_at <= now()"
		" ORDER BY created, received_at LIMIT 1 FOR UPDATE SKIP LOCKED",

	[B_EVENT_STATE] = "SELECT processed_at IS NOT NULL FROM stripe_events WHERE id = $1",

	/* $1 subscription $2 customer $3 user from metadata (or NULL) $4 plan from metadata (or NULL)
	 * $5 interval (or NULL) $6 status $7 period start $8 period end (unix) $9 cancel_at_period_end
	 * $10 canceled_at $11 ended_at $12 the event's created $13 force $14 price id (or NULL)
	 * $15 grace days of a subscription that becomes past_due.
	 * The plan is the one selling the price, else the metadata's. An older event changes nothing;
	 * one of the same second with another status neither (the tie column says so: the caller asks
	 * Stripe, then forces). */
	[B_SUBSCRIPTION_UPSERT] =
		"WITH owner AS (SELECT u.id AS user_id FROM users u WHERE u.id = coalesce($3::uuid,"
		"   (SELECT c.user_id FROM stripe_customers c WHERE c.stripe_customer_id = $2))),"
		" price AS (SELECT plan_code, interval FROM plan_prices WHERE stripe_price_id = $14),"
		" pl AS (SELECT p.code AS plan_code,"
		"   coalesce($5, (SELECT interval FROM price), 'month') AS interval FROM plans p"
		"   WHERE p.code = coalesce((SELECT plan_code FROM price), $4)),"
		" prev AS (SELECT plan_code, status, last_event_created FROM subscriptions"
		"   WHERE stripe_subscription_id = $1),"
		" up AS (INSERT INTO subscriptions AS s (user_id, stripe_subscription_id, stripe_customer_id, plan_code,"
		"   interval, status, current_period_start, current_period_end, cancel_at_period_end, canceled_at,"
		"   ended_at, past_due_since, grace_until, last_event_created)"
		"   SELECT o.user_id, $1, $2, pl.plan_code, pl.interval, $6, to_timestamp($7::double precision),"
		"   to_timestamp($8::double precision), $9, to_timestamp($10::double precision),"
		"   to_timestamp($11::double precision),"
		"   CASE WHEN $6 = 'past_due' THEN to_timestamp($12::double precision) END,"
		"   CASE WHEN $6 = 'past_due' THEN to_timestamp($12::double precision) + make_interval(days => $15) END,"
		"   $12 FROM owner o, pl"
		"   ON CONFLICT (stripe_subscription_id) DO UPDATE SET plan_code = EXCLUDED.plan_code,"
		"   interval = EXCLUDED.interval, status = EXCLUDED.status,"
		"   current_period_start = EXCLUDED.current_period_start, current_period_end = EXCLUDED.current_period_end,"
		"   cancel_at_period_end = EXCLUDED.cancel_at_period_end, canceled_at = EXCLUDED.canceled_at,"
		"   ended_at = EXCLUDED.ended_at,"
		"   past_due_since = CASE WHEN EXCLUDED.status = 'past_due'"
		"     THEN coalesce(s.past_due_since, EXCLUDED.past_due_since) END,"
		"   grace_until = CASE WHEN EXCLUDED.status = 'past_due'"
		"     THEN coalesce(s.grace_until, EXCLUDED.grace_until) END,"
		"   last_event_created = EXCLUDED.last_event_created, updated_at = now()"
		"   WHERE s.last_event_created < EXCLUDED.last_event_created"
		"   OR (s.last_event_created = EXCLUDED.last_event_created AND ($13::boolean OR s.status = EXCLUDED.status))"
		"   RETURNING s.user_id, s.plan_code, s.status)"
		" SELECT (SELECT user_id FROM owner), up.user_id IS NOT NULL,"
		" up.plan_code IS DISTINCT FROM prev.plan_code OR up.status IS DISTINCT FROM prev.status,"
		" prev.last_event_created = $12::bigint AND prev.status IS DISTINCT FROM $6,"
		" (SELECT plan_code FROM pl) IS NOT NULL"
		" FROM (SELECT 1) one LEFT JOIN up ON true LEFT JOIN prev ON true",

	/* $1 invoice $2 customer $3 subscription $4 charge $5 payment intent $6 number $7 status
	 * $8 amount_due $9 amount_paid $10 currency $11 hosted url $12 pdf $13 period start
	 * $14 period end $15 created $16 the event's created */
	[B_INVOICE_UPSERT] =
		"WITH owner AS (SELECT user_id FROM stripe_customers WHERE stripe_customer_id = $2),"
		" up AS (INSERT INTO invoices AS i (stripe_invoice_id, user_id, stripe_subscription_id, stripe_charge_id,"
		"   stripe_payment_intent_id, number, status, amount_due, amount_paid, currency, hosted_invoice_url,"
		"   invoice_pdf, period_start, period_end, created, last_event_created)"
		"   SELECT $1, o.user_id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
		"   to_timestamp($13::double precision), to_timestamp($14::double precision),"
		"   to_timestamp($15::double precision), $16 FROM owner o"
		"   ON CONFLICT (stripe_invoice_id) DO UPDATE SET stripe_subscription_id = EXCLUDED.stripe_subscription_id,"
		"   stripe_charge_id = coalesce(EXCLUDED.stripe_charge_id, i.stripe_charge_id),"
		"   stripe_payment_intent_id = coalesce(EXCLUDED.stripe_payment_intent_id, i.stripe_payment_intent_id),"
		"   number = coalesce(EXCLUDED.number, i.number), status = EXCLUDED.status,"
		"   amount_due = EXCLUDED.amount_due, amount_paid = EXCLUDED.amount_paid, currency = EXCLUDED.currency,"
		"   hosted_invoice_url = coalesce(EXCLUDED.hosted_invoice_url, i.hosted_invoice_url),"
		"   invoice_pdf = coalesce(EXCLUDED.invoice_pdf, i.invoice_pdf), period_start = EXCLUDED.period_start,"
		"   period_end = EXCLUDED.period_end, last_event_created = EXCLUDED.last_event_created,"
		"   updated_at = now()"
		"   WHERE i.last_event_created <= EXCLUDED.last_event_created RETURNING i.user_id)"
		" SELECT (SELECT user_id FROM owner), (SELECT user_id FROM up)",

	/* $1 charge $2 payment intent $3 invoice (any may be NULL) $4 amount refunded so far */
	[B_INVOICE_REFUND] =
		"UPDATE invoices SET amount_refunded = greatest(amount_refunded, $4::bigint), updated_at = now()"
		" WHERE stripe_invoice_id = $3 OR stripe_charge_id = $1 OR stripe_payment_intent_id = $2"
		" RETURNING id",

	[B_USER_OF_CUSTOMER] =
		"SELECT u.id, u.email, u.name FROM stripe_customers c JOIN users u ON u.id = c.user_id"
		" WHERE c.stripe_customer_id = $1",

	[B_KEY_GET] = "SELECT key_ciphertext, plan_code, blocked, key_alias FROM litellm_keys WHERE user_id = $1",

	/* $1 user $2 ciphertext (hex) $3 alias $4 plan */
	[B_KEY_SAVE] =
		"INSERT INTO litellm_keys (user_id, key_ciphertext, key_alias, plan_code)"
		" VALUES ($1, decode($2, 'hex'), $3, $4)",

	/* $1 user $2 plan $3 blocked */
	[B_KEY_UPDATE] =
		"UPDATE litellm_keys SET plan_code = $2, blocked = $3, updated_at = now() WHERE user_id = $1",

	[B_KEY_DELETE] = "DELETE FROM litellm_keys WHERE user_id = $1",

	/* The plan a user should have on their key, with its LiteLLM parameters. */
	[B_USER_PLAN_PARAMS] =
		"SELECT p.code, p.litellm_models::text, p.litellm_tpm_limit, p.litellm_rpm_limit,"
		" p.litellm_max_budget, p.litellm_budget_duration, u.email"
		" FROM users u JOIN plans p ON p.code = user_plan(u.id) WHERE u.id = $1",

	/* Users whose key disagrees with their plan: a paid plan without a key, or with a key blocked
	 * (or open while the plan lists no model) or on another plan; on the free plan, a key left open
	 * from a paid plan. (Free users get theirs at their first chat, not here.) */
	[B_KEYS_OUT_OF_SYNC] =
		"SELECT u.id FROM users u JOIN plans p ON p.code = user_plan(u.id)"
		" LEFT JOIN litellm_keys k ON k.user_id = u.id"
		" WHERE (EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = u.id) OR k.user_id IS NOT NULL)"
		" AND CASE WHEN p.code = 'free'"
		"   THEN k.user_id IS NOT NULL AND NOT k.blocked AND (k.plan_code <> 'free' OR p.litellm_models = '[]')"
		"   ELSE k.user_id IS NULL OR k.blocked = (p.litellm_models <> '[]') OR k.plan_code <> p.code END"
		" LIMIT 200",
};

const struct db_stmts billing_stmts = {"billing", sql, B_STMT__COUNT};
