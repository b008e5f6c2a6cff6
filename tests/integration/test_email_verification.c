/* test_email_verification.c — email verification and the welcome (API.md, Email, recovery and
 * notifications): the link in the verification email (stored hashed, single use, 48 h), the welcome
 * email and notification once verified (not emailed when product_updates is off; also after a
 * verification by password reset), UTF-8 and HTML escaping in both parts, expired tokens, and
 * resend-verification with its rate limit. Each message is parsed as RFC 5322 / MIME (mail_parse.h)
 * and the test follows the link in it through the API. */
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

START_TEST(verify_email_then_welcome)
{
	struct it_user u;
	it_register(&u, "ev");
	ck_assert(!user_verified(u.access));

	struct mail *m = mail_wait_one(u.email, SUBJ_VERIFY, 1);
	char tok[128];
	mail_link_token(m, "/verify-email", tok, sizeof(tok));
	ck_assert_msg(strstr(m->text, u.email) != NULL, "the verification text does not name the address");
	mail_free(m);
	/* stored as SHA-256 only */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM auth_tokens WHERE token_hash = encode(sha256(convert_to('%s','UTF8')),'hex')"
				  " AND kind = 'verify' AND used_at IS NULL", tok), 1);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM auth_tokens WHERE token_hash = '%s'", tok), 0);

	struct it_resp *r = verify(tok);
	it_expect(r, 200, NULL);
	expect_bool(r, "email_verified", true);
	ck_assert_str_eq(it_str(r, "id") ? it_str(r, "id") : "", u.id);
	ck_assert_str_eq(it_str(r, "email") ? it_str(r, "email") : "", u.email);
	const char *cc = it_header(r, "Cache-Control");
	ck_assert_msg(cc && strstr(cc, "no-store"), "verify-email answer without Cache-Control: no-store");
	it_free(r);
	ck_assert(user_verified(u.access));

	struct mail *w = mail_wait_one(u.email, SUBJ_WELCOME, 1);
	char app_link[512];
	snprintf(app_link, sizeof(app_link), "%s/", it_origin());
	ck_assert_msg(strstr(w->text, app_link) != NULL, "the welcome text has no link on %s:\n%s", it_origin(), w->text);
	mail_free(w);
	ck_assert_int_eq(notification_count(u.access, "welcome"), 1);

	/* the token is single use; anything else is invalid too */
	r = verify(tok);
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = verify("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = verify("x");
	it_expect(r, 400, "invalid_token");
	it_free(r);

	/* one verification, one welcome: nothing sent twice */
	mail_expect_count_after(u.email, SUBJ_VERIFY, 1, 500);
	ck_assert_int_eq(mailbox_count(u.email, SUBJ_WELCOME), 1);
	ck_assert_int_eq(notification_count(u.access, "welcome"), 1);
}
END_TEST

START_TEST(non_ascii_name_and_html_escaping)
{
	/* a name with non-ASCII and HTML-special characters: quoted-printable (or base64) UTF-8 in
	 * both parts, raw in the text part, escaped in the HTML part */
	const char *name = "Zo\xc3\xab \xc3\x9cn\xc3\xaf <b>&amp</b> \xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88";
	struct it_user u = {0};
	snprintf(u.email, sizeof(u.email), "%s", it_unique_email("utf"));
	struct it_resp *r = post_json("/api/auth/register", NULL,
				      "{\"email\":\"%s\",\"password\":\"pw-Utf8-Quartz-77\",\"name\":\"%s\",\"session\":\"body\"}",
				      u.email, name);
	it_expect(r, 201, NULL);
	it_free(r);
	struct mail *m = mail_wait_one(u.email, SUBJ_VERIFY, 1);
	ck_assert_msg(strstr(m->text, name) != NULL, "the text part lacks the UTF-8 name:\n%s", m->text);
	ck_assert_msg(strstr(m->html, "<b>&amp</b>") == NULL, "the HTML part has the name unescaped:\n%s", m->html);
	ck_assert_msg(strstr(m->html, "Zo\xc3\xab \xc3\x9cn\xc3\xaf &lt;b&gt;&amp;amp&lt;/b&gt;") != NULL,
		      "the HTML part lacks the escaped name:\n%s", m->html);
	char tok[128];
	mail_link_token(m, "/verify-email", tok, sizeof(tok));
	mail_free(m);
}
END_TEST

START_TEST(welcome_after_verification_by_reset)
{
	/* A reset verifies the address (the link proved it). Whether the welcome follows the reset or
	 * the later click on the verification link, the user must end up welcomed exactly once. */
	struct it_user u;
	it_register(&u, "rwel");
	char vtok[128], rtok[128];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", vtok, sizeof(vtok));
	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 1, "/reset-password", rtok, sizeof(rtok));
	struct it_resp *r = reset(rtok, "Welcomed-Quartz-Pass-4");
	it_expect(r, 204, NULL);
	it_free(r);
	snprintf(u.password, sizeof(u.password), "Welcomed-Quartz-Pass-4");
	ck_assert_int_eq(it_login(&u), 200);
	ck_assert(user_verified(u.access));
	/* the verification link from the registration email, clicked afterwards */
	r = verify(vtok);
	it_expect(r, 200, NULL);
	expect_bool(r, "email_verified", true);
	it_free(r);

	ck_assert_msg(notification_count(u.access, "welcome") == 1,
		      "a user verified by a password reset was never welcomed (no welcome notification)");
	struct mails ms;
	mail_wait(u.email, SUBJ_WELCOME, 1, 5000, &ms);
	mails_free(&ms);
	mail_expect_count_after(u.email, SUBJ_WELCOME, 1, 1000);
}
END_TEST

START_TEST(welcome_not_emailed_when_product_updates_off)
{
	struct it_user u;
	it_register(&u, "nowel");
	struct it_resp *r = put_json("/api/profile/notification-preferences", u.access, "{\"product_updates\":false}");
	it_expect(r, 200, NULL);
	expect_bool(r, "product_updates", false);
	it_free(r);
	char tok[128];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", tok, sizeof(tok));
	r = verify(tok);
	it_expect(r, 200, NULL);
	expect_bool(r, "email_verified", true);
	it_free(r);
	/* queued (or not) in the verification's transaction: nothing in the outbox, nothing arrives */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address = '%s' AND kind = 'welcome'", u.email), 0);
	mail_expect_count_after(u.email, SUBJ_WELCOME, 0, 2000);
	/* the in-app notification exists anyway */
	ck_assert_int_eq(notification_count(u.access, "welcome"), 1);
}
END_TEST

START_TEST(verify_token_expired)
{
	struct it_user u;
	it_register(&u, "evx");
	char tok[128];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", tok, sizeof(tok));
	it_sql("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE user_id = '%s' AND kind = 'verify'", u.id);
	struct it_resp *r = verify(tok);
	it_expect(r, 400, "invalid_token");
	it_free(r);
	ck_assert(!user_verified(u.access));
}
END_TEST

/* ---- resend-verification */

START_TEST(resend_verification)
{
	struct it_user u;
	it_register(&u, "rs");
	char t1[128], t2[128];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", t1, sizeof(t1));

	struct it_resp *r = it_post("/api/auth/resend-verification", NULL, NULL);
	it_expect(r, 401, "unauthorized");
	it_free(r);

	r = it_post("/api/auth/resend-verification", u.access, NULL);
	it_expect(r, 202, NULL);
	it_free(r);
	/* a second request within the minute is refused */
	r = it_post("/api/auth/resend-verification", u.access, NULL);
	it_expect(r, 429, "rate_limited");
	const char *ra = it_header(r, "Retry-After");
	ck_assert_msg(ra != NULL, "429 without Retry-After");
	char *end;
	long secs = strtol(ra, &end, 10);
	ck_assert_msg(*end == '\0' && secs >= 1 && secs <= 60, "Retry-After '%s' is not 1..60 seconds", ra);
	it_free(r);

	wait_token(u.email, SUBJ_VERIFY, 2, "/verify-email", t2, sizeof(t2));
	ck_assert_str_ne(t1, t2);
	/* the older verification link died when the new one was issued */
	r = verify(t1);
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = verify(t2);
	it_expect(r, 200, NULL);
	expect_bool(r, "email_verified", true);
	it_free(r);

	/* verified: nothing to resend */
	r = it_post("/api/auth/resend-verification", u.access, NULL);
	it_expect(r, 409, "conflict");
	it_free(r);
	/* exactly two verification emails (the 429 sent none) */
	mail_expect_count_after(u.email, SUBJ_VERIFY, 2, 1000);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("email_verification");
	TCase *verify_tc = tcase_create("verification");
	tcase_set_timeout(verify_tc, 60);
	tcase_add_test(verify_tc, verify_email_then_welcome);
	tcase_add_test(verify_tc, non_ascii_name_and_html_escaping);
	tcase_add_test(verify_tc, welcome_not_emailed_when_product_updates_off);
	tcase_add_test(verify_tc, welcome_after_verification_by_reset);
	tcase_add_test(verify_tc, verify_token_expired);
	tcase_add_test(verify_tc, resend_verification);
	suite_add_tcase(s, verify_tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
