/* test_crypto.c — SHA-256, HMAC-SHA256, constant-time compare, base64url, opaque tokens. */
#include "unit.h"

#include <stdint.h>

#include "tollgate/arena.h"
#include "tollgate/crypto.h"

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

static void hex_of(const uint8_t *in, size_t n, char *out)
{
	crypto_hex(in, n, out);
}

/* ---- SHA-256 (FIPS 180-2 / NIST examples) ---- */

START_TEST(test_sha256_vectors)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char hex[2 * CRYPTO_SHA256_LEN + 1];
		crypto_sha256_hex(v[i].in, strlen(v[i].in), hex);
		ck_assert_str_eq(hex, v[i].hex);
		uint8_t md[CRYPTO_SHA256_LEN];
		char hex2[2 * CRYPTO_SHA256_LEN + 1];
		crypto_sha256(v[i].in, strlen(v[i].in), md);
		hex_of(md, sizeof(md), hex2);
		ck_assert_str_eq(hex2, v[i].hex);
	}
}
END_TEST

START_TEST(test_sha256_million_a)
{
	size_t n = 1000000;
	char *buf = arena_alloc(A, n);
	ck_assert_ptr_nonnull(buf);
	memset(buf, 'a', n);
	char hex[2 * CRYPTO_SHA256_LEN + 1];
	crypto_sha256_hex(buf, n, hex);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_hex)
{
	static const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	char out[2 * sizeof(in) + 1];
	memset(out, 'X', sizeof(out));
	crypto_hex(in, sizeof(in), out);
	ck_assert_str_eq(out, "00017f80abff");
	crypto_hex(in, 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

/* ---- HMAC-SHA256, RFC 4231 test cases ---- */

START_TEST(test_hmac_rfc4231)
{
	uint8_t key20_0b[20], key20_aa[20], key25[25], key131_aa[131], data50_dd[50], data50_cd[50];
	memset(key20_0b, 0x0b, sizeof(key20_0b));
	memset(key20_aa, 0xaa, sizeof(key20_aa));
	for (size_t i = 0; i < sizeof(key25); i++)
		key25[i] = (uint8_t)(i + 1);
	memset(key131_aa, 0xaa, sizeof(key131_aa));
	memset(data50_dd, 0xdd, sizeof(data50_dd));
	memset(data50_cd, 0xcd, sizeof(data50_cd));
	static const char tc6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	static const char tc7[] = "This is a test using a larger than block-size key and a larger than block-size data. "
				  "The key needs to be hashed before being used by the HMAC algorithm.";
	const struct {
		const void *key;
		size_t klen;
		const void *data;
		size_t dlen;
		const char *hex;
	} v[] = {
		{key20_0b, 20, "Hi There", 8, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{"Jefe", 4, "what do ya want for nothing?", 28,
		 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{key20_aa, 20, data50_dd, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
		{key25, 25, data50_cd, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
		{key131_aa, 131, tc6, sizeof(tc6) - 1,
		 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
		{key131_aa, 131, tc7, sizeof(tc7) - 1,
		 "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t mac[CRYPTO_SHA256_LEN];
		char hex[2 * CRYPTO_SHA256_LEN + 1];
		ck_assert_int_eq(crypto_hmac_sha256(v[i].key, v[i].klen, v[i].data, v[i].dlen, mac), 0);
		hex_of(mac, sizeof(mac), hex);
		ck_assert_msg(strcmp(hex, v[i].hex) == 0, "RFC 4231 case %zu: got %s", i, hex);
	}
}
END_TEST

START_TEST(test_hmac_rfc4231_truncated)
{
	/* test case 5: only the first 128 bits are specified */
	uint8_t key[20];
	memset(key, 0x0c, sizeof(key));
	uint8_t mac[CRYPTO_SHA256_LEN];
	char hex[2 * CRYPTO_SHA256_LEN + 1];
	ck_assert_int_eq(crypto_hmac_sha256(key, sizeof(key), "Test With Truncation", 20, mac), 0);
	hex_of(mac, 16, hex);
	ck_assert_str_eq(hex, "a3b6167473100ee06e0c796c2955552b");
}
END_TEST

START_TEST(test_hmac_empty_key_and_data)
{
	uint8_t mac[CRYPTO_SHA256_LEN];
	char hex[2 * CRYPTO_SHA256_LEN + 1];
	ck_assert_int_eq(crypto_hmac_sha256("", 0, "", 0, mac), 0);
	hex_of(mac, sizeof(mac), hex);
	ck_assert_str_eq(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}
END_TEST

/* ---- constant-time compare ---- */

START_TEST(test_equal)
{
	ck_assert(crypto_equal("abcdef", 6, "abcdef", 6));
	ck_assert(!crypto_equal("abcdef", 6, "abcdeg", 6));
	ck_assert(!crypto_equal("abcdef", 6, "bbcdef", 6));
	ck_assert(!crypto_equal("abcdef", 6, "abcde", 5)); /* prefix is not equal */
	ck_assert(!crypto_equal("abc", 3, "abcdef", 6));
	ck_assert(crypto_equal("", 0, "", 0));
	ck_assert(crypto_equal("a\0b", 3, "a\0b", 3));
	ck_assert(!crypto_equal("a\0b", 3, "a\0c", 3)); /* not a string compare */
}
END_TEST

/* ---- base64url ---- */

START_TEST(test_b64url_rfc4648_vectors)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"},
		{"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *enc = b64url_encode(A, v[i].in, strlen(v[i].in));
		ck_assert_ptr_nonnull(enc);
		ck_assert_str_eq(enc, v[i].out);
		uint8_t *dec = NULL;
		size_t dlen = 99;
		ck_assert_int_eq(b64url_decode(A, v[i].out, strlen(v[i].out), &dec, &dlen), 0);
		ck_assert_uint_eq(dlen, strlen(v[i].in));
		ck_assert_mem_eq(dec, v[i].in, dlen);
	}
}
END_TEST

START_TEST(test_b64url_url_alphabet)
{
	static const uint8_t in[] = {0xfb, 0xff};
	char *enc = b64url_encode(A, in, sizeof(in));
	ck_assert_str_eq(enc, "-_8"); /* standard base64 would be "+/8=" */
	uint8_t *dec;
	size_t dlen;
	ck_assert_int_eq(b64url_decode(A, "-_8", 3, &dec, &dlen), 0);
	ck_assert_uint_eq(dlen, 2);
	ck_assert_mem_eq(dec, in, 2);
}
END_TEST

START_TEST(test_b64url_round_trip_lengths)
{
	uint8_t buf[41];
	for (size_t len = 0; len <= 40; len++) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(0xff - i * 37 - len); /* every length gets different bytes */
		char *enc = b64url_encode(A, buf, len);
		ck_assert_ptr_nonnull(enc);
		ck_assert_uint_eq(strlen(enc), (4 * len + 2) / 3); /* unpadded length */
		ck_assert_ptr_null(strpbrk(enc, "+/="));
		uint8_t *dec = NULL;
		size_t dlen = 999;
		ck_assert_msg(b64url_decode(A, enc, strlen(enc), &dec, &dlen) == 0, "decode of length %zu", len);
		ck_assert_uint_eq(dlen, len);
		if (len)
			ck_assert_mem_eq(dec, buf, len);

		/* the padded form decodes to the same bytes */
		char *padded = arena_printf(A, "%s%s", enc, (const char *[]){"", "", "==", "="}[strlen(enc) % 4]);
		ck_assert_msg(b64url_decode(A, padded, strlen(padded), &dec, &dlen) == 0, "padded %s", padded);
		ck_assert_uint_eq(dlen, len);
		if (len)
			ck_assert_mem_eq(dec, buf, len);
	}
}
END_TEST

START_TEST(test_b64url_all_byte_values)
{
	uint8_t buf[256];
	for (int i = 0; i < 256; i++)
		buf[i] = (uint8_t)i;
	char *enc = b64url_encode(A, buf, sizeof(buf));
	ck_assert_ptr_nonnull(enc);
	uint8_t *dec;
	size_t dlen;
	ck_assert_int_eq(b64url_decode(A, enc, strlen(enc), &dec, &dlen), 0);
	ck_assert_uint_eq(dlen, 256);
	ck_assert_mem_eq(dec, buf, 256);
}
END_TEST

START_TEST(test_b64url_decode_uses_slen)
{
	uint8_t *dec;
	size_t dlen;
	ck_assert_int_eq(b64url_decode(A, "Zm9vYmFy", 4, &dec, &dlen), 0);
	ck_assert_uint_eq(dlen, 3);
	ck_assert_mem_eq(dec, "foo", 3);
}
END_TEST

START_TEST(test_b64url_rejects_bad_input)
{
	static const char *const bad[] = {
		"Z",          /* a lone sextet cannot encode a byte */
		"Zm9vY",      /* 5 chars: same */
		"Zm+v",       /* standard alphabet is not accepted */
		"Zm/v",
		"Zm9v\n",     /* no whitespace */
		"Zm 9v",
		" Zm9v",
		"Zm9v!",
		"Zm\x80v",
		"Zg=a",       /* padding in the middle */
		"Z=g=",
		"=Zg",
		"Zg===",      /* too much padding */
		"Zg=",        /* too little padding */
		"Zm8==",
		"Zm9v=",      /* padding where none is needed */
		"Zm9v====",
		"=",
		"==",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *dec = NULL;
		size_t dlen = 0;
		ck_assert_msg(b64url_decode(A, bad[i], strlen(bad[i]), &dec, &dlen) == -1, "accepted \"%s\"", bad[i]);
	}
	/* an embedded NUL inside slen */
	uint8_t *dec;
	size_t dlen;
	ck_assert_int_eq(b64url_decode(A, "Zm\0v", 4, &dec, &dlen), -1);
}
END_TEST

/* ---- random bytes and tokens ---- */

START_TEST(test_random)
{
	uint8_t a[32], b[32];
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(crypto_random(a, sizeof(a)), 0);
	ck_assert_int_eq(crypto_random(b, sizeof(b)), 0);
	ck_assert(memcmp(a, b, sizeof(a)) != 0);
	static const uint8_t zero[32];
	ck_assert(memcmp(a, zero, sizeof(a)) != 0);
	ck_assert_int_eq(crypto_random(a, 0), 0);
}
END_TEST

START_TEST(test_token_shape)
{
	char *t = crypto_token(A);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(strlen(t), 43);
	ck_assert_uint_eq(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	uint8_t *raw;
	size_t rlen;
	ck_assert_int_eq(b64url_decode(A, t, strlen(t), &raw, &rlen), 0);
	ck_assert_uint_eq(rlen, CRYPTO_TOKEN_BYTES);
}
END_TEST

START_TEST(test_token_unique)
{
	enum { N = 200 };
	char *t[N];
	for (int i = 0; i < N; i++) {
		t[i] = crypto_token(A);
		ck_assert_ptr_nonnull(t[i]);
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			ck_assert_str_ne(t[i], t[j]);
}
END_TEST

START_TEST(test_token_hash)
{
	char h[2 * CRYPTO_SHA256_LEN + 1];
	crypto_token_hash("abc", h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	char *t = crypto_token(A);
	ck_assert_ptr_nonnull(t);
	char expect[2 * CRYPTO_SHA256_LEN + 1];
	crypto_token_hash(t, h);
	crypto_sha256_hex(t, strlen(t), expect);
	ck_assert_str_eq(h, expect);
	ck_assert_uint_eq(strlen(h), 64);
	ck_assert_uint_eq(strspn(h, "0123456789abcdef"), 64);
	ck_assert_str_ne(h, t);
}
END_TEST

static Suite *crypto_suite(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc = tcase_create("hash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sha256_vectors);
	tcase_add_test(tc, test_sha256_million_a);
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_hmac_rfc4231);
	tcase_add_test(tc, test_hmac_rfc4231_truncated);
	tcase_add_test(tc, test_hmac_empty_key_and_data);
	tcase_add_test(tc, test_equal);
	suite_add_tcase(s, tc);

	tc = tcase_create("base64url");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_b64url_rfc4648_vectors);
	tcase_add_test(tc, test_b64url_url_alphabet);
	tcase_add_test(tc, test_b64url_round_trip_lengths);
	tcase_add_test(tc, test_b64url_all_byte_values);
	tcase_add_test(tc, test_b64url_decode_uses_slen);
	tcase_add_test(tc, test_b64url_rejects_bad_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("token");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_random);
	tcase_add_test(tc, test_token_shape);
	tcase_add_test(tc, test_token_unique);
	tcase_add_test(tc, test_token_hash);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(crypto_suite)
