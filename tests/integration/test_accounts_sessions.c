/* test_accounts_sessions.c — logout, logout-all and the session list (API.md, Accounts): the cookie
 * is cleared, a foreign Origin cannot log a browser out, GET /api/auth/sessions (the current one
 * marked, pagination), DELETE /api/auth/sessions/{id} (404 for anyone else's). */
#include "accounts_helpers.h"
#include "itest.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- logout, logout-all */

static void expect_cookie_cleared(const struct it_resp *r)
{
	char *line = set_cookie_line(r, "tg_refresh");
	ck_assert_msg(line, "logout did not clear tg_refresh");
	ck_assert_str_eq(it_set_cookie(r, "tg_refresh"), "");
	ck_assert_msg(cookie_has_attr(line, "Max-Age=0"), "no Max-Age=0: %s", line);
	ck_assert_msg(cookie_has_attr(line, "Path=/api/auth"), "clearing cookie has another Path: %s", line);
	free(line);
}

START_TEST(logout_body_token)
{
	struct it_user u;
	it_register(&u, "logout");
	struct sess s2;
	login_session(&u, NULL, &s2);
	char body[256];
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", s2.refresh);
	struct it_resp *r = it_post("/api/auth/logout", NULL, body);
	it_expect(r, 204, NULL);
	ck_assert_uint_eq(r->body_len, 0);
	it_expect_request_id(r, NULL);
	expect_cookie_cleared(r);
	it_free(r);
	ck_assert_int_eq(me_status(s2.access), 401);
	ck_assert_int_eq(refresh_status(s2.refresh), 401);
	/* the other session lives on */
	ck_assert_int_eq(me_status(u.access), 200);
	ck_assert_int_eq(refresh_status(u.refresh), 200);
	ck_assert_int_ge(audit_count("user.logout", "target_id", s2.sid), 1);
}
END_TEST

START_TEST(logout_cookie)
{
	struct it_user u;
	it_register(&u, "logout-cookie");
	struct it_resp *r = login_raw(u.email, u.password, NULL, NULL);
	char *c = expect_token_response(r, 200, false, u.email);
	char access[1024], sid[64];
	snprintf(access, sizeof(access), "%s", it_str(r, "access_token"));
	token_sid(access, sid, sizeof(sid));
	it_free(r);
	char cookie[256];
	snprintf(cookie, sizeof(cookie), "tg_refresh=%s", c);
	/* a foreign Origin cannot log the browser out */
	struct it_req qf = {.method = "POST", .path = "/api/auth/logout", .cookie = cookie, .origin = "https://evil.example"};
	r = it_do(&qf);
	it_expect_problem(r, 403, "forbidden");
	it_free(r);
	ck_assert_int_eq(me_status(access), 200);
	struct it_req q = {.method = "POST", .path = "/api/auth/logout", .cookie = cookie, .origin = it_origin()};
	r = it_do(&q);
	it_expect(r, 204, NULL);
	expect_cookie_cleared(r);
	it_free(r);
	ck_assert_int_eq(me_status(access), 401);
	struct it_req qr = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie};
	r = it_do(&qr);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	ck_assert_int_eq(me_status(u.access), 200);
	free(c);
}
END_TEST

START_TEST(logout_all)
{
	struct it_user u, other;
	it_register(&u, "logout-all");
	it_register(&other, "logout-all-other");
	struct sess s2, s3;
	login_session(&u, NULL, &s2);
	login_session(&u, NULL, &s3);
	struct it_resp *r = it_post("/api/auth/logout-all", NULL, NULL);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = it_post("/api/auth/logout-all", s2.access, NULL);
	it_expect(r, 204, NULL);
	it_expect_request_id(r, NULL);
	it_free(r);
	const char *accesses[] = {u.access, s2.access, s3.access};
	const char *refreshes[] = {u.refresh, s2.refresh, s3.refresh};
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(me_status(accesses[i]), 401);
		ck_assert_int_eq(refresh_status(refreshes[i]), 401);
	}
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM sessions WHERE user_id = '%s' AND revoked_at IS NULL", u.id), 0);
	/* other users are unaffected */
	ck_assert_int_eq(me_status(other.access), 200);
	ck_assert_int_eq(refresh_status(other.refresh), 200);
	/* and the user can sign in again */
	ck_assert_int_eq(it_login(&u), 200);
	ck_assert_int_eq(me_status(u.access), 200);
}
END_TEST

/* ---- sessions */

START_TEST(sessions_list)
{
	struct it_user a;
	it_register(&a, "sessions");
	struct sess a2;
	login_session(&a, "itest-agent/2.0 (sessions)", &a2);
	char a1sid[64];
	token_sid(a.access, a1sid, sizeof(a1sid));
	struct it_resp *r = it_get("/api/auth/sessions", a2.access);
	it_expect(r, 200, NULL);
	expect_json_ct(r);
	expect_no_store(r);
	json_object *items = it_at(r, "items");
	ck_assert_msg(items && json_object_is_type(items, json_type_array), "no items: %s", r->body);
	ck_assert_int_eq(json_object_array_length(items), 2);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "total")), 2);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "page")), 1);
	json_object *pp = it_at(r, "per_page");
	ck_assert_msg(pp && json_object_get_int64(pp) >= 1 && json_object_get_int64(pp) <= 200, "per_page");
	int current = 0;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		ck_assert(is_uuid(obj_str(it, "id")));
		ck_assert(is_rfc3339_utc(obj_str(it, "created_at")));
		ck_assert(is_rfc3339_utc(obj_str(it, "last_used_at")));
		ck_assert_ptr_nonnull(obj_str(it, "user_agent"));
		ck_assert_msg(obj_str(it, "ip") && *obj_str(it, "ip"), "session without ip: %s", r->body);
		if (!strncmp(it_url(), "https://127.0.0.1:", 18))
			ck_assert_str_eq(obj_str(it, "ip"), "127.0.0.1");
		json_object *cur = obj_get(it, "current");
		ck_assert(cur && json_object_is_type(cur, json_type_boolean));
		if (json_object_get_boolean(cur)) {
			current++;
			ck_assert_str_eq(obj_str(it, "id"), a2.sid);
		}
	}
	ck_assert_int_eq(current, 1);
	json_object *s2 = find_session(items, a2.sid);
	ck_assert_ptr_nonnull(s2);
	ck_assert_str_eq(obj_str(s2, "user_agent"), "itest-agent/2.0 (sessions)");
	ck_assert_ptr_nonnull(find_session(items, a1sid));
	it_free(r);
	/* from the other session, the other one is current */
	r = it_get("/api/auth/sessions", a.access);
	it_expect(r, 200, NULL);
	json_object *s1 = find_session(it_at(r, "items"), a1sid);
	ck_assert(s1 && json_object_get_boolean(obj_get(s1, "current")));
	it_free(r);
	r = it_get("/api/auth/sessions", NULL);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
}
END_TEST

START_TEST(sessions_isolation)
{
	struct it_user a, b;
	it_register(&a, "sess-a");
	it_register(&b, "sess-b");
	char bsid[64];
	token_sid(b.access, bsid, sizeof(bsid));
	struct it_resp *r = it_get("/api/auth/sessions", a.access);
	it_expect(r, 200, NULL);
	ck_assert_ptr_null(find_session(it_at(r, "items"), bsid));
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 1);
	it_free(r);
	char path[128];
	snprintf(path, sizeof(path), "/api/auth/sessions/%s", bsid);
	r = req_json("DELETE", path, a.access, NULL);
	it_expect_problem(r, 404, "not_found");
	it_free(r);
	/* B's session still works */
	ck_assert_int_eq(me_status(b.access), 200);
	ck_assert_int_eq(refresh_status(b.refresh), 200);
	const char *bad[] = {"/api/auth/sessions/not-a-uuid", "/api/auth/sessions/00000000-0000-0000-0000-000000000000",
			     "/api/auth/sessions/12345", "/api/auth/sessions/%27%20OR%201=1--"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = req_json("DELETE", bad[i], a.access, NULL);
		if (r->status != 404)
			ck_abort_msg("DELETE %s: %ld %s", bad[i], r->status, r->body);
		it_expect_problem(r, 404, "not_found");
		it_free(r);
	}
	ck_assert_int_eq(me_status(a.access), 200);
	r = req_json("DELETE", path, NULL, NULL);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	ck_assert_int_eq(me_status(b.access), 200);
}
END_TEST

START_TEST(sessions_revoke_own)
{
	struct it_user a;
	it_register(&a, "sess-revoke");
	struct sess s1, s2;
	user_session(&a, &s1);
	login_session(&a, NULL, &s2);
	char path[128];
	snprintf(path, sizeof(path), "/api/auth/sessions/%s", s1.sid);
	struct it_resp *r = req_json("DELETE", path, s2.access, NULL);
	it_expect(r, 204, NULL);
	ck_assert_uint_eq(r->body_len, 0);
	it_free(r);
	ck_assert_int_eq(me_status(s1.access), 401);
	ck_assert_int_eq(refresh_status(s1.refresh), 401);
	ck_assert_int_eq(me_status(s2.access), 200);
	r = it_get("/api/auth/sessions", s2.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 1);
	ck_assert_ptr_null(find_session(it_at(r, "items"), s1.sid));
	it_free(r);
	/* twice → 404 */
	r = req_json("DELETE", path, s2.access, NULL);
	it_expect_problem(r, 404, "not_found");
	it_free(r);
	ck_assert_int_eq(audit_count("session.revoked", "target_id", s1.sid), 1);
	/* the current session may be revoked too: its token dies with it */
	snprintf(path, sizeof(path), "/api/auth/sessions/%s", s2.sid);
	r = req_json("DELETE", path, s2.access, NULL);
	it_expect(r, 204, NULL);
	it_free(r);
	ck_assert_int_eq(me_status(s2.access), 401);
	ck_assert_int_eq(refresh_status(s2.refresh), 401);
}
END_TEST

/* Lists take ?page=&per_page= (API.md, Conventions). */
START_TEST(sessions_pagination)
{
	struct it_user a;
	it_register(&a, "sess-page");
	struct sess s[3];
	for (int i = 0; i < 3; i++)
		login_session(&a, NULL, &s[i]);
	/* 4 sessions: register + 3 logins */
	struct it_resp *r = it_get("/api/auth/sessions?per_page=2", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "total")), 4);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "per_page")), 2);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "page")), 1);
	ck_assert_msg(json_object_array_length(it_at(r, "items")) == 2, "per_page=2 gave %zu items",
		      json_object_array_length(it_at(r, "items")));
	char first[2][64];
	for (int i = 0; i < 2; i++)
		snprintf(first[i], sizeof(first[i]), "%s", obj_str(json_object_array_get_idx(it_at(r, "items"), (size_t)i), "id"));
	it_free(r);
	r = it_get("/api/auth/sessions?page=2&per_page=2", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "page")), 2);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 2);
	for (int i = 0; i < 2; i++)
		ck_assert_ptr_null(find_session(it_at(r, "items"), first[i]));
	it_free(r);
	r = it_get("/api/auth/sessions?page=3&per_page=2", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 0);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "total")), 4);
	it_free(r);
	/* per_page at most 200: above it (or page/per_page below 1) is 422 (API.md, Conventions) */
	const char *bad[] = {"per_page=1000", "per_page=201", "per_page=0", "page=0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "/api/auth/sessions?%s", bad[i]);
		r = it_get(path, a.access);
		expect_invalid(r, strncmp(bad[i], "page", 4) ? "per_page" : "page");
		it_free(r);
	}
	r = it_get("/api/auth/sessions?per_page=200", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "per_page")), 200);
	it_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accounts_sessions");
	TCase *tc = tcase_create("logout");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, logout_body_token);
	tcase_add_test(tc, logout_cookie);
	tcase_add_test(tc, logout_all);
	suite_add_tcase(s, tc);

	tc = tcase_create("sessions");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sessions_list);
	tcase_add_test(tc, sessions_isolation);
	tcase_add_test(tc, sessions_revoke_own);
	tcase_add_test(tc, sessions_pagination);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
