/* token.h — HS256 access tokens (libjwt) with the claims of API.md. */
#ifndef TOLLGATE_TOKEN_H
#define TOLLGATE_TOKEN_H

#include <stddef.h>
#include <time.h>

struct arena;

struct token_claims {
	const char *sub;   /* user id */
	const char *sid;   /* session id */
	const char *role;
	const char *jti;
	long iat, exp;
};

struct token_key {
	const unsigned char *secret;
	size_t secret_len;  /* at least 32; shorter keys are refused */
	const char *issuer, *audience;
	int ttl;            /* seconds */
};

/* Issues a token for sub/sid/role valid ttl seconds from now. Arena string in *out.
 * Returns TG_OK, TG_EINPUT (weak key) or TG_EINTERNAL. */
int token_issue(const struct token_key *k, struct arena *a, const char *sub, const char *sid,
		const char *role, time_t now, char **out);
/* Checks the header and claims segments of a compact JWT before libjwt sees it: each is a JSON
 * object without duplicate members, the header's "alg" is exactly "HS256" and its "typ", when
 * present, exactly "JWT". Returns TG_OK or TG_EAUTH. */
int token_header_check(struct arena *a, const char *token, size_t len);
/* Verifies signature (HS256 only), iss, aud, exp (against now) and the presence of sub and sid.
 * On TG_OK fills c with arena strings. Every failure is TG_EAUTH. */
int token_verify(const struct token_key *k, struct arena *a, const char *token, time_t now,
		 struct token_claims *c);

#endif
