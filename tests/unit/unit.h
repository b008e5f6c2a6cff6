/* unit.h — shared helpers for the Check unit suites in tests/unit/.
 *
 * Each tests/unit/test_<module>.c defines `static Suite *<module>_suite(void)` and ends with
 * UNIT_MAIN(<module>_suite). The binary exits non-zero when any test fails, so `make unit`
 * and CI can rely on the exit status alone. */
#ifndef TOLLGATE_TESTS_UNIT_H
#define TOLLGATE_TESTS_UNIT_H

#include <check.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static UNIT_UNUSED char unit_base_[256];

/* A fresh directory into buf: under the test case's base directory when unit_base_setup runs as
 * an unchecked fixture, else under $TMPDIR (or /tmp). Fails the test on error. */
static UNIT_UNUSED void unit_tmpdir(char *buf, size_t len)
{
	const char *base = *unit_base_ ? unit_base_ : getenv("TMPDIR");
	int n = snprintf(buf, len, "%s/tollgate-unit-XXXXXX", base && *base ? base : "/tmp");
	ck_assert(n > 0 && (size_t)n < len);
	ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp failed");
}

static UNIT_UNUSED int unit_rm_entry_(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes dir and everything under it (for unit_tmpdir directories); ignores errors. */
static UNIT_UNUSED void unit_rmtree(const char *dir)
{
	if (dir && *dir)
		nftw(dir, unit_rm_entry_, 16, FTW_DEPTH | FTW_PHYS);
}

/* Unchecked fixture (tcase_add_unchecked_fixture): one base directory per test case, created and
 * removed in the runner process, so a failed test (whose checked teardown never runs) leaves no
 * temporary files behind. */
static UNIT_UNUSED void unit_base_setup(void)
{
	unit_base_[0] = '\0';
	char dir[sizeof(unit_base_)];
	unit_tmpdir(dir, sizeof(dir));
	memcpy(unit_base_, dir, sizeof(unit_base_));
}

static UNIT_UNUSED void unit_base_teardown(void)
{
	unit_rmtree(unit_base_);
	unit_base_[0] = '\0';
}

/* Unsets every TOLLGATE_* environment variable, so a developer's shell cannot change a result. */
static UNIT_UNUSED void unit_clear_tollgate_env(void)
{
	extern char **environ;
	for (;;) {
		char name[256] = "";
		for (char **e = environ; e && *e; e++) {
			const char *eq = strchr(*e, '=');
			if (strncmp(*e, "TOLLGATE_", 9) == 0 && eq && (size_t)(eq - *e) < sizeof(name)) {
				memcpy(name, *e, (size_t)(eq - *e));
				name[eq - *e] = '\0';
				break;
			}
		}
		if (!*name)
			return;
		ck_assert_int_eq(unsetenv(name), 0);
	}
}

#endif
