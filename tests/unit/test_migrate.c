/* test_migrate.c — migration file names and listing a migrations directory (no database). */
#include "unit.h"

#include <sys/stat.h>

#include "tollgate/crypto.h"
#include "tollgate/migrate.h"
#include "tollgate/status.h"

static char dir[256];
static struct migration *list;
static size_t n;

static void setup(void)
{
	unit_tmpdir(dir, sizeof(dir));
	list = NULL;
	n = 0;
}

static void teardown(void)
{
	migrate_list_free(list, n);
	list = NULL;
	n = 0;
	unit_rmtree(dir);
}

static void put(const char *name, const char *content)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unit_write_file(path, content, strlen(content));
}

/* ---- names ---- */

START_TEST(test_name_valid)
{
	static const char *const good[] = {
		"0001_accounts.sql", "0002_a.sql", "0010_add-index.sql", "9999_Mixed_Case_9.sql",
		"0000_x.sql", "0003_email_outbox.sql",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(migrate_name_valid(good[i]), "refused %s", good[i]);
}
END_TEST

START_TEST(test_name_invalid)
{
	static const char *const bad[] = {
		"", ".sql", "0001.sql", "0001_.sql", "001_a.sql", "00001_a.sql", "0001-a.sql", "0001a.sql",
		"abcd_a.sql", "0x01_a.sql", "0001_a.SQL", "0001_a.sql~", "0001_a.sql.bak", "0001_a.txt",
		"0001_a", "0001_a b.sql", "0001_a/b.sql", "0001_a.b.sql", ".0001_a.sql", "0001_a\n.sql",
		"README.md", " 0001_a.sql", "0001_\xc3\xa9.sql", "sql",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!migrate_name_valid(bad[i]), "accepted \"%s\"", bad[i]);
}
END_TEST

/* ---- listing ---- */

START_TEST(test_list_sorted_with_checksums)
{
	put("0003_c.sql", "CREATE TABLE c (id int);\n");
	put("0001_a.sql", "CREATE TABLE t (id int);\n");
	put("0010_j.sql", "");
	put("0002_b.sql", "-- b\nSELECT 1;\n");
	ck_assert_int_eq(migrate_list(dir, &list, &n), TG_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(list[0].name, "0001_a.sql");
	ck_assert_str_eq(list[1].name, "0002_b.sql");
	ck_assert_str_eq(list[2].name, "0003_c.sql");
	ck_assert_str_eq(list[3].name, "0010_j.sql");

	ck_assert_str_eq(list[0].sql, "CREATE TABLE t (id int);\n");
	ck_assert_uint_eq(list[0].len, strlen("CREATE TABLE t (id int);\n"));
	/* sha256sum of the file, computed independently */
	ck_assert_str_eq(list[0].sha256, "12c83f983b0c94b9c7010dcc92149589d5fb01a3d32af8f6d699545d95db9040");
	ck_assert_str_eq(list[1].sql, "-- b\nSELECT 1;\n");

	/* an empty migration is listed, with the hash of nothing */
	ck_assert_str_eq(list[3].sql, "");
	ck_assert_uint_eq(list[3].len, 0);
	ck_assert_str_eq(list[3].sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	for (size_t i = 0; i < n; i++) {
		char want[65];
		crypto_sha256_hex(list[i].sql, list[i].len, want);
		ck_assert_str_eq(list[i].sha256, want);
	}
}
END_TEST

START_TEST(test_list_ignores_other_files)
{
	put("0001_a.sql", "A");
	put("0002_b.sql", "B");
	put("README.md", "docs");
	put("0003_c.sql.bak", "backup");
	put("0004_d.sql~", "editor");
	put(".0005_hidden.sql", "hidden");
	put("notes.txt", "x");
	put("0006_bad name.sql", "x");
	put("06_short.sql", "x");
	ck_assert_int_eq(migrate_list(dir, &list, &n), TG_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[0].name, "0001_a.sql");
	ck_assert_str_eq(list[1].name, "0002_b.sql");
}
END_TEST

START_TEST(test_list_binary_content)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/0001_bin.sql", dir);
	unit_write_file(path, "a\0b", 3);
	ck_assert_int_eq(migrate_list(dir, &list, &n), TG_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(list[0].len, 3); /* the length is the file's, not strlen */
	char want[65];
	crypto_sha256_hex("a\0b", 3, want);
	ck_assert_str_eq(list[0].sha256, want);
}
END_TEST

START_TEST(test_list_duplicate_numbers_refused)
{
	put("0001_a.sql", "A");
	put("0002_b.sql", "B");
	put("0002_c.sql", "C");
	put("0003_d.sql", "D");
	struct migration *l = (struct migration *)1;
	size_t k = 77;
	ck_assert_int_eq(migrate_list(dir, &l, &k), TG_EINPUT);
	/* nothing handed out on failure */
	ck_assert_ptr_eq(l, (struct migration *)1);
	ck_assert_uint_eq(k, 77);
}
END_TEST

START_TEST(test_list_empty_dir)
{
	put("README", "no migrations yet");
	ck_assert_int_eq(migrate_list(dir, &list, &n), TG_OK);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_list_missing_dir)
{
	char missing[300];
	snprintf(missing, sizeof(missing), "%s/nope", dir);
	ck_assert_int_eq(migrate_list(missing, &list, &n), TG_EIO);
	ck_assert_ptr_null(list);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_list_many)
{
	/* more than the initial capacity, written in reverse order */
	for (int i = 40; i >= 1; i--) {
		char name[32], sql[64];
		snprintf(name, sizeof(name), "%04d_m%d.sql", i, i);
		snprintf(sql, sizeof(sql), "SELECT %d;\n", i);
		put(name, sql);
	}
	ck_assert_int_eq(migrate_list(dir, &list, &n), TG_OK);
	ck_assert_uint_eq(n, 40);
	for (size_t i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%04zu_m%zu.sql", i + 1, i + 1);
		ck_assert_str_eq(list[i].name, name);
	}
}
END_TEST

START_TEST(test_list_directory_is_not_a_migration)
{
	/* a directory with a migration's name must not be read as a file (ftell on a directory
	 * reports a huge size on ext4) */
	put("0001_a.sql", "A");
	char sub[512];
	snprintf(sub, sizeof(sub), "%s/0002_dir.sql", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(migrate_list(dir, &list, &n), TG_EIO);
	ck_assert_ptr_null(list);
}
END_TEST

static Suite *migrate_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, test_name_valid);
	tcase_add_test(tc, test_name_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("list");
	tcase_add_unchecked_fixture(tc, unit_base_setup, unit_base_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_list_sorted_with_checksums);
	tcase_add_test(tc, test_list_ignores_other_files);
	tcase_add_test(tc, test_list_binary_content);
	tcase_add_test(tc, test_list_duplicate_numbers_refused);
	tcase_add_test(tc, test_list_empty_dir);
	tcase_add_test(tc, test_list_missing_dir);
	tcase_add_test(tc, test_list_many);
	tcase_add_test(tc, test_list_directory_is_not_a_migration);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(migrate_suite)
