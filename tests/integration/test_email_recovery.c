/* test_email_recovery.c — account recovery (API.md, Email, recovery and notifications): the reset
 * link of forgot-password (single use, superseded by a newer one, expired, every session revoked, the
 * address verified, a "password changed" email), unknown tokens, 422 naming the field, forgot-password
 * alike for known and unknown addresses (same body, comparable timing), the change-password notice,
 * and single use under concurrency. */
#include "email_helpers.h"
#include "itest.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

START_TEST(reset_password_flow)
{
	struct it_user u;
	it_register(&u, "rp");
	char old_access[1024], old_refresh[128];
	snprintf(old_access, sizeof(old_access), "%s", u.access);
	snprintf(old_refresh, sizeof(old_refresh), "%s", u.refresh);
	/* a second session */
	struct it_user u2 = u;
	ck_assert_int_eq(it_login(&u2), 200);
	ck_assert(!user_verified(u.access));
	/* the registration's verification email first, so the user's mail is settled */
	mail_free(mail_wait_one(u.email, SUBJ_VERIFY, 1));

	/* the address is normalised: surrounding spaces and capitals still find the account */
	char shouty[160];
	snprintf(shouty, sizeof(shouty), "  %s ", u.email);
	for (char *p = shouty; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	expect_forgot_accepted(shouty);

	struct mail *m = mail_wait_one(u.email, SUBJ_RESET, 1);
	char tok[128];
	mail_link_token(m, "/reset-password", tok, sizeof(tok));
	mail_free(m);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM auth_tokens WHERE token_hash = encode(sha256(convert_to('%s','UTF8')),'hex')"
				  " AND kind = 'reset' AND expires_at BETWEEN now() + interval '55 minutes' AND now() + interval '61 minutes'",
				  tok),
			 1);

	/* the page checks the link first: it works, and checking consumes nothing */
	struct it_resp *r = post_json("/api/auth/reset-password/check", NULL, "{\"token\":\"%s\"}", tok);
	it_expect(r, 204, NULL);
	it_free(r);
	r = post_json("/api/auth/reset-password/check", NULL, "{\"token\":\"%s\"}", tok);
	it_expect(r, 204, NULL);
	it_free(r);

	/* a weak password is refused without burning the token */
	r = reset(tok, "short");
	expect_field_error(r, "password");
	it_free(r);
	r = reset(tok, "password123");
	expect_field_error(r, "password");
	it_free(r);
	r = reset(tok, u.email);
	expect_field_error(r, "password");
	it_free(r);

	const char *fresh = "Reset-Quartz-Fresh-991";
	r = reset(tok, fresh);
	it_expect(r, 204, NULL);
	ck_assert_msg(r->body_len == 0, "204 with a body: %s", r->body);
	it_free(r);

	/* every session is gone */
	r = it_get("/api/auth/me", old_access);
	it_expect(r, 401, NULL);
	it_free(r);
	r = it_get("/api/auth/me", u2.access);
	it_expect(r, 401, NULL);
	it_free(r);
	r = post_json("/api/auth/refresh", NULL, "{\"refresh_token\":\"%s\",\"session\":\"body\"}", old_refresh);
	it_expect(r, 401, NULL);
	it_free(r);
	r = post_json("/api/auth/refresh", NULL, "{\"refresh_token\":\"%s\",\"session\":\"body\"}", u2.refresh);
	it_expect(r, 401, NULL);
	it_free(r);

	/* the old password fails, the new one works */
	ck_assert_int_eq(it_login(&u), 401);
	snprintf(u.password, sizeof(u.password), "%s", fresh);
	ck_assert_int_eq(it_login(&u), 200);

	/* the email counts as verified now: the reset link proved the address */
	ck_assert(user_verified(u.access));

	struct mail *c = mail_wait_one(u.email, SUBJ_CHANGED, 1);
	mail_free(c);
	ck_assert_int_eq(notification_count(u.access, "password_changed"), 1);

	/* single use: the used link is refused, and the check says so before any password is typed */
	r = reset(tok, "Another-Quartz-Fresh-992");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = post_json("/api/auth/reset-password/check", NULL, "{\"token\":\"%s\"}", tok);
	it_expect(r, 400, "invalid_token");
	it_free(r);
	ck_assert_int_eq(it_login(&u), 200);
	mail_expect_count_after(u.email, SUBJ_RESET, 1, 300);
}
END_TEST

START_TEST(reset_token_superseded)
{
	struct it_user u;
	it_register(&u, "rps");
	char t1[128], t2[128];
	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 1, "/reset-password", t1, sizeof(t1));
	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 2, "/reset-password", t2, sizeof(t2));
	ck_assert_str_ne(t1, t2);
	struct it_resp *r = reset(t1, "Superseded-Quartz-1");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = reset(t2, "Superseded-Quartz-2");
	it_expect(r, 204, NULL);
	it_free(r);
	snprintf(u.password, sizeof(u.password), "Superseded-Quartz-2");
	ck_assert_int_eq(it_login(&u), 200);
	/* and the first one stays dead after the second was used */
	r = reset(t1, "Superseded-Quartz-3");
	it_expect(r, 400, "invalid_token");
	it_free(r);
}
END_TEST

START_TEST(reset_token_expired)
{
	struct it_user u;
	it_register(&u, "rpx");
	char tok[128];
	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 1, "/reset-password", tok, sizeof(tok));
	it_sql("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE user_id = '%s' AND kind = 'reset'", u.id);
	struct it_resp *r = post_json("/api/auth/reset-password/check", NULL, "{\"token\":\"%s\"}", tok);
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = reset(tok, "Expired-Quartz-Pass-1");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	/* the old password still works; the sessions are untouched */
	ck_assert_int_eq(it_login(&u), 200);
}
END_TEST

START_TEST(reset_unknown_tokens)
{
	struct it_resp *r = reset("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "Unknown-Quartz-Pass-1");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = reset("short", "Unknown-Quartz-Pass-1");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	/* an unknown token is refused before the password rules are looked at */
	r = reset("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	/* a verification token is no reset token */
	struct it_user u;
	it_register(&u, "rpk");
	char tok[128];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", tok, sizeof(tok));
	r = reset(tok, "Crossed-Quartz-Pass-1");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = post_json("/api/auth/reset-password/check", NULL, "{\"token\":\"%s\"}", tok);
	it_expect(r, 400, "invalid_token");
	it_free(r);
	/* no token */
	r = post_json("/api/auth/reset-password/check", NULL, "%s", "{}");
	it_expect_problem(r, 422, "validation_failed");
	it_free(r);
}
END_TEST

START_TEST(validation_422)
{
	struct it_resp *r;
	/* forgot-password */
	r = it_post("/api/auth/forgot-password", NULL, "{}");
	expect_field_error(r, "email");
	it_free(r);
	r = it_post("/api/auth/forgot-password", NULL, "{\"email\":\"\"}");
	expect_field_error(r, "email");
	it_free(r);
	r = it_post("/api/auth/forgot-password", NULL, "{\"email\":\"not-an-address\"}");
	expect_field_error(r, "email");
	it_free(r);
	r = it_post("/api/auth/forgot-password", NULL, "{\"email\":\"a@\"}");
	expect_field_error(r, "email");
	it_free(r);
	r = it_post("/api/auth/forgot-password", NULL, "{\"email\":42}");
	expect_field_error(r, "email");
	it_free(r);
	/* reset-password */
	r = it_post("/api/auth/reset-password", NULL, "{\"password\":\"Valid-Quartz-Pass-1\"}");
	expect_field_error(r, "token");
	it_free(r);
	r = it_post("/api/auth/reset-password", NULL, "{\"token\":\"\",\"password\":\"Valid-Quartz-Pass-1\"}");
	expect_field_error(r, "token");
	it_free(r);
	r = it_post("/api/auth/reset-password", NULL, "{\"token\":7,\"password\":\"Valid-Quartz-Pass-1\"}");
	expect_field_error(r, "token");
	it_free(r);
	r = it_post("/api/auth/reset-password", NULL, "{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
	expect_field_error(r, "password");
	it_free(r);
	/* verify-email */
	r = it_post("/api/auth/verify-email", NULL, "{}");
	expect_field_error(r, "token");
	it_free(r);
	r = it_post("/api/auth/verify-email", NULL, "{\"token\":null}");
	expect_field_error(r, "token");
	it_free(r);
	/* malformed JSON and content type keep their usual answers */
	r = it_post("/api/auth/forgot-password", NULL, "{\"email\":");
	it_expect(r, 400, "invalid_json");
	it_free(r);
	struct it_req q = {.method = "POST", .path = "/api/auth/reset-password", .body = "token=x",
			   .content_type = "application/x-www-form-urlencoded"};
	r = it_do(&q);
	it_expect(r, 415, "unsupported_media_type");
	it_free(r);

	/* a weak password with a live token: 422 errors.password, the token still works afterwards */
	struct it_user u;
	it_register(&u, "v422");
	char tok[128];
	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 1, "/reset-password", tok, sizeof(tok));
	r = reset(tok, "");
	expect_field_error(r, "password");
	it_free(r);
	r = post_json("/api/auth/reset-password", NULL, "{\"token\":\"%s\"}", tok);
	expect_field_error(r, "password");
	it_free(r);
	r = reset(tok, "1234567");
	expect_field_error(r, "password");
	it_free(r);
	r = reset(tok, "Valid-Quartz-Pass-1");
	it_expect(r, 204, NULL);
	it_free(r);
}
END_TEST

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

START_TEST(forgot_unknown_vs_known)
{
	struct it_user u;
	it_register(&u, "fk");
	char unknown[128];
	snprintf(unknown, sizeof(unknown), "%s", it_unique_email("nobody"));

	struct it_resp *rk = forgot(u.email), *ru = forgot(unknown);
	it_expect(rk, 202, NULL);
	it_expect(ru, 202, NULL);
	ck_assert_msg(rk->body_len == ru->body_len && !memcmp(rk->body, ru->body, rk->body_len),
		      "bodies differ:\nknown:   %s\nunknown: %s", rk->body, ru->body);
	const char *ctk = it_header(rk, "Content-Type");
	char ctk_copy[128];
	snprintf(ctk_copy, sizeof(ctk_copy), "%s", ctk ? ctk : "");
	const char *ctu = it_header(ru, "Content-Type");
	ck_assert_str_eq(ctk_copy, ctu ? ctu : "");
	ck_assert_msg(!strncmp(ctk_copy, "application/json", 16), "Content-Type %s", ctk_copy);
	it_free(rk);
	it_free(ru);

	/* timing: interleaved samples, medians compared (times under 10 ms count as 10 ms, so
	 * scheduler noise at the millisecond scale does not decide the ratio) */
	enum { SAMPLES = 7 };
	double tk[SAMPLES], tu[SAMPLES];
	for (int i = 0; i < SAMPLES; i++) {
		struct it_resp *a = forgot(u.email);
		struct it_resp *b = forgot(unknown);
		it_expect(a, 202, NULL);
		it_expect(b, 202, NULL);
		tk[i] = a->seconds;
		tu[i] = b->seconds;
		it_free(a);
		it_free(b);
	}
	qsort(tk, SAMPLES, sizeof(double), dbl_cmp);
	qsort(tu, SAMPLES, sizeof(double), dbl_cmp);
	double mk = tk[SAMPLES / 2], mu = tu[SAMPLES / 2];
	fprintf(stderr, "forgot-password timing: known median %.1f ms, unknown median %.1f ms\n", mk * 1e3, mu * 1e3);
	if (it_timing_checked("forgot-password answers fast, with comparable timing for known and unknown addresses")) {
		ck_assert_msg(mk < 0.3 && mu < 0.3, "forgot-password is slow: known %.1f ms, unknown %.1f ms", mk * 1e3,
			      mu * 1e3);
		double fk = mk < 0.01 ? 0.01 : mk, fu = mu < 0.01 ? 0.01 : mu;
		ck_assert_msg(fk <= 3 * fu && fu <= 3 * fk, "timing differs: known %.1f ms, unknown %.1f ms", mk * 1e3,
			      mu * 1e3);
	}

	/* the known address gets its 1 + SAMPLES reset emails; the unknown one nothing */
	struct mails ms;
	mail_wait(u.email, SUBJ_RESET, 1 + SAMPLES, MAIL_WAIT_MS, &ms);
	mails_free(&ms);
	int64_t deadline = it_now_ms() + 10000;
	while (it_sql_long("SELECT count(*) FROM jobs WHERE payload->>'email' = '%s'", unknown) > 0 && it_now_ms() < deadline)
		it_sleep_ms(100);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM jobs WHERE payload->>'email' = '%s'", unknown), 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address = '%s'", unknown), 0);
	mail_expect_count_after(unknown, NULL, 0, 1000);
	ck_assert_int_eq(mailbox_count(u.email, SUBJ_RESET), 1 + SAMPLES);
}
END_TEST

/* ---- change-password */

START_TEST(change_password_notifies)
{
	struct it_user u;
	it_register(&u, "cp");
	/* a second session, which the change revokes */
	struct it_user other = u;
	ck_assert_int_eq(it_login(&other), 200);
	/* security emails ignore the preferences */
	struct it_resp *r = put_json("/api/profile/notification-preferences", u.access,
				     "{\"product_updates\":false,\"usage_warnings\":false,\"billing\":false}");
	it_expect(r, 200, NULL);
	it_free(r);

	change_password(&u, "Changed-Quartz-Pass-5");
	struct mail *m = mail_wait_one(u.email, SUBJ_CHANGED, 1);
	ck_assert_msg(strstr(m->text, it_origin()) != NULL, "the password-changed text has no link on the origin:\n%s", m->text);
	mail_free(m);
	ck_assert_int_eq(notification_count(u.access, "password_changed"), 1);

	r = it_get("/api/auth/me", other.access);
	it_expect(r, 401, NULL);
	it_free(r);
	r = it_get("/api/auth/me", u.access);
	it_expect(r, 200, NULL);
	it_free(r);
	mail_expect_count_after(u.email, SUBJ_CHANGED, 1, 500);
}
END_TEST

/* ---- single use under concurrency */

#define RACERS 6

struct racer {
	pthread_barrier_t *start;
	const char *path;
	const char *body;
	long status;
	char code[64];
};

static void *race(void *arg)
{
	struct racer *rc = arg;
	pthread_barrier_wait(rc->start);
	struct it_req q = {.method = "POST", .path = rc->path, .json = rc->body};
	struct it_resp *r = it_do(&q);
	rc->status = r->status;
	snprintf(rc->code, sizeof(rc->code), "%s", it_code(r) ? it_code(r) : "");
	it_free(r);
	return NULL;
}

/* Sends body (one single-use token) to path from RACERS threads at once: exactly one answer is
 * `ok`, every other one 400 invalid_token (API.md: the token is single use). */
static void race_post(const char *path, const char *body, long ok)
{
	pthread_barrier_t b;
	pthread_barrier_init(&b, NULL, RACERS);
	struct racer rs[RACERS];
	pthread_t th[RACERS];
	for (int i = 0; i < RACERS; i++) {
		rs[i] = (struct racer){.start = &b, .path = path, .body = body};
		ck_assert_int_eq(pthread_create(&th[i], NULL, race, &rs[i]), 0);
	}
	int won = 0, refused = 0;
	char got[RACERS * 48] = "";
	for (int i = 0; i < RACERS; i++) {
		pthread_join(th[i], NULL);
		won += rs[i].status == ok;
		refused += rs[i].status == 400 && !strcmp(rs[i].code, "invalid_token");
		snprintf(got + strlen(got), sizeof(got) - strlen(got), " %ld %s", rs[i].status, rs[i].code);
	}
	pthread_barrier_destroy(&b);
	ck_assert_msg(won == 1 && refused == RACERS - 1, "%s from %d threads: want one %ld and %d x 400 invalid_token, got:%s",
		      path, RACERS, ok, RACERS - 1, got);
}

START_TEST(tokens_single_use_under_concurrency)
{
	struct it_user u;
	it_register(&u, "race");
	char tok[128], body[256];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", tok, sizeof(tok));
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tok);
	race_post("/api/auth/verify-email", body, 200);
	mail_free(mail_wait_one(u.email, SUBJ_WELCOME, 1));
	mail_expect_count_after(u.email, SUBJ_WELCOME, 1, 1500);
	ck_assert_int_eq(notification_count(u.access, "welcome"), 1);

	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 1, "/reset-password", tok, sizeof(tok));
	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"password\":\"Raced-Quartz-Pass-7\"}", tok);
	race_post("/api/auth/reset-password", body, 204);
	mail_free(mail_wait_one(u.email, SUBJ_CHANGED, 1));
	mail_expect_count_after(u.email, SUBJ_CHANGED, 1, 1500);
	snprintf(u.password, sizeof(u.password), "Raced-Quartz-Pass-7");
	ck_assert_int_eq(it_login(&u), 200);
	ck_assert_int_eq(notification_count(u.access, "password_changed"), 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("email_recovery");
	TCase *reset_tc = tcase_create("reset");
	tcase_set_timeout(reset_tc, 60);
	tcase_add_test(reset_tc, reset_password_flow);
	tcase_add_test(reset_tc, reset_token_superseded);
	tcase_add_test(reset_tc, reset_token_expired);
	tcase_add_test(reset_tc, reset_unknown_tokens);
	tcase_add_test(reset_tc, validation_422);
	tcase_add_test(reset_tc, forgot_unknown_vs_known);
	tcase_add_test(reset_tc, change_password_notifies);
	tcase_add_test(reset_tc, tokens_single_use_under_concurrency);
	suite_add_tcase(s, reset_tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
