/* unit.h — shared helpers for the Check unit suites in tests/unit/.
 *
 * Each tests/unit/test_<module>.c defines `static Suite *<module>_suite(void)` and ends with
 * UNIT_MAIN(<module>_suite). The binary exits non-zero when any test fails, so `make unit`
 * and CI can rely on the exit status alone. */
#ifndef TOLLGATE_TESTS_UNIT_H
#define TOLLGATE_TESTS_UNIT_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tollgate/arena.h"

#define UNIT_UNUSED __attribute__((unused))

/* main(): runs suite_fn()'s suite with CK_NORMAL output; EXIT_FAILURE when a test failed. */
#define UNIT_MAIN(suite_fn)                                                  \
	int main(void)                                                       \
	{                                                                    \
		SRunner *unit_sr_ = srunner_create(suite_fn());              \
		srunner_run_all(unit_sr_, CK_NORMAL);                        \
		int unit_failed_ = srunner_ntests_failed(unit_sr_);          \
		srunner_free(unit_sr_);                                      \
		return unit_failed_ ? EXIT_FAILURE : EXIT_SUCCESS;           \
	}

/* A FastCGI-style environment ("NAME=value" strings, NULL-terminated) in arena memory, built from
 * the NULL-terminated list of "NAME=value" strings that follows a. Use UNIT_ENV(a, "X=1", ...). */
static UNIT_UNUSED char **unit_env(struct arena *a, ...)
{
	va_list ap;
	size_t n = 0;
	va_start(ap, a);
	while (va_arg(ap, const char *))
		n++;
	va_end(ap);
	char **env = arena_alloc(a, (n + 1) * sizeof(*env));
	ck_assert_ptr_nonnull(env);
	va_start(ap, a);
	for (size_t i = 0; i < n; i++) {
		env[i] = arena_strdup(a, va_arg(ap, const char *));
		ck_assert_ptr_nonnull(env[i]);
	}
	va_end(ap);
	env[n] = NULL;
	return env;
}

#define UNIT_ENV(a, ...) unit_env((a), __VA_ARGS__, (const char *)NULL)

/* Writes len bytes of data to path (created or truncated); fails the test on error. */
static UNIT_UNUSED void unit_write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot create %s", path);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* A fresh directory under $TMPDIR (or /tmp), into buf; fails the test on error. */
static UNIT_UNUSED void unit_tmpdir(char *buf, size_t len)
{
	const char *base = getenv("TMPDIR");
	int n = snprintf(buf, len, "%s/tollgate-unit-XXXXXX", base && *base ? base : "/tmp");
	ck_assert(n > 0 && (size_t)n < len);
	ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp failed");
}

#endif
