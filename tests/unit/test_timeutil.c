/* test_timeutil.c — RFC 3339 formatting, durations, the monotonic clock. */
#include "unit.h"

#include <time.h>

#include "tollgate/timeutil.h"

START_TEST(test_rfc3339_known_instants)
{
	static const struct {
		time_t t;
		const char *s;
	} v[] = {
		{0, "1970-01-01T00:00:00Z"},
		{1795959770, "2026-11-29T13:42:50Z"}, /* the example in API.md */
		{951782400, "2000-02-29T00:00:00Z"},  /* leap day */
		{946684799, "1999-12-31T23:59:59Z"},
		{2147483648LL, "2038-01-19T03:14:08Z"}, /* past the 32-bit rollover */
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char out[21];
		memset(out, 'X', sizeof(out));
		time_rfc3339(v[i].t, out);
		ck_assert_str_eq(out, v[i].s);
		ck_assert_uint_eq(strlen(out), 20);
	}
}
END_TEST

START_TEST(test_rfc3339_is_utc_whatever_tz)
{
	/* local time zone must not leak into the output */
	setenv("TZ", "TST-9", 1); /* POSIX form: needs no tzdata */
	tzset();
	char out[21];
	time_rfc3339(0, out);
	ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
	unsetenv("TZ");
	tzset();
}
END_TEST

START_TEST(test_mono_clock)
{
	int64_t a = time_mono_us();
	ck_assert_int_gt(a, 0);
	struct timespec ts = {0, 3 * 1000 * 1000};
	nanosleep(&ts, NULL);
	int64_t b = time_mono_us();
	ck_assert_int_ge(b - a, 3000);
	ck_assert_int_lt(b - a, 10 * 1000 * 1000); /* microseconds, not nanoseconds */
}
END_TEST

START_TEST(test_duration_valid)
{
	static const struct {
		const char *s;
		long long v;
	} v[] = {
		{"0", 0}, {"30", 30}, {"30s", 30}, {"1m", 60}, {"15m", 900}, {"2h", 7200},
		{"30d", 2592000}, {"0d", 0}, {"007s", 7}, {"365d", 31536000},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		long long out = -1;
		ck_assert_msg(time_parse_duration(v[i].s, &out) == 0, "refused \"%s\"", v[i].s);
		ck_assert_msg(out == v[i].v, "\"%s\" gave %lld", v[i].s, out);
	}
}
END_TEST

START_TEST(test_duration_invalid)
{
	static const char *const bad[] = {
		"", "s", "m", "-5", "-5s", "+5", " 5", "5 ", "5 s", "5x", "5ss", "5ms", "5S", "5M", "1.5h",
		"1e3", "0x10", "5s5", "h5",
		"99999999999999999999",  /* overflows long long */
		"9223372036854775807d",  /* the multiplication would overflow */
		"200000000000d",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long long out = 4242;
		ck_assert_msg(time_parse_duration(bad[i], &out) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(out, 4242); /* untouched on error */
	}
	long long out;
	ck_assert_int_eq(time_parse_duration(NULL, &out), -1);
}
END_TEST

static Suite *timeutil_suite(void)
{
	Suite *s = suite_create("timeutil");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_rfc3339_known_instants);
	tcase_add_test(tc, test_rfc3339_is_utc_whatever_tz);
	tcase_add_test(tc, test_mono_clock);
	tcase_add_test(tc, test_duration_valid);
	tcase_add_test(tc, test_duration_invalid);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(timeutil_suite)
