/* test_crypto_aead.c — AES-256-GCM sealing (crypto_seal/crypto_open: nonce || ciphertext || tag)
 * and hex decoding (crypto_unhex). SHA-256, HMAC and base64url are in test_crypto.c. */
#include "unit.h"

#include <stdint.h>

#include "tollgate/arena.h"
#include "tollgate/crypto.h"

#define NONCE_LEN 12
#define TAG_LEN 16

static struct arena *A;
static uint8_t KEY[32], KEY2[32];

static void setup(void)
{
	A = arena_new(0);
	ck_assert_ptr_nonnull(A);
	for (int i = 0; i < 32; i++) {
		KEY[i] = (uint8_t)i;
		KEY2[i] = (uint8_t)(i + 1);
	}
}

static void teardown(void)
{
	arena_destroy(A);
	A = NULL;
}

static void seal(const void *plain, size_t len, uint8_t **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	ck_assert_int_eq(crypto_seal(A, KEY, plain, len, out, out_len), 0);
	ck_assert_ptr_nonnull(*out);
	ck_assert_uint_eq(*out_len, NONCE_LEN + len + TAG_LEN);
}

/* ---- seal / open ---- */

START_TEST(test_round_trip)
{
	static const size_t lens[] = {0, 1, 15, 16, 17, 31, 32, 33, 255, 4096, 100000};
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		size_t len = lens[k];
		uint8_t *plain = arena_alloc(A, len + 1);
		for (size_t i = 0; i < len; i++)
			plain[i] = (uint8_t)(i * 31 + 7);
		uint8_t *sealed, *opened;
		size_t sealed_len, opened_len = 12345;
		seal(plain, len, &sealed, &sealed_len);
		ck_assert_int_eq(crypto_open(A, KEY, sealed, sealed_len, &opened, &opened_len), 0);
		ck_assert_uint_eq(opened_len, len);
		ck_assert_int_eq(memcmp(opened, plain, len), 0);
		ck_assert_int_eq(opened[len], 0); /* NUL-terminated */
	}
}
END_TEST

START_TEST(test_text_round_trip)
{
	const char *secret = "JBSWY3DPEHPK3PXP"; /* e.g. a TOTP secret at rest */
	uint8_t *sealed, *opened;
	size_t sealed_len, opened_len;
	seal(secret, strlen(secret), &sealed, &sealed_len);
	/* the plaintext does not appear in the sealed bytes */
	ck_assert_ptr_null(memmem(sealed, sealed_len, secret, strlen(secret)));
	ck_assert_int_eq(crypto_open(A, KEY, sealed, sealed_len, &opened, &opened_len), 0);
	ck_assert_str_eq((char *)opened, secret);
}
END_TEST

START_TEST(test_tamper_any_byte)
{
	const char *msg = "the quick brown fox jumps over the lazy dog";
	uint8_t *sealed;
	size_t sealed_len;
	seal(msg, strlen(msg), &sealed, &sealed_len);
	/* one flipped bit anywhere (nonce, ciphertext or tag) */
	for (size_t i = 0; i < sealed_len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			uint8_t *copy = (uint8_t *)arena_memdup(A, sealed, sealed_len);
			copy[i] ^= (uint8_t)(1u << bit);
			uint8_t *opened = NULL;
			size_t opened_len = 0;
			ck_assert_msg(crypto_open(A, KEY, copy, sealed_len, &opened, &opened_len) == -1,
				      "byte %zu bit %d flipped: opened anyway", i, bit);
		}
	}
	/* the untouched copy still opens */
	uint8_t *opened;
	size_t opened_len;
	ck_assert_int_eq(crypto_open(A, KEY, sealed, sealed_len, &opened, &opened_len), 0);
}
END_TEST

START_TEST(test_tamper_length)
{
	const char *msg = "sixteen bytes!!!";
	uint8_t *sealed, *opened;
	size_t sealed_len, opened_len;
	seal(msg, strlen(msg), &sealed, &sealed_len);
	/* truncated, extended, or too short to hold a nonce and a tag */
	ck_assert_int_eq(crypto_open(A, KEY, sealed, sealed_len - 1, &opened, &opened_len), -1);
	uint8_t *longer = arena_alloc(A, sealed_len + 1);
	memcpy(longer, sealed, sealed_len);
	ck_assert_int_eq(crypto_open(A, KEY, longer, sealed_len + 1, &opened, &opened_len), -1);
	ck_assert_int_eq(crypto_open(A, KEY, sealed, NONCE_LEN + TAG_LEN - 1, &opened, &opened_len), -1);
	ck_assert_int_eq(crypto_open(A, KEY, sealed, 0, &opened, &opened_len), -1);
	/* nonce + tag of the empty message, but from a longer one: the tag does not match */
	ck_assert_int_eq(crypto_open(A, KEY, sealed, NONCE_LEN + TAG_LEN, &opened, &opened_len), -1);
	/* a tag moved from another seal */
	uint8_t *other;
	size_t other_len;
	seal("sixteen bytes!!?", 16, &other, &other_len);
	uint8_t *mixed = (uint8_t *)arena_memdup(A, sealed, sealed_len);
	memcpy(mixed + sealed_len - TAG_LEN, other + other_len - TAG_LEN, TAG_LEN);
	ck_assert_int_eq(crypto_open(A, KEY, mixed, sealed_len, &opened, &opened_len), -1);
}
END_TEST

START_TEST(test_wrong_key)
{
	const char *msg = "for one key only";
	uint8_t *sealed, *opened;
	size_t sealed_len, opened_len;
	seal(msg, strlen(msg), &sealed, &sealed_len);
	ck_assert_int_eq(crypto_open(A, KEY2, sealed, sealed_len, &opened, &opened_len), -1);
	uint8_t k3[32];
	memcpy(k3, KEY, 32);
	k3[31] ^= 0x80;
	ck_assert_int_eq(crypto_open(A, k3, sealed, sealed_len, &opened, &opened_len), -1);
	ck_assert_int_eq(crypto_open(A, KEY, sealed, sealed_len, &opened, &opened_len), 0);
}
END_TEST

START_TEST(test_nonce_random)
{
	const char *msg = "same plaintext";
	uint8_t *s1, *s2;
	size_t l1, l2;
	seal(msg, strlen(msg), &s1, &l1);
	seal(msg, strlen(msg), &s2, &l2);
	ck_assert_uint_eq(l1, l2);
	ck_assert_int_ne(memcmp(s1, s2, NONCE_LEN), 0);      /* fresh nonce */
	ck_assert_int_ne(memcmp(s1 + NONCE_LEN, s2 + NONCE_LEN, l1 - NONCE_LEN), 0);
	/* many seals, no repeated nonce */
	enum { N = 200 };
	uint8_t nonces[N][NONCE_LEN];
	for (int i = 0; i < N; i++) {
		uint8_t *s;
		size_t l;
		seal(msg, strlen(msg), &s, &l);
		memcpy(nonces[i], s, NONCE_LEN);
		for (int j = 0; j < i; j++)
			ck_assert_msg(memcmp(nonces[i], nonces[j], NONCE_LEN) != 0, "nonce repeated");
	}
}
END_TEST

/* ---- hex ---- */

START_TEST(test_unhex_valid)
{
	uint8_t out[8];
	memset(out, 0xAA, sizeof(out));
	ck_assert_int_eq(crypto_unhex("00017f80abff", out, 6), 0);
	static const uint8_t want[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	ck_assert_int_eq(memcmp(out, want, 6), 0);
	ck_assert_int_eq(out[6], 0xAA); /* nothing written past n */
	ck_assert_int_eq(crypto_unhex("ABFF", out, 2), 0); /* upper case too */
	ck_assert_int_eq(out[0], 0xab);
	ck_assert_int_eq(out[1], 0xff);
	ck_assert_int_eq(crypto_unhex("aBcD", out, 2), 0);
	ck_assert_int_eq(out[0], 0xab);
	ck_assert_int_eq(out[1], 0xcd);
	ck_assert_int_eq(crypto_unhex("", out, 0), 0);
	/* a 32-byte key as configured, and back through crypto_hex */
	const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	uint8_t key[32];
	ck_assert_int_eq(crypto_unhex(hex, key, 32), 0);
	ck_assert_int_eq(memcmp(key, KEY, 32), 0);
	char back[65];
	crypto_hex(key, 32, back);
	ck_assert_str_eq(back, hex);
}
END_TEST

START_TEST(test_unhex_invalid)
{
	uint8_t out[40];
	ck_assert_int_eq(crypto_unhex("abc", out, 2), -1);   /* odd, short */
	ck_assert_int_eq(crypto_unhex("abcde", out, 2), -1); /* long */
	ck_assert_int_eq(crypto_unhex("abcd", out, 1), -1);
	ck_assert_int_eq(crypto_unhex("ab", out, 2), -1);
	ck_assert_int_eq(crypto_unhex("", out, 1), -1);
	ck_assert_int_eq(crypto_unhex("zz", out, 1), -1);
	ck_assert_int_eq(crypto_unhex("0g", out, 1), -1);
	ck_assert_int_eq(crypto_unhex("g0", out, 1), -1);
	ck_assert_int_eq(crypto_unhex("0x12", out, 2), -1);
	ck_assert_int_eq(crypto_unhex(" 1", out, 1), -1);
	ck_assert_int_eq(crypto_unhex("1 ", out, 1), -1);
	ck_assert_int_eq(crypto_unhex("-1", out, 1), -1);
	ck_assert_int_eq(crypto_unhex("+1", out, 1), -1);
	ck_assert_int_eq(crypto_unhex("\xc3\xa9", out, 1), -1);
	ck_assert_int_eq(crypto_unhex("0:", out, 1), -1); /* the byte after '9' */
	ck_assert_int_eq(crypto_unhex("0@", out, 1), -1); /* the byte before 'A' */
	ck_assert_int_eq(crypto_unhex("0G", out, 1), -1);
	ck_assert_int_eq(crypto_unhex("0`", out, 1), -1); /* the byte before 'a' */
	/* one bad digit at the end of a long key */
	ck_assert_int_eq(crypto_unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1z", out, 32),
			 -1);
}
END_TEST

static Suite *crypto_aead_suite(void)
{
	Suite *s = suite_create("crypto_aead");
	TCase *tc = tcase_create("seal");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_text_round_trip);
	tcase_add_test(tc, test_tamper_any_byte);
	tcase_add_test(tc, test_tamper_length);
	tcase_add_test(tc, test_wrong_key);
	tcase_add_test(tc, test_nonce_random);
	suite_add_tcase(s, tc);

	tc = tcase_create("hex");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unhex_valid);
	tcase_add_test(tc, test_unhex_invalid);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(crypto_aead_suite)
