/* token.c — access tokens: HS256 JWTs through libjwt, with every check libjwt leaves to us. */
#include "tollgate/token.h"
#include "tollgate/arena.h"
#include "tollgate/crypto.h"
#include "tollgate/status.h"

#include <errno.h>
#include <json.h>
#include <jwt.h>
#include <stdbool.h>
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

/* Counts the members of the JSON object at text[0..n) by scanning its top level, so that a
 * duplicate key (which json-c silently keeps the last of) can be told from a distinct one. */
static int top_level_members(const char *text, size_t n)
{
	int depth = 0, members = 0;
	bool in_string = false, expect_key = false;
	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		switch (c) {
		case '"':
			if (depth == 1 && expect_key) {
				members++;
				expect_key = false;
			}
			in_string = true;
			break;
		case '{':
		case '[':
			if (++depth == 1)
				expect_key = true;
			break;
		case '}':
		case ']':
			depth--;
			break;
		case ',':
			if (depth == 1)
				expect_key = true;
			break;
		default:
			break;
		}
	}
	return members;
}

/* Decodes one base64url JWT segment as a JSON object with no duplicate member. NULL otherwise;
 * the caller puts the result. */
static json_object *segment_object(struct arena *a, const char *seg, size_t len)
{
	uint8_t *raw;
	size_t raw_len;
	if (len == 0 || b64url_decode(a, seg, len, &raw, &raw_len) != 0 || raw_len == 0 ||
	    memchr(raw, '\0', raw_len))
		return NULL;
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *o = json_tokener_parse_ex(tok, (const char *)raw, (int)raw_len);
	bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
		  json_tokener_get_parse_end(tok) == raw_len && json_object_is_type(o, json_type_object) &&
		  top_level_members((const char *)raw, raw_len) == json_object_object_length(o);
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The string member key of o must be exactly want (required) or, when optional, may be absent. */
static bool member_is(json_object *o, const char *key, const char *want, bool optional)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return optional;
	return json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), want);
}

int token_header_check(struct arena *a, const char *token, size_t len)
{
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return TG_EAUTH;
	json_object *header = segment_object(a, token, (size_t)(dot1 - token));
	bool ok = header && member_is(header, "alg", "HS256", false) && member_is(header, "typ", "JWT", true);
	json_object_put(header);
	if (!ok)
		return TG_EAUTH;
	/* the claims too: a duplicated "sub" or "exp" must not mean what libjwt happens to keep */
	json_object *claims = segment_object(a, dot1 + 1, (size_t)(dot2 - dot1 - 1));
	ok = claims != NULL;
	json_object_put(claims);
	return ok ? TG_OK : TG_EAUTH;
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
	/* libjwt matches alg case-insensitively and keeps the last of duplicate keys: the header
	 * is checked strictly first. */
	if (token_header_check(a, token, strlen(token)) != TG_OK)
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
