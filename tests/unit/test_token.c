/* test_token.c — HS256 access tokens: issue/verify round trip and every rejection libjwt leaves
 * to us (PITFALLS.md, libjwt 1.10.2): weak keys, exp, iss, aud, signatures, alg none, HS384/HS512
 * with the same secret, missing claims, garbage and overlong tokens.
 *
 * Hand-made tokens are built here from base64url (b64url_encode) and HMAC-SHA256
 * (crypto_hmac_sha256, itself checked against RFC 4231 in test_crypto), so a token can carry any
 * header and any claims; test_hand_made_token_accepted proves the helper makes tokens the
 * verifier accepts, so each refusal below is caused by the one thing that differs. */
#include "unit.h"

#include <jwt.h>
#include <json.h>
#include <stdint.h>

#include "tollgate/arena.h"
#include "tollgate/crypto.h"
#include "tollgate/status.h"
#include "tollgate/token.h"

#define NOW 1700000000L
#define TTL 900
#define ISS "https://tollgate.test"
#define AUD "tollgate-api"
#define SUB "6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e90"
#define SID "0b7d6f1c-2a8e-4c55-9a1e-8e903d2f4b6c"

static const unsigned char SECRET[] = "0123456789abcdef0123456789ABCDEF"; /* 32 bytes */
static const unsigned char OTHER[] = "fedcba9876543210FEDCBA9876543210";  /* 32 bytes */

static struct arena *A;
static struct token_key K;

static void setup(void)
{
	A = arena_new(0);
	ck_assert_ptr_nonnull(A);
	K = (struct token_key){.secret = SECRET, .secret_len = 32, .issuer = ISS, .audience = AUD, .ttl = TTL};
}

static void teardown(void)
{
	arena_destroy(A);
	A = NULL;
}

/* ---- helpers ---- */

/* header.payload.signature with HMAC-SHA256 under key (NULL key: empty signature). */
static char *hand_token(const char *header, const char *payload, const void *key, size_t key_len)
{
	char *h = b64url_encode(A, header, strlen(header));
	char *p = b64url_encode(A, payload, strlen(payload));
	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(p);
	char *input = arena_printf(A, "%s.%s", h, p);
	ck_assert_ptr_nonnull(input);
	if (!key)
		return arena_printf(A, "%s.", input);
	uint8_t mac[CRYPTO_SHA256_LEN];
	ck_assert_int_eq(crypto_hmac_sha256(key, key_len, input, strlen(input), mac), 0);
	char *sig = b64url_encode(A, mac, sizeof(mac));
	ck_assert_ptr_nonnull(sig);
	return arena_printf(A, "%s.%s", input, sig);
}

#define HS256_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* The claims token_issue writes, with exp and iat chosen by the caller. */
static char *claims(long iat, long exp)
{
	return arena_printf(A,
			    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID
			    "\",\"role\":\"user\",\"jti\":\"abcdefghijklmnopqrstuv\",\"iat\":%ld,\"exp\":%ld}",
			    iat, exp);
}

static char *good_hand_token(void)
{
	return hand_token(HS256_HEADER, claims(NOW, NOW + TTL), SECRET, 32);
}

/* A token made by libjwt itself with alg under key, carrying the same claims as token_issue. */
static char *libjwt_token(jwt_alg_t alg, const unsigned char *key, int key_len)
{
	jwt_t *jwt = NULL;
	ck_assert_int_eq(jwt_new(&jwt), 0);
	ck_assert_int_eq(jwt_add_grant(jwt, "iss", ISS), 0);
	ck_assert_int_eq(jwt_add_grant(jwt, "aud", AUD), 0);
	ck_assert_int_eq(jwt_add_grant(jwt, "sub", SUB), 0);
	ck_assert_int_eq(jwt_add_grant(jwt, "sid", SID), 0);
	ck_assert_int_eq(jwt_add_grant(jwt, "role", "user"), 0);
	ck_assert_int_eq(jwt_add_grant(jwt, "jti", "abcdefghijklmnopqrstuv"), 0);
	ck_assert_int_eq(jwt_add_grant_int(jwt, "iat", NOW), 0);
	ck_assert_int_eq(jwt_add_grant_int(jwt, "exp", NOW + TTL), 0);
	ck_assert_int_eq(jwt_set_alg(jwt, alg, key, key_len), 0);
	char *s = jwt_encode_str(jwt);
	ck_assert_ptr_nonnull(s);
	char *t = arena_strdup(A, s);
	free(s);
	jwt_free(jwt);
	return t;
}

/* The JSON of the n-th (0 header, 1 payload) dot-separated part of token. Caller puts it. */
static json_object *part_json(const char *token, int n)
{
	const char *s = token;
	for (int i = 0; i < n; i++) {
		s = strchr(s, '.');
		ck_assert_ptr_nonnull(s);
		s++;
	}
	const char *e = strchr(s, '.');
	ck_assert_ptr_nonnull(e);
	uint8_t *raw = NULL;
	size_t len = 0;
	ck_assert_int_eq(b64url_decode(A, s, (size_t)(e - s), &raw, &len), 0);
	char *text = arena_strndup(A, (const char *)raw, len);
	json_object *o = json_tokener_parse(text);
	ck_assert_msg(o != NULL, "part %d is not JSON: %s", n, text);
	return o;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int verify_at(const char *token, long now, struct token_claims *c)
{
	return token_verify(&K, A, token, (time_t)now, c);
}

/* token.h promises claims only on TG_OK (a refusal may leave some filled): check the status. */
#define ASSERT_REFUSED(token, now)                                                \
	do {                                                                      \
		struct token_claims c_;                                           \
		ck_assert_int_eq(verify_at((token), (now), &c_), TG_EAUTH);       \
	} while (0)

/* ---- issue and verify ---- */

START_TEST(test_round_trip)
{
	char *t = NULL;
	ck_assert_int_eq(token_issue(&K, A, SUB, SID, "admin", NOW, &t), TG_OK);
	ck_assert_ptr_nonnull(t);
	struct token_claims c;
	ck_assert_int_eq(verify_at(t, NOW + 1, &c), TG_OK);
	ck_assert_str_eq(c.sub, SUB);
	ck_assert_str_eq(c.sid, SID);
	ck_assert_str_eq(c.role, "admin");
	ck_assert_ptr_nonnull(c.jti);
	ck_assert_uint_eq(strlen(c.jti), 22); /* 16 random bytes, base64url */
	ck_assert_int_eq(c.iat, NOW);
	ck_assert_int_eq(c.exp, NOW + TTL);
}
END_TEST

START_TEST(test_issued_token_shape)
{
	char *t = NULL;
	ck_assert_int_eq(token_issue(&K, A, SUB, SID, "user", NOW, &t), TG_OK);
	/* three parts, base64url alphabet only */
	int dots = 0;
	for (const char *p = t; *p; p++) {
		if (*p == '.')
			dots++;
		else
			ck_assert_msg(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p),
				      "not base64url: %s", t);
	}
	ck_assert_int_eq(dots, 2);
	json_object *h = part_json(t, 0);
	ck_assert_str_eq(jstr(h, "alg"), "HS256");
	json_object_put(h);
	json_object *p = part_json(t, 1);
	ck_assert_str_eq(jstr(p, "iss"), ISS);
	ck_assert_str_eq(jstr(p, "aud"), AUD);
	ck_assert_str_eq(jstr(p, "sub"), SUB);
	ck_assert_str_eq(jstr(p, "sid"), SID);
	ck_assert_str_eq(jstr(p, "role"), "user");
	ck_assert_ptr_nonnull(jstr(p, "jti"));
	json_object *v;
	ck_assert(json_object_object_get_ex(p, "iat", &v) && json_object_is_type(v, json_type_int));
	ck_assert_int_eq(json_object_get_int64(v), NOW);
	ck_assert(json_object_object_get_ex(p, "exp", &v) && json_object_is_type(v, json_type_int));
	ck_assert_int_eq(json_object_get_int64(v), NOW + TTL);
	json_object_put(p);
}
END_TEST

START_TEST(test_jti_unique)
{
	char *t1 = NULL, *t2 = NULL;
	ck_assert_int_eq(token_issue(&K, A, SUB, SID, "user", NOW, &t1), TG_OK);
	ck_assert_int_eq(token_issue(&K, A, SUB, SID, "user", NOW, &t2), TG_OK);
	ck_assert_str_ne(t1, t2);
	struct token_claims c1, c2;
	ck_assert_int_eq(verify_at(t1, NOW, &c1), TG_OK);
	ck_assert_int_eq(verify_at(t2, NOW, &c2), TG_OK);
	ck_assert_str_ne(c1.jti, c2.jti);
}
END_TEST

START_TEST(test_hand_made_token_accepted)
{
	/* the helpers below make tokens the verifier accepts: refusals are due to the one change */
	struct token_claims c;
	ck_assert_int_eq(verify_at(good_hand_token(), NOW, &c), TG_OK);
	ck_assert_str_eq(c.sub, SUB);
	ck_assert_int_eq(verify_at(libjwt_token(JWT_ALG_HS256, SECRET, 32), NOW, &c), TG_OK);
	ck_assert_str_eq(c.sid, SID);
}
END_TEST

START_TEST(test_longer_key_ok)
{
	static const unsigned char k64[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	K.secret = k64;
	K.secret_len = 64;
	char *t = NULL;
	ck_assert_int_eq(token_issue(&K, A, SUB, SID, "user", NOW, &t), TG_OK);
	struct token_claims c;
	ck_assert_int_eq(verify_at(t, NOW, &c), TG_OK);
	/* the first 32 bytes of that key are a different key */
	K.secret_len = 32;
	ASSERT_REFUSED(t, NOW);
}
END_TEST

/* ---- rejections ---- */

START_TEST(test_weak_key_refused)
{
	char *good = NULL;
	ck_assert_int_eq(token_issue(&K, A, SUB, SID, "user", NOW, &good), TG_OK);
	/* 31 bytes: refused for issue and verify, even for a token signed with those 31 bytes */
	char *t31 = hand_token(HS256_HEADER, claims(NOW, NOW + TTL), SECRET, 31);
	K.secret_len = 31;
	char *t = NULL;
	ck_assert_int_eq(token_issue(&K, A, SUB, SID, "user", NOW, &t), TG_EINPUT);
	ASSERT_REFUSED(t31, NOW);
	ASSERT_REFUSED(good, NOW);
	/* an empty key would make libjwt accept any signature (PITFALLS.md) */
	K.secret_len = 0;
	ck_assert_int_eq(token_issue(&K, A, SUB, SID, "user", NOW, &t), TG_EINPUT);
	ASSERT_REFUSED(hand_token(HS256_HEADER, claims(NOW, NOW + TTL), NULL, 0), NOW);
	ASSERT_REFUSED(hand_token(HS256_HEADER, claims(NOW, NOW + TTL), "", 0), NOW);
	ASSERT_REFUSED(good, NOW);
	K.secret = NULL;
	K.secret_len = 32;
	ck_assert_int_eq(token_issue(&K, A, SUB, SID, "user", NOW, &t), TG_EINPUT);
	ASSERT_REFUSED(good, NOW);
}
END_TEST

START_TEST(test_expired)
{
	char *t = NULL;
	ck_assert_int_eq(token_issue(&K, A, SUB, SID, "user", NOW, &t), TG_OK);
	struct token_claims c;
	ck_assert_int_eq(verify_at(t, NOW + TTL - 1, &c), TG_OK);
	ASSERT_REFUSED(t, NOW + TTL); /* now >= exp */
	ASSERT_REFUSED(t, NOW + TTL + 1);
	ASSERT_REFUSED(t, NOW + 86400L * 365);
	/* an exp that is not an integer, or none at all */
	ASSERT_REFUSED(hand_token(HS256_HEADER,
				  "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID "\"}",
				  SECRET, 32),
		       NOW);
	ASSERT_REFUSED(hand_token(HS256_HEADER,
				  "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID
				  "\",\"exp\":\"9999999999\"}",
				  SECRET, 32),
		       NOW);
	ASSERT_REFUSED(hand_token(HS256_HEADER,
				  "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID
				  "\",\"exp\":null}",
				  SECRET, 32),
		       NOW);
}
END_TEST

START_TEST(test_wrong_issuer)
{
	struct token_key other = K;
	other.issuer = "https://evil.test";
	char *t = NULL;
	ck_assert_int_eq(token_issue(&other, A, SUB, SID, "user", NOW, &t), TG_OK);
	ASSERT_REFUSED(t, NOW);
	/* a prefix or a case change is another issuer */
	other.issuer = "https://tollgate.tes";
	ck_assert_int_eq(token_issue(&other, A, SUB, SID, "user", NOW, &t), TG_OK);
	ASSERT_REFUSED(t, NOW);
	other.issuer = "https://TOLLGATE.test";
	ck_assert_int_eq(token_issue(&other, A, SUB, SID, "user", NOW, &t), TG_OK);
	ASSERT_REFUSED(t, NOW);
	/* missing, or not a string */
	char *p = arena_printf(A, "{\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"exp\":%ld}",
			       NOW + TTL);
	ASSERT_REFUSED(hand_token(HS256_HEADER, p, SECRET, 32), NOW);
	p = arena_printf(A, "{\"iss\":7,\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"exp\":%ld}",
			 NOW + TTL);
	ASSERT_REFUSED(hand_token(HS256_HEADER, p, SECRET, 32), NOW);
}
END_TEST

START_TEST(test_wrong_audience)
{
	struct token_key other = K;
	other.audience = "another-api";
	char *t = NULL;
	ck_assert_int_eq(token_issue(&other, A, SUB, SID, "user", NOW, &t), TG_OK);
	ASSERT_REFUSED(t, NOW);
	char *p = arena_printf(A, "{\"iss\":\"" ISS "\",\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"exp\":%ld}",
			       NOW + TTL);
	ASSERT_REFUSED(hand_token(HS256_HEADER, p, SECRET, 32), NOW);
	/* RFC 7519 allows an array of audiences; we never issue one and accept only our string */
	p = arena_printf(A,
			 "{\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\"],\"sub\":\"" SUB "\",\"sid\":\"" SID
			 "\",\"exp\":%ld}",
			 NOW + TTL);
	ASSERT_REFUSED(hand_token(HS256_HEADER, p, SECRET, 32), NOW);
}
END_TEST

/* The base64url character whose 6-bit value is c's value with its top bit flipped. */
static char flip_b64(char c)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *p = strchr(alphabet, c);
	ck_assert_ptr_nonnull(p);
	return alphabet[(p - alphabet) ^ 32];
}

START_TEST(test_bad_signature)
{
	char *t = NULL;
	ck_assert_int_eq(token_issue(&K, A, SUB, SID, "user", NOW, &t), TG_OK);
	size_t len = strlen(t);
	const char *sig = strrchr(t, '.') + 1;
	/* one character of the signature */
	char *bad = arena_strdup(A, t);
	size_t mid = (size_t)(sig - t) + 10;
	bad[mid] = flip_b64(bad[mid]);
	ASSERT_REFUSED(bad, NOW);
	/* any one character anywhere (header, payload or signature) */
	for (size_t i = 0; i < len; i++) {
		if (t[i] == '.')
			continue;
		char *b = arena_strdup(A, t);
		b[i] = flip_b64(b[i]);
		struct token_claims c;
		ck_assert_msg(verify_at(b, NOW, &c) == TG_EAUTH, "token with character %zu flipped accepted", i);
	}
	/* signature cut short, removed, or doubled */
	ASSERT_REFUSED(arena_strndup(A, t, len - 1), NOW);
	ASSERT_REFUSED(arena_strndup(A, t, (size_t)(sig - t)), NOW);
	ASSERT_REFUSED(arena_printf(A, "%s%s", t, sig), NOW);
	/* payload swapped for another user's, keeping the original signature */
	char *p2 = b64url_encode(A, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"someone-else\",\"sid\":\"" SID
				    "\",\"exp\":9999999999}",
				 strlen("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"someone-else\",\"sid\":\"" SID
					"\",\"exp\":9999999999}"));
	const char *dot1 = strchr(t, '.');
	char *swapped = arena_printf(A, "%.*s.%s.%s", (int)(dot1 - t), t, p2, sig);
	ASSERT_REFUSED(swapped, NOW);
}
END_TEST

START_TEST(test_other_key)
{
	ASSERT_REFUSED(hand_token(HS256_HEADER, claims(NOW, NOW + TTL), OTHER, 32), NOW);
	struct token_key other = K;
	other.secret = OTHER;
	char *t = NULL;
	ck_assert_int_eq(token_issue(&other, A, SUB, SID, "user", NOW, &t), TG_OK);
	ASSERT_REFUSED(t, NOW);
	ck_assert_int_eq(verify_at(t, NOW, &(struct token_claims){0}), TG_EAUTH);
	/* and the other key accepts its own token */
	struct token_claims c;
	ck_assert_int_eq(token_verify(&other, A, t, NOW, &c), TG_OK);
}
END_TEST

START_TEST(test_alg_none)
{
	const char *p = claims(NOW, NOW + TTL);
	ASSERT_REFUSED(hand_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", p, NULL, 0), NOW);
	ASSERT_REFUSED(hand_token("{\"alg\":\"None\",\"typ\":\"JWT\"}", p, NULL, 0), NOW);
	ASSERT_REFUSED(hand_token("{\"alg\":\"NONE\",\"typ\":\"JWT\"}", p, NULL, 0), NOW);
	ASSERT_REFUSED(hand_token("{\"typ\":\"JWT\"}", p, NULL, 0), NOW);
	/* alg none with a (valid HS256) signature attached */
	ASSERT_REFUSED(hand_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", p, SECRET, 32), NOW);
	/* without the trailing dot */
	char *nodot = hand_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", p, NULL, 0);
	nodot[strlen(nodot) - 1] = '\0';
	ASSERT_REFUSED(nodot, NOW);
}
END_TEST

START_TEST(test_other_hmac_algs_same_secret)
{
	/* libjwt accepts these with our key (PITFALLS.md): token_verify must not */
	ASSERT_REFUSED(libjwt_token(JWT_ALG_HS384, SECRET, 32), NOW);
	ASSERT_REFUSED(libjwt_token(JWT_ALG_HS512, SECRET, 32), NOW);
	/* and an asymmetric alg name over an HMAC signature */
	ASSERT_REFUSED(hand_token("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims(NOW, NOW + TTL), SECRET, 32), NOW);
}
END_TEST

START_TEST(test_header_strict)
{
	/* issue 8: libjwt matches alg case-insensitively and keeps the last duplicate key; signed
	 * with our key, each of these passed before the strict header check */
	const char *p = claims(NOW, NOW + TTL);
	ASSERT_REFUSED(hand_token("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", p, SECRET, 32), NOW);
	ASSERT_REFUSED(hand_token("{\"alg\":\"Hs256\"}", p, SECRET, 32), NOW);
	ASSERT_REFUSED(hand_token("{\"alg\":\"none\",\"alg\":\"HS256\"}", p, SECRET, 32), NOW);
	ASSERT_REFUSED(hand_token("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", p, SECRET, 32), NOW);
	ASSERT_REFUSED(hand_token("{\"alg\":\"HS256\",\"typ\":\"jwt\"}", p, SECRET, 32), NOW);
	ASSERT_REFUSED(hand_token("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", p, SECRET, 32), NOW);
	ASSERT_REFUSED(hand_token("{\"alg\":[\"HS256\"]}", p, SECRET, 32), NOW);
	ASSERT_REFUSED(hand_token("[\"HS256\"]", p, SECRET, 32), NOW);
	/* a duplicated claim is refused too, whichever value comes last */
	char *dup = arena_printf(A, "{\"sub\":\"someone-else\",%s", p + 1);
	ASSERT_REFUSED(hand_token(HS256_HEADER, dup, SECRET, 32), NOW);
	/* an escaped quote or a nested object does not confuse the member count */
	struct token_claims c;
	ck_assert_int_eq(verify_at(hand_token("{\"alg\":\"HS256\",\"kid\":\"a\\\",b\"}", p, SECRET, 32), NOW, &c), TG_OK);
	ck_assert_int_eq(verify_at(hand_token("{\"alg\":\"HS256\",\"x\":{\"alg\":\"none\",\"alg\":1}}", p, SECRET, 32), NOW, &c), TG_OK);
	/* typ may be absent */
	ck_assert_int_eq(verify_at(hand_token("{\"alg\":\"HS256\"}", p, SECRET, 32), NOW, &c), TG_OK);
}
END_TEST

START_TEST(test_missing_sub_or_sid)
{
	char *t = NULL;
	ck_assert_int_eq(token_issue(&K, A, SUB, "", "user", NOW, &t), TG_OK);
	ASSERT_REFUSED(t, NOW); /* empty sid */
	ck_assert_int_eq(token_issue(&K, A, "", SID, "user", NOW, &t), TG_OK);
	ASSERT_REFUSED(t, NOW); /* empty sub */
	char *p = arena_printf(A, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sid\":\"" SID "\",\"exp\":%ld}",
			       NOW + TTL);
	ASSERT_REFUSED(hand_token(HS256_HEADER, p, SECRET, 32), NOW);
	p = arena_printf(A, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"exp\":%ld}", NOW + TTL);
	ASSERT_REFUSED(hand_token(HS256_HEADER, p, SECRET, 32), NOW);
	p = arena_printf(A, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":42,\"sid\":\"" SID "\",\"exp\":%ld}",
			 NOW + TTL);
	ASSERT_REFUSED(hand_token(HS256_HEADER, p, SECRET, 32), NOW);
	/* the same payload with both present is accepted */
	p = arena_printf(A, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID
			    "\",\"exp\":%ld}",
			 NOW + TTL);
	struct token_claims c;
	ck_assert_int_eq(verify_at(hand_token(HS256_HEADER, p, SECRET, 32), NOW, &c), TG_OK);
}
END_TEST

START_TEST(test_garbage)
{
	static const char *const junk[] = {
		"", ".", "..", "...", "abc", "a.b", "a.b.c", "a.b.c.d", "Bearer x.y.z", "{}.{}.{}", "\xff\xfe.\x01.",
		"eyJhbGciOiJIUzI1NiJ9..", "..c2ln", "eyJ.eyJ.eyJ",
	};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		struct token_claims c;
		ck_assert_msg(verify_at(junk[i], NOW, &c) == TG_EAUTH, "junk %zu accepted", i);
	}
	ASSERT_REFUSED(NULL, NOW);
	/* a valid token with a prefix or suffix */
	char *t = good_hand_token();
	ASSERT_REFUSED(arena_printf(A, "Bearer %s", t), NOW);
	ASSERT_REFUSED(arena_printf(A, " %s", t), NOW);
	ASSERT_REFUSED(arena_printf(A, "%s.", t), NOW);
	ASSERT_REFUSED(arena_printf(A, "%s.x", t), NOW);
	/* a header or payload that is base64url of non-JSON */
	char *h = b64url_encode(A, "not json", 8);
	char *pl = b64url_encode(A, "[1,2,3]", 7);
	ASSERT_REFUSED(arena_printf(A, "%s.%s.sig", h, pl), NOW);
	ASSERT_REFUSED(hand_token(HS256_HEADER, "[1,2,3]", SECRET, 32), NOW);
	ASSERT_REFUSED(hand_token(HS256_HEADER, "not json", SECRET, 32), NOW);
}
END_TEST

/* A correctly signed token whose "pad" claim has n characters. */
static char *padded_token(size_t n)
{
	char *pad = arena_alloc(A, n + 1);
	memset(pad, 'x', n);
	char *p = arena_printf(A,
			       "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID
			       "\",\"exp\":%ld,\"pad\":\"%s\"}",
			       NOW + TTL, pad);
	return hand_token(HS256_HEADER, p, SECRET, 32);
}

START_TEST(test_overlong)
{
	/* token.c caps tokens at 4096 characters: the longest correctly signed token up to the cap
	 * is accepted, the first one over it refused. */
	char *under = NULL, *over = NULL;
	for (size_t n = 2800; n < 3300 && !over; n++) {
		char *t = padded_token(n);
		if (strlen(t) <= 4096)
			under = t;
		else
			over = t;
	}
	ck_assert_ptr_nonnull(under);
	ck_assert_ptr_nonnull(over);
	ck_assert_uint_ge(strlen(under), 4094);
	struct token_claims c;
	ck_assert_int_eq(verify_at(under, NOW, &c), TG_OK);
	ASSERT_REFUSED(over, NOW);
	ASSERT_REFUSED(padded_token(100000), NOW);
}
END_TEST

static Suite *token_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("issue");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_issued_token_shape);
	tcase_add_test(tc, test_jti_unique);
	tcase_add_test(tc, test_hand_made_token_accepted);
	tcase_add_test(tc, test_longer_key_ok);
	suite_add_tcase(s, tc);

	tc = tcase_create("refuse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_weak_key_refused);
	tcase_add_test(tc, test_expired);
	tcase_add_test(tc, test_wrong_issuer);
	tcase_add_test(tc, test_wrong_audience);
	tcase_add_test(tc, test_bad_signature);
	tcase_add_test(tc, test_other_key);
	tcase_add_test(tc, test_alg_none);
	tcase_add_test(tc, test_other_hmac_algs_same_secret);
	tcase_add_test(tc, test_header_strict);
	tcase_add_test(tc, test_missing_sub_or_sid);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_overlong);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(token_suite)
