/* token.c — access tokens: HS256 JWTs through libjwt, with every check libjwt leaves to us. */
#include "tollgate/token.h"
#include "tollgate/arena.h"
#include "tollgate/crypto.h"
#include "tollgate/status.h"

#include <errno.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MIN_SECRET 32
#define TOKEN_MAX_LEN 4096
#define TOKEN_CLOCK_SKEW 60 /* seconds another host's clock may be ahead */

int token_issue(const struct token_key *k, struct arena *a, const char *sub, const char *sid,
		const char *role, time_t now, char **out)
{
	if (!k->secret || k->secret_len < TOKEN_MIN_SECRET)
		return TG_EINPUT; /* an empty key would make libjwt accept any signature */
	uint8_t raw[16];
	if (crypto_random(raw, sizeof(raw)) != 0)
		return TG_EINTERNAL;
	char *jti = b64url_encode(a, raw, sizeof(raw));
	jwt_t *jwt = NULL;
	int rc = TG_EINTERNAL;
	if (!jti || jwt_new(&jwt) != 0)
		return TG_EINTERNAL;
	if (jwt_add_grant(jwt, "iss", k->issuer) || jwt_add_grant(jwt, "aud", k->audience) ||
	    jwt_add_grant(jwt, "sub", sub) || jwt_add_grant(jwt, "sid", sid) || jwt_add_grant(jwt, "role", role) ||
	    jwt_add_grant(jwt, "jti", jti) || jwt_add_grant_int(jwt, "iat", (long)now) ||
	    jwt_add_grant_int(jwt, "exp", (long)now + k->ttl) ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, k->secret, (int)k->secret_len))
		goto out;
	char *s = jwt_encode_str(jwt);
	if (!s)
		goto out;
	*out = arena_strdup(a, s);
	free(s);
	rc = *out ? TG_OK : TG_ENOMEM;
out:
	jwt_free(jwt);
	return rc;
}

static const char *grant_str(struct arena *a, jwt_t *jwt, const char *name)
{
	const char *v = jwt_get_grant(jwt, name);
	return v && *v ? arena_strdup(a, v) : NULL;
}

int token_verify(const struct token_key *k, struct arena *a, const char *token, time_t now,
		 struct token_claims *c)
{
	memset(c, 0, sizeof(*c));
	if (!k->secret || k->secret_len < TOKEN_MIN_SECRET || !token || strlen(token) > TOKEN_MAX_LEN)
		return TG_EAUTH;
	jwt_t *jwt = NULL;
	if (jwt_decode(&jwt, token, k->secret, (int)k->secret_len) != 0 || !jwt)
		return TG_EAUTH;
	int rc = TG_EAUTH;
	/* libjwt accepts HS384/HS512 signed with the same key: only HS256 is ours. */
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto out;
	const char *iss = jwt_get_grant(jwt, "iss"), *aud = jwt_get_grant(jwt, "aud");
	if (!iss || strcmp(iss, k->issuer) || !aud || strcmp(aud, k->audience))
		goto out;
	errno = 0;
	long exp = jwt_get_grant_int(jwt, "exp");
	if (errno || exp <= (long)now)
		goto out;
	errno = 0;
	long iat = jwt_get_grant_int(jwt, "iat");
	if (errno)
		iat = 0;
	if (iat > (long)now + TOKEN_CLOCK_SKEW)
		goto out; /* issued in the future: not by us */
	errno = 0;
	long nbf = jwt_get_grant_int(jwt, "nbf");
	if (!errno && nbf > (long)now + TOKEN_CLOCK_SKEW)
		goto out;
	c->sub = grant_str(a, jwt, "sub");
	c->sid = grant_str(a, jwt, "sid");
	c->role = grant_str(a, jwt, "role");
	c->jti = grant_str(a, jwt, "jti");
	c->exp = exp;
	c->iat = iat;
	if (c->sub && c->sid)
		rc = TG_OK;
out:
	jwt_free(jwt);
	return rc;
}
