/* test_billing_stripe.c — the calls to Stripe (API.md, Billing: pinned API version, Idempotency-Key on
 * POSTs, retries on 429/5xx with backoff, one deadline, the key never logged): 500s retried with one
 * key; a lost response replayed; Stripe down → 503 within the deadline; a 429 retried; account
 * deletion refused while Stripe is down; every Stripe request well-formed; and Stripe not configured
 * at all (a second, throwaway stack with TG_STANDINS=0) → 503 billing_unavailable. */
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

/* ---- Stripe failures */

START_TEST(stripe_500_retried)
{
	struct it_user u;
	it_register(&u, "bill-500");
	json_object_put(stripe_ctl_ok("POST", "fail", "{\"count\": 2, \"status\": 500}"));
	int64_t t0 = it_now_ms();
	char sid[128];
	checkout_ok(&u, "pro", "month", sid, sizeof(sid));
	int64_t took = it_now_ms() - t0;
	if (it_timing_checked("two Stripe retries within 5 s"))
		ck_assert_msg(took < 5000, "two retries should take about 1.5 s at most, took %lld ms", (long long)took);

	json_object *reqs = stripe_requests("/v1/customers");
	int n = 0, ok = 0;
	const char *key = NULL;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		if (strcmp(jstr(q, "method"), "POST") || !param_of(q, "email") || strcmp(param_of(q, "email"), u.email))
			continue;
		n++;
		const char *k = jstr(q, "idempotency_key");
		ck_assert_msg(k && *k, "retry without Idempotency-Key");
		if (!key)
			key = k;
		ck_assert_msg(!strcmp(key, k), "a retry must reuse the Idempotency-Key (%s vs %s)", key, k);
		int st = json_object_get_int(jget(q, "status"));
		if (n <= 2)
			ck_assert_msg(st == 500, "attempt %d: the injected 500 expected, got %d", n, st);
		else
			ok += st == 200;
	}
	ck_assert_msg(n == 3 && ok == 1, "POST /v1/customers: 2 failures then 1 success expected, got %d requests", n);
	json_object_put(reqs);
	ck_assert_int_eq(customers_with_email(u.email), 1);
}
END_TEST

START_TEST(stripe_lost_response_one_customer)
{
	/* Stripe executes the request but the response is lost (500 after the work): the retry with
	 * the same key gets the saved response; still one customer. */
	struct it_user u;
	it_register(&u, "bill-lost");
	json_object_put(stripe_ctl_ok("POST", "fail",
				      "{\"count\": 1, \"status\": 500, \"after\": true, \"path\": \"/v1/customers\"}"));
	char sid[128];
	checkout_ok(&u, "pro", "month", sid, sizeof(sid));
	ck_assert_int_eq(customers_with_email(u.email), 1);
	json_object *reqs = stripe_requests("/v1/customers");
	int n = 0, replayed = 0;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		if (strcmp(jstr(q, "method"), "POST") || !param_of(q, "email") || strcmp(param_of(q, "email"), u.email))
			continue;
		n++;
		replayed += json_object_get_boolean(jget(q, "replayed"));
	}
	ck_assert_msg(n == 2 && replayed == 1, "one lost response, one replay expected (got %d requests, %d replayed)", n,
		      replayed);
	json_object_put(reqs);
}
END_TEST

START_TEST(stripe_down_503)
{
	struct it_user u;
	it_register(&u, "bill-down");
	json_object_put(stripe_ctl_ok("POST", "fail", "{\"count\": 10, \"status\": 500}"));
	int64_t t0 = it_now_ms();
	struct it_resp *r = checkout_req(&u, "pro", "month");
	int64_t took = it_now_ms() - t0;
	it_expect(r, 503, "billing_unavailable");
	if (it_timing_checked("the 503 within the outbound deadline (4 s)"))
		ck_assert_msg(took < 4000, "bounded: two retries with backoff (<= ~1.5 s), took %lld ms", (long long)took);
	ck_assert_msg(!strstr(r->body, env_need("TG_STRIPE_SECRET_KEY")), "the secret key leaked");
	it_free(r);
	/* three attempts (the first and two retries), all with one key */
	json_object *reqs = stripe_requests("/v1/customers");
	int n = 0;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		if (!strcmp(jstr(q, "method"), "POST") && param_of(q, "email") && !strcmp(param_of(q, "email"), u.email))
			n++;
	}
	ck_assert_int_eq(n, 3);
	json_object_put(reqs);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM stripe_customers WHERE user_id = '%s'", u.id), 0);
	/* Stripe back: the same user checks out */
	standins_normal();
	char sid[128];
	checkout_ok(&u, "pro", "month", sid, sizeof(sid));
	ck_assert_int_eq(customers_with_email(u.email), 1);
}
END_TEST

START_TEST(stripe_429_retried)
{
	/* API.md: every Stripe call "retries on 429/5xx/network errors with backoff" */
	struct it_user u;
	it_register(&u, "bill-429");
	json_object_put(stripe_ctl_ok("POST", "fail", "{\"count\": 1, \"status\": 429, \"path\": \"/v1/customers\"}"));
	struct it_resp *r = checkout_req(&u, "pro", "month");
	long st = r->status;
	char body[600];
	snprintf(body, sizeof(body), "%.500s", r->body);
	it_free(r);
	json_object *reqs = stripe_requests("/v1/customers");
	int n = 0;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		if (!strcmp(jstr(q, "method"), "POST") && param_of(q, "email") && !strcmp(param_of(q, "email"), u.email))
			n++;
	}
	json_object_put(reqs);
	ck_assert_msg(st == 200 && n == 2,
		      "one 429 from Stripe should be retried (API.md: retries on 429): checkout answered %ld after %d"
		      " POST /v1/customers: %s",
		      st, n, body);
}
END_TEST

START_TEST(delete_account_while_stripe_down)
{
	/* the subscription cannot be canceled: nothing is deleted */
	struct paid p;
	subscribe(&p, "bill-deldown");
	json_object_put(stripe_ctl_ok("POST", "fail", "{\"count\": 10, \"status\": 500}"));
	char *body = xprintf("{\"password\":\"%s\"}", p.u.password);
	struct it_resp *r = it_post("/api/profile/delete-account", p.u.access, body);
	ck_assert_msg(r->status == 503, "delete-account with Stripe down: 503 expected, got %ld %s", r->status, r->body);
	it_free(r);
	standins_normal();
	ck_assert_int_eq(it_login(&p.u), 200);
	expect_sub(&p.u, "pro", "active");
	json_object *sub = stripe_object(xprintf("/v1/subscriptions/%s", p.subscription));
	ck_assert_str_eq(jstr(sub, "status"), "active");
	json_object_put(sub);
	r = it_post("/api/profile/delete-account", p.u.access, body);
	it_expect(r, 204, NULL);
	it_free(r);
	free(body);
	stripe_drain();
}
END_TEST

/* ---- hygiene of every Stripe call */

START_TEST(stripe_requests_well_formed)
{
	json_object *reqs = stripe_requests("/v1/");
	int posts = 0;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		const char *m = jstr(q, "method"), *path = jstr(q, "path");
		ck_assert_msg(json_object_get_boolean(jget(q, "authorization")), "%s %s without Authorization", m, path);
		ck_assert_msg(jstr(q, "stripe_version") && !strcmp(jstr(q, "stripe_version"), STRIPE_VERSION),
			      "%s %s: Stripe-Version %s", m, path, jstr(q, "stripe_version"));
		if (!strcmp(m, "POST")) {
			posts++;
			ck_assert_msg(jstr(q, "idempotency_key") && *jstr(q, "idempotency_key"), "POST %s without Idempotency-Key",
				      path);
		}
	}
	ck_assert_int_gt(posts, 0);
	json_object_put(reqs);
	/* the keys never reach the log */
	const char *log = getenv("TG_LOG_FILE");
	if (log && *log) {
		ck_assert_int_ne(it_sh("grep -qF -- \"$TG_STRIPE_SECRET_KEY\" '%s'", log), 0);
		ck_assert_int_ne(it_sh("grep -qF -- \"$TG_LITELLM_MASTER_KEY\" '%s'", log), 0);
		ck_assert_int_ne(it_sh("grep -qF -- \"$TG_STRIPE_WEBHOOK_SECRET\" '%s'", log), 0);
	}
}
END_TEST

/* ---- Stripe not configured */

static char nostripe_dir[256];

static void nostripe_setup(void)
{
	snprintf(nostripe_dir, sizeof(nostripe_dir), "/tmp/itb-nostripe.%d", (int)getpid());
	fixture_normal();
}

static void nostripe_teardown(void)
{
	if (nostripe_dir[0] && access(nostripe_dir, F_OK) == 0) {
		char *cmd = xprintf("scripts/stack destroy '%s' >/dev/null 2>&1", nostripe_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "test_billing_stripe: could not destroy %s\n", nostripe_dir);
		free(cmd);
	}
	char log[300];
	snprintf(log, sizeof(log), "%s.log", nostripe_dir);
	unlink(log);
}

START_TEST(billing_unavailable_without_stripe)
{
	/* A second, throwaway stack with no stand-ins: tollgate runs without Stripe and LiteLLM. */
	int64_t t0 = it_now_ms();
	int rc = it_sh("env -u TG_STRIPE_URL -u TG_LITELLM_URL -u TG_HTTPS_PORT -u TG_HTTP_PORT TG_STANDINS=0"
		       " TOLLGATE_BIN='%s' scripts/stack start '%s' >'%s.log' 2>&1",
		       it_tollgate_bin(), nostripe_dir, nostripe_dir);
	ck_assert_msg(rc == 0, "second stack did not start:\n%s", it_sh_out("tail -n 30 '%s.log'", nostripe_dir));
	const char *url = it_sh_out(". '%s/stack.env' && printf %%s \"$TG_URL\"", nostripe_dir);
	ck_assert_msg(!strncmp(url, "https://", 8), "no TG_URL in the second stack: %s", url);
	setenv("TG_URL", url, 1); /* this forked test only */
	ck_assert_int_ne(it_sh("grep -q '^stripe_secret_key' '%s/tollgate.conf'", nostripe_dir), 0);

	struct it_user u;
	it_register(&u, "bill-nostripe");
	struct it_resp *r = checkout_req(&u, "pro", "month");
	it_expect(r, 503, "billing_unavailable");
	it_free(r);
	r = it_post("/api/billing/portal", u.access, NULL);
	it_expect(r, 503, "billing_unavailable");
	it_free(r);
	/* body errors still come first */
	r = checkout_req(&u, "free", "month");
	it_expect(r, 422, "validation_failed");
	it_free(r);
	/* what needs no Stripe still works */
	r = it_get("/api/billing/plans", NULL);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 3);
	it_free(r);
	expect_sub(&u, "free", "none");
	r = it_get("/api/billing/invoices", u.access);
	it_expect(r, 200, NULL);
	it_free(r);
	/* a webhook with nothing to verify it against is not accepted */
	r = post_webhook("{\"id\": \"evt_x\", \"type\": \"x\", \"created\": 1}", "t=1,v1=00");
	it_expect(r, 503, "billing_unavailable");
	it_free(r);
	fprintf(stderr, "billing_unavailable_without_stripe: second stack took %lld ms\n", (long long)(it_now_ms() - t0));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("billing_stripe");
	TCase *tc = billing_tcase(s, "stripe_failures", 60);
	tcase_add_test(tc, stripe_500_retried);
	tc = billing_tcase(s, "stripe_lost_response", 60);
	tcase_add_test(tc, stripe_lost_response_one_customer);
	tc = billing_tcase(s, "stripe_down", 60);
	tcase_add_test(tc, stripe_down_503);
	tc = billing_tcase(s, "stripe_429", 60);
	tcase_add_test(tc, stripe_429_retried);
	tc = billing_tcase(s, "stripe_down_delete", 60);
	tcase_add_test(tc, delete_account_while_stripe_down);

	tc = billing_tcase(s, "hygiene", 30);
	tcase_add_test(tc, stripe_requests_well_formed);

	tc = tcase_create("not_configured");
	tcase_set_timeout(tc, 90);
	tcase_add_unchecked_fixture(tc, nostripe_setup, nostripe_teardown);
	tcase_add_test(tc, billing_unavailable_without_stripe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
