/* test_accounts_consent.c — legal consent and the data export (API.md, "Consent"): GET /api/site,
 * registration with accept_terms, terms_accepted on the User object, accepting the current version
 * after an admin raised it (each acceptance kept), and GET /api/profile/export. */
#include "accounts_helpers.h"
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *current_terms(void)
{
	struct it_resp *r = it_get("/api/site", NULL);
	it_expect(r, 200, NULL);
	char *v = xstrdup(it_str(r, "terms_version"));
	it_free(r);
	return v;
}

/* Sets the terms version in the settings and waits (bounded) until the API shows it. */
static void set_terms(const char *version)
{
	sql_exec("UPDATE settings SET value = to_jsonb('%s'::text) WHERE key = 'terms_version'", version);
	for (int i = 0; i < 100; i++) {
		char *v = current_terms();
		bool done = !strcmp(v, version);
		free(v);
		if (done)
			return;
		it_sleep_ms(50);
	}
	ck_abort_msg("the API never showed terms version %s", version);
}

/* What /me says of terms_accepted once it says want, or after 2 s. Changes reach the other
 * workers through NOTIFY, a moment after the answer of the request that made them. */
static bool me_terms_accepted_becomes(const char *access, bool want)
{
	bool yes = !want;
	for (int i = 0; i < 40 && yes != want; i++) {
		if (i)
			it_sleep_ms(50);
		struct it_resp *r = it_get("/api/auth/me", access);
		it_expect(r, 200, NULL);
		yes = it_bool(r, "terms_accepted");
		it_free(r);
	}
	return yes;
}

START_TEST(site_is_public)
{
	struct it_resp *r = it_get("/api/site", NULL);
	it_expect(r, 200, NULL);
	expect_json_ct(r);
	ck_assert_ptr_nonnull(it_str(r, "app_name"));
	ck_assert_ptr_nonnull(it_str(r, "support_email"));
	ck_assert(json_object_is_type(it_at(r, "registration_open"), json_type_boolean));
	ck_assert(json_object_is_type(it_at(r, "maintenance_mode"), json_type_boolean));
	ck_assert(json_object_is_type(it_at(r, "providers"), json_type_array));
	/* the operator's details, from the configuration, for the legal pages */
	char company[256];
	ck_assert(cfg_lookup("company_name", company, sizeof(company)));
	ck_assert_str_eq(it_str(r, "company_name"), company);
	ck_assert_str_eq(it_str(r, "legal_effective_date"), "2026-12-01");
	ck_assert_ptr_nonnull(it_str(r, "company_address"));
	ck_assert_ptr_nonnull(it_str(r, "contact_email"));
	ck_assert_ptr_nonnull(it_str(r, "legal_jurisdiction"));
	/* the settings' version, as stored */
	char *stored = xstrdup(it_sql("SELECT value #>> '{}' FROM settings WHERE key = 'terms_version'"));
	ck_assert_str_eq(it_str(r, "terms_version"), stored);
	free(stored);
	it_free(r);
}
END_TEST

START_TEST(register_with_and_without_consent)
{
	char *version = current_terms();
	const char *email = it_unique_email("consent");
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"email\":\"%s\",\"password\":\"Consent and 7 more!\",\"accept_terms\":true,\"session\":\"body\"}", email);
	struct it_resp *r = req_json("POST", "/api/auth/register", NULL, body);
	free(expect_token_response(r, 201, true, email));
	ck_assert(json_object_get_boolean(json_object_object_get(it_at(r, "user"), "terms_accepted")));
	it_free(r);
	char want[160];
	snprintf(want, sizeof(want), "%s 127.0.0.1", version);
	ck_assert_str_eq(it_sql("SELECT t.version || ' ' || t.ip FROM terms_acceptances t JOIN users u ON u.id = t.user_id"
				" WHERE u.email = '%s'", email),
			 want);

	/* false or absent: the account works, but has not accepted */
	const char *no[] = {"false", NULL};
	for (size_t i = 0; i < 2; i++) {
		email = it_unique_email("noconsent");
		if (no[i])
			snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"Consent and 7 more!\",\"accept_terms\":%s}",
				 email, no[i]);
		else
			snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"Consent and 7 more!\"}", email);
		r = req_json("POST", "/api/auth/register", NULL, body);
		it_expect(r, 201, NULL);
		ck_assert(!json_object_get_boolean(json_object_object_get(it_at(r, "user"), "terms_accepted")));
		it_free(r);
		ck_assert_int_eq(it_sql_long("SELECT count(*) FROM terms_acceptances t JOIN users u ON u.id = t.user_id"
					     " WHERE u.email = '%s'", email), 0);
	}
	/* not a boolean */
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"Consent and 7 more!\",\"accept_terms\":\"yes\"}",
		 it_unique_email("badconsent"));
	r = req_json("POST", "/api/auth/register", NULL, body);
	expect_invalid(r, "accept_terms");
	it_free(r);
	free(version);
}
END_TEST

START_TEST(accept_the_current_version_after_a_raise)
{
	char *before = current_terms();
	struct it_user u;
	it_register(&u, "accept");
	ck_assert(!me_terms_accepted_becomes(u.access, false));

	char body[256];
	snprintf(body, sizeof(body), "{\"version\":\"%s\"}", before);
	struct it_resp *r = req_json("POST", "/api/profile/accept-terms", u.access, body);
	it_expect(r, 200, NULL);
	expect_no_store(r);
	expect_user(r->json, u.email);
	ck_assert(it_bool(r, "terms_accepted"));
	it_free(r);
	ck_assert(me_terms_accepted_becomes(u.access, true));

	/* an admin raises the version: the user is asked again; the old version is no longer accepted */
	char raised[64];
	snprintf(raised, sizeof(raised), "%s-r%d", before, (int)(now_s()) % 100000);
	set_terms(raised);
	ck_assert(!me_terms_accepted_becomes(u.access, false));
	r = req_json("POST", "/api/profile/accept-terms", u.access, body);
	expect_invalid(r, "version");
	it_free(r);
	const char *bad[] = {"{}", "{\"version\":5}", "{\"version\":\"\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = req_json("POST", "/api/profile/accept-terms", u.access, bad[i]);
		expect_invalid(r, "version");
		it_free(r);
	}
	snprintf(body, sizeof(body), "{\"version\":\"%s\"}", raised);
	r = req_json("POST", "/api/profile/accept-terms", u.access, body);
	it_expect(r, 200, NULL);
	ck_assert(it_bool(r, "terms_accepted"));
	it_free(r);
	ck_assert(me_terms_accepted_becomes(u.access, true));
	/* each acceptance kept, in order */
	char want[160];
	snprintf(want, sizeof(want), "%s,%s", before, raised);
	ck_assert_str_eq(it_sql("SELECT string_agg(t.version, ',' ORDER BY t.id) FROM terms_acceptances t"
				" JOIN users u ON u.id = t.user_id WHERE u.email = '%s'", u.email),
			 want);
	set_terms(before);

	r = req_json("POST", "/api/profile/accept-terms", NULL, body);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	free(before);
}
END_TEST

START_TEST(export_holds_what_the_account_owns)
{
	struct it_user u, other;
	it_register(&u, "export");
	it_register(&other, "export-other");
	struct it_resp *r = req_json("POST", "/api/projects", u.access, "{\"name\":\"Export me\"}");
	it_expect(r, 201, NULL);
	char project[64], path[160];
	snprintf(project, sizeof(project), "%s", it_str(r, "id"));
	it_free(r);
	snprintf(path, sizeof(path), "/api/projects/%s/documents", project);
	r = req_json("POST", path, u.access, "{\"title\":\"Notes\",\"content\":\"caf\xc3\xa9 \\\"quoted\\\" line\\nnext\"}");
	it_expect(r, 201, NULL);
	it_free(r);
	r = req_json("POST", "/api/projects", other.access, "{\"name\":\"Not yours\"}");
	it_expect(r, 201, NULL);
	it_free(r);

	r = it_get("/api/profile/export", u.access);
	it_expect(r, 200, NULL);
	expect_json_ct(r);
	expect_no_store(r);
	const char *cd = it_header(r, "Content-Disposition");
	ck_assert_msg(cd && !strncasecmp(cd, "attachment; filename=", 21) && strstr(cd, ".json"), "Content-Disposition %s",
		      cd ? cd : "(none)");
	ck_assert_str_eq(it_str(r, "user.email"), u.email);
	ck_assert_str_eq(it_str(r, "user.id"), u.id);
	ck_assert_str_eq(it_str(r, "projects.0.name"), "Export me");
	ck_assert_str_eq(it_str(r, "projects.0.documents.0.content"), "caf\xc3\xa9 \"quoted\" line\nnext");
	ck_assert_int_eq(json_object_array_length(it_at(r, "projects")), 1);
	ck_assert_int_ge(json_object_array_length(it_at(r, "sessions")), 1);
	ck_assert(json_object_is_type(it_at(r, "notification_preferences"), json_type_object));
	const char *arrays[] = {"terms_acceptances", "notifications", "subscriptions", "invoices", "agents", "token_usage",
				"audit"};
	for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
		ck_assert_msg(json_object_is_type(it_at(r, arrays[i]), json_type_array), "%s is not an array", arrays[i]);
	/* nothing of anyone else's, and no secret */
	ck_assert_ptr_null(strstr(r->body, "Not yours"));
	ck_assert_ptr_null(strstr(r->body, other.email));
	ck_assert_ptr_null(strstr(r->body, "password"));
	ck_assert_ptr_null(strstr(r->body, "$2b$"));
	ck_assert_ptr_null(strstr(r->body, u.refresh));
	it_free(r);

	r = it_get("/api/profile/export", NULL);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accounts_consent");
	TCase *tc = tcase_create("consent");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, site_is_public);
	tcase_add_test(tc, register_with_and_without_consent);
	tcase_add_test(tc, accept_the_current_version_after_a_raise);
	tcase_add_test(tc, export_holds_what_the_account_owns);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
