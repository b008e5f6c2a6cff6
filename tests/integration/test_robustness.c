/* test_robustness.c — hostile input found by review (issue 8), through nginx: headers that are
 * not UTF-8 reaching text columns, malformed query values. */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const hostile_agents[] = {
	"User-Agent: Mozilla/5.0 (Caf\xe9; \xc9t\xe9)", /* Latin-1 */
	"User-Agent: \xff",
	NULL, /* filled in: 511 ASCII bytes then "é" (the old 512-byte cut split it) */
};

static const char *agent(int i, char *buf, size_t len)
{
	if (hostile_agents[i])
		return hostile_agents[i];
	int n = snprintf(buf, len, "User-Agent: ");
	memset(buf + n, 'a', 511);
	memcpy(buf + n + 511, "\xc3\xa9", 3);
	return buf;
}

static struct it_resp *post_as(const char *ua, const char *path, const char *json)
{
	struct it_req rq = {.method = "POST", .path = path, .json = json, .headers = {ua, NULL}};
	return it_do(&rq);
}

/* Each agent: register, six logins with the right password (the old 500 counted five of them
 * toward the lockout), a refresh, and the session listed with a valid agent. */
START_TEST(test_non_utf8_user_agent)
{
	char big[600];
	const char *ua = agent(_i, big, sizeof(big));
	const char *email = it_unique_email("ua");
	char body[256];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"pw-Quartz-1234\",\"session\":\"body\"}", email);
	struct it_resp *r = post_as(ua, "/api/auth/register", body);
	it_expect(r, 201, NULL);
	it_free(r);
	char refresh[256] = "";
	for (int i = 0; i < 6; i++) {
		r = post_as(ua, "/api/auth/login", body);
		it_expect(r, 200, NULL);
		snprintf(refresh, sizeof(refresh), "%s", it_str(r, "refresh_token"));
		it_free(r);
	}
	char rbody[300];
	snprintf(rbody, sizeof(rbody), "{\"refresh_token\":\"%s\",\"session\":\"body\"}", refresh);
	r = post_as(ua, "/api/auth/refresh", rbody);
	it_expect(r, 200, NULL);
	char access[1024];
	snprintf(access, sizeof(access), "%s", it_str(r, "access_token"));
	it_free(r);
	r = it_get("/api/auth/sessions", access);
	it_expect(r, 200, NULL);
	const char *stored = it_str(r, "items.0.user_agent");
	ck_assert_ptr_nonnull(stored);
	ck_assert_msg(strstr(stored, "\xef\xbf\xbd") || strlen(stored) == 511, "stored agent: %s", stored);
	ck_assert_uint_le(strlen(stored), 512);
	it_free(r);
}
END_TEST

/* A malformed percent-encoding in a query value is an invalid value (422 naming it), not an
 * absent one (it used to give 200 with the defaults). */
START_TEST(test_malformed_query_values)
{
	struct it_user u;
	it_register(&u, "query");
	static const struct {
		const char *query, *field;
	} cases[] = {
		{"per_page=%00", "per_page"}, {"page=%", "page"},        {"page=%4", "page"},
		{"per_page=%zz", "per_page"}, {"page=%ff", "page"},     {"unread=%e9", "unread"},
		{"unread=maybe", "unread"},   {"per_page=201", "per_page"}, {"page=0", "page"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "/api/notifications?%s", cases[i].query);
		struct it_resp *r = it_get(path, u.access);
		it_expect(r, 422, "validation_failed");
		ck_assert_msg(it_at(r, "errors") != NULL, "%s", r->body);
		char key[64];
		snprintf(key, sizeof(key), "errors.%s", cases[i].field);
		ck_assert_msg(it_str(r, key) != NULL, "?%s: no error for %s: %s", cases[i].query, cases[i].field, r->body);
		it_free(r);
	}
	struct it_resp *r = it_get("/api/notifications?page=1&per_page=5&unread=0", u.access);
	it_expect(r, 200, NULL);
	it_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("robustness");
	TCase *tc = tcase_create("hostile input");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_non_utf8_user_agent, 0, 3);
	tcase_add_test(tc, test_malformed_query_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
