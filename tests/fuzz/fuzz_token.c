/* fuzz_token.c — access tokens: token_header_check on the raw input (length-bounded, no
 * terminator) and token_verify on it as a C string; then the input read as a header and a claims
 * JSON object, signed by the harness with the key and verified, so the claim checks behind a
 * valid signature are reached too; and an issue → verify round trip of a fuzzed subject.
 *
 * Input: a compact JWT (header.claims.signature). When it holds a newline it is also read as
 * "<header JSON>\n<claims JSON>[\n<anything>]", each part base64url-encoded and the pair signed
 * with HS256 under the harness key. The clock is fixed at FUZZ_NOW. */
#include "fuzz.h"

#include "tollgate/arena.h"
#include "tollgate/crypto.h"
#include "tollgate/status.h"
#include "tollgate/token.h"

#define SECRET "fuzz-secret-0123456789abcdef-0123456789abcdef"
#define FUZZ_NOW 1767225600 /* 2026-01-01T00:00:00Z */

static const struct token_key key = {
	.secret = (const unsigned char *)SECRET,
	.secret_len = sizeof(SECRET) - 1,
	.issuer = "tollgate",
	.audience = "tollgate",
	.ttl = 900,
};

static void verify(struct arena *a, const char *token, size_t len)
{
	(void)token_header_check(a, token, len);
	char *s = fuzz_cstr(token, len);
	struct token_claims c;
	int rc = token_verify(&key, a, s, FUZZ_NOW, &c);
	FUZZ_CHECK(rc == TG_OK || rc == TG_EAUTH);
	if (rc == TG_OK) {
		FUZZ_CHECK(c.sub && *c.sub && c.sid && *c.sid);
		FUZZ_CHECK(c.exp > FUZZ_NOW && c.iat <= FUZZ_NOW + 60);
		FUZZ_CHECK(token_header_check(a, s, strlen(s)) == TG_OK);
	}
	free(s);
}

/* base64url(header) "." base64url(claims) "." base64url(HMAC-SHA256) */
static void signed_token(struct arena *a, struct fuzz_span header, struct fuzz_span claims)
{
	char *h = b64url_encode(a, header.p, header.n), *c = b64url_encode(a, claims.p, claims.n);
	FUZZ_CHECK(h && c);
	char *input = arena_printf(a, "%s.%s", h, c);
	FUZZ_CHECK(input != NULL);
	uint8_t mac[CRYPTO_SHA256_LEN];
	FUZZ_CHECK(crypto_hmac_sha256(SECRET, sizeof(SECRET) - 1, input, strlen(input), mac) == 0);
	char *sig = b64url_encode(a, mac, sizeof(mac));
	char *token = arena_printf(a, "%s.%s", input, sig);
	FUZZ_CHECK(sig && token);
	char *exact = fuzz_dup_exact(token, strlen(token));
	verify(a, exact, strlen(token));
	free(exact);
}

static void round_trip(struct arena *a, const uint8_t *data, size_t size)
{
	char *sub = fuzz_cstr(data, size > 64 ? 64 : size);
	char *token = NULL;
	int rc = token_issue(&key, a, sub, "00000000-0000-4000-8000-000000000001", "user", FUZZ_NOW, &token);
	if (rc == TG_OK) {
		struct token_claims c;
		FUZZ_CHECK(token_verify(&key, a, token, FUZZ_NOW, &c) == TG_OK || !*sub);
		if (*sub)
			FUZZ_CHECK(c.sub && !strcmp(c.sub, sub) && !strcmp(c.role, "user"));
	}
	free(sub);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(0);
	FUZZ_CHECK(a != NULL);
	char *raw = fuzz_dup_exact(data, size);
	verify(a, raw, size);
	free(raw);

	struct fuzz_span in = {(const char *)data, size}, header, claims;
	if (memchr(data, '\n', size) && fuzz_next_line(&in, &header)) {
		if (!fuzz_next_line(&in, &claims))
			claims = (struct fuzz_span){"", 0};
		signed_token(a, header, claims);
	}
	round_trip(a, data, size);
	arena_destroy(a);
	return 0;
}
