/* test_password.c — bcrypt hashing and verification (libxcrypt), rehash decisions, the password
 * rules of API.md and the built-in list of common passwords.
 *
 * Hashes are made at cost 4 (the cheapest bcrypt cost) so the suite stays fast; the code paths
 * are the same at cost 12. */
#include "unit.h"

#include "tollgate/arena.h"
#include "tollgate/password.h"
#include "tollgate/status.h"

#define TEST_COST 4

static struct arena *A;
static struct password_hasher *H;

static void setup(void)
{
	A = arena_new(0);
	ck_assert_ptr_nonnull(A);
	H = password_hasher_new(TEST_COST);
	ck_assert_ptr_nonnull(H);
}

static void teardown(void)
{
	password_hasher_free(H);
	H = NULL;
	arena_destroy(A);
	A = NULL;
}

static char *hash_of(const char *pw)
{
	char *h = NULL;
	ck_assert_int_eq(password_hash(H, A, pw, &h), TG_OK);
	ck_assert_ptr_nonnull(h);
	return h;
}

/* A copy of hash with its 4-byte prefix ("$2b$") replaced by prefix. */
static char *with_prefix(const char *hash, const char *prefix)
{
	char *c = arena_strdup(A, hash);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(strlen(prefix), 4);
	memcpy(c, prefix, 4);
	return c;
}

/* A string of n copies of unit (arena memory). */
static char *repeat(const char *unit, size_t n)
{
	size_t ul = strlen(unit);
	char *s = arena_alloc(A, ul * n + 1);
	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	return s;
}

/* ---- hashing and verification ---- */

START_TEST(test_hash_shape)
{
	char *h = hash_of("correct horse battery staple");
	ck_assert_uint_eq(strlen(h), 60);
	ck_assert_msg(strncmp(h, "$2b$04$", 7) == 0, "hash %s is not bcrypt $2b$ at cost 04", h);
	/* bcrypt's alphabet after the prefix: ./A-Za-z0-9 */
	for (const char *p = h + 7; *p; p++)
		ck_assert_msg(strchr("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", *p),
			      "unexpected character in %s", h);
}
END_TEST

START_TEST(test_hash_is_salted)
{
	char *h1 = hash_of("same password");
	char *h2 = hash_of("same password");
	ck_assert_str_ne(h1, h2);
	ck_assert(password_verify(H, "same password", h1));
	ck_assert(password_verify(H, "same password", h2));
}
END_TEST

START_TEST(test_verify_round_trip)
{
	char *h = hash_of("correct horse battery staple");
	ck_assert(password_verify(H, "correct horse battery staple", h));
	char *u = hash_of("pässwörd-ünïcödé ☃");
	ck_assert(password_verify(H, "pässwörd-ünïcödé ☃", u));
}
END_TEST

START_TEST(test_verify_wrong_password)
{
	char *h = hash_of("correct horse battery staple");
	ck_assert(!password_verify(H, "correct horse battery stapl", h));
	ck_assert(!password_verify(H, "correct horse battery staple ", h));
	ck_assert(!password_verify(H, "Correct horse battery staple", h));
	ck_assert(!password_verify(H, "", h));
}
END_TEST

START_TEST(test_verify_other_bcrypt_prefixes)
{
	/* $2a$ and $2y$ hashes (PHP, older libraries) of ASCII passwords are computed exactly like
	 * $2b$: the same hash with its prefix swapped must verify (API.md: other implementations). */
	char *h = hash_of("correct horse battery staple");
	ck_assert(password_verify(H, "correct horse battery staple", with_prefix(h, "$2a$")));
	ck_assert(password_verify(H, "correct horse battery staple", with_prefix(h, "$2y$")));
	ck_assert(!password_verify(H, "wrong horse battery staple", with_prefix(h, "$2a$")));
	ck_assert(!password_verify(H, "wrong horse battery staple", with_prefix(h, "$2y$")));
	/* $2x$ (the crypt_blowfish sign-extension bug variant) is not one we accept */
	ck_assert(!password_verify(H, "correct horse battery staple", with_prefix(h, "$2x$")));
}
END_TEST

START_TEST(test_verify_known_vector)
{
	/* A hash made by another implementation (OpenBSD's bcrypt test vectors, cost 5). */
	ck_assert(password_verify(H, "U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
	ck_assert(!password_verify(H, "U*V", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
}
END_TEST

START_TEST(test_verify_malformed_hash_never_matches)
{
	char *h = hash_of("password-for-malformed");
	const char *pw = "password-for-malformed";
	ck_assert(!password_verify(H, pw, NULL));
	ck_assert(!password_verify(H, pw, ""));
	ck_assert(!password_verify(H, pw, "*0"));
	ck_assert(!password_verify(H, pw, "*1"));
	ck_assert(!password_verify(H, pw, "$2b$"));
	ck_assert(!password_verify(H, pw, "$2b$04$"));
	/* truncated and extended by one character */
	char *shorter = arena_strndup(A, h, 59);
	ck_assert(!password_verify(H, pw, shorter));
	ck_assert(!password_verify(H, pw, arena_printf(A, "%sA", h)));
	/* not bcrypt at all: yescrypt, SHA-512 crypt, MD5 crypt, DES, plain text */
	ck_assert(!password_verify(H, pw, "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7"));
	ck_assert(!password_verify(H, pw, "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"));
	ck_assert(!password_verify(H, pw, "$1$saltsalt$XxZz9kEV7Q1t3Q2ZrPv4W."));
	ck_assert(!password_verify(H, pw, "saAbCdEfGhIjK"));
	ck_assert(!password_verify(H, pw, pw));
	/* a bcrypt-looking hash with a bad cost or a broken salt */
	ck_assert(!password_verify(H, pw, with_prefix(h, "$2c$")));
	char *bad_cost = arena_strdup(A, h);
	bad_cost[4] = '9';
	bad_cost[5] = '9';
	ck_assert(!password_verify(H, pw, bad_cost));
	char *bad_sep = arena_strdup(A, h);
	bad_sep[6] = 'x';
	ck_assert(!password_verify(H, pw, bad_sep));
	char *bad_char = arena_strdup(A, h);
	bad_char[20] = '!';
	ck_assert(!password_verify(H, pw, bad_char));
	/* a different hash of another password */
	ck_assert(!password_verify(H, pw, hash_of("another password")));
}
END_TEST

START_TEST(test_bcrypt_72_byte_limit)
{
	/* Documented in password.h: bcrypt reads only the first 72 bytes and we do not pre-hash.
	 * Two passwords sharing their first 72 bytes therefore verify against each other. */
	char *p72 = repeat("a", 72);
	char *h = hash_of(arena_printf(A, "%s%s", p72, "first tail"));
	ck_assert(password_verify(H, arena_printf(A, "%s%s", p72, "second tail"), h));
	ck_assert(password_verify(H, p72, h));
	/* ... but the 72nd byte still counts */
	char *p71 = repeat("a", 71);
	ck_assert(!password_verify(H, arena_printf(A, "%sb", p71), h));
	ck_assert(!password_verify(H, p71, h));
}
END_TEST

START_TEST(test_verify_dummy_does_not_crash)
{
	password_verify_dummy(H, "anything");
	password_verify_dummy(H, "");
	/* and leaves the hasher usable */
	char *h = hash_of("still working fine");
	ck_assert(password_verify(H, "still working fine", h));
}
END_TEST

/* ---- rehash decisions ---- */

START_TEST(test_needs_rehash)
{
	char *h = hash_of("rehash me please");
	ck_assert(!password_needs_rehash(H, h));
	/* another prefix: re-hash as $2b$ */
	ck_assert(password_needs_rehash(H, with_prefix(h, "$2a$")));
	ck_assert(password_needs_rehash(H, with_prefix(h, "$2y$")));
	/* another cost, either way */
	struct password_hasher *h5 = password_hasher_new(5);
	ck_assert_ptr_nonnull(h5);
	ck_assert(password_needs_rehash(h5, h));
	char *at5 = NULL;
	ck_assert_int_eq(password_hash(h5, A, "rehash me please", &at5), TG_OK);
	ck_assert_msg(strncmp(at5, "$2b$05$", 7) == 0, "cost 5 hash %s", at5);
	ck_assert(!password_needs_rehash(h5, at5));
	ck_assert(password_needs_rehash(H, at5));
	password_hasher_free(h5);
	/* a cost of 10 and more is two digits */
	char *c10 = arena_strdup(A, h);
	c10[4] = '1';
	c10[5] = '0';
	ck_assert(password_needs_rehash(H, c10));
	/* malformed or foreign hashes: always re-hash */
	ck_assert(password_needs_rehash(H, NULL));
	ck_assert(password_needs_rehash(H, ""));
	ck_assert(password_needs_rehash(H, "$2b$04$"));
	ck_assert(password_needs_rehash(H, arena_strndup(A, h, 59)));
	ck_assert(password_needs_rehash(H, "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7"));
	char *nodigits = arena_strdup(A, h);
	nodigits[4] = 'x';
	nodigits[5] = 'x';
	ck_assert(password_needs_rehash(H, nodigits));
}
END_TEST

START_TEST(test_hasher_free_null)
{
	password_hasher_free(NULL);
}
END_TEST

/* ---- rules ---- */

START_TEST(test_rules_length)
{
	ck_assert_ptr_null(password_check_rules("Tr0ub4dor&3x", NULL));
	ck_assert_str_eq(password_check_rules("", NULL), "must be at least 8 characters");
	ck_assert_str_eq(password_check_rules("x7#kQ2!", NULL), "must be at least 8 characters"); /* 7 */
	ck_assert_ptr_null(password_check_rules("x7#kQ2!z", NULL));                            /* 8 */
	ck_assert_ptr_null(password_check_rules(repeat("x", 128), NULL));
	ck_assert_str_eq(password_check_rules(repeat("x", 129), NULL), "must be at most 128 characters");
	ck_assert_str_eq(password_check_rules(repeat("x", 4096), NULL), "must be at most 128 characters");
}
END_TEST

START_TEST(test_rules_count_characters_not_bytes)
{
	/* 100 × "é" is 200 bytes but 100 characters */
	ck_assert_ptr_null(password_check_rules(repeat("\xc3\xa9", 100), NULL));
	ck_assert_ptr_null(password_check_rules(repeat("\xc3\xa9", 128), NULL));
	ck_assert_str_eq(password_check_rules(repeat("\xc3\xa9", 129), NULL), "must be at most 128 characters");
	/* 7 characters of 3 and 4 bytes are still too short */
	ck_assert_str_eq(password_check_rules(repeat("\xe2\x98\x83", 7), NULL), "must be at least 8 characters");
	ck_assert_str_eq(password_check_rules(repeat("\xf0\x9f\x98\x80", 7), NULL), "must be at least 8 characters");
	ck_assert_ptr_null(password_check_rules(repeat("\xe2\x98\x83", 8), NULL));
	ck_assert_ptr_null(password_check_rules(repeat("\xf0\x9f\x98\x80", 128), NULL));
	ck_assert_str_eq(password_check_rules(repeat("\xf0\x9f\x98\x80", 129), NULL), "must be at most 128 characters");
}
END_TEST

START_TEST(test_rules_not_the_email)
{
	const char *email = "alice@example.com";
	ck_assert_str_eq(password_check_rules("alice@example.com", email), "must not be your email address");
	ck_assert_str_eq(password_check_rules("ALICE@Example.COM", email), "must not be your email address");
	ck_assert_ptr_null(password_check_rules("alice@example.co", email));
	ck_assert_ptr_null(password_check_rules("alice@example.com!", email));
	ck_assert_ptr_null(password_check_rules("alice@example.com", NULL)); /* no email to compare */
	ck_assert_ptr_null(password_check_rules("alice@example.com", "bob@example.com"));
}
END_TEST

START_TEST(test_rules_common)
{
	ck_assert_str_eq(password_check_rules("Password123", NULL), "is too common; choose another");
	ck_assert_str_eq(password_check_rules("password123", NULL), "is too common; choose another");
	ck_assert_str_eq(password_check_rules("qwerty123", NULL), "is too common; choose another");
	ck_assert_str_eq(password_check_rules("QWERTY123", NULL), "is too common; choose another");
	ck_assert_str_eq(password_check_rules("12345678", NULL), "is too common; choose another");
	ck_assert_ptr_null(password_check_rules("Password123 but longer", NULL));
}
END_TEST

START_TEST(test_rules_control_characters)
{
	static const char *const bad[] = {
		"abcdefg\x01h", "abcdefgh\n", "\tabcdefgh", "abcd\refgh", "abcdefgh\x1b[0m", "abcd\177efgh",
		"abcdefgh\x1f",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(password_check_rules(bad[i], NULL) != NULL, "control character accepted (case %zu)", i);
	ck_assert_str_eq(password_check_rules("abcdefg\x01h", NULL), "must not contain control characters");
	/* spaces and printable punctuation are fine */
	ck_assert_ptr_null(password_check_rules("a b c d e f g h", NULL));
	ck_assert_ptr_null(password_check_rules("~!@#$%^&*()_+{}|:\"<>?", NULL));
}
END_TEST

START_TEST(test_rules_invalid_utf8)
{
	/* a lone continuation byte, a truncated sequence, an invalid lead byte */
	ck_assert_ptr_nonnull(password_check_rules("abcdefgh\x80", NULL));
	ck_assert_ptr_nonnull(password_check_rules("abcdefgh\xc3", NULL));
	ck_assert_ptr_nonnull(password_check_rules("abcdefgh\xe2\x98", NULL));
	ck_assert_ptr_nonnull(password_check_rules("abcdefgh\xff", NULL));
	ck_assert_ptr_nonnull(password_check_rules("abcdefgh\xf8\x88\x80\x80\x80", NULL));
}
END_TEST

/* ---- the common list ---- */

START_TEST(test_is_common)
{
	/* the first and last entries and one in the middle (bsearch edges) */
	ck_assert(password_is_common("00000000"));
	ck_assert(password_is_common("zxcvbnma"));
	ck_assert(password_is_common("iloveyou"));
	ck_assert(password_is_common("password"));
	ck_assert(password_is_common("PassWord"));
	ck_assert(password_is_common("qwerty123"));
	ck_assert(password_is_common("P@ssw0rd"));
	ck_assert(password_is_common("contrase\xc3\xb1" "a")); /* UTF-8 entry */
	ck_assert(!password_is_common("zzzzzzzzz"));           /* after the last entry */
	ck_assert(!password_is_common("0000000"));             /* before the first entry */
	ck_assert(!password_is_common("password1234"));
	ck_assert(!password_is_common("correct horse battery staple"));
	ck_assert(!password_is_common(""));
	ck_assert(!password_is_common(" password"));
	ck_assert(!password_is_common(repeat("a", 500)));      /* longer than any entry: no overflow */
}
END_TEST

static Suite *password_suite(void)
{
	Suite *s = suite_create("password");
	TCase *tc = tcase_create("bcrypt");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hash_shape);
	tcase_add_test(tc, test_hash_is_salted);
	tcase_add_test(tc, test_verify_round_trip);
	tcase_add_test(tc, test_verify_wrong_password);
	tcase_add_test(tc, test_verify_other_bcrypt_prefixes);
	tcase_add_test(tc, test_verify_known_vector);
	tcase_add_test(tc, test_verify_malformed_hash_never_matches);
	tcase_add_test(tc, test_bcrypt_72_byte_limit);
	tcase_add_test(tc, test_verify_dummy_does_not_crash);
	tcase_add_test(tc, test_needs_rehash);
	tcase_add_test(tc, test_hasher_free_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_rules_length);
	tcase_add_test(tc, test_rules_count_characters_not_bytes);
	tcase_add_test(tc, test_rules_not_the_email);
	tcase_add_test(tc, test_rules_common);
	tcase_add_test(tc, test_rules_control_characters);
	tcase_add_test(tc, test_rules_invalid_utf8);
	tcase_add_test(tc, test_is_common);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(password_suite)
