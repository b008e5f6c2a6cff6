/* test_accounts_refresh.c — POST /api/auth/refresh (API.md, Authentication): rotation on every use
 * (stored as SHA-256 only), reuse after the grace interval revokes the whole session
 * (401 refresh_token_reused, also after the cleanup job ran), the cookie mode and its Origin check,
 * missing or garbage tokens, expired tokens and sessions. */
#include "accounts_helpers.h"
#include "itest.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static void sha256_hex(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int ml = 0;
	ck_assert_int_eq(EVP_Digest(s, strlen(s), md, &ml, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

START_TEST(refresh_rotation_body)
{
	struct it_user u;
	it_register(&u, "refresh");
	char sid[64];
	token_sid(u.access, sid, sizeof(sid));
	struct it_resp *r = refresh_body(u.refresh);
	char *r1 = expect_token_response(r, 200, true, u.email); /* body token → body mode by default */
	ck_assert_str_ne(r1, u.refresh);
	ck_assert_str_eq(it_str(r, "user.id"), u.id);
	char sid1[64], access1[1024];
	snprintf(access1, sizeof(access1), "%s", it_str(r, "access_token"));
	token_sid(access1, sid1, sizeof(sid1));
	ck_assert_str_eq(sid1, sid); /* same session */
	ck_assert_str_ne(access1, u.access);
	it_free(r);
	ck_assert_int_eq(me_status(access1), 200);
	ck_assert_int_eq(me_status(u.access), 200);
	/* stored only as a SHA-256 hash */
	char hex[65];
	sha256_hex(r1, hex);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM refresh_tokens WHERE token_hash = '%s' AND session_id = '%s'", hex, sid),
			 1);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM refresh_tokens WHERE token_hash = '%s' OR token_hash = '%s'", r1,
				  u.refresh),
			 0);
	/* the new one rotates too, into yet another token */
	r = refresh_body(r1);
	char *r2 = expect_token_response(r, 200, true, u.email);
	ck_assert_str_ne(r2, r1);
	ck_assert_str_ne(r2, u.refresh);
	it_free(r);
	/* session: "cookie" on a body token → the new token comes as a cookie */
	char body[256];
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\",\"session\":\"cookie\"}", r2);
	r = it_post("/api/auth/refresh", NULL, body);
	char *r3 = expect_token_response(r, 200, false, u.email);
	ck_assert_str_ne(r3, r2);
	it_free(r);
	/* last_used_at and the session list follow */
	r = it_get("/api/auth/sessions", access1);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 1);
	it_free(r);
	free(r1);
	free(r2);
	free(r3);
}
END_TEST

START_TEST(refresh_reuse_detection)
{
	long grace = cfg_seconds("refresh_reuse_interval", 10);
	ck_assert_msg(grace <= 60, "refresh_reuse_interval %ld s is too long for the suite", grace);
	struct it_user u, bystander;
	it_register(&u, "reuse");
	it_register(&bystander, "reuse-bystander");
	struct sess other;
	login_session(&u, NULL, &other); /* a second session of the same user: unaffected */
	const char *r0 = u.refresh;
	struct it_resp *r = refresh_body(r0);
	char *r1 = expect_token_response(r, 200, true, u.email);
	it_free(r);
	char *r2 = NULL;
	if (grace > 0) {
		/* the old token again within the grace interval (a lost response, two tabs) still works,
		 * and gets the very same successor: the session does not fork into two chains */
		r = refresh_body(r0);
		r2 = expect_token_response(r, 200, true, u.email);
		ck_assert_str_eq(r2, r1);
		it_free(r);
	} else {
		r2 = xstrdup(r1);
	}
	r = refresh_body(r2);
	char *r3 = expect_token_response(r, 200, true, u.email);
	char newest_access[1024];
	snprintf(newest_access, sizeof(newest_access), "%s", it_str(r, "access_token"));
	it_free(r);
	ck_assert_int_eq(me_status(newest_access), 200);

	sleep_s((double)grace + 1.0);
	r = refresh_body(r0);
	it_expect_problem(r, 401, "refresh_token_reused");
	it_free(r);
	/* the whole session is revoked: the newest refresh token and every access token of it */
	r = refresh_body(r3);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	ck_assert_int_eq(refresh_status(r1), 401);
	ck_assert_int_eq(me_status(newest_access), 401);
	ck_assert_int_eq(me_status(u.access), 401);
	/* other sessions and other users are untouched */
	ck_assert_int_eq(me_status(other.access), 200);
	ck_assert_int_eq(refresh_status(other.refresh), 200);
	ck_assert_int_eq(me_status(bystander.access), 200);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM sessions WHERE user_id = '%s' AND revoked_at IS NULL", u.id), 1);
	free(r1);
	free(r2);
	free(r3);
}
END_TEST

START_TEST(refresh_cookie_mode)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("refresh-cookie"));
	struct it_resp *r = register_raw(email, "Correct-Horse-9", NULL);
	char *c0 = expect_token_response(r, 201, false, email);
	it_free(r);
	char cookie[256];
	snprintf(cookie, sizeof(cookie), "tg_refresh=%s", c0);
	/* a foreign Origin with the cookie → 403, and the token is not consumed */
	const char *foreign[] = {"https://evil.example", "null", "https://localhost:8443.evil.example"};
	for (size_t i = 0; i < 3; i++) {
		if (!strcmp(foreign[i], it_origin()))
			continue;
		struct it_req q = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie, .origin = foreign[i]};
		r = it_do(&q);
		it_expect_problem(r, 403, "forbidden");
		ck_assert_ptr_null(it_str(r, "access_token"));
		it_free(r);
	}
	/* our own Origin → 200, a new cookie, nothing in the body */
	struct it_req q = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie, .origin = it_origin()};
	r = it_do(&q);
	char *c1 = expect_token_response(r, 200, false, email);
	ck_assert_str_ne(c1, c0);
	it_free(r);
	/* no Origin at all (same-origin GET-less clients) → fine too; with an empty JSON body as well */
	snprintf(cookie, sizeof(cookie), "tg_refresh=%s", c1);
	struct it_req q2 = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie, .json = "{}"};
	r = it_do(&q2);
	char *c2 = expect_token_response(r, 200, false, email);
	ck_assert_str_ne(c2, c1);
	it_free(r);
	/* the cookie alongside other cookies */
	snprintf(cookie, sizeof(cookie), "theme=dark; tg_refresh=%s; other=1", c2);
	struct it_req q3 = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie, .origin = it_origin()};
	r = it_do(&q3);
	free(expect_token_response(r, 200, false, email));
	it_free(r);
	free(c0);
	free(c1);
	free(c2);
}
END_TEST

START_TEST(refresh_missing_or_garbage)
{
	struct it_req q = {.method = "POST", .path = "/api/auth/refresh"};
	struct it_resp *r = it_do(&q);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = it_post("/api/auth/refresh", NULL, "{}");
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = it_post("/api/auth/refresh", NULL, "{\"refresh_token\":\"\"}");
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = refresh_body("garbage");
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = refresh_body("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	struct it_req qc = {.method = "POST", .path = "/api/auth/refresh", .cookie = "tg_refresh=garbage"};
	r = it_do(&qc);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	/* an access token is not a refresh token */
	struct it_user u;
	it_register(&u, "refresh-garbage");
	r = refresh_body(u.access);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	/* wrong content type with a body → 415 */
	struct it_req qt = {.method = "POST", .path = "/api/auth/refresh", .body = "x", .content_type = "text/plain"};
	r = it_do(&qt);
	it_expect_problem(r, 415, "unsupported_media_type");
	it_free(r);
	r = it_post("/api/auth/refresh", NULL, "{nope");
	it_expect_problem(r, 400, "invalid_json");
	it_free(r);
}
END_TEST

START_TEST(refresh_and_session_expiry)
{
	struct it_user u;
	it_register(&u, "expiry");
	struct sess s1, s2;
	user_session(&u, &s1);
	login_session(&u, NULL, &s2);
	/* an expired refresh token is refused; its session's access token still works until it ends */
	char hex[65];
	sha256_hex(s1.refresh, hex);
	sql_exec("UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = '%s'", hex);
	struct it_resp *r = refresh_body(s1.refresh);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	/* an expired session: its access token and refresh token die */
	sql_exec("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = '%s'", s2.sid);
	ck_assert_int_eq(me_status(s2.access), 401);
	ck_assert_int_eq(refresh_status(s2.refresh), 401);
	r = it_get("/api/auth/sessions", s1.access);
	it_expect(r, 200, NULL);
	ck_assert_ptr_null(find_session(it_at(r, "items"), s2.sid));
	it_free(r);
}
END_TEST

/* Review findings (each failed before its fix). */

/* A successful refresh sent Cache-Control twice; names are stored trimmed. */
START_TEST(refresh_single_cache_control_and_trimmed_name)
{
	struct it_user u;
	it_register(&u, "one-cc");
	struct it_resp *r = refresh_body(u.refresh);
	it_expect(r, 200, NULL);
	int n = 0;
	for (const char *p = r->headers; (p = strcasestr(p, "\r\nCache-Control:")); p++)
		n++;
	ck_assert_int_eq(n, 1);
	it_free(r);
	r = req_json("PATCH", "/api/profile", u.access, "{\"name\":\"   Ada Lovelace  \"}");
	it_expect(r, 200, NULL);
	ck_assert_str_eq(it_str(r, "name"), "Ada Lovelace");
	it_free(r);
}
END_TEST

/* The cleanup job deleted rotated refresh tokens after a day, so replaying one later no longer
 * revoked its session. */
START_TEST(rotated_token_replay_after_cleanup_revokes)
{
	struct it_user u;
	it_register(&u, "replay-late");
	const char *old = xstrdup(u.refresh);
	struct it_resp *r = refresh_body(old);
	char *fresh = expect_token_response(r, 200, true, u.email);
	it_free(r);
	char hash[65];
	sha256_hex(old, hash);
	it_sql("UPDATE refresh_tokens SET rotated_at = now() - interval '25 hours' WHERE token_hash = '%s'", hash);
	/* a jobs worker runs its periodic cleanup as soon as it starts */
	const char *config = getenv("TG_CONFIG");
	it_sh("timeout -s TERM 3 '%s' --config '%s' jobs >/dev/null 2>&1", it_tollgate_bin(), config);
	r = refresh_body(old);
	it_expect_problem(r, 401, "refresh_token_reused");
	it_free(r);
	r = refresh_body(fresh);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	free(fresh);
	free((char *)old);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accounts_refresh");
	TCase *tc = tcase_create("refresh");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, refresh_rotation_body);
	tcase_add_test(tc, refresh_reuse_detection);
	tcase_add_test(tc, refresh_cookie_mode);
	tcase_add_test(tc, refresh_missing_or_garbage);
	tcase_add_test(tc, refresh_and_session_expiry);
	suite_add_tcase(s, tc);

	tc = tcase_create("review");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, refresh_single_cache_control_and_trimmed_name);
	tcase_add_test(tc, rotated_token_replay_after_cleanup_revokes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
