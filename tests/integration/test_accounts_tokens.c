/* test_accounts_tokens.c — access tokens (API.md, Authentication): GET /api/auth/me, and every way
 * a bearer token can be wrong — other schemes, tampering, forged tokens (alg none, other algorithms,
 * other keys, wrong or missing claims, another user's session) — each refused with 401 while a token
 * forged with the stack's own secret and the right claims is accepted (so each refusal is about the
 * one thing that differs). */
#include "accounts_helpers.h"
#include "itest.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- forging tokens with the stack's secret */

/* The stack's JWT secret (jwt_secret_file or jwt_secret); fails the test when it cannot be read. */
static size_t stack_jwt_secret(unsigned char *out, size_t cap)
{
	char v[4096];
	const char *path = getenv("TG_CONFIG");
	bool file = false, have = false;
	/* the server: the file's lines in order (last wins), then TOLLGATE_JWT_SECRET, then _FILE */
	if (path && *path) {
		FILE *f = fopen(path, "r");
		if (f) {
			char *line = NULL;
			size_t lc = 0;
			while (getline(&line, &lc, f) != -1) {
				char *s = trim(line), *eq = strchr(s, '=');
				if (*s == '#' || !eq)
					continue;
				*eq = '\0';
				char *name = trim(s), *val = trim(eq + 1);
				size_t vl = strlen(val);
				if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
					val[vl - 1] = '\0';
					val++;
				}
				if (!strcmp(name, "jwt_secret") || !strcmp(name, "jwt_secret_file")) {
					file = !strcmp(name, "jwt_secret_file");
					snprintf(v, sizeof(v), "%s", val);
					have = true;
				}
			}
			free(line);
			fclose(f);
		}
	}
	if (getenv("TOLLGATE_JWT_SECRET")) {
		snprintf(v, sizeof(v), "%s", getenv("TOLLGATE_JWT_SECRET"));
		file = false;
		have = true;
	}
	if (getenv("TOLLGATE_JWT_SECRET_FILE")) {
		snprintf(v, sizeof(v), "%s", getenv("TOLLGATE_JWT_SECRET_FILE"));
		file = true;
		have = true;
	}
	ck_assert_msg(have, "no jwt_secret/jwt_secret_file in TG_CONFIG (%s)", path ? path : "unset");
	size_t n;
	if (file) {
		FILE *f = fopen(v, "rb");
		if (!f && v[0] != '/' && path) { /* relative: try next to the config file */
			char alt[4300];
			const char *slash = strrchr(path, '/');
			snprintf(alt, sizeof(alt), "%.*s/%s", slash ? (int)(slash - path) : 1, slash ? path : ".", v);
			f = fopen(alt, "rb");
		}
		ck_assert_msg(f != NULL, "cannot open jwt_secret_file %s", v);
		n = fread(out, 1, cap - 1, f);
		fclose(f);
		while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
			n--;
	} else {
		n = strlen(v);
		ck_assert_uint_lt(n, cap);
		memcpy(out, v, n);
	}
	out[n] = '\0';
	ck_assert_uint_ge(n, 32);
	return n;
}

static char *b64url(const void *data, size_t n)
{
	size_t cap = 4 * ((n + 2) / 3) + 1;
	char *o = malloc(cap);
	ck_assert_ptr_nonnull(o);
	int len = EVP_EncodeBlock((unsigned char *)o, data, (int)n);
	ck_assert_int_ge(len, 0);
	while (len && o[len - 1] == '=')
		len--;
	o[len] = '\0';
	for (char *p = o; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return o;
}

/* header.payload.signature; md NULL = no signature (alg none). */
static char *jwt_make(const char *header_json, const char *payload_json, const EVP_MD *md, const void *key,
		      size_t keylen)
{
	char *h = b64url(header_json, strlen(header_json)), *p = b64url(payload_json, strlen(payload_json));
	char *signing = NULL, *tok = NULL, *sig;
	ck_assert_int_ge(asprintf(&signing, "%s.%s", h, p), 0);
	if (md) {
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int ml = 0;
		ck_assert_ptr_nonnull(HMAC(md, key, (int)keylen, (const unsigned char *)signing, strlen(signing), mac, &ml));
		sig = b64url(mac, ml);
	} else {
		sig = xstrdup("");
	}
	ck_assert_int_ge(asprintf(&tok, "%s.%s", signing, sig), 0);
	free(h);
	free(p);
	free(signing);
	free(sig);
	return tok;
}

struct claims {
	const char *iss, *aud, *sub, *sid, *role;
	long iat, exp;
	bool no_exp;
};

static char *claims_json(const struct claims *c)
{
	json_object *o = json_object_new_object();
	if (c->iss)
		json_object_object_add(o, "iss", json_object_new_string(c->iss));
	if (c->aud)
		json_object_object_add(o, "aud", json_object_new_string(c->aud));
	if (c->sub)
		json_object_object_add(o, "sub", json_object_new_string(c->sub));
	if (c->sid)
		json_object_object_add(o, "sid", json_object_new_string(c->sid));
	json_object_object_add(o, "role", json_object_new_string(c->role ? c->role : "user"));
	json_object_object_add(o, "iat", json_object_new_int64(c->iat));
	if (!c->no_exp)
		json_object_object_add(o, "exp", json_object_new_int64(c->exp));
	json_object_object_add(o, "jti", json_object_new_string("itest-forged-jti"));
	char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static char *forge(const char *alg, const EVP_MD *md, const void *key, size_t keylen, const struct claims *c)
{
	char header[128];
	snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
	char *payload = claims_json(c);
	char *tok = jwt_make(header, payload, md, key, keylen);
	free(payload);
	return tok;
}

START_TEST(me_returns_user)
{
	struct it_user u;
	it_register(&u, "me");
	struct it_resp *r = it_get("/api/auth/me", u.access);
	it_expect(r, 200, NULL);
	expect_json_ct(r);
	expect_no_store(r);
	expect_user(r->json, u.email);
	ck_assert_str_eq(it_str(r, "id"), u.id);
	ck_assert_str_eq(it_str(r, "name"), "Test me");
	ck_assert_ptr_nonnull(it_header(r, "X-Request-Id"));
	it_free(r);
	r = it_post("/api/auth/me", u.access, "{}");
	it_expect_problem(r, 405, "method_not_allowed");
	ck_assert_ptr_nonnull(it_header(r, "Allow"));
	it_free(r);
}
END_TEST

static long me_with_header(const char *authz)
{
	struct it_req q = {.path = "/api/auth/me"};
	q.headers[0] = authz;
	struct it_resp *r = it_do(&q);
	long st = r->status;
	if (st == 401)
		it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	return st;
}

START_TEST(me_rejects_bad_tokens)
{
	struct it_user u, other;
	it_register(&u, "badtok");
	it_register(&other, "badtok-other");
	char sid[64], other_sid[64];
	token_sid(u.access, sid, sizeof(sid));
	token_sid(other.access, other_sid, sizeof(other_sid));
	json_object *real = jwt_claims(u.access);
	char iss[128], aud[128];
	snprintf(iss, sizeof(iss), "%s", obj_str(real, "iss"));
	snprintf(aud, sizeof(aud), "%s", obj_str(real, "aud"));
	json_object_put(real);
	unsigned char secret[4096];
	size_t slen = stack_jwt_secret(secret, sizeof(secret));
	unsigned char rnd[64];
	ck_assert_int_eq(RAND_bytes(rnd, sizeof(rnd)), 1);
	long now = (long)time(NULL);
	struct claims good = {iss, aud, u.id, sid, "user", now - 5, now + 600, false};

	/* control: a token forged with the real secret and the right claims is accepted, so every
	 * rejection below is about the one thing that differs */
	char *tok = forge("HS256", EVP_sha256(), secret, slen, &good);
	ck_assert_int_eq(me_status(tok), 200);
	free(tok);
	/* issued in the future (beyond a minute of clock skew): not one of ours */
	struct claims future = good;
	future.iat = now + 3600;
	future.exp = now + 7200;
	tok = forge("HS256", EVP_sha256(), secret, slen, &future);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);

	/* no token, other schemes, malformed */
	struct it_resp *r = it_get("/api/auth/me", NULL);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	char line[2048];
	snprintf(line, sizeof(line), "Authorization: Basic %s", u.access);
	ck_assert_int_eq(me_with_header(line), 401);
	snprintf(line, sizeof(line), "Authorization: %s", u.access);
	ck_assert_int_eq(me_with_header(line), 401);
	ck_assert_int_eq(me_with_header("Authorization: Bearer"), 401);
	ck_assert_int_eq(me_status(""), 401);
	ck_assert_int_eq(me_status("garbage"), 401);
	ck_assert_int_eq(me_status("a.b.c"), 401);
	ck_assert_int_eq(me_status("..."), 401);

	/* tampered signature (first character: the last one may only touch padding bits) and payload */
	char *t2 = xstrdup(u.access);
	char *sig = strrchr(t2, '.') + 1;
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(me_status(t2), 401);
	free(t2);
	struct claims as_other = good;
	as_other.sub = other.id;
	char *forged_other = forge("HS256", EVP_sha256(), secret, slen, &as_other);
	char *spliced = NULL; /* other's payload with u's real signature */
	{
		const char *d1 = strchr(u.access, '.'), *d2 = strrchr(u.access, '.');
		const char *p1 = strchr(forged_other, '.'), *p2 = strrchr(forged_other, '.');
		ck_assert_int_ge(asprintf(&spliced, "%.*s%.*s%s", (int)(d1 - u.access), u.access, (int)(p2 - p1), p1, d2), 0);
	}
	ck_assert_int_eq(me_status(spliced), 401);
	free(spliced);
	/* another user's id with this user's session: the session must belong to the subject */
	ck_assert_int_eq(me_status(forged_other), 401);
	free(forged_other);
	struct claims cross = good;
	cross.sid = other_sid;
	tok = forge("HS256", EVP_sha256(), secret, slen, &cross);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);

	/* algorithms: none, HS256 with a random key, HS384/HS512 (random and real key), RS256 header */
	char *payload = claims_json(&good);
	tok = jwt_make("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, NULL, NULL, 0);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	tok = jwt_make("{\"alg\":\"None\",\"typ\":\"JWT\"}", payload, NULL, NULL, 0);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	tok = jwt_make("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, EVP_sha256(), secret, slen);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	tok = jwt_make("{\"typ\":\"JWT\"}", payload, EVP_sha256(), secret, slen);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	tok = jwt_make("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, EVP_sha256(), rnd, sizeof(rnd));
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	tok = jwt_make("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload, EVP_sha512(), rnd, sizeof(rnd));
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	tok = jwt_make("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload, EVP_sha512(), secret, slen);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	tok = jwt_make("{\"alg\":\"HS384\",\"typ\":\"JWT\"}", payload, EVP_sha384(), secret, slen);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	tok = jwt_make("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload, EVP_sha256(), secret, slen);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	free(payload);

	/* claims: expired, wrong/missing iss and aud, missing exp, non-UUID subject */
	struct claims c = good;
	c.iat = now - 3600;
	c.exp = now - 60;
	tok = forge("HS256", EVP_sha256(), secret, slen, &c);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	c = good;
	c.iss = "someone-else";
	tok = forge("HS256", EVP_sha256(), secret, slen, &c);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	c = good;
	c.iss = NULL;
	tok = forge("HS256", EVP_sha256(), secret, slen, &c);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	c = good;
	c.aud = "someone-else";
	tok = forge("HS256", EVP_sha256(), secret, slen, &c);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	c = good;
	c.aud = NULL;
	tok = forge("HS256", EVP_sha256(), secret, slen, &c);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	c = good;
	c.no_exp = true;
	tok = forge("HS256", EVP_sha256(), secret, slen, &c);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	c = good;
	c.sub = "not-a-uuid";
	tok = forge("HS256", EVP_sha256(), secret, slen, &c);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	c = good;
	c.sid = "00000000-0000-0000-0000-000000000000";
	tok = forge("HS256", EVP_sha256(), secret, slen, &c);
	ck_assert_int_eq(me_status(tok), 401);
	free(tok);
	/* a forged role does not make an admin: the role comes from the database */
	c = good;
	c.role = "admin";
	tok = forge("HS256", EVP_sha256(), secret, slen, &c);
	r = it_get("/api/auth/me", tok);
	it_expect(r, 200, NULL);
	ck_assert_str_eq(it_str(r, "role"), "user");
	it_free(r);
	free(tok);
	/* the real token still works */
	ck_assert_int_eq(me_status(u.access), 200);
	explicit_bzero(secret, sizeof(secret));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accounts_tokens");
	TCase *tc = tcase_create("tokens");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, me_returns_user);
	tcase_add_test(tc, me_rejects_bad_tokens);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
