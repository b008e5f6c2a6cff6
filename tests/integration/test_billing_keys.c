/* test_billing_keys.c — the users' LiteLLM virtual keys (API.md, Billing: created or updated with
 * the plan's limits when a paid plan starts or changes, blocked when it ends): a cancellation blocks
 * the key, a plan change updates it (same key, new limits), account deletion cancels at Stripe and
 * deletes it, and billing keeps working while LiteLLM is down (the key follows, and the pending key job
 * does not hold up other jobs). */
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

START_TEST(cancel_blocks_key)
{
	struct paid p;
	subscribe(&p, "bill-cancel");
	json_object *k = wait_key(p.u.id, false);
	json_object_put(k);
	char *body = xprintf("{\"subscription\": \"%s\"}", p.subscription);
	json_object_put(stripe_ctl_ok("POST", "cancel", body));
	free(body);
	wait_sub_status(&p.u, "canceled");
	struct it_resp *r = get_sub(&p.u);
	expect_str(r, "status", "canceled");
	expect_str(r, "plan", "free");
	expect_rfc3339(r, "canceled_at");
	it_free(r);
	expect_me_plan(&p.u, "free");
	k = wait_key(p.u.id, true);
	json_object_put(k);
	/* a canceled subscription is no obstacle to a new checkout */
	char sid[128];
	checkout_ok(&p.u, "pro", "month", sid, sizeof(sid));
}
END_TEST

START_TEST(plan_change_updates_key)
{
	struct paid p;
	subscribe(&p, "bill-upgrade");
	json_object *k0 = wait_key(p.u.id, false);
	char token[128];
	copy_to(token, sizeof(token), jstr(k0, "token"));
	json_object_put(k0);
	/* the customer upgrades in the portal: Stripe changes the subscription's price */
	json_object *sub = stripe_object(xprintf("/v1/subscriptions/%s", p.subscription));
	const char *si = jstr(json_object_array_get_idx(jget(jget(sub, "items"), "data"), 0), "id");
	ck_assert_ptr_nonnull(si);
	char *form = xprintf("items[0][id]=%s&items[0][price]=price_ent_month&proration_behavior=always_invoice", si);
	struct it_resp *r = stripe_api("POST", xprintf("/v1/subscriptions/%s", p.subscription), form);
	ck_assert_msg(r->status == 200, "subscription update at the stand-in: %ld %.300s", r->status, r->body);
	it_free(r);
	free(form);
	json_object_put(sub);
	stripe_drain();
	int64_t deadline = it_now_ms() + EVENT_WAIT_MS;
	for (;;) {
		r = get_sub(&p.u);
		bool done = it_str(r, "plan") && !strcmp(it_str(r, "plan"), "enterprise");
		if (done || it_now_ms() > deadline) {
			expect_str(r, "plan", "enterprise");
			expect_str(r, "subscribed_plan", "enterprise");
			expect_str(r, "status", "active");
			it_free(r);
			break;
		}
		it_free(r);
		it_sleep_ms(200);
	}
	expect_me_plan(&p.u, "enterprise");
	/* the same key, now with the enterprise parameters */
	deadline = it_now_ms() + KEY_WAIT_MS;
	json_object *k;
	for (;;) {
		k = litellm_key(p.u.id, NULL);
		if (k && json_object_get_int64(jget(k, "tpm_limit")) == 1000000)
			break;
		ck_assert_msg(it_now_ms() < deadline, "the key was not updated to the enterprise limits: %s",
			      k ? json_object_to_json_string(k) : "none");
		json_object_put(k);
		it_sleep_ms(200);
	}
	ck_assert_str_eq(jstr(k, "token"), token);
	ck_assert_int_eq(json_object_get_int64(jget(k, "rpm_limit")), 600);
	ck_assert_int_eq(json_object_array_length(jget(k, "models")), 4);
	ck_assert(!json_object_get_boolean(jget(k, "blocked")));
	json_object_put(k);
	/* the proration invoice is listed too */
	r = it_get("/api/billing/invoices", p.u.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(it_int(r, "total"), 2);
	it_free(r);
}
END_TEST

/* ---- account deletion */

START_TEST(delete_account_cancels_and_deletes_key)
{
	struct paid p;
	subscribe(&p, "bill-del");
	json_object *k = wait_key(p.u.id, false);
	json_object_put(k);
	char *body = xprintf("{\"password\":\"%s\"}", p.u.password);
	struct it_resp *r = it_post("/api/profile/delete-account", p.u.access, body);
	free(body);
	it_expect(r, 204, NULL);
	it_free(r);

	json_object *sub = stripe_object(xprintf("/v1/subscriptions/%s", p.subscription));
	ck_assert_msg(jstr(sub, "status") && !strcmp(jstr(sub, "status"), "canceled"),
		      "the Stripe subscription must be canceled at once, is %s", jstr(sub, "status"));
	json_object_put(sub);

	int64_t deadline = it_now_ms() + KEY_WAIT_MS;
	bool deleted = false;
	for (;;) {
		k = litellm_key(p.u.id, &deleted);
		if (!k && deleted)
			break;
		json_object_put(k);
		ck_assert_msg(it_now_ms() < deadline, "the LiteLLM key of the deleted user still exists after %d ms", KEY_WAIT_MS);
		it_sleep_ms(200);
	}
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM litellm_keys WHERE user_id = '%s'", p.u.id), 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM subscriptions WHERE user_id = '%s'", p.u.id), 0);
	stripe_drain();
}
END_TEST

/* ---- LiteLLM down */

START_TEST(litellm_down_billing_still_works)
{
	struct it_resp *r = litellm_ctl("POST", "down", "{\"down\": true}");
	ck_assert_int_eq(r->status, 200);
	it_free(r);
	struct paid p;
	subscribe(&p, "bill-lldown");
	expect_sub(&p.u, "pro", "active");
	expect_me_plan(&p.u, "pro");
	it_sleep_ms(1500); /* the jobs worker has tried the key at least once */
	ck_assert_msg(litellm_key(p.u.id, NULL) == NULL, "no key can exist while LiteLLM is down");

	/* the key work waiting for LiteLLM must not hold up the other background jobs */
	struct it_user v;
	it_register(&v, "bill-lldown-other");
	char *body = xprintf("{\"email\":\"%s\"}", v.email);
	r = it_post("/api/auth/forgot-password", NULL, body);
	free(body);
	it_expect(r, 202, NULL);
	it_free(r);
	int64_t deadline = it_now_ms() + MAIL_WAIT_MS;
	bool mailed;
	while (!(mailed = mail_to_exists(v.email, "Reset your")) && it_now_ms() < deadline)
		it_sleep_ms(250);

	/* LiteLLM back: the key is made */
	r = litellm_ctl("POST", "down", "{\"down\": false}");
	ck_assert_int_eq(r->status, 200);
	it_free(r);
	json_object *k = wait_key(p.u.id, false);
	ck_assert_int_eq(json_object_get_int64(jget(k, "tpm_limit")), 100000);
	json_object_put(k);
	ck_assert_msg(mailed, "while LiteLLM was down, a password-reset email to %s did not arrive within %d ms:"
			      " the pending LiteLLM key job blocks the jobs queue",
		      v.email, MAIL_WAIT_MS);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("billing_keys");
	TCase *tc = billing_tcase(s, "keys", 60);
	tcase_add_test(tc, cancel_blocks_key);
	tcase_add_test(tc, plan_change_updates_key);
	tcase_add_test(tc, delete_account_cancels_and_deletes_key);

	tc = billing_tcase(s, "litellm_down", 60);
	tcase_add_test(tc, litellm_down_billing_still_works);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
