/* test_billing_subscriptions.c — the subscription's life (API.md, Billing): a payment failure
 * (past_due, the grace period, the notification and email, invoice pages, then free; renewal makes it
 * active again), subscribing again after a cancellation, refunds, and `tollgate stripe replay` (plain,
 * and with events of the same second).
 *
 * Pinned down here where API.md leaves it open: GET /api/billing/subscription also has
 * `subscribed_plan` and, when past_due, `grace_period_end`. */
#include "billing_helpers.h"
#include "itest.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- payment failure, cancellation */

START_TEST(payment_failed_grace_then_free)
{
	struct paid p;
	subscribe(&p, "bill-pf");
	json_object *k = wait_key(p.u.id, false);
	json_object_put(k);
	char *body = xprintf("{\"subscription\": \"%s\"}", p.subscription);
	json_object *o = stripe_ctl_ok("POST", "payment_failed", body);
	free(body);
	json_object *dl = jget(o, "deliveries");
	for (size_t i = 0; i < json_object_array_length(dl); i++)
		ck_assert_msg(json_object_get_boolean(jget(json_object_array_get_idx(dl, i), "ok")), "delivery failed: %s",
			      json_object_to_json_string(o));
	char open_inv[64];
	copy_to(open_inv, sizeof(open_inv), jstr(o, "invoice"));
	json_object_put(o);

	wait_sub_status(&p.u, "past_due");
	struct it_resp *r = get_sub(&p.u);
	expect_str(r, "status", "past_due");
	expect_str(r, "plan", "pro"); /* grace period */
	expect_str(r, "subscribed_plan", "pro");
	expect_rfc3339(r, "grace_period_end");
	time_t grace = parse_rfc3339(it_str(r, "grace_period_end"));
	time_t want = time(NULL) + 7 * 86400;
	ck_assert_msg(grace > want - 300 && grace <= want + 5, "grace_period_end about 7 days from now: %s", r->body);
	it_free(r);
	expect_me_plan(&p.u, "pro");

	/* the failed invoice is listed, unpaid */
	json_object *inv = find_invoice(&p.u, open_inv);
	ck_assert_msg(inv != NULL, "the failed invoice %s should be listed", open_inv);
	ck_assert_str_eq(jstr(inv, "status"), "open");
	ck_assert_int_eq(json_object_get_int64(jget(inv, "amount_paid")), 0);
	ck_assert_int_eq(json_object_get_int64(jget(inv, "amount_due")), 1900);
	json_object_put(inv);

	/* two invoices now, one per page */
	r = it_get("/api/billing/invoices?per_page=1&page=2", p.u.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(it_int(r, "total"), 2);
	ck_assert_int_eq(it_int(r, "page"), 2);
	ck_assert_int_eq(it_int(r, "per_page"), 1);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 1);
	char second[64];
	copy_to(second, sizeof(second), it_str(r, "items.0.id"));
	it_free(r);
	r = it_get("/api/billing/invoices?per_page=1&page=1", p.u.access);
	it_expect(r, 200, NULL);
	ck_assert_msg(it_str(r, "items.0.id") && strcmp(it_str(r, "items.0.id"), second), "pages overlap: %s", r->body);
	it_free(r);
	r = it_get("/api/billing/invoices?per_page=201", p.u.access);
	it_expect(r, 422, "validation_failed");
	it_free(r);

	/* past_due is still a subscription: no second checkout */
	r = checkout_req(&p.u, "pro", "month");
	it_expect(r, 409, "already_subscribed");
	it_free(r);

	/* in-app notification */
	r = it_get("/api/notifications", p.u.access);
	it_expect(r, 200, NULL);
	json_object *items = it_at(r, "items");
	int n = 0;
	for (size_t i = 0; items && i < json_object_array_length(items); i++)
		n += jstr(json_object_array_get_idx(items, i), "kind") &&
		     !strcmp(jstr(json_object_array_get_idx(items, i), "kind"), "payment_failed");
	ck_assert_msg(n == 1, "one payment_failed notification expected: %s", r->body);
	it_free(r);

	/* the email, through the outbox to the SMTP server */
	int64_t deadline = it_now_ms() + MAIL_WAIT_MS;
	while (!mail_to_exists(p.u.email, "payment failed") && it_now_ms() < deadline)
		it_sleep_ms(200);
	ck_assert_msg(mail_to_exists(p.u.email, "payment failed"), "no payment_failed email to %s in %s within %d ms",
		      p.u.email, getenv("TG_MAIL_DIR"), MAIL_WAIT_MS);

	/* still inside the grace period after 6 days */
	it_sql("UPDATE subscriptions SET past_due_since = now() - interval '6 days', grace_until = now() + interval '1 day'"
	       " WHERE user_id = '%s'", p.u.id);
	expect_sub(&p.u, "pro", "past_due");
	/* past it: free */
	it_sql("UPDATE subscriptions SET past_due_since = now() - interval '8 days', grace_until = now() - interval '1 day'"
	       " WHERE user_id = '%s'", p.u.id);
	r = get_sub(&p.u);
	expect_str(r, "plan", "free");
	expect_str(r, "status", "past_due");
	expect_str(r, "subscribed_plan", "pro");
	it_free(r);
	expect_me_plan(&p.u, "free");

	/* the card works again: Stripe collects the open invoice, the subscription is active */
	body = xprintf("{\"subscription\": \"%s\"}", p.subscription);
	json_object_put(stripe_ctl_ok("POST", "renew", body));
	free(body);
	wait_sub_status(&p.u, "active");
	r = get_sub(&p.u);
	expect_str(r, "status", "active");
	expect_str(r, "plan", "pro");
	ck_assert_msg(it_at(r, "grace_period_end") == NULL, "no grace_period_end when active: %s", r->body);
	it_free(r);
	inv = find_invoice(&p.u, open_inv);
	ck_assert_str_eq(jstr(inv, "status"), "paid");
	ck_assert_int_eq(json_object_get_int64(jget(inv, "amount_paid")), 1900);
	json_object_put(inv);
	ck_assert_str_eq(it_sql("SELECT past_due_since IS NULL FROM subscriptions WHERE user_id = '%s'", p.u.id), "t");
}
END_TEST

START_TEST(resubscribe_after_cancel)
{
	/* cancel, then subscribe again (same plan and interval, within the hour): the user must get a
	 * new, open checkout session that can be completed, not the one already paid. */
	struct paid p;
	subscribe(&p, "bill-resub");
	char *body = xprintf("{\"subscription\": \"%s\"}", p.subscription);
	json_object_put(stripe_ctl_ok("POST", "cancel", body));
	free(body);
	wait_sub_status(&p.u, "canceled");
	expect_sub(&p.u, "free", "canceled");

	struct paid again = p;
	checkout_ok(&p.u, "pro", "month", again.session, sizeof(again.session));
	ck_assert_msg(strcmp(again.session, p.session) != 0,
		      "checkout after a cancellation returned the completed session %s again", p.session);
	json_object *s = stripe_object(xprintf("/v1/checkout/sessions/%s", again.session));
	ck_assert_msg(jstr(s, "status") && !strcmp(jstr(s, "status"), "open"), "the new session must be open: %s",
		      jstr(s, "status"));
	json_object_put(s);
	complete_session(&again, true);
	expect_sub(&p.u, "pro", "active");
	json_object *k = wait_key(p.u.id, false);
	json_object_put(k);
}
END_TEST

/* ---- refunds */

static void refund(const char *charge, long long amount)
{
	char *form = amount > 0 ? xprintf("charge=%s&amount=%lld", charge, amount) : xprintf("charge=%s", charge);
	struct it_resp *r = stripe_api("POST", "/v1/refunds", form);
	free(form);
	ck_assert_msg(r->status == 200, "POST /v1/refunds: %ld %.300s", r->status, r->body);
	it_free(r);
	stripe_drain(); /* charge.refunded is delivered in the background */
}

static void wait_refunded(const struct it_user *u, const char *inv, long long want)
{
	int64_t deadline = it_now_ms() + EVENT_WAIT_MS;
	long long v;
	while ((v = invoice_refunded(u, inv)) != want && it_now_ms() < deadline)
		it_sleep_ms(200);
	ck_assert_msg(v == want, "invoice %s: amount_refunded %lld expected, got %lld", inv, want, v);
}

START_TEST(refund_updates_invoice)
{
	struct paid p;
	subscribe(&p, "bill-refund");
	ck_assert_msg(p.charge[0], "the checkout made no charge");
	refund(p.charge, 500);
	wait_refunded(&p.u, p.invoice, 500);
	json_object *inv = find_invoice(&p.u, p.invoice);
	ck_assert_int_eq(json_object_get_int64(jget(inv, "amount_paid")), 1900);
	json_object_put(inv);
	refund(p.charge, 0); /* the rest */
	wait_refunded(&p.u, p.invoice, 1900);
	/* every charge.refunded event for this charge was applied */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM stripe_events WHERE type = 'charge.refunded' AND"
				  " payload->'data'->'object'->>'id' = '%s' AND processed_at IS NOT NULL",
				  p.charge),
			 2);
}
END_TEST

/* ---- replay */

START_TEST(replay_undelivered)
{
	struct paid p;
	memset(&p, 0, sizeof(p));
	it_register(&p.u, "bill-replay");
	json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": false}"));
	checkout_ok(&p.u, "pro", "month", p.session, sizeof(p.session));
	complete_session(&p, false);
	stripe_drain();
	expect_sub(&p.u, "free", "none");
	for (int i = 0; i < p.nevents; i++)
		ck_assert_int_eq(stored_count(p.events[i]), 0);

	const char *out = it_sh_out("'%s' --config '%s' stripe replay --since 72h 2>&1; echo \"exit=$?\"", it_tollgate_bin(),
				    env_need("TG_CONFIG"));
	char *copy = strdup(out);
	ck_assert_msg(strstr(copy, "exit=0"), "stripe replay should exit 0:\n%s", copy);
	for (int i = 0; i < p.nevents; i++)
		ck_assert_msg(strstr(copy, p.events[i]), "replay did not mention %s:\n%s", p.events[i], copy);
	ck_assert_msg(!strstr(copy, env_need("TG_STRIPE_SECRET_KEY")), "replay printed the secret key");
	free(copy);

	struct it_resp *r = get_sub(&p.u);
	expect_str(r, "plan", "pro");
	expect_str(r, "status", "active");
	it_free(r);
	ck_assert_msg(find_invoice(&p.u, p.invoice) != NULL, "the invoice came with the replay");
	for (int i = 0; i < p.nevents; i++)
		ck_assert_str_eq(it_sql("SELECT (processed_at IS NOT NULL) || ' ' || attempts FROM stripe_events WHERE id = '%s'",
					p.events[i]),
				 "true 1");

	/* a second replay finds them applied */
	out = it_sh_out("'%s' --config '%s' stripe replay --since 72h 2>&1; echo \"exit=$?\"", it_tollgate_bin(),
			env_need("TG_CONFIG"));
	ck_assert_msg(strstr(out, "exit=0"), "second replay should exit 0:\n%s", out);

	/* delivery back on: the stand-in delivers what it still holds (duplicates for Tollgate) */
	json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": true}"));
	json_object_put(stripe_ctl_ok("POST", "retry_pending", NULL));
	expect_sub(&p.u, "pro", "active");

	/* bad arguments */
	ck_assert_int_eq(it_sh("'%s' --config '%s' stripe replay --since forever >/dev/null 2>&1", it_tollgate_bin(),
			       env_need("TG_CONFIG")),
			 2);
}
END_TEST

START_TEST(replay_same_second_keeps_latest_state)
{
	/* While webhooks are down a subscription starts and is canceled within the same second. Stripe
	 * lists events newest first; the replay must end in Stripe's state (canceled). */
	struct paid p;
	bool tie = false;
	for (int attempt = 0; attempt < 4 && !tie; attempt++) {
		memset(&p, 0, sizeof(p));
		it_register(&p.u, "bill-replay2");
		json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": false}"));
		checkout_ok(&p.u, "pro", "month", p.session, sizeof(p.session));
		complete_session(&p, false);
		char *body = xprintf("{\"subscription\": \"%s\"}", p.subscription);
		json_object *o = stripe_ctl_ok("POST", "cancel", body);
		free(body);
		json_object *created = standin_event(p.events[1]); /* customer.subscription.created */
		json_object *deleted = standin_event(json_object_get_string(json_object_array_get_idx(jget(o, "events"), 0)));
		ck_assert_str_eq(jstr(created, "type"), "customer.subscription.created");
		ck_assert_str_eq(jstr(deleted, "type"), "customer.subscription.deleted");
		tie = json_object_get_int64(jget(created, "created")) == json_object_get_int64(jget(deleted, "created"));
		json_object_put(created);
		json_object_put(deleted);
		json_object_put(o);
		if (!tie) { /* crossed a second boundary: deliver these and try again */
			json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": true}"));
			json_object_put(stripe_ctl_ok("POST", "retry_pending", NULL));
		}
	}
	ck_assert_msg(tie, "could not make two events in the same second");
	const char *out = it_sh_out("'%s' --config '%s' stripe replay --since 72h 2>&1; echo \"exit=$?\"", it_tollgate_bin(),
				    env_need("TG_CONFIG"));
	char *copy = strdup(out);
	json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": true}"));
	json_object_put(stripe_ctl_ok("POST", "retry_pending", NULL));
	ck_assert_msg(strstr(copy, "exit=0"), "stripe replay should exit 0:\n%s", copy);
	json_object *sub = stripe_object(xprintf("/v1/subscriptions/%s", p.subscription));
	ck_assert_str_eq(jstr(sub, "status"), "canceled");
	json_object_put(sub);
	struct it_resp *r = get_sub(&p.u);
	ck_assert_msg(it_str(r, "status") && !strcmp(it_str(r, "status"), "canceled") && !strcmp(it_str(r, "plan"), "free"),
		      "after the replay the subscription should be canceled (as at Stripe), got %s\nreplay output:\n%s",
		      r->body, copy);
	it_free(r);
	free(copy);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("billing_subscriptions");
	TCase *tc = billing_tcase(s, "lifecycle", 60);
	tcase_add_test(tc, payment_failed_grace_then_free);
	tcase_add_test(tc, resubscribe_after_cancel);
	tcase_add_test(tc, refund_updates_invoice);

	tc = billing_tcase(s, "replay", 60);
	tcase_add_test(tc, replay_undelivered);
	tc = billing_tcase(s, "replay_order", 60);
	tcase_add_test(tc, replay_same_second_keeps_latest_state);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
