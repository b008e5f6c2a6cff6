/* test_totp.c — TOTP against RFC 6238's published test vectors (Appendix B, the SHA-1 rows), the
 * ±1 step window, replay refusal, and base32 against RFC 4648's test vectors. */
#include "unit.h"

#include "tollgate/arena.h"
#include "tollgate/totp.h"

static const uint8_t SEED[] = "12345678901234567890"; /* RFC 6238's SHA-1 seed (20 bytes) */

START_TEST(test_rfc6238_vectors)
{
	static const struct {
		uint64_t t;
		uint32_t code;
	} v[] = {
		{59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
		{1234567890, 89005924}, {2000000000, 69279037}, {20000000000ULL, 65353130},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_uint_eq(totp_code(SEED, 20, v[i].t / 30, 8), v[i].code);
		/* 6 digits: the same value modulo 10^6 */
		ck_assert_uint_eq(totp_code(SEED, 20, v[i].t / 30, 6), v[i].code % 1000000);
	}
}
END_TEST

START_TEST(test_window_and_replay)
{
	time_t now = 1111111111;
	int64_t step;
	/* 050471 is the code at 1111111111 */
	ck_assert(totp_check(SEED, 20, "050471", now, 0, &step));
	ck_assert_int_eq(step, 1111111111 / 30);
	/* accepted from one step before and one after, not two */
	ck_assert(totp_check(SEED, 20, "050471", now + 30, 0, &step));
	ck_assert(totp_check(SEED, 20, "050471", now - 30, 0, &step));
	ck_assert(!totp_check(SEED, 20, "050471", now + 60, 0, &step));
	/* a code of a step already used is refused (no replay), a later one is not */
	ck_assert(!totp_check(SEED, 20, "050471", now, 1111111111 / 30, &step));
	char later[7];
	snprintf(later, sizeof(later), "%06u", totp_code(SEED, 20, 1111111111 / 30 + 1, 6));
	ck_assert(totp_check(SEED, 20, later, now, 1111111111 / 30, &step));
	/* malformed codes */
	static const char *const bad[] = {"", "05047", "0504711", "05047a", " 50471", NULL};
	for (size_t i = 0; bad[i]; i++)
		ck_assert(!totp_check(SEED, 20, bad[i], now, 0, &step));
	ck_assert(!totp_check(SEED, 20, NULL, now, 0, &step));
}
END_TEST

START_TEST(test_base32)
{
	struct arena *a = arena_new(0);
	static const struct {
		const char *in, *out;
	} v[] = {{"", ""}, {"f", "MY"}, {"fo", "MZXQ"}, {"foo", "MZXW6"}, {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"},
		 {"foobar", "MZXW6YTBOI"}};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		ck_assert_str_eq(totp_base32(a, (const uint8_t *)v[i].in, strlen(v[i].in)), v[i].out);
	ck_assert_str_eq(totp_base32(a, SEED, 20), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	arena_destroy(a);
}
END_TEST

static Suite *totp_suite(void)
{
	Suite *s = suite_create("totp");
	TCase *tc = tcase_create("rfc6238");
	tcase_add_test(tc, test_rfc6238_vectors);
	tcase_add_test(tc, test_window_and_replay);
	tcase_add_test(tc, test_base32);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(totp_suite)
