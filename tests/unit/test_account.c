/* test_account.c — the pure parts of accounts: email normalisation and shape, display names,
 * UUID text, and the User JSON object of API.md. (Everything else in account.c needs the
 * database and is covered by the integration tests.) */
#include "unit.h"

#include <json.h>

#include "tollgate/account.h"
#include "tollgate/arena.h"
#include "tollgate/uuid.h"

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

static char *repeat(char c, size_t n)
{
	char *s = arena_alloc(A, n + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	return s;
}

static char *repeat_str(const char *unit, size_t n)
{
	size_t ul = strlen(unit);
	char *s = arena_alloc(A, ul * n + 1);
	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	return s;
}

#define ASSERT_EMAIL(in, out)                                                                    \
	do {                                                                                     \
		char *n_ = account_normalize_email(A, (in));                                     \
		ck_assert_msg(n_ != NULL, "email \"%s\" refused", (in));                         \
		ck_assert_str_eq(n_, (out));                                                     \
	} while (0)

#define ASSERT_NOT_EMAIL(in) \
	ck_assert_msg(account_normalize_email(A, (in)) == NULL, "email \"%s\" accepted", (in))

/* ---- email ---- */

START_TEST(test_email_trim_and_lower)
{
	ASSERT_EMAIL("alice@example.com", "alice@example.com");
	ASSERT_EMAIL("  Alice@Example.COM  ", "alice@example.com");
	ASSERT_EMAIL("\t\r\nBOB@EXAMPLE.ORG\n", "bob@example.org");
	ASSERT_EMAIL("Mixed.Case+Tag@Sub.Example.Co.Uk", "mixed.case+tag@sub.example.co.uk");
	/* the input is not modified */
	char in[] = " Carol@Example.com ";
	ASSERT_EMAIL(in, "carol@example.com");
	ck_assert_str_eq(in, " Carol@Example.com ");
}
END_TEST

START_TEST(test_email_shapes_accepted)
{
	ASSERT_EMAIL("a@b.co", "a@b.co");
	ASSERT_EMAIL("admin@localhost", "admin@localhost");
	ASSERT_EMAIL("first.last@example.com", "first.last@example.com");
	ASSERT_EMAIL("user+tag@example.com", "user+tag@example.com");
	ASSERT_EMAIL("o'brien@example.ie", "o'brien@example.ie");
	ASSERT_EMAIL("x_y-z@my-domain.example", "x_y-z@my-domain.example");
	ASSERT_EMAIL("123@456.789", "123@456.789");
}
END_TEST

START_TEST(test_email_shapes_refused)
{
	ck_assert_ptr_null(account_normalize_email(A, NULL));
	ASSERT_NOT_EMAIL("");
	ASSERT_NOT_EMAIL("   ");
	ASSERT_NOT_EMAIL("no-at");
	ASSERT_NOT_EMAIL("no-at.example.com");
	ASSERT_NOT_EMAIL("@example.com");
	ASSERT_NOT_EMAIL("user@");
	ASSERT_NOT_EMAIL("two@@x.com");
	ASSERT_NOT_EMAIL("a@b@c.com");
	ASSERT_NOT_EMAIL("x@.com");
	ASSERT_NOT_EMAIL("x@com.");
	ASSERT_NOT_EMAIL("x@a..b");
	ASSERT_NOT_EMAIL("x@com");          /* undotted, and not localhost */
	ASSERT_NOT_EMAIL("x@localhost.");
	ASSERT_NOT_EMAIL("x@.");
	ASSERT_NOT_EMAIL("x@a.");
	ASSERT_NOT_EMAIL("al ice@example.com"); /* spaces inside */
	ASSERT_NOT_EMAIL("alice@exa mple.com");
	ASSERT_NOT_EMAIL("alice @example.com");
	ASSERT_NOT_EMAIL("alice\t@example.com");
	ASSERT_NOT_EMAIL("alice@example.com\r\nBcc: x@y.z"); /* header injection */
	ASSERT_NOT_EMAIL("alice\x01@example.com");
	ASSERT_NOT_EMAIL("alice\x7f@example.com");
	ASSERT_NOT_EMAIL("Alice <alice@example.com>");
	ASSERT_NOT_EMAIL("\"alice\"@example.com");
	ASSERT_NOT_EMAIL("alice@[127.0.0.1]");
	ASSERT_NOT_EMAIL("alice,bob@example.com");
	ASSERT_NOT_EMAIL("alice;bob@example.com");
	ASSERT_NOT_EMAIL("alice:bob@example.com");
	ASSERT_NOT_EMAIL("alice\\bob@example.com");
	ASSERT_NOT_EMAIL("alice(comment)@example.com");
	ASSERT_NOT_EMAIL("alice@exa_mple.com"); /* domain: letters, digits, '-', '.' */
	ASSERT_NOT_EMAIL("alice@exam!ple.com");
	ASSERT_NOT_EMAIL("alice@example.com/x");
	/* Internationalised addresses are refused: they need SMTPUTF8, and upper-case non-ASCII
	 * ("\xce\xa9" is capital omega) made PostgreSQL's lower() and ours disagree (a 500). */
	ASSERT_NOT_EMAIL("j\xc3\xb6rg@b\xc3\xbc" "cher.de");
	ASSERT_NOT_EMAIL("\xce\xa9@example.com");
	ASSERT_NOT_EMAIL("alice@exa\xcc\x88mple.com");
}
END_TEST

START_TEST(test_email_local_part_length)
{
	/* RFC 5321: a local part has at most 64 octets */
	ASSERT_EMAIL(arena_printf(A, "%s@example.com", repeat('a', 64)),
		     arena_printf(A, "%s@example.com", repeat('a', 64)));
	ASSERT_NOT_EMAIL(arena_printf(A, "%s@example.com", repeat('a', 65)));
}
END_TEST

START_TEST(test_email_total_length)
{
	/* at most 254 characters: 64 + '@' + a 189-character dotted domain */
	char *domain = arena_printf(A, "%s.%s.%s.com", repeat('d', 60), repeat('e', 60), repeat('f', 63));
	ck_assert_uint_eq(strlen(domain), 189);
	char *e254 = arena_printf(A, "%s@%s", repeat('l', 64), domain);
	ck_assert_uint_eq(strlen(e254), 254);
	ASSERT_EMAIL(e254, e254);
	/* surrounding spaces do not count */
	ASSERT_EMAIL(arena_printf(A, "   %s \n", e254), e254);
	char *e255 = arena_printf(A, "%s@x%s", repeat('l', 64), domain);
	ck_assert_uint_eq(strlen(e255), 255);
	ASSERT_NOT_EMAIL(e255);
	ASSERT_NOT_EMAIL(arena_printf(A, "a@%s.com", repeat('b', 10000)));
}
END_TEST

/* ---- names ---- */

START_TEST(test_name_valid)
{
	ck_assert(account_name_valid(""));
	ck_assert(account_name_valid("Alice"));
	ck_assert(account_name_valid("Zoë O'Brien-Smith"));
	ck_assert(account_name_valid("山田 太郎"));
	ck_assert(account_name_valid(repeat('n', 100)));
	ck_assert(!account_name_valid(repeat('n', 101)));
	/* characters, not bytes */
	ck_assert(account_name_valid(repeat_str("\xc3\xa9", 100)));
	ck_assert(!account_name_valid(repeat_str("\xc3\xa9", 101)));
	ck_assert(account_name_valid(repeat_str("\xf0\x9f\x98\x80", 100)));
	ck_assert(!account_name_valid(repeat_str("\xf0\x9f\x98\x80", 101)));
}
END_TEST

START_TEST(test_name_control_characters)
{
	ck_assert(!account_name_valid("Alice\n"));
	ck_assert(!account_name_valid("Al\rice"));
	ck_assert(!account_name_valid("\tAlice"));
	ck_assert(!account_name_valid("Alice\x1b[31m"));
	ck_assert(!account_name_valid("Alice\x7f"));
	ck_assert(!account_name_valid("\x01"));
}
END_TEST

/* ---- UUIDs ---- */

START_TEST(test_uuid_valid)
{
	ck_assert(uuid_valid("6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e90"));
	ck_assert(uuid_valid("00000000-0000-0000-0000-000000000000"));
	ck_assert(uuid_valid("6F1C2A8E-0B7D-4C55-9A1E-3D2F4B6C8E90")); /* PostgreSQL reads both cases */
	ck_assert(!uuid_valid(NULL));
	ck_assert(!uuid_valid(""));
	ck_assert(!uuid_valid("6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e9"));   /* 35 */
	ck_assert(!uuid_valid("6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e900")); /* 37 */
	ck_assert(!uuid_valid("6f1c2a8e0b7d4c559a1e3d2f4b6c8e90"));      /* no hyphens */
	ck_assert(!uuid_valid("6f1c2a8e-0b7d-4c55-9a1e3-d2f4b6c8e90"));  /* hyphen moved */
	ck_assert(!uuid_valid("6f1c2a8e00b7d-4c55-9a1e-3d2f4b6c8e90"));
	ck_assert(!uuid_valid("6f1c2a8g-0b7d-4c55-9a1e-3d2f4b6c8e90"));  /* 'g' */
	ck_assert(!uuid_valid("{6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e9}"));
	ck_assert(!uuid_valid(" 6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e9"));
	ck_assert(!uuid_valid("6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e9 "));
	ck_assert(!uuid_valid("6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e9\n"));
	ck_assert(!uuid_valid("------------------------------------"));
	ck_assert(!uuid_valid("6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e9\xc3"));
}
END_TEST

/* ---- the User object ---- */

static json_object *field(json_object *o, const char *key, json_type type)
{
	json_object *v = NULL;
	ck_assert_msg(json_object_object_get_ex(o, key, &v), "User has no \"%s\"", key);
	ck_assert_msg(json_object_is_type(v, type), "User \"%s\" has type %s", key,
		      json_type_to_name(json_object_get_type(v)));
	return v;
}

START_TEST(test_user_json_fields)
{
	struct account_user u = {
		.id = "6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e90",
		.email = "alice@example.com",
		.name = "Alice",
		.role = "admin",
		.plan = "pro",
		.created_at = "2026-11-29T13:42:50Z",
		.email_verified = true,
		.mfa_enabled = false,
	};
	json_object *o = account_user_json(&u, "v1");
	ck_assert_ptr_nonnull(o);
	/* exactly the fields of API.md */
	ck_assert_int_eq(json_object_object_length(o), 9);
	static const char *const keys[] = {"id", "email", "name", "role", "email_verified", "mfa_enabled",
					   "plan", "created_at", "terms_accepted"};
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		bool known = false;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			known = known || !strcmp(keys[i], key);
		ck_assert_msg(known, "unexpected User field \"%s\"", key);
	}
	ck_assert_str_eq(json_object_get_string(field(o, "id", json_type_string)), u.id);
	ck_assert_str_eq(json_object_get_string(field(o, "email", json_type_string)), u.email);
	ck_assert_str_eq(json_object_get_string(field(o, "name", json_type_string)), "Alice");
	ck_assert_str_eq(json_object_get_string(field(o, "role", json_type_string)), "admin");
	ck_assert(json_object_get_boolean(field(o, "email_verified", json_type_boolean)));
	ck_assert(!json_object_get_boolean(field(o, "mfa_enabled", json_type_boolean)));
	ck_assert_str_eq(json_object_get_string(field(o, "plan", json_type_string)), "pro");
	ck_assert_str_eq(json_object_get_string(field(o, "created_at", json_type_string)), u.created_at);
	/* never accepted */
	ck_assert(!json_object_get_boolean(field(o, "terms_accepted", json_type_boolean)));
	json_object_put(o);

	/* accepted the current version, then an older one when the terms were raised */
	u.terms_version = "v1";
	o = account_user_json(&u, "v1");
	ck_assert(json_object_get_boolean(field(o, "terms_accepted", json_type_boolean)));
	json_object_put(o);
	o = account_user_json(&u, "v2");
	ck_assert(!json_object_get_boolean(field(o, "terms_accepted", json_type_boolean)));
	json_object_put(o);

	u.email_verified = false;
	u.mfa_enabled = true;
	o = account_user_json(&u, "v1");
	ck_assert(!json_object_get_boolean(field(o, "email_verified", json_type_boolean)));
	ck_assert(json_object_get_boolean(field(o, "mfa_enabled", json_type_boolean)));
	json_object_put(o);
}
END_TEST

START_TEST(test_user_json_defaults)
{
	/* missing columns still give every field with its type: role user, plan free */
	struct account_user u = {0};
	json_object *o = account_user_json(&u, "v1");
	ck_assert_int_eq(json_object_object_length(o), 9);
	ck_assert_str_eq(json_object_get_string(field(o, "id", json_type_string)), "");
	ck_assert_str_eq(json_object_get_string(field(o, "email", json_type_string)), "");
	ck_assert_str_eq(json_object_get_string(field(o, "name", json_type_string)), "");
	ck_assert_str_eq(json_object_get_string(field(o, "role", json_type_string)), "user");
	ck_assert_str_eq(json_object_get_string(field(o, "plan", json_type_string)), "free");
	ck_assert_str_eq(json_object_get_string(field(o, "created_at", json_type_string)), "");
	ck_assert(!json_object_get_boolean(field(o, "email_verified", json_type_boolean)));
	ck_assert(!json_object_get_boolean(field(o, "mfa_enabled", json_type_boolean)));
	json_object_put(o);
}
END_TEST

START_TEST(test_user_json_serialises_safely)
{
	struct account_user u = {.id = "i", .email = "e@x.co", .name = "A \"quoted\" <b>name</b>\\", .role = "user"};
	json_object *o = account_user_json(&u, "v1");
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	json_object *back = json_tokener_parse(s);
	ck_assert_ptr_nonnull(back);
	ck_assert_str_eq(json_object_get_string(field(back, "name", json_type_string)), u.name);
	json_object_put(back);
	json_object_put(o);
}
END_TEST

static Suite *account_suite(void)
{
	Suite *s = suite_create("account");
	TCase *tc = tcase_create("email");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_email_trim_and_lower);
	tcase_add_test(tc, test_email_shapes_accepted);
	tcase_add_test(tc, test_email_shapes_refused);
	tcase_add_test(tc, test_email_local_part_length);
	tcase_add_test(tc, test_email_total_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_name_valid);
	tcase_add_test(tc, test_name_control_characters);
	tcase_add_test(tc, test_uuid_valid);
	tcase_add_test(tc, test_user_json_fields);
	tcase_add_test(tc, test_user_json_defaults);
	tcase_add_test(tc, test_user_json_serialises_safely);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(account_suite)
