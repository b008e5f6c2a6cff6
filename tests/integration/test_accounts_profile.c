/* test_accounts_profile.c — the profile (API.md, Accounts): PATCH /api/profile, change-password
 * (revokes the other sessions, emails a notice), delete-account (removes what the user owns, an
 * audit entry remains), the audit trail, wrong passwords there counted by the login throttle, and
 * `tollgate user create`. */
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

START_TEST(profile_update_name)
{
	struct it_user u;
	it_register(&u, "profile");
	const char *name = "Grace Hopper \xe2\x9c\x93";
	char body[512];
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	struct it_resp *r = req_json("PATCH", "/api/profile", u.access, body);
	it_expect(r, 200, NULL);
	expect_json_ct(r);
	expect_no_store(r);
	expect_user(r->json, u.email);
	ck_assert_str_eq(it_str(r, "name"), name);
	ck_assert_str_eq(it_str(r, "id"), u.id);
	it_free(r);
	r = it_get("/api/auth/me", u.access);
	ck_assert_str_eq(it_str(r, "name"), name);
	it_free(r);
	/* 100 characters (200 bytes) is fine; an empty name too */
	char n100[256] = "";
	for (int i = 0; i < 100; i++)
		append_e_acute(n100, sizeof(n100));
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", n100);
	r = req_json("PATCH", "/api/profile", u.access, body);
	it_expect(r, 200, NULL);
	ck_assert_str_eq(it_str(r, "name"), n100);
	it_free(r);
	/* API.md: a PATCH keeps the fields it does not send: {} (or only unknown members) changes nothing */
	const char *keep[] = {"{}", "{\"nom\":\"x\"}"};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		r = req_json("PATCH", "/api/profile", u.access, keep[i]);
		it_expect(r, 200, NULL);
		ck_assert_str_eq(it_str(r, "name"), n100);
		it_free(r);
	}
	/* invalid: non-string, null, 101 characters */
	char n101[160];
	memset(n101, 'x', 101);
	n101[101] = '\0';
	char long_body[256];
	snprintf(long_body, sizeof(long_body), "{\"name\":\"%s\"}", n101);
	const char *bad[] = {"{\"name\":5}", "{\"name\":[\"x\"]}", "{\"name\":null}", long_body};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = req_json("PATCH", "/api/profile", u.access, bad[i]);
		if (r->status != 422)
			ck_abort_msg("PATCH %s: %ld %s", bad[i], r->status, r->body);
		expect_invalid(r, "name");
		it_free(r);
	}
	r = it_get("/api/auth/me", u.access);
	ck_assert_str_eq(it_str(r, "name"), n100);
	it_free(r);
	/* no token → 401; not JSON → 400; another type → 415 */
	r = req_json("PATCH", "/api/profile", NULL, "{\"name\":\"x\"}");
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = req_json("PATCH", "/api/profile", u.access, "{\"name\":");
	it_expect_problem(r, 400, "invalid_json");
	it_free(r);
	struct it_req q = {.method = "PATCH", .path = "/api/profile", .bearer = u.access, .body = "name=x",
			   .content_type = "application/x-www-form-urlencoded"};
	r = it_do(&q);
	it_expect_problem(r, 415, "unsupported_media_type");
	it_free(r);
}
END_TEST

static struct it_resp *change_password(const char *access, const char *current, const char *fresh)
{
	json_object *o = json_object_new_object();
	if (current)
		json_object_object_add(o, "current_password", json_object_new_string(current));
	if (fresh)
		json_object_object_add(o, "new_password", json_object_new_string(fresh));
	struct it_resp *r = it_post("/api/profile/change-password", access, json_object_to_json_string(o));
	json_object_put(o);
	return r;
}

START_TEST(profile_change_password)
{
	struct it_user u;
	it_register(&u, "chpw");
	struct sess s1, s2, s3;
	user_session(&u, &s1);
	login_session(&u, NULL, &s2);
	login_session(&u, NULL, &s3);
	struct it_resp *r = change_password(s1.access, "Wrong-Current-1", "Brand-New-Pass-42");
	expect_invalid(r, "current_password");
	it_free(r);
	r = change_password(s1.access, NULL, "Brand-New-Pass-42");
	expect_invalid(r, "current_password");
	it_free(r);
	const char *weak[] = {"short7!", "password123", "", NULL};
	for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
		r = change_password(s1.access, u.password, weak[i]);
		expect_invalid(r, "new_password");
		it_free(r);
	}
	r = change_password(s1.access, u.password, u.email);
	expect_invalid(r, "new_password");
	it_free(r);
	r = it_post("/api/profile/change-password", s1.access, "{\"current_password\":1,\"new_password\":\"Brand-New-Pass-42\"}");
	expect_invalid(r, "current_password");
	it_free(r);
	r = it_post("/api/profile/change-password", s1.access,
		    "{\"current_password\":\"Brand-New-Pass-42\",\"new_password\":42}");
	expect_invalid(r, "new_password");
	it_free(r);
	/* nothing changed so far */
	ck_assert_int_eq(me_status(s2.access), 200);
	r = change_password(NULL, u.password, "Brand-New-Pass-42");
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);

	r = change_password(s1.access, u.password, "Brand-New-Pass-42");
	it_expect(r, 204, NULL);
	ck_assert_uint_eq(r->body_len, 0);
	it_expect_request_id(r, NULL);
	it_free(r);
	/* other sessions die at once, the current one lives on (access and refresh) */
	ck_assert_int_eq(me_status(s2.access), 401);
	ck_assert_int_eq(me_status(s3.access), 401);
	ck_assert_int_eq(refresh_status(s2.refresh), 401);
	ck_assert_int_eq(refresh_status(s3.refresh), 401);
	ck_assert_int_eq(me_status(s1.access), 200);
	ck_assert_int_eq(refresh_status(s1.refresh), 200);
	/* the old password fails, the new one works */
	r = login_raw(u.email, u.password, "body", NULL);
	it_expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	r = login_raw(u.email, "Brand-New-Pass-42", "body", NULL);
	free(expect_token_response(r, 200, true, u.email));
	it_free(r);
	ck_assert_int_eq(audit_count("user.password_changed", "target_id", u.id), 1);
	/* a "password changed" email was queued */
	ck_assert_msg(wait_mail(u.email, "changed", 15) >= 1, "no password-changed email to %s", u.email);
}
END_TEST

START_TEST(profile_delete_account)
{
	struct it_user u, other;
	it_register(&u, "delete");
	it_register(&other, "delete-other");
	struct sess s2;
	login_session(&u, NULL, &s2);
	struct it_resp *r = it_post("/api/profile/delete-account", u.access, "{\"password\":\"Wrong-Pass-1\"}");
	expect_invalid(r, "password");
	it_free(r);
	r = it_post("/api/profile/delete-account", u.access, "{}");
	expect_invalid(r, "password");
	it_free(r);
	r = it_post("/api/profile/delete-account", u.access, "{\"password\":7}");
	expect_invalid(r, "password");
	it_free(r);
	r = it_post("/api/profile/delete-account", NULL, "{\"password\":\"x\"}");
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	/* another user's password does not delete this account */
	char body[256];
	snprintf(body, sizeof(body), "{\"password\":\"%s\"}", other.password);
	r = it_post("/api/profile/delete-account", u.access, body);
	expect_invalid(r, "password");
	it_free(r);
	ck_assert_int_eq(me_status(u.access), 200);

	snprintf(body, sizeof(body), "{\"password\":\"%s\"}", u.password);
	r = it_post("/api/profile/delete-account", u.access, body);
	it_expect(r, 204, NULL);
	it_expect_request_id(r, NULL);
	it_free(r);
	/* its throttle row went with it (a later login for the address starts a new one) */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM login_throttle WHERE email = '%s'", u.email), 0);
	/* everything is revoked */
	ck_assert_int_eq(me_status(u.access), 401);
	ck_assert_int_eq(me_status(s2.access), 401);
	ck_assert_int_eq(refresh_status(u.refresh), 401);
	ck_assert_int_eq(refresh_status(s2.refresh), 401);
	r = login_raw(u.email, u.password, "body", NULL);
	it_expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	/* the user and what they own are gone; the audit entry remains */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE id = '%s'", u.id), 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM sessions WHERE user_id = '%s'", u.id), 0);
	/* nothing of the account is left to send or to read in the outbox */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address = '%s'", u.email), 0);
	ck_assert_int_eq(audit_count("user.deleted", "target_id", u.id), 1);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM audit_log WHERE action = 'user.deleted' AND target_id = '%s'"
				  " AND actor_id = '%s' AND ip <> '' AND at > now() - interval '5 minutes'",
				  u.id, u.id),
			 1);
	/* the deleted user's email is not kept in clear in the entry */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM audit_log WHERE action = 'user.deleted' AND target_id = '%s'"
				  " AND detail::text LIKE '%%%s%%'",
				  u.id, u.email),
			 0);
	/* other users are unaffected; the address is free again */
	ck_assert_int_eq(me_status(other.access), 200);
	r = register_raw(u.email, "Another-Horse-5", "body");
	free(expect_token_response(r, 201, true, u.email));
	ck_assert_str_ne(it_str(r, "user.id"), u.id);
	it_free(r);
}
END_TEST

START_TEST(audit_trail)
{
	struct it_user u;
	it_register(&u, "audit");
	ck_assert_int_eq(audit_count("user.register", "target_id", u.id), 1);
	ck_assert_int_eq(it_login(&u), 200);
	ck_assert_int_eq(audit_count("user.login", "target_id", u.id), 1);
	struct it_resp *r = login_raw(u.email, "Wrong-Pass-1", "body", NULL);
	it_expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	ck_assert_int_eq(audit_count("user.login_failed", "target_id", u.id), 1);
	struct sess s;
	login_session(&u, NULL, &s);
	char body[256];
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", s.refresh);
	r = it_post("/api/auth/logout", NULL, body);
	it_expect(r, 204, NULL);
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM audit_log WHERE action = 'user.logout' AND actor_id = '%s'", u.id), 1);
	struct sess s3;
	login_session(&u, NULL, &s3);
	char path[128];
	snprintf(path, sizeof(path), "/api/auth/sessions/%s", s3.sid);
	r = req_json("DELETE", path, u.access, NULL);
	it_expect(r, 204, NULL);
	it_free(r);
	ck_assert_int_eq(audit_count("session.revoked", "target_id", s3.sid), 1);
	r = change_password(u.access, u.password, "Audit-New-Pass-7");
	it_expect(r, 204, NULL);
	it_free(r);
	ck_assert_int_eq(audit_count("user.password_changed", "target_id", u.id), 1);
	/* every entry of this user records an IP and a time */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM audit_log WHERE (actor_id = '%s' OR target_id = '%s')"
				  " AND (ip = '' OR at IS NULL)",
				  u.id, u.id),
			 0);
	/* passwords never reach the audit log */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM audit_log WHERE detail::text LIKE '%%%s%%'", u.password), 0);
}
END_TEST

/* `tollgate user create`: the operator's way to make the first admin (make run uses it). */
START_TEST(cli_user_create_admin)
{
	const char *config = getenv("TG_CONFIG");
	ck_assert_msg(config && *config, "TG_CONFIG is not set");
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("cli-admin"));
	const char *password = "Operator-Chosen-77";
	const char *out = it_sh_out("printf '%%s\\n' '%s' | '%s' --config '%s' user create --email '%s' --name Ops --admin 2>&1;"
				    " echo \"exit=$?\"", password, it_tollgate_bin(), config, email);
	ck_assert_msg(strstr(out, "exit=0") && strstr(out, "created admin"), "user create: %s", out);

	/* the admin can sign in, with role admin and a verified email */
	char body[512];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"session\":\"body\"}", email, password);
	struct it_resp *r = it_post("/api/auth/login", NULL, body);
	it_expect(r, 200, NULL);
	ck_assert_str_eq(it_str(r, "user.role"), "admin");
	ck_assert(json_object_get_boolean(it_at(r, "user.email_verified")));
	it_free(r);

	/* the same email again: refused with its own exit code, nothing changed */
	out = it_sh_out("printf '%%s\\n' 'Another-Pass-88' | '%s' --config '%s' user create --email '%s' 2>&1;"
			" echo \"exit=$?\"", it_tollgate_bin(), config, email);
	ck_assert_msg(strstr(out, "exit=3") && strstr(out, "already exists"), "duplicate user create: %s", out);
	/* the password rules hold here too */
	out = it_sh_out("printf '%%s\\n' 'password123' | '%s' --config '%s' user create --email '%s' 2>&1;"
			" echo \"exit=$?\"", it_tollgate_bin(), config, it_unique_email("cli-weak"));
	ck_assert_msg(strstr(out, "exit=1") && strstr(out, "too common"), "weak password: %s", out);
	out = it_sh_out("'%s' --config '%s' user create --email not-an-email </dev/null 2>&1; echo \"exit=$?\"",
			it_tollgate_bin(), config);
	ck_assert_msg(strstr(out, "exit=1") && strstr(out, "valid email"), "bad email: %s", out);
}
END_TEST

/* Review findings (each failed before its fix). */

/* Wrong passwords on change-password and delete-account were never throttled: an access token
 * let anyone guess the password without limit. */
START_TEST(profile_password_checks_throttled)
{
	struct it_user u;
	it_register(&u, "recheck-throttle");
	long max = cfg_seconds("login_max_failures", 5);
	struct it_resp *r = NULL;
	for (long i = 0; i < max; i++) {
		r = req_json("POST", i % 2 ? "/api/profile/delete-account" : "/api/profile/change-password", u.access,
			     i % 2 ? "{\"password\":\"wrong-guess-1234\"}"
				   : "{\"current_password\":\"wrong-guess-1234\",\"new_password\":\"Brand-New-Pass-9\"}");
		it_expect_problem(r, 422, "validation_failed");
		it_free(r);
	}
	/* locked now: even the right password waits, and login is locked too */
	char body[512];
	snprintf(body, sizeof(body), "{\"current_password\":\"%s\",\"new_password\":\"Brand-New-Pass-9\"}", u.password);
	r = req_json("POST", "/api/profile/change-password", u.access, body);
	it_expect_problem(r, 429, "rate_limited");
	ck_assert_ptr_nonnull(it_header(r, "Retry-After"));
	it_free(r);
	ck_assert_int_eq(it_login(&u), 429);
}
END_TEST

/* change-password {} said "must be a string" for a missing new_password. */
START_TEST(change_password_missing_field_message)
{
	struct it_user u;
	it_register(&u, "cp-message");
	struct it_resp *r = req_json("POST", "/api/profile/change-password", u.access, "{}");
	it_expect_problem(r, 422, "validation_failed");
	ck_assert_str_eq(it_str(r, "errors.new_password"), "is required");
	it_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accounts_profile");
	TCase *tc = tcase_create("profile");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, profile_update_name);
	tcase_add_test(tc, profile_change_password);
	tcase_add_test(tc, profile_delete_account);
	tcase_add_test(tc, audit_trail);
	tcase_add_test(tc, cli_user_create_admin);
	suite_add_tcase(s, tc);

	tc = tcase_create("review");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, profile_password_checks_throttled);
	tcase_add_test(tc, change_password_missing_field_message);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
