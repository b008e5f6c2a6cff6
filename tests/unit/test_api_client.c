/* test_api_client.c — api_client (src/api/auth_common.c): the client address and User-Agent that
 * sessions and audit entries store in text columns.
 *
 * Regression: a User-Agent with a byte that is not UTF-8, or a long one cut at 512 bytes inside a
 * character, went to PostgreSQL as it was and register/login/refresh answered 500 ("invalid byte
 * sequence for encoding UTF8"). Found while writing the request fuzz target. */
#include "unit.h"

#include "tollgate/arena.h"
#include "tollgate/http.h"
#include "tollgate/status.h"

#include "../../src/api/handlers.h" /* api_client: private to src/api */

static struct arena *A;

static void setup(void)
{
	A = arena_new(0);
	ck_assert_ptr_nonnull(A);
}

static void teardown(void)
{
	arena_destroy(A);
	A = NULL;
}

/* True when s is complete, strict UTF-8. */
static bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		size_t len = *s < 0x80 ? 1 : (*s >= 0xC2 && *s <= 0xDF) ? 2 : (*s & 0xF0) == 0xE0 ? 3
			     : (*s >= 0xF0 && *s <= 0xF4)              ? 4 : 0;
		if (!len)
			return false;
		unsigned long cp = len == 1 ? *s : len == 2 ? *s & 0x1F : len == 3 ? *s & 0x0F : *s & 0x07;
		for (size_t k = 1; k < len; k++) {
			if ((s[k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[k] & 0x3F);
		}
		static const unsigned long min[] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		s += len;
	}
	return true;
}

static struct account_client client_with(const char *user_agent, const char *remote)
{
	char *ua = arena_printf(A, "HTTP_USER_AGENT=%s", user_agent);
	char *ra = arena_printf(A, "REMOTE_ADDR=%s", remote);
	struct http_req *req = arena_alloc(A, sizeof(*req));
	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(http_req_init(req, A, UNIT_ENV(A, "REQUEST_METHOD=POST", "REQUEST_URI=/api/auth/login", ua, ra),
				       NULL, 32),
			 TG_OK);
	return api_client(req);
}

START_TEST(test_plain_user_agent_kept)
{
	struct account_client cl = client_with("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 — Zoë", "203.0.113.7");
	ck_assert_str_eq(cl.user_agent, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 — Zoë");
	ck_assert_str_eq(cl.ip, "203.0.113.7");
}
END_TEST

START_TEST(test_user_agent_not_utf8)
{
	struct account_client cl = client_with("Mozilla \xff\xfe Caf\xe9 \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 ok", "::1");
	ck_assert_msg(utf8_valid(cl.user_agent), "not UTF-8: %s", cl.user_agent);
	ck_assert_str_eq(cl.user_agent, "Mozilla \xef\xbf\xbd\xef\xbf\xbd Caf\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ok"); /* U+FFFD each */
}
END_TEST

START_TEST(test_long_user_agent_cut_between_characters)
{
	for (size_t pad = 505; pad <= 512; pad++) {
		/* 2-, 3- and 4-byte characters straddling the 512-byte limit */
		char *ua = arena_printf(A, "%*s%s", (int)pad, "x", "é日😀é日😀");
		struct account_client cl = client_with(ua, "203.0.113.7");
		ck_assert_msg(utf8_valid(cl.user_agent), "pad %zu: cut inside a character", pad);
		ck_assert_uint_le(strlen(cl.user_agent), 512);
		ck_assert_uint_ge(strlen(cl.user_agent), 509);
		ck_assert(!strncmp(cl.user_agent, ua, strlen(cl.user_agent)));
	}
}
END_TEST

START_TEST(test_missing_fields_are_empty)
{
	struct http_req req;
	ck_assert_int_eq(http_req_init(&req, A, UNIT_ENV(A, "REQUEST_METHOD=GET"), NULL, 32), TG_OK);
	struct account_client cl = api_client(&req);
	ck_assert_str_eq(cl.user_agent, "");
	ck_assert_str_eq(cl.ip, "");
}
END_TEST

static Suite *api_client_suite(void)
{
	Suite *s = suite_create("api_client");
	TCase *tc = tcase_create("client");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_plain_user_agent_kept);
	tcase_add_test(tc, test_user_agent_not_utf8);
	tcase_add_test(tc, test_long_user_agent_cut_between_characters);
	tcase_add_test(tc, test_missing_fields_are_empty);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(api_client_suite)
