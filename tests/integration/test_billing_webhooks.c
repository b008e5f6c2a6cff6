/* test_billing_webhooks.c — POST /api/webhooks/stripe (API.md, Billing): each event of a checkout
 * delivered 5 more times and shuffled; one event posted 8 times in parallel; the first delivery in
 * reverse order; older / equal / newer `created`; bad signatures (missing, wrong secret, tampered,
 * outside the tolerance, malformed) store nothing; an unknown type is stored and acknowledged; an
 * event of an unknown customer is applied later by the jobs worker; webhook secret rotation (the
 * "rotation" TCase appends a second secret to the stack's tollgate.conf and reloads tollgate; the
 * original file is restored and reloaded, also by the fixture when the test fails).
 *
 * Pinned down here where API.md leaves it open: an event whose `created` equals the last applied one
 * for the same subscription IS applied (the server keeps the state of the event with the greatest
 * `created`, ties go to the later arrival); an older one is stored, acknowledged, marked processed and
 * changes nothing. */
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

/* ---- duplicates and order */

static void shuffle(int *a, int n)
{
	for (int i = n - 1; i > 0; i--) {
		unsigned char b;
		int fd = open("/dev/urandom", O_RDONLY);
		ck_assert_int_eq(read(fd, &b, 1), 1);
		close(fd);
		int j = b % (i + 1), t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

START_TEST(duplicates_and_shuffled)
{
	struct paid p;
	subscribe(&p, "bill-dup");
	stripe_drain(); /* customer.created of this user, delivered in the background */
	expect_sub(&p.u, "pro", "active");
	char *before = billing_snapshot(p.u.id);

	/* each event of the checkout 5 more times through the stand-in (fresh signatures each time) */
	for (int i = 0; i < p.nevents; i++) {
		char *body = xprintf("{\"event\": \"%s\", \"times\": 5}", p.events[i]);
		json_object *o = stripe_ctl_ok("POST", "deliver", body);
		free(body);
		json_object *res = jget(o, "results");
		ck_assert_int_eq(json_object_array_length(res), 5);
		for (size_t k = 0; k < 5; k++)
			ck_assert_int_eq(json_object_get_int(jget(json_object_array_get_idx(res, k), "status")), 200);
		json_object_put(o);
	}
	/* and posted by us, shuffled, three rounds: each answered 200 duplicate */
	json_object *evs[8];
	for (int i = 0; i < p.nevents; i++)
		evs[i] = standin_event(p.events[i]);
	for (int round = 0; round < 3; round++) {
		int order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
		shuffle(order, p.nevents);
		for (int i = 0; i < p.nevents; i++)
			post_event_expect(evs[order[i]], true);
	}
	for (int i = 0; i < p.nevents; i++)
		json_object_put(evs[i]);

	char *after = billing_snapshot(p.u.id);
	ck_assert_msg(!strcmp(before, after), "state changed by duplicates:\nbefore %s\nafter  %s", before, after);
	free(before);
	free(after);
	for (int i = 0; i < p.nevents; i++) {
		char *row = sql_text("SELECT count(*) || ' ' || min(attempts) || ' ' || bool_and(processed_at IS NOT NULL)"
				     " || ' ' || bool_and(last_error IS NULL) FROM stripe_events WHERE id = '%s'",
				     p.events[i]);
		ck_assert_msg(!strcmp(row, "1 1 true true"), "event %s: one row, applied once (count attempts processed noerror): %s",
			      p.events[i], row);
		free(row);
	}
	expect_sub(&p.u, "pro", "active");
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM invoices WHERE user_id = '%s'", p.u.id), 1);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM subscriptions WHERE user_id = '%s'", p.u.id), 1);
}
END_TEST

struct dup_post {
	const char *body;
	long status;
	int duplicate; /* -1 unknown */
};

static void *post_dup(void *arg)
{
	struct dup_post *d = arg;
	struct it_resp *r = post_signed(d->body);
	d->status = r->status;
	json_object *v = it_at(r, "duplicate");
	d->duplicate = r->json ? (v && json_object_get_boolean(v)) : -1;
	it_free(r);
	return NULL;
}

START_TEST(parallel_same_event_applied_once)
{
	struct paid p;
	subscribe(&p, "bill-par");
	json_object *sub = stripe_object(xprintf("/v1/subscriptions/%s", p.subscription));
	long long last = it_sql_long("SELECT last_event_created FROM subscriptions WHERE stripe_subscription_id = '%s'",
				  p.subscription);
	json_object_object_add(sub, "cancel_at_period_end", json_object_new_boolean(1));
	char id[64];
	json_object *ev = make_event("customer.subscription.updated", sub, last + 1, id, sizeof(id));
	char *body = strdup(event_text(ev));
	enum { N = 8 };
	struct dup_post d[N];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		d[i] = (struct dup_post){.body = body};
		ck_assert_int_eq(pthread_create(&th[i], NULL, post_dup, &d[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	int fresh = 0;
	for (int i = 0; i < N; i++) {
		ck_assert_msg(d[i].status == 200, "parallel delivery %d: %ld", i, d[i].status);
		fresh += d[i].duplicate == 0;
	}
	ck_assert_int_eq(fresh, 1);
	ck_assert_str_eq(it_sql("SELECT count(*) || ' ' || attempts || ' ' || (processed_at IS NOT NULL) FROM stripe_events"
				" WHERE id = '%s' GROUP BY attempts, processed_at", id),
			 "1 1 true");
	struct it_resp *r = get_sub(&p.u);
	ck_assert(it_bool(r, "cancel_at_period_end"));
	expect_str(r, "plan", "pro");
	it_free(r);
	free(body);
	json_object_put(ev);
}
END_TEST

START_TEST(first_delivery_in_reverse_order)
{
	/* Stripe may deliver in any order: the checkout's events arrive newest first. */
	struct paid p;
	memset(&p, 0, sizeof(p));
	it_register(&p.u, "bill-rev");
	json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": false}"));
	checkout_ok(&p.u, "pro", "month", p.session, sizeof(p.session));
	complete_session(&p, false);
	expect_sub(&p.u, "free", "none");
	for (int i = p.nevents - 1; i >= 0; i--) {
		json_object *ev = standin_event(p.events[i]);
		post_event_expect(ev, false);
		json_object_put(ev);
	}
	json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": true}"));
	expect_sub(&p.u, "pro", "active");
	json_object *inv = find_invoice(&p.u, p.invoice);
	ck_assert_msg(inv != NULL, "invoice %s missing", p.invoice);
	ck_assert_int_eq(json_object_get_int64(jget(inv, "amount_paid")), 1900);
	json_object_put(inv);
	for (int i = 0; i < p.nevents; i++)
		ck_assert_str_eq(it_sql("SELECT (processed_at IS NOT NULL) || ' ' || attempts FROM stripe_events WHERE id = '%s'",
					p.events[i]),
				 "true 1");
	json_object *k = wait_key(p.u.id, false);
	json_object_put(k);
	/* let the stand-in know they were delivered (duplicates now), so nothing stays pending */
	for (int i = 0; i < p.nevents; i++) {
		char *body = xprintf("{\"event\": \"%s\", \"times\": 1}", p.events[i]);
		json_object_put(stripe_ctl_ok("POST", "deliver", body));
		free(body);
	}
	json_object_put(stripe_ctl_ok("POST", "retry_pending", NULL));
}
END_TEST

START_TEST(older_event_never_rolls_back)
{
	struct paid p;
	subscribe(&p, "bill-old");
	char *path = xprintf("/v1/subscriptions/%s", p.subscription);
	long long last = it_sql_long("SELECT last_event_created FROM subscriptions WHERE stripe_subscription_id = '%s'",
				  p.subscription);
	ck_assert_int_gt(last, 0);

	/* older and canceled: stored, acknowledged, changes nothing */
	json_object *sub = stripe_object(path);
	json_object_object_add(sub, "status", json_object_new_string("canceled"));
	json_object_object_add(sub, "canceled_at", json_object_new_int64(last - 100));
	json_object_object_add(sub, "ended_at", json_object_new_int64(last - 100));
	char old_id[64];
	json_object *ev = make_event("customer.subscription.updated", sub, last - 100, old_id, sizeof(old_id));
	char *before = billing_snapshot(p.u.id);
	post_event_expect(ev, false);
	json_object_put(ev);
	ck_assert_int_eq(stored_count(old_id), 1);
	char *after = billing_snapshot(p.u.id);
	ck_assert_msg(!strcmp(before, after), "an older event changed the state:\nbefore %s\nafter  %s", before, after);
	free(before);
	free(after);
	expect_sub(&p.u, "pro", "active");
	expect_me_plan(&p.u, "pro");

	/* equal `created`: observed rule — applied (ties go to the later arrival) */
	sub = stripe_object(path);
	json_object_object_add(sub, "cancel_at_period_end", json_object_new_boolean(1));
	json_object_object_add(sub, "canceled_at", json_object_new_int64(last));
	ev = make_event("customer.subscription.updated", sub, last, NULL, 0);
	post_event_expect(ev, false);
	json_object_put(ev);
	struct it_resp *r = get_sub(&p.u);
	ck_assert_msg(it_bool(r, "cancel_at_period_end"), "an event with equal created is applied: %s", r->body);
	expect_str(r, "status", "active");
	it_free(r);

	/* newer and canceled: applied */
	sub = stripe_object(path);
	json_object_object_add(sub, "status", json_object_new_string("canceled"));
	json_object_object_add(sub, "canceled_at", json_object_new_int64(last + 10));
	json_object_object_add(sub, "ended_at", json_object_new_int64(last + 10));
	ev = make_event("customer.subscription.deleted", sub, last + 10, NULL, 0);
	post_event_expect(ev, false);
	json_object_put(ev);
	r = get_sub(&p.u);
	expect_str(r, "status", "canceled");
	expect_str(r, "plan", "free");
	expect_rfc3339(r, "canceled_at");
	it_free(r);

	/* a later-arriving but older "active" does not resurrect it */
	sub = stripe_object(path);
	json_object_object_add(sub, "status", json_object_new_string("active"));
	json_object_object_add(sub, "cancel_at_period_end", json_object_new_boolean(0));
	ev = make_event("customer.subscription.updated", sub, last + 5, NULL, 0);
	post_event_expect(ev, false);
	json_object_put(ev);
	expect_sub(&p.u, "free", "canceled");
	ck_assert_int_eq(it_sql_long("SELECT last_event_created FROM subscriptions WHERE stripe_subscription_id = '%s'",
				  p.subscription),
			 last + 10);
	free(path);
}
END_TEST

/* ---- signatures, unknown events */

START_TEST(bad_signatures_store_nothing)
{
	json_object *obj = json_tokener_parse("{\"id\": \"x_sig\", \"object\": \"thing\"}");
	char id[64];
	json_object *ev = make_event("tollgate.test.signature", obj, (long long)time(NULL), id, sizeof(id));
	char *body = strdup(event_text(ev));
	const char *secret = webhook_secret();
	char hex[65], sig[512];
	long long now = (long long)time(NULL);

	/* missing header */
	struct it_resp *r = post_webhook(body, NULL);
	it_expect(r, 400, "invalid_signature");
	it_free(r);

	/* wrong secret */
	hmac_hex("whsec_not_the_right_one", now, body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", now, hex);
	r = post_webhook(body, sig);
	it_expect(r, 400, "invalid_signature");
	it_free(r);

	/* tampered body (signature over the original) */
	hmac_hex(secret, now, body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", now, hex);
	char *tampered = strdup(body);
	char *t = strstr(tampered, "tollgate.test.signature");
	ck_assert_ptr_nonnull(t);
	t[0] = 'T';
	r = post_webhook(tampered, sig);
	it_expect(r, 400, "invalid_signature");
	it_free(r);
	free(tampered);

	/* signed timestamp altered (signature for another t) */
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", now - 1, hex);
	r = post_webhook(body, sig);
	it_expect(r, 400, "invalid_signature");
	it_free(r);

	/* 301 s in the past; 302 s in the future (one more second: the request may cross a second
	 * boundary before the server reads its clock) */
	long long olds[] = {(long long)time(NULL) - 301, (long long)time(NULL) + 302, (long long)time(NULL) - 3600};
	for (int i = 0; i < 3; i++) {
		hmac_hex(secret, olds[i], body, strlen(body), hex);
		snprintf(sig, sizeof(sig), "t=%lld,v1=%s", olds[i], hex);
		r = post_webhook(body, sig);
		it_expect(r, 400, "invalid_signature");
		it_free(r);
	}

	/* malformed headers */
	hmac_hex(secret, now, body, strlen(body), hex);
	char *malformed[] = {
		xprintf("v1=%s", hex),                /* no t */
		xprintf("t=%lld", now),               /* no v1 */
		xprintf("t=%lld,v0=%s", now, hex),    /* another scheme only */
		xprintf("t=abc,v1=%s", hex),          /* t not a number */
		xprintf("t=%lld,v1=%.63s", now, hex), /* truncated */
		xprintf("garbage"),
		xprintf("%s", ""),
	};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		r = post_webhook(body, malformed[i]);
		ck_assert_msg(r->status == 400 && it_code(r) && !strcmp(it_code(r), "invalid_signature"),
			      "header '%s': 400 invalid_signature expected, got %ld %s", malformed[i], r->status, r->body);
		it_free(r);
		free(malformed[i]);
	}
	ck_assert_int_eq(stored_count(id), 0);

	/* correctly signed but not JSON */
	const char *junk = "this is not an event";
	hmac_hex(secret, now, junk, strlen(junk), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", now, hex);
	r = post_webhook(junk, sig);
	it_expect(r, 400, "invalid_json");
	it_free(r);

	/* the same body correctly signed is accepted: with extra v1 values and another scheme around it */
	now = (long long)time(NULL);
	hmac_hex(secret, now, body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%064d,v0=abc,v1=%s", now, 0, hex);
	r = post_webhook(body, sig);
	it_expect(r, 200, NULL);
	it_free(r);
	ck_assert_int_eq(stored_count(id), 1);

	/* within the tolerance (290 s old, 290 s ahead) is accepted */
	for (int i = 0; i < 2; i++) {
		char id2[64];
		json_object *ev2 = make_event("tollgate.test.signature", json_tokener_parse("{\"id\": \"x\"}"),
					      (long long)time(NULL), id2, sizeof(id2));
		const char *b2 = event_text(ev2);
		long long ts = (long long)time(NULL) + (i ? 290 : -290);
		hmac_hex(secret, ts, b2, strlen(b2), hex);
		snprintf(sig, sizeof(sig), "t=%lld,v1=%s", ts, hex);
		r = post_webhook(b2, sig);
		it_expect(r, 200, NULL);
		it_free(r);
		ck_assert_int_eq(stored_count(id2), 1);
		json_object_put(ev2);
	}
	free(body);
	json_object_put(ev);
}
END_TEST

START_TEST(unknown_event_type_stored)
{
	json_object *obj = json_tokener_parse("{\"id\": \"prod_itest\", \"object\": \"product\", \"name\": \"X\"}");
	char id[64];
	json_object *ev = make_event("product.updated", obj, (long long)time(NULL), id, sizeof(id));
	post_event_expect(ev, false);
	ck_assert_str_eq(it_sql("SELECT type || ' ' || (processed_at IS NOT NULL) || ' ' || attempts || ' ' ||"
				" (last_error IS NULL) FROM stripe_events WHERE id = '%s'",
				id),
			 "product.updated true 1 true");
	post_event_expect(ev, true);
	json_object_put(ev);
}
END_TEST

START_TEST(unknown_customer_applied_later)
{
	struct it_user u;
	it_register(&u, "bill-ghost");
	char tok[17];
	rand_token(tok, 16);
	long long now = (long long)time(NULL);
	char *obj_text = xprintf(
		"{\"id\": \"sub_ghost%s\", \"object\": \"subscription\", \"customer\": \"cus_ghost%s\","
		" \"status\": \"active\", \"cancel_at_period_end\": false, \"canceled_at\": null, \"ended_at\": null,"
		" \"current_period_start\": %lld, \"current_period_end\": %lld, \"metadata\": {}, \"created\": %lld,"
		" \"items\": {\"object\": \"list\", \"data\": [{\"id\": \"si_ghost%s\", \"object\": \"subscription_item\","
		" \"quantity\": 1, \"price\": {\"id\": \"price_pro_month\", \"object\": \"price\", \"currency\": \"usd\","
		" \"unit_amount\": 1900, \"recurring\": {\"interval\": \"month\", \"interval_count\": 1}}}]}}",
		tok, tok, now, now + 30 * 86400, now, tok);
	json_object *obj = json_tokener_parse(obj_text);
	free(obj_text);
	ck_assert_ptr_nonnull(obj);
	char id[64];
	json_object *ev = make_event("customer.subscription.created", obj, now, id, sizeof(id));
	post_event_expect(ev, false);
	ck_assert_str_eq(it_sql("SELECT (processed_at IS NULL) || ' ' || (last_error IS NOT NULL AND last_error <> '')"
				" || ' ' || attempts || ' ' || (next_attempt_at > now()) FROM stripe_events WHERE id = '%s'",
				id),
			 "true true 1 true");
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM subscriptions WHERE stripe_subscription_id = 'sub_ghost%s'", tok), 0);
	/* a duplicate of a stored-but-unapplied event is still a duplicate */
	post_event_expect(ev, true);
	json_object_put(ev);

	/* link the customer to our user, make the retry due now: the jobs worker applies it */
	it_sql("INSERT INTO stripe_customers (user_id, stripe_customer_id) VALUES ('%s', 'cus_ghost%s')", u.id, tok);
	it_sql("UPDATE stripe_events SET next_attempt_at = now() WHERE id = '%s' AND processed_at IS NULL", id);
	int64_t deadline = it_now_ms() + EVENT_WAIT_MS;
	while (strcmp(it_sql("SELECT processed_at IS NOT NULL FROM stripe_events WHERE id = '%s'", id), "t") &&
	       it_now_ms() < deadline)
		it_sleep_ms(200);
	ck_assert_str_eq(it_sql("SELECT (processed_at IS NOT NULL) || ' ' || coalesce(last_error, '-') || ' ' || attempts"
				" FROM stripe_events WHERE id = '%s'",
				id),
			 "true - 2");
	struct it_resp *r = get_sub(&u);
	expect_str(r, "plan", "pro");
	expect_str(r, "status", "active");
	expect_str(r, "interval", "month");
	it_free(r);
	json_object *k = wait_key(u.id, false);
	json_object_put(k);
}
END_TEST

/* ---- rotation of the webhook secret */

static char conf_backup[1100];

static void rotation_setup(void)
{
	const char *conf = getenv("TG_CONFIG");
	conf_backup[0] = '\0';
	if (conf && *conf) {
		snprintf(conf_backup, sizeof(conf_backup), "%s.itb-rotation", conf);
		char *cmd = xprintf("cp -p '%s' '%s'", conf, conf_backup);
		if (system(cmd) != 0)
			conf_backup[0] = '\0';
		free(cmd);
	}
	fixture_normal();
}

static void reload_tollgate(void)
{
	char *cmd = xprintf("scripts/stack reload '%s' >/dev/null 2>&1", it_stack_dir());
	if (system(cmd) != 0)
		fprintf(stderr, "test_billing_webhooks: scripts/stack reload failed\n");
	free(cmd);
}

static void rotation_teardown(void)
{
	const char *conf = getenv("TG_CONFIG");
	if (conf_backup[0] && conf && access(conf_backup, F_OK) == 0) {
		char *cmd = xprintf("cmp -s '%s' '%s' || { cp -p '%s' '%s' && scripts/stack reload '%s' >/dev/null 2>&1; };"
				    " rm -f '%s'",
				    conf, conf_backup, conf_backup, conf, it_stack_dir(), conf_backup);
		if (system(cmd) != 0)
			fprintf(stderr, "test_billing_webhooks: could not restore %s\n", conf);
		free(cmd);
		it_sleep_ms(1000);
	}
	standins_normal();
}

/* Posts a fresh event signed with secret; returns the status. */
static long post_fresh_signed_with(const char *secret)
{
	json_object *ev = make_event("tollgate.test.rotation", json_tokener_parse("{\"id\": \"x\"}"), (long long)time(NULL),
				     NULL, 0);
	const char *body = event_text(ev);
	char hex[65], sig[160];
	long long t = (long long)time(NULL);
	hmac_hex(secret, t, body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", t, hex);
	struct it_resp *r = post_webhook(body, sig);
	long st = r->status;
	it_free(r);
	json_object_put(ev);
	return st;
}

static void wait_status_with(const char *secret, long want)
{
	int64_t deadline = it_now_ms() + 15000;
	long st;
	while ((st = post_fresh_signed_with(secret)) != want && it_now_ms() < deadline)
		it_sleep_ms(250);
	ck_assert_msg(st == want, "an event signed with the %s secret: %ld expected, got %ld",
		      strcmp(secret, webhook_secret()) ? "rotated" : "current", want, st);
}

START_TEST(webhook_secret_rotation)
{
	const char *conf = env_need("TG_CONFIG");
	char tok[33], newsecret[64];
	rand_token(tok, 32);
	snprintf(newsecret, sizeof(newsecret), "whsec_rot%s", tok);
	char *file = xprintf("%s/secrets/itb_rotation_secrets", it_stack_dir());
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s %s\n", webhook_secret(), newsecret);
	fclose(f);
	chmod(file, 0600);
	ck_assert_int_eq(post_fresh_signed_with(newsecret), 400);
	f = fopen(conf, "a");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "stripe_webhook_secrets_file = %s\n", file);
	fclose(f);
	reload_tollgate();
	wait_status_with(newsecret, 200);
	ck_assert_int_eq(post_fresh_signed_with(webhook_secret()), 200);
	/* one v1 per secret, as Stripe sends during a rotation */
	json_object *ev = make_event("tollgate.test.rotation", json_tokener_parse("{\"id\": \"y\"}"), (long long)time(NULL),
				     NULL, 0);
	const char *body = event_text(ev);
	char h1[65], h2[65], sig[256];
	long long t = (long long)time(NULL);
	hmac_hex(webhook_secret(), t, body, strlen(body), h1);
	hmac_hex(newsecret, t, body, strlen(body), h2);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s,v1=%s", t, h2, h1);
	struct it_resp *r = post_webhook(body, sig);
	it_expect(r, 200, NULL);
	it_free(r);
	json_object_put(ev);

	/* back to one secret: the rotated one is refused again */
	char *cmd = xprintf("cp -p '%s' '%s'", conf_backup, conf);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	reload_tollgate();
	wait_status_with(newsecret, 400);
	ck_assert_int_eq(post_fresh_signed_with(webhook_secret()), 200);
	unlink(file);
	free(file);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("billing_webhooks");
	TCase *tc = billing_tcase(s, "events", 60);
	tcase_add_test(tc, duplicates_and_shuffled);
	tcase_add_test(tc, parallel_same_event_applied_once);
	tcase_add_test(tc, older_event_never_rolls_back);
	tcase_add_test(tc, bad_signatures_store_nothing);
	tcase_add_test(tc, unknown_event_type_stored);
	tcase_add_test(tc, unknown_customer_applied_later);
	tc = billing_tcase(s, "events_reverse", 60);
	tcase_add_test(tc, first_delivery_in_reverse_order);

	tc = tcase_create("rotation");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, rotation_setup, rotation_teardown);
	tcase_add_test(tc, webhook_secret_rotation);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
