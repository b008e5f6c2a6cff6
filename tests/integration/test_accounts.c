/* test_accounts.c — black-box integration tests of the "Accounts" section of API.md, through nginx.
 *
 * Needs a running stack (scripts/stack start DIR; . DIR/stack.env): TG_URL, TG_ORIGIN, TG_STACK_DIR,
 * TG_CONFIG (the stack's tollgate.conf: bcrypt_cost, login_lockout_base, refresh_reuse_interval,
 * access_token_ttl and jwt_secret_file are read from it) and TG_REPO. */
#include "itest.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* The stack's configuration (environment TOLLGATE_<KEY> overrides the file, as in the server). */

/* Appends "é" (2 bytes of UTF-8) to the NUL-terminated buf of size cap. */
static void append_e_acute(char *buf, size_t cap)
{
	size_t n = strlen(buf);
	ck_assert_uint_lt(n + 2, cap);
	memcpy(buf + n, "\xc3\xa9", 3);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Last value of key in TG_CONFIG (or the environment override) into out; false when unset. */
static bool cfg_lookup(const char *key, char *out, size_t outlen)
{
	char env[128];
	snprintf(env, sizeof(env), "TOLLGATE_%s", key);
	for (char *p = env; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	const char *ev = getenv(env);
	if (ev) {
		snprintf(out, outlen, "%s", ev);
		return true;
	}
	const char *path = getenv("TG_CONFIG");
	if (!path || !*path)
		return false;
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool found = false;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) != -1) {
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *name = trim(s), *val = trim(eq + 1);
		size_t vl = strlen(val);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
			val[vl - 1] = '\0';
			val++;
		}
		if (!strcmp(name, key)) {
			snprintf(out, outlen, "%s", val);
			found = true;
		}
	}
	free(line);
	fclose(f);
	return found;
}

static long cfg_long(const char *key, long dflt)
{
	char v[256];
	if (!cfg_lookup(key, v, sizeof(v)))
		return dflt;
	return strtol(v, NULL, 10);
}

/* A duration ("30s", "15m", "2h", "30d", "10") in seconds. */
static long cfg_seconds(const char *key, long dflt)
{
	char v[256];
	if (!cfg_lookup(key, v, sizeof(v)))
		return dflt;
	char *end;
	long n = strtol(v, &end, 10);
	switch (*end) {
	case 'm': return n * 60;
	case 'h': return n * 3600;
	case 'd': return n * 86400;
	default: return n;
	}
}

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

/* ------------------------------------------------------------------------------------------ */
/* Small helpers. */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");
	ck_assert_ptr_nonnull(d);
	return d;
}

/* The whole Set-Cookie line (after "Set-Cookie: ") that sets cookie name, or NULL. */
static char *set_cookie_line(const struct it_resp *r, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = r->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > 11 && !strncasecmp(p, "Set-Cookie:", 11)) {
			const char *v = p + 11;
			while (*v == ' ')
				v++;
			if (!strncmp(v, name, nl) && v[nl] == '=')
				return strndup(v, len - (size_t)(v - p));
		}
		p = eol ? eol + 2 : NULL;
	}
	return NULL;
}

/* Does the cookie line carry attribute attr (case-insensitive, exact between semicolons)? */
static bool cookie_has_attr(const char *line, const char *attr)
{
	const char *p = strchr(line, ';');
	while (p) {
		p++;
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, ";");
		while (n && p[n - 1] == ' ')
			n--;
		if (n == strlen(attr) && !strncasecmp(p, attr, n))
			return true;
		p = strchr(p, ';');
	}
	return false;
}

static bool is_uuid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* 2026-11-29T13:42:50Z */
static bool is_rfc3339_utc(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
	if (!s || strlen(s) != sizeof(pat) - 1)
		return false;
	for (size_t i = 0; i < sizeof(pat) - 1; i++) {
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return false;
	}
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return end && !*end;
}

static json_object *obj_get(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *obj_str(json_object *o, const char *key)
{
	json_object *v = obj_get(o, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void sql_exec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql_exec(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *q = NULL;
	ck_assert_int_ge(vasprintf(&q, fmt, ap), 0);
	va_end(ap);
	const char *out = it_sql("%s", q);
	ck_assert_msg(!strstr(out, "ERROR"), "SQL %s failed: %s", q, out);
	free(q);
}

/* Retry-After as integer seconds (strictly digits), or -1. */
static long retry_after(const struct it_resp *r)
{
	const char *v = it_header(r, "Retry-After");
	if (!v || !*v)
		return -1;
	for (const char *p = v; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	return strtol(v, NULL, 10);
}

/* Waits up to secs for a message to addr in TG_MAIL_DIR whose text contains needle
 * (case-insensitive); returns how many there are. */
static int wait_mail(const char *addr, const char *needle, double secs)
{
	const char *dir = getenv("TG_MAIL_DIR");
	ck_assert_msg(dir && *dir, "TG_MAIL_DIR is not set");
	double until = now_s() + secs;
	for (;;) {
		const char *out = it_sh_out("grep -lF 'X-Envelope-To: <%s>' '%s'/*.eml 2>/dev/null | xargs -r grep -liF '%s'"
					    " | wc -l",
					    addr, dir, needle);
		int n = (int)strtol(out, NULL, 10);
		if (n > 0 || now_s() > until)
			return n;
		sleep_s(0.2);
	}
}

static void sha256_hex(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int ml = 0;
	ck_assert_int_eq(EVP_Digest(s, strlen(s), md, &ml, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void expect_request_id(const struct it_resp *r)
{
	const char *v = it_header(r, "X-Request-Id");
	ck_assert_msg(v && *v, "no X-Request-Id on %ld", r->status);
}

/* ------------------------------------------------------------------------------------------ */
/* JWTs: base64url, decoding the server's claims, forging tokens. */

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

static char *b64url_decode(const char *s, size_t slen)
{
	size_t padded = (slen + 3) / 4 * 4;
	char *t = calloc(1, padded + 1);
	unsigned char *out = calloc(1, padded + 1);
	ck_assert(t && out);
	for (size_t i = 0; i < padded; i++)
		t[i] = i < slen ? (s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i]) : '=';
	int len = EVP_DecodeBlock(out, (unsigned char *)t, (int)padded);
	free(t);
	if (len < 0) {
		free(out);
		return NULL;
	}
	len -= (int)(padded - slen);
	out[len < 0 ? 0 : len] = '\0';
	return (char *)out;
}

/* The payload of a JWT as JSON (caller puts it). */
static json_object *jwt_claims(const char *tok)
{
	const char *d1 = strchr(tok, '.');
	ck_assert_ptr_nonnull(d1);
	const char *d2 = strchr(d1 + 1, '.');
	ck_assert_ptr_nonnull(d2);
	char *js = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1));
	ck_assert_ptr_nonnull(js);
	json_object *o = json_tokener_parse(js);
	free(js);
	ck_assert_ptr_nonnull(o);
	return o;
}

static json_object *jwt_header(const char *tok)
{
	const char *d1 = strchr(tok, '.');
	ck_assert_ptr_nonnull(d1);
	char *js = b64url_decode(tok, (size_t)(d1 - tok));
	ck_assert_ptr_nonnull(js);
	json_object *o = json_tokener_parse(js);
	free(js);
	ck_assert_ptr_nonnull(o);
	return o;
}

/* The sid claim of an access token into out. */
static void token_sid(const char *tok, char *out, size_t n)
{
	json_object *c = jwt_claims(tok);
	snprintf(out, n, "%s", obj_str(c, "sid") ? obj_str(c, "sid") : "");
	json_object_put(c);
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

/* ------------------------------------------------------------------------------------------ */
/* Expectations on the documented shapes. */

#define expect_problem(r, st, code) expect_problem_at(__FILE__, __LINE__, (r), (st), (code))
static void expect_problem_at(const char *file, int line, const struct it_resp *r, long status, const char *code)
{
	it_expect_at(file, line, r, status, code);
	const char *ct = it_header(r, "Content-Type");
	ck_assert_msg(ct && !strncmp(ct, "application/problem+json", 24), "%s:%d: problem Content-Type is %s", file,
		      line, ct ? ct : "(none)");
	ck_assert_msg(r->json && json_object_is_type(r->json, json_type_object), "%s:%d: problem body is not an object",
		      file, line);
	char type[256];
	snprintf(type, sizeof(type), "https://tollgate.invalid/problems/%s", code);
	ck_assert_msg(obj_str(r->json, "type") && !strcmp(obj_str(r->json, "type"), type), "%s:%d: type is %s", file,
		      line, obj_str(r->json, "type") ? obj_str(r->json, "type") : "(none)");
	ck_assert_msg(obj_str(r->json, "title") && *obj_str(r->json, "title"), "%s:%d: no title", file, line);
	json_object *st = obj_get(r->json, "status");
	ck_assert_msg(st && json_object_is_type(st, json_type_int) && json_object_get_int64(st) == status,
		      "%s:%d: status member does not match %ld", file, line, status);
	ck_assert_msg(obj_str(r->json, "detail") != NULL, "%s:%d: no detail", file, line);
	const char *rid = obj_str(r->json, "request_id");
	ck_assert_msg(rid && *rid, "%s:%d: no request_id", file, line);
	const char *xrid = it_header(r, "X-Request-Id");
	ck_assert_msg(xrid && !strcmp(xrid, rid), "%s:%d: X-Request-Id %s != request_id %s", file, line,
		      xrid ? xrid : "(none)", rid);
	json_object *errs = obj_get(r->json, "errors");
	if (status == 422)
		ck_assert_msg(errs && json_object_is_type(errs, json_type_object) && json_object_object_length(errs) > 0,
			      "%s:%d: 422 without errors", file, line);
	else
		ck_assert_msg(!errs, "%s:%d: errors on a %ld problem", file, line, status);
}

/* 422 validation_failed with errors.<field> (a non-empty string). */
#define expect_invalid(r, field) expect_invalid_at(__FILE__, __LINE__, (r), (field))
static void expect_invalid_at(const char *file, int line, const struct it_resp *r, const char *field)
{
	expect_problem_at(file, line, r, 422, "validation_failed");
	json_object *e = obj_get(obj_get(r->json, "errors"), field);
	ck_assert_msg(e && json_object_is_type(e, json_type_string) && *json_object_get_string(e),
		      "%s:%d: errors.%s missing in %s", file, line, field, r->body);
}

static void expect_no_store(const struct it_resp *r)
{
	const char *cc = it_header(r, "Cache-Control");
	ck_assert_msg(cc && strstr(cc, "no-store"), "Cache-Control is %s on %ld %s", cc ? cc : "(none)", r->status,
		      r->body);
}

static void expect_json_ct(const struct it_resp *r)
{
	const char *ct = it_header(r, "Content-Type");
	ck_assert_msg(ct && !strncmp(ct, "application/json", 16), "Content-Type is %s", ct ? ct : "(none)");
}

/* The User object: exactly id, email, name, role, email_verified, mfa_enabled, plan, created_at. */
static void expect_user(json_object *u, const char *email)
{
	ck_assert_msg(u && json_object_is_type(u, json_type_object), "user is not an object");
	static const char *const keys[] = {"id", "email", "name", "role", "email_verified", "mfa_enabled", "plan",
					   "created_at"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(obj_get(u, keys[i]), "user.%s missing: %s", keys[i], json_object_to_json_string(u));
	ck_assert_msg(json_object_object_length(u) == 8, "user has extra fields: %s", json_object_to_json_string(u));
	ck_assert_msg(is_uuid(obj_str(u, "id")), "user.id is not a UUID");
	if (email)
		ck_assert_str_eq(obj_str(u, "email"), email);
	ck_assert_ptr_nonnull(obj_str(u, "name"));
	ck_assert_str_eq(obj_str(u, "role"), "user");
	ck_assert(json_object_is_type(obj_get(u, "email_verified"), json_type_boolean));
	ck_assert(!json_object_get_boolean(obj_get(u, "email_verified")));
	ck_assert(json_object_is_type(obj_get(u, "mfa_enabled"), json_type_boolean));
	ck_assert(!json_object_get_boolean(obj_get(u, "mfa_enabled")));
	ck_assert_str_eq(obj_str(u, "plan"), "free");
	ck_assert_msg(is_rfc3339_utc(obj_str(u, "created_at")), "created_at %s is not RFC 3339 UTC",
		      obj_str(u, "created_at") ? obj_str(u, "created_at") : "(none)");
}

static void expect_cookie_attrs(const char *line)
{
	ck_assert_msg(cookie_has_attr(line, "HttpOnly"), "no HttpOnly: %s", line);
	ck_assert_msg(cookie_has_attr(line, "Secure"), "no Secure: %s", line);
	ck_assert_msg(cookie_has_attr(line, "SameSite=Strict"), "no SameSite=Strict: %s", line);
	ck_assert_msg(cookie_has_attr(line, "Path=/api/auth"), "no Path=/api/auth: %s", line);
}

/* A token response (register, login, refresh). Returns the refresh token (cookie or body), malloc'd. */
static char *expect_token_response(const struct it_resp *r, long status, bool body_mode, const char *email)
{
	it_expect(r, status, NULL);
	expect_json_ct(r);
	expect_no_store(r);
	expect_request_id(r);
	const char *at = it_str(r, "access_token");
	ck_assert_msg(at && strchr(at, '.') && strchr(strchr(at, '.') + 1, '.'), "access_token is not a JWT: %s",
		      r->body);
	ck_assert_str_eq(it_str(r, "token_type"), "Bearer");
	json_object *ei = it_at(r, "expires_in");
	ck_assert_msg(ei && json_object_is_type(ei, json_type_int), "expires_in is not an integer");
	ck_assert_int_eq(json_object_get_int64(ei), cfg_seconds("access_token_ttl", 900));
	ck_assert_msg(!it_at(r, "mfa_required") && !it_at(r, "mfa_token"), "unexpected MFA fields: %s", r->body);
	expect_user(it_at(r, "user"), email);
	char *cookie = set_cookie_line(r, "tg_refresh");
	char *refresh;
	if (body_mode) {
		ck_assert_msg(!cookie, "body mode set a cookie: %s", cookie ? cookie : "");
		const char *rt = it_str(r, "refresh_token");
		ck_assert_msg(rt && strlen(rt) == 43, "refresh_token is not 32 bytes of base64url: %s", r->body);
		/* 32 random bytes, base64url: 43 characters of [A-Za-z0-9_-] */
		for (const char *p = rt; *p; p++)
			ck_assert_msg(isalnum((unsigned char)*p) || *p == '-' || *p == '_', "refresh_token is not base64url");
		refresh = xstrdup(rt);
		ck_assert_int_eq(json_object_object_length(r->json), 5);
	} else {
		ck_assert_msg(!it_at(r, "refresh_token"), "cookie mode put refresh_token in the body: %s", r->body);
		ck_assert_msg(cookie, "cookie mode set no tg_refresh cookie");
		expect_cookie_attrs(cookie);
		const char *v = it_set_cookie(r, "tg_refresh");
		ck_assert_msg(v && strlen(v) == 43, "tg_refresh cookie is not 32 bytes of base64url: %s", v ? v : "");
		refresh = xstrdup(v);
		ck_assert_int_eq(json_object_object_length(r->json), 4);
	}
	free(cookie);
	return refresh;
}

/* ------------------------------------------------------------------------------------------ */
/* Requests. */

static struct it_resp *req_json(const char *method, const char *path, const char *bearer, const char *json)
{
	struct it_req q = {.method = method, .path = path, .bearer = bearer, .json = json};
	return it_do(&q);
}

static struct it_resp *login_raw(const char *email, const char *password, const char *mode, const char *ua)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "email", json_object_new_string(email));
	json_object_object_add(o, "password", json_object_new_string(password));
	if (mode)
		json_object_object_add(o, "session", json_object_new_string(mode));
	char ual[300];
	snprintf(ual, sizeof(ual), "User-Agent: %s", ua ? ua : "");
	struct it_req q = {.method = "POST", .path = "/api/auth/login",
			   .json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)};
	if (ua)
		q.headers[0] = ual;
	struct it_resp *r = it_do(&q);
	json_object_put(o);
	return r;
}

static struct it_resp *register_raw(const char *email, const char *password, const char *mode)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "email", json_object_new_string(email));
	json_object_object_add(o, "password", json_object_new_string(password));
	if (mode)
		json_object_object_add(o, "session", json_object_new_string(mode));
	struct it_resp *r = it_post("/api/auth/register", NULL, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return r;
}

/* A second (third, …) session of u, body mode. */
struct sess {
	char access[1024];
	char refresh[128];
	char sid[64];
};

static void login_session(const struct it_user *u, const char *ua, struct sess *s)
{
	struct it_resp *r = login_raw(u->email, u->password, "body", ua);
	it_expect(r, 200, NULL);
	snprintf(s->access, sizeof(s->access), "%s", it_str(r, "access_token"));
	snprintf(s->refresh, sizeof(s->refresh), "%s", it_str(r, "refresh_token"));
	token_sid(s->access, s->sid, sizeof(s->sid));
	it_free(r);
}

static void user_session(const struct it_user *u, struct sess *s)
{
	snprintf(s->access, sizeof(s->access), "%s", u->access);
	snprintf(s->refresh, sizeof(s->refresh), "%s", u->refresh);
	token_sid(s->access, s->sid, sizeof(s->sid));
}

static long me_status(const char *access)
{
	struct it_resp *r = it_get("/api/auth/me", access);
	long st = r->status;
	if (st == 401)
		expect_problem(r, 401, "unauthorized");
	it_free(r);
	return st;
}

static struct it_resp *refresh_body(const char *token)
{
	char body[2048];
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", token);
	return it_post("/api/auth/refresh", NULL, body);
}

static long refresh_status(const char *token)
{
	struct it_resp *r = refresh_body(token);
	long st = r->status;
	it_free(r);
	return st;
}

static json_object *find_session(json_object *items, const char *id);

static long audit_count(const char *action, const char *column, const char *value)
{
	return it_sql_long("SELECT count(*) FROM audit_log WHERE action = '%s' AND %s = '%s'", action, column, value);
}

/* A unique, well-formed address of exactly len characters (labels of at most 41 characters). */
static void make_email(char *out, size_t cap, size_t len)
{
	ck_assert_uint_gt(cap, len);
	int n = snprintf(out, cap, "len%zu-%08x%04x@", len, (unsigned)rand(), (unsigned)getpid() & 0xffff);
	ck_assert_int_gt(n, 0);
	size_t at = (size_t)n;
	size_t rem = len - at;
	ck_assert_uint_ge(rem, 25);
	while (rem - 4 > 60) {
		memset(out + at, 'c', 40);
		out[at + 40] = '.';
		at += 41;
		rem -= 41;
	}
	memset(out + at, 'c', rem - 4);
	memcpy(out + at + rem - 4, ".com", 4);
	out[len] = '\0';
	ck_assert_uint_eq(strlen(out), len);
}

/* ================================================================================================ */
/* register */

START_TEST(register_cookie_mode)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-cookie"));
	struct it_resp *r = register_raw(email, "Correct-Horse-9", NULL);
	char *rt = expect_token_response(r, 201, false, email);
	ck_assert_str_eq(it_str(r, "user.name"), "");
	/* the access token carries the documented claims */
	json_object *c = jwt_claims(it_str(r, "access_token"));
	json_object *h = jwt_header(it_str(r, "access_token"));
	ck_assert_str_eq(obj_str(h, "alg"), "HS256");
	static const char *const claims[] = {"iss", "aud", "sub", "sid", "role", "iat", "exp", "jti"};
	for (size_t i = 0; i < 8; i++)
		ck_assert_msg(obj_get(c, claims[i]), "claim %s missing", claims[i]);
	ck_assert_str_eq(obj_str(c, "sub"), it_str(r, "user.id"));
	ck_assert(is_uuid(obj_str(c, "sid")));
	ck_assert_str_eq(obj_str(c, "role"), "user");
	long iat = (long)json_object_get_int64(obj_get(c, "iat")), exp = (long)json_object_get_int64(obj_get(c, "exp"));
	ck_assert_int_eq(exp - iat, cfg_seconds("access_token_ttl", 900));
	ck_assert_int_le(labs(iat - (long)time(NULL)), 60);
	/* the new user can use the token at once */
	struct it_resp *me = it_get("/api/auth/me", it_str(r, "access_token"));
	it_expect(me, 200, NULL);
	ck_assert_str_eq(it_str(me, "id"), it_str(r, "user.id"));
	/* and the cookie refreshes */
	char cookie[256];
	snprintf(cookie, sizeof(cookie), "tg_refresh=%s", rt);
	struct it_req q = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie};
	struct it_resp *rr = it_do(&q);
	free(expect_token_response(rr, 200, false, email));
	ck_assert_int_eq(audit_count("user.register", "target_id", it_str(r, "user.id")), 1);
	/* a verification email was queued, with a link to the public origin */
	char link[300];
	snprintf(link, sizeof(link), "%s/verify-email?token=", it_origin());
	ck_assert_msg(wait_mail(email, link, 15) == 1, "no verification email with %s to %s", link, email);
	json_object_put(c);
	json_object_put(h);
	free(rt);
	it_free(rr);
	it_free(me);
	it_free(r);
}
END_TEST

START_TEST(register_body_mode)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-body"));
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\",\"name\":\"Ada Lovelace\",\"session\":\"body\"}", email);
	struct it_resp *r = it_post("/api/auth/register", NULL, body);
	char *rt = expect_token_response(r, 201, true, email);
	ck_assert_str_eq(it_str(r, "user.name"), "Ada Lovelace");
	struct it_resp *rr = refresh_body(rt);
	free(expect_token_response(rr, 200, true, email));
	free(rt);
	it_free(rr);
	it_free(r);
}
END_TEST

START_TEST(register_normalizes_email)
{
	char lower[128], messy[160], upper[128];
	snprintf(lower, sizeof(lower), "%s", it_unique_email("reg-norm"));
	snprintf(messy, sizeof(messy), "  \t%s  ", lower);
	for (char *p = messy; *p; p++)
		if (p[0] == 'r' || p[0] == 'e' || p[0] == 'x')
			*p = (char)toupper((unsigned char)*p);
	struct it_resp *r = register_raw(messy, "Correct-Horse-9", "body");
	free(expect_token_response(r, 201, true, lower));
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE email = '%s'", lower), 1);

	/* a duplicate in any case → 409 email_taken */
	snprintf(upper, sizeof(upper), "%s", lower);
	for (char *p = upper; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	const char *dups[] = {lower, upper, messy};
	for (size_t i = 0; i < 3; i++) {
		r = register_raw(dups[i], "Other-Horse-77", "body");
		expect_problem(r, 409, "email_taken");
		it_free(r);
	}
	/* login is case-insensitive too, and the first password still holds */
	r = login_raw(upper, "Correct-Horse-9", "body", NULL);
	free(expect_token_response(r, 200, true, lower));
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE lower(email) = '%s'", lower), 1);
}
END_TEST

struct bad_case {
	const char *body;   /* printf format with %s = a unique email (may be unused) */
	const char *field;  /* errors.<field> expected */
	const char *field2; /* and this one too (or NULL) */
};

START_TEST(register_validation)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-bad"));
	char long_email[300], long_pw[140], name101[120], mb7[64];
	make_email(long_email, sizeof(long_email), 255);
	memset(long_pw, 'k', 129);
	long_pw[0] = 'Q';
	long_pw[129] = '\0';
	memset(name101, 'n', 101);
	name101[101] = '\0';
	/* 7 two-byte characters = 14 bytes: still too short in characters */
	mb7[0] = '\0';
	for (int i = 0; i < 7; i++)
		append_e_acute(mb7, sizeof(mb7));
	char upper_email[128];
	snprintf(upper_email, sizeof(upper_email), "%s", email);
	for (char *p = upper_email; *p; p++)
		*p = (char)toupper((unsigned char)*p);

	struct {
		char body[1024];
		const char *field, *field2;
	} cases[40];
	int nc = 0;
#define CASE(f1, f2, ...)                                                          \
	do {                                                                       \
		snprintf(cases[nc].body, sizeof(cases[nc].body), __VA_ARGS__);    \
		cases[nc].field = (f1);                                            \
		cases[nc].field2 = (f2);                                           \
		nc++;                                                              \
	} while (0)
	CASE("email", NULL, "{\"email\":\"not-an-email\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"@example.com\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"a@@example.com\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"a b@example.com\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"someone@\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"   \",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\"}", long_email);
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"Abcde7!\"}", email);        /* 7 */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"%s\"}", email, mb7);        /* 7 chars, 14 bytes */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"%s\"}", email, long_pw);    /* 129 */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"%s\"}", email, email);      /* = email */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"%s\"}", email, upper_email); /* = email, other case */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"password123\"}", email);    /* common */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"Password123\"}", email);    /* common, any case */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"12345678\"}", email);
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"\"}", email);
	CASE("password", NULL, "{\"email\":\"%s\"}", email);                                 /* missing */
	CASE("email", NULL, "{\"password\":\"Correct-Horse-9\"}");                           /* missing */
	CASE("email", "password", "{}");
	CASE("email", "password", "{\"email\":null,\"password\":null}");
	CASE("email", NULL, "{\"email\":42,\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":[\"%s\"],\"password\":\"Correct-Horse-9\"}", email);
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":12345678}", email);
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":true}", email);
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":{\"a\":1}}", email);
	CASE("name", NULL, "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\",\"name\":7}", email);
	CASE("name", NULL, "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\",\"name\":\"%s\"}", email, name101);
	CASE("session", NULL, "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\",\"session\":\"bogus\"}", email);
#undef CASE
	for (int i = 0; i < nc; i++) {
		struct it_resp *r = it_post("/api/auth/register", NULL, cases[i].body);
		if (r->status != 422)
			ck_abort_msg("case %d %s: expected 422, got %ld %s", i, cases[i].body, r->status, r->body);
		expect_invalid(r, cases[i].field);
		if (cases[i].field2)
			expect_invalid(r, cases[i].field2);
		it_free(r);
	}
	/* none of them created the account */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE email = '%s'", email), 0);
}
END_TEST

START_TEST(register_boundaries_accepted)
{
	/* 8 and 128 characters, 8 two-byte characters, a 254-character address, a 100-character name */
	char pw128[140], mb8[64], email254[300], name100[400];
	memset(pw128, 'k', 128);
	memcpy(pw128, "Zq9", 3);
	pw128[128] = '\0';
	mb8[0] = '\0';
	for (int i = 0; i < 8; i++)
		append_e_acute(mb8, sizeof(mb8));
	name100[0] = '\0';
	for (int i = 0; i < 100; i++)
		append_e_acute(name100, sizeof(name100)); /* 100 characters, 200 bytes */
	const char *pws[] = {"Qz7-kLm2", pw128, mb8};
	for (size_t i = 0; i < 3; i++) {
		char email[128];
		snprintf(email, sizeof(email), "%s", it_unique_email("reg-edge"));
		struct it_resp *r = register_raw(email, pws[i], "body");
		free(expect_token_response(r, 201, true, email));
		it_free(r);
		r = login_raw(email, pws[i], "body", NULL);
		free(expect_token_response(r, 200, true, email));
		it_free(r);
	}
	/* 254 characters exactly */
	make_email(email254, sizeof(email254), 254);
	char body[1024];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\",\"name\":\"%s\",\"session\":\"body\"}",
		 email254, name100);
	struct it_resp *r = it_post("/api/auth/register", NULL, body);
	free(expect_token_response(r, 201, true, email254));
	ck_assert_str_eq(it_str(r, "user.name"), name100);
	it_free(r);
}
END_TEST

START_TEST(register_closed)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-closed"));
	ck_assert_str_eq(it_sql("SELECT value::text FROM settings WHERE key = 'registration_open'"), "true");
	char *upd = xstrdup(it_sql("UPDATE settings SET value = 'false' WHERE key = 'registration_open'"));
	struct it_resp *r = register_raw(email, "Correct-Horse-9", "body");
	const char *restore = it_sql("UPDATE settings SET value = 'true' WHERE key = 'registration_open'");
	ck_assert_msg(!strstr(restore, "ERROR"), "restore failed: %s", restore);
	ck_assert_str_eq(it_sql("SELECT value::text FROM settings WHERE key = 'registration_open'"), "true");
	ck_assert_msg(!strstr(upd, "ERROR"), "update failed: %s", upd);
	free(upd);
	expect_problem(r, 403, "registration_closed");
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE email = '%s'", email), 0);
	/* open again: works */
	r = register_raw(email, "Correct-Horse-9", "body");
	free(expect_token_response(r, 201, true, email));
	it_free(r);
}
END_TEST

/* In case register_closed died between the two updates. */
static void restore_registration(void)
{
	(void)it_sql("UPDATE settings SET value = 'true' WHERE key = 'registration_open'");
}

START_TEST(register_bad_requests)
{
	/* another content type → 415, malformed JSON → 400, a huge body → 413, wrong method → 405 */
	struct it_req q = {.method = "POST", .path = "/api/auth/register", .body = "email=a@b.c&password=x",
			   .content_type = "application/x-www-form-urlencoded"};
	struct it_resp *r = it_do(&q);
	expect_problem(r, 415, "unsupported_media_type");
	it_free(r);
	const char *bad[] = {"{\"email\":", "not json", "{\"email\":\"a@example.com\",}", "", "{\"email\":\"a\"} x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = it_post("/api/auth/register", NULL, bad[i]);
		if (r->status != 400)
			ck_abort_msg("body %s: expected 400, got %ld %s", bad[i], r->status, r->body);
		expect_problem(r, 400, "invalid_json");
		it_free(r);
	}
	/* well-formed JSON that is not an object: refused, as malformed (400) or invalid (422) */
	const char *nonobj[] = {"[1,2]", "\"str\"", "42", "null"};
	for (size_t i = 0; i < sizeof(nonobj) / sizeof(nonobj[0]); i++) {
		r = it_post("/api/auth/register", NULL, nonobj[i]);
		if (r->status == 400)
			expect_problem(r, 400, "invalid_json");
		else if (r->status == 422)
			expect_problem(r, 422, "validation_failed");
		else
			ck_abort_msg("body %s: expected 400 or 422, got %ld %s", nonobj[i], r->status, r->body);
		it_free(r);
	}
	size_t big = 2u << 20;
	char *huge = malloc(big + 1);
	ck_assert_ptr_nonnull(huge);
	memset(huge, ' ', big);
	huge[0] = '{';
	huge[big - 1] = '}';
	huge[big] = '\0';
	r = it_post("/api/auth/register", NULL, huge);
	free(huge);
	expect_problem(r, 413, "payload_too_large");
	it_free(r);
	r = it_get("/api/auth/register", NULL);
	expect_problem(r, 405, "method_not_allowed");
	const char *allow = it_header(r, "Allow");
	ck_assert_msg(allow && strstr(allow, "POST"), "Allow: %s", allow ? allow : "(none)");
	it_free(r);
	r = it_get("/api/auth/no-such-route", NULL);
	expect_problem(r, 404, "not_found");
	it_free(r);
}
END_TEST

struct reg_thread {
	char body[512];
	long status;
	char code[64];
	pthread_barrier_t *barrier;
};

static void *reg_thread_fn(void *arg)
{
	struct reg_thread *t = arg;
	pthread_barrier_wait(t->barrier);
	struct it_req q = {.method = "POST", .path = "/api/auth/register", .json = t->body};
	struct it_resp *r = it_do(&q);
	t->status = r->status;
	json_object *c = NULL;
	if (r->json && json_object_object_get_ex(r->json, "code", &c))
		snprintf(t->code, sizeof(t->code), "%s", json_object_get_string(c));
	it_free(r);
	return NULL;
}

START_TEST(register_concurrent_same_email)
{
	enum { N = 20 };
	char email[128], upper[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-race"));
	snprintf(upper, sizeof(upper), "%s", email);
	for (char *p = upper; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	static struct reg_thread t[N];
	pthread_t th[N];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, N);
	for (int i = 0; i < N; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].barrier = &barrier;
		snprintf(t[i].body, sizeof(t[i].body), "{\"email\":\"%s\",\"password\":\"Race-Horse-%02d\",\"session\":\"body\"}",
			 i % 2 ? upper : email, i);
		ck_assert_int_eq(pthread_create(&th[i], NULL, reg_thread_fn, &t[i]), 0);
	}
	int created = 0, taken = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		if (t[i].status == 201)
			created++;
		else if (t[i].status == 409 && !strcmp(t[i].code, "email_taken"))
			taken++;
		else
			fprintf(stderr, "register_concurrent: thread %d got %ld %s\n", i, t[i].status, t[i].code);
	}
	pthread_barrier_destroy(&barrier);
	ck_assert_msg(created == 1 && taken == N - 1, "%d x 201, %d x 409 email_taken of %d", created, taken, N);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE email = '%s'", email), 1);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = '%s'",
				  email),
			 1);
}
END_TEST

/* ================================================================================================ */
/* login */

START_TEST(login_both_modes)
{
	struct it_user u;
	it_register(&u, "login-modes");
	char reg_sid[64];
	token_sid(u.access, reg_sid, sizeof(reg_sid));
	struct it_resp *r = login_raw(u.email, u.password, NULL, NULL);
	char *c = expect_token_response(r, 200, false, u.email);
	ck_assert_str_eq(it_str(r, "user.id"), u.id);
	ck_assert_str_eq(it_str(r, "user.name"), "Test login-modes");
	char sid1[64];
	token_sid(it_str(r, "access_token"), sid1, sizeof(sid1));
	ck_assert_str_ne(sid1, reg_sid);
	it_free(r);
	r = login_raw(u.email, u.password, "cookie", NULL);
	free(expect_token_response(r, 200, false, u.email));
	it_free(r);
	r = login_raw(u.email, u.password, "body", NULL);
	char *b = expect_token_response(r, 200, true, u.email);
	char sid2[64];
	token_sid(it_str(r, "access_token"), sid2, sizeof(sid2));
	ck_assert_str_ne(sid2, sid1);
	ck_assert_int_eq(me_status(it_str(r, "access_token")), 200);
	it_free(r);
	r = login_raw(u.email, u.password, "bogus", NULL);
	expect_invalid(r, "session");
	it_free(r);
	/* missing / non-string fields */
	r = it_post("/api/auth/login", NULL, "{}");
	expect_invalid(r, "email");
	expect_invalid(r, "password");
	it_free(r);
	char body[256];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":123456789}", u.email);
	r = it_post("/api/auth/login", NULL, body);
	expect_invalid(r, "password");
	it_free(r);
	ck_assert_int_ge(audit_count("user.login", "target_id", u.id), 3);
	free(c);
	free(b);
}
END_TEST

/* The problem document without request_id, as text. */
static char *problem_sans_id(const struct it_resp *r)
{
	json_object *o = json_tokener_parse(r->body);
	ck_assert_ptr_nonnull(o);
	json_object_object_del(o, "request_id");
	char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

START_TEST(login_invalid_credentials_uniform)
{
	struct it_user u;
	it_register(&u, "login-uniform");
	/* warm the password workers (each hashes its dummy once) */
	for (int i = 0; i < 2; i++)
		it_free(login_raw(it_unique_email("warm"), "Wrong-Pass-1", "body", NULL));

	enum { N = 4 }; /* 4 wrong passwords: under the lockout threshold of 5 */
	double wrong[N], unknown[N];
	char *wrong_body = NULL, *unknown_body = NULL;
	for (int i = 0; i < N; i++) {
		char pw[64];
		snprintf(pw, sizeof(pw), "Wrong-Pass-%d", i);
		struct it_resp *r = login_raw(u.email, pw, "body", NULL);
		expect_problem(r, 401, "invalid_credentials");
		wrong[i] = r->seconds;
		if (!wrong_body)
			wrong_body = problem_sans_id(r);
		else {
			char *s = problem_sans_id(r);
			ck_assert_str_eq(s, wrong_body);
			free(s);
		}
		it_free(r);
		char email[128];
		snprintf(email, sizeof(email), "%s", it_unique_email("nobody"));
		r = login_raw(email, pw, "body", NULL);
		expect_problem(r, 401, "invalid_credentials");
		unknown[i] = r->seconds;
		if (!unknown_body)
			unknown_body = problem_sans_id(r);
		it_free(r);
	}
	ck_assert_str_eq(unknown_body, wrong_body);
	/* a malformed address answers the same */
	struct it_resp *r = login_raw("not-an-address", "Wrong-Pass-1", "body", NULL);
	expect_problem(r, 401, "invalid_credentials");
	char *s = problem_sans_id(r);
	ck_assert_str_eq(s, wrong_body);
	free(s);
	it_free(r);
	double mw = median(wrong, N), mu = median(unknown, N);
	fprintf(stderr, "login timing: wrong password median %.1f ms, unknown email median %.1f ms (cost %ld)\n",
		mw * 1000, mu * 1000, cfg_long("bcrypt_cost", 12));
	ck_assert_msg(mu >= 0.5 * mw, "unknown email %.1f ms vs wrong password %.1f ms: the dummy hash is missing",
		      mu * 1000, mw * 1000);
	ck_assert_int_ge(audit_count("user.login_failed", "target_id", u.id), N);
	/* still not locked (4 failures), and the right password works */
	ck_assert_int_eq(it_login(&u), 200);
	free(wrong_body);
	free(unknown_body);
}
END_TEST

START_TEST(login_throttle)
{
	long base = cfg_seconds("login_lockout_base", 60);
	long maxf = cfg_long("login_max_failures", 5);
	ck_assert_int_eq(maxf, 5);
	struct it_user t;
	it_register(&t, "throttle");
	char unknown[128];
	snprintf(unknown, sizeof(unknown), "%s", it_unique_email("throttle-ghost"));
	for (int i = 0; i < 5; i++) {
		struct it_resp *r = login_raw(t.email, "Wrong-Pass-1", "body", NULL);
		expect_problem(r, 401, "invalid_credentials");
		it_free(r);
		r = login_raw(unknown, "Wrong-Pass-1", "body", NULL);
		expect_problem(r, 401, "invalid_credentials");
		it_free(r);
	}
	/* the 6th attempt is refused whatever the password, for a real and an unknown account alike */
	struct it_resp *r = login_raw(t.email, t.password, "body", NULL);
	expect_problem(r, 429, "rate_limited");
	long ra_t = retry_after(r);
	char *body_t = problem_sans_id(r);
	it_free(r);
	ck_assert_msg(ra_t >= 1 && ra_t <= base + 1, "Retry-After %ld (base %ld)", ra_t, base);
	r = login_raw(t.email, "Wrong-Pass-1", "body", NULL);
	expect_problem(r, 429, "rate_limited");
	it_free(r);
	r = login_raw(unknown, "Wrong-Pass-1", "body", NULL);
	expect_problem(r, 429, "rate_limited");
	long ra_u = retry_after(r);
	char *body_u = problem_sans_id(r);
	it_free(r);
	ck_assert_msg(ra_u >= 1 && ra_u <= base + 1, "Retry-After %ld (base %ld)", ra_u, base);
	ck_assert_str_eq(body_u, body_t);
	free(body_t);
	free(body_u);
	/* a differently-cased address is the same account */
	char upper[128];
	snprintf(upper, sizeof(upper), "%s", t.email);
	for (char *p = upper; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	r = login_raw(upper, t.password, "body", NULL);
	expect_problem(r, 429, "rate_limited");
	it_free(r);

	if (base > 20) {
		fprintf(stderr, "login_throttle: login_lockout_base is %ld s; not waiting for recovery\n", base);
		return;
	}
	sleep_s((double)(ra_t > ra_u ? ra_t : ra_u) + 1.0);
	/* recovered: the right password works, and a success resets the count */
	r = login_raw(t.email, t.password, "body", NULL);
	free(expect_token_response(r, 200, true, t.email));
	it_free(r);
	r = login_raw(t.email, "Wrong-Pass-1", "body", NULL);
	expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	/* the unknown account: one more failure after the lock doubles it */
	r = login_raw(unknown, "Wrong-Pass-1", "body", NULL);
	expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	r = login_raw(unknown, "Wrong-Pass-1", "body", NULL);
	expect_problem(r, 429, "rate_limited");
	long ra2 = retry_after(r);
	it_free(r);
	ck_assert_msg(ra2 >= 2 * base - 1 && ra2 <= 2 * base + 1, "doubled Retry-After %ld (base %ld)", ra2, base);
}
END_TEST

START_TEST(login_suspended)
{
	struct it_user u;
	it_register(&u, "suspended");
	struct sess s2;
	login_session(&u, NULL, &s2);
	ck_assert_int_eq(me_status(u.access), 200);
	sql_exec("UPDATE users SET status = 'suspended' WHERE id = '%s'", u.id);
	/* the bearer tokens are refused on the very next request */
	ck_assert_int_eq(me_status(u.access), 401);
	ck_assert_int_eq(me_status(s2.access), 401);
	struct it_resp *r = req_json("PATCH", "/api/profile", s2.access, "{\"name\":\"x\"}");
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = login_raw(u.email, u.password, "body", NULL);
	expect_problem(r, 403, "account_suspended");
	it_free(r);
	r = login_raw(u.email, "Wrong-Pass-1", "body", NULL);
	expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	/* no new access token through the refresh token either */
	r = refresh_body(s2.refresh);
	ck_assert_msg(r->status == 401 || r->status == 403, "refresh of a suspended user: %ld %s", r->status, r->body);
	ck_assert_ptr_null(it_str(r, "access_token"));
	it_free(r);
}
END_TEST

struct login_thread {
	char body[400];
	long status;
	char code[64];
	pthread_barrier_t *barrier;
};

static void *login_thread_fn(void *arg)
{
	struct login_thread *t = arg;
	pthread_barrier_wait(t->barrier);
	struct it_req q = {.method = "POST", .path = "/api/auth/login", .json = t->body};
	struct it_resp *r = it_do(&q);
	t->status = r->status;
	json_object *c = NULL;
	if (r->json && json_object_object_get_ex(r->json, "code", &c))
		snprintf(t->code, sizeof(t->code), "%s", json_object_get_string(c));
	it_free(r);
	return NULL;
}

/* Parallel guessing gets no more password checks than sequential guessing: of 20 concurrent
 * wrong passwords for one account, exactly 5 are checked (401) and the rest refused (429). */
START_TEST(login_throttle_parallel)
{
	enum { N = 20 };
	long maxf = cfg_long("login_max_failures", 5);
	struct it_user u;
	it_register(&u, "throttle-par");
	static struct login_thread t[N];
	pthread_t th[N];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, N);
	for (int i = 0; i < N; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].barrier = &barrier;
		snprintf(t[i].body, sizeof(t[i].body), "{\"email\":\"%s\",\"password\":\"Guess-%02d-xyz\",\"session\":\"body\"}",
			 u.email, i);
		ck_assert_int_eq(pthread_create(&th[i], NULL, login_thread_fn, &t[i]), 0);
	}
	int checked = 0, refused = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		if (t[i].status == 401 && !strcmp(t[i].code, "invalid_credentials"))
			checked++;
		else if (t[i].status == 429 && !strcmp(t[i].code, "rate_limited"))
			refused++;
		else
			fprintf(stderr, "login_throttle_parallel: %ld %s\n", t[i].status, t[i].code);
	}
	pthread_barrier_destroy(&barrier);
	long failed = audit_count("user.login_failed", "target_id", u.id);
	ck_assert_msg(checked == maxf && refused == N - maxf,
		      "%d concurrent wrong passwords: %d checked (401), %d refused (429), %ld failures audited;"
		      " want %ld checked", N, checked, refused, failed, maxf);
}
END_TEST

/* The lockout doubles up to login_lockout_max (1 h by default) and no further. */
START_TEST(login_throttle_cap)
{
	long cap = cfg_seconds("login_lockout_max", 3600);
	char ghost[128];
	snprintf(ghost, sizeof(ghost), "%s", it_unique_email("throttle-cap"));
	/* five failures lock it; then pretend many more lock periods have passed (40 failures) */
	for (int i = 0; i < 5; i++) {
		struct it_resp *r = login_raw(ghost, "Wrong-Pass-1", "body", NULL);
		expect_problem(r, 401, "invalid_credentials");
		it_free(r);
	}
	sql_exec("UPDATE login_throttle SET failures = 40, locked_until = now() - interval '1 second',"
		 " last_failure_at = now() - interval '1 second' WHERE email = '%s'",
		 ghost);
	struct it_resp *r = login_raw(ghost, "Wrong-Pass-1", "body", NULL);
	expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	r = login_raw(ghost, "Wrong-Pass-1", "body", NULL);
	expect_problem(r, 429, "rate_limited");
	long ra = retry_after(r);
	it_free(r);
	ck_assert_msg(ra >= cap - 60 && ra <= cap, "Retry-After %ld, cap %ld", ra, cap);
}
END_TEST

/* A password is the whole JSON string: one with a NUL inside is not the same as its prefix. */
START_TEST(register_password_with_nul)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-nul"));
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"email\":\"%s\",\"password\":\"Valid-Pass-77\\u0000-and-a-secret-tail\",\"session\":\"body\"}", email);
	struct it_resp *r = it_post("/api/auth/register", NULL, body);
	long st = r->status;
	if (st != 201)
		expect_invalid(r, "password"); /* refusing it is fine */
	it_free(r);
	if (st != 201)
		return;
	/* accepted: then the prefix alone must not open the account */
	r = login_raw(email, "Valid-Pass-77", "body", NULL);
	ck_assert_msg(r->status == 401, "the password before the NUL logs in: %ld (the server truncated the password)",
		      r->status);
	it_free(r);
}
END_TEST

/* A bcrypt hash of pw at cost with prefix ("$2a$", "$2b$", "$2y$") made by libxcrypt here. */
static void make_bcrypt(const char *pw, int cost, const char *prefix, char *out, size_t outlen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	ck_assert_ptr_nonnull(crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, salt, sizeof(salt)));
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	ck_assert_ptr_nonnull(cd);
	const char *h = crypt_rn(pw, salt, cd, sizeof(*cd));
	ck_assert_msg(h && h[0] == '$' && strlen(h) == 60, "crypt_rn failed");
	snprintf(out, outlen, "%s", h);
	memcpy(out, prefix, 4);
	/* the re-prefixed hash verifies here too */
	const char *v = crypt_rn(pw, out, cd, sizeof(*cd));
	ck_assert_msg(v && !strcmp(v, out), "%s hash does not verify locally", prefix);
	free(cd);
}

START_TEST(login_bcrypt_upgrade)
{
	long cost = cfg_long("bcrypt_cost", 12);
	char want[8];
	snprintf(want, sizeof(want), "$2b$%02ld$", cost);
	struct it_user u;
	it_register(&u, "bcrypt");
	const char *stored = it_sql("SELECT password_hash FROM users WHERE id = '%s'", u.id);
	ck_assert_msg(!strncmp(stored, want, 7), "registration stored %s, want prefix %s", stored, want);
	int other = cost == 4 ? 5 : 4;
	struct {
		const char *prefix;
		int cost;
	} cases[] = {{"$2a$", 4}, {"$2y$", 4}, {"$2b$", other}, {"$2a$", (int)cost}, {"$2y$", (int)cost}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].cost > 12)
			continue;
		char h[128];
		make_bcrypt(u.password, cases[i].cost, cases[i].prefix, h, sizeof(h));
		sql_exec("UPDATE users SET password_hash = '%s' WHERE id = '%s'", h, u.id);
		/* a wrong password neither logs in nor touches the hash */
		struct it_resp *r = login_raw(u.email, "Wrong-Pass-1", "body", NULL);
		expect_problem(r, 401, "invalid_credentials");
		it_free(r);
		ck_assert_str_eq(it_sql("SELECT password_hash FROM users WHERE id = '%s'", u.id), h);
		r = login_raw(u.email, u.password, "body", NULL);
		if (r->status != 200)
			ck_abort_msg("%s cost %d: login got %ld %s", cases[i].prefix, cases[i].cost, r->status, r->body);
		free(expect_token_response(r, 200, true, u.email));
		it_free(r);
		stored = it_sql("SELECT password_hash FROM users WHERE id = '%s'", u.id);
		ck_assert_msg(!strncmp(stored, want, 7) && strlen(stored) == 60, "%s cost %d: stored %s after login, want %s…",
			      cases[i].prefix, cases[i].cost, stored, want);
		ck_assert_str_ne(stored, h);
		/* and the upgraded hash works */
		ck_assert_int_eq(it_login(&u), 200);
	}
}
END_TEST

/* ================================================================================================ */
/* me and access tokens */

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
	expect_problem(r, 405, "method_not_allowed");
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
		expect_problem(r, 401, "unauthorized");
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
	expect_problem(r, 401, "unauthorized");
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

/* ================================================================================================ */
/* refresh */

START_TEST(refresh_rotation_body)
{
	struct it_user u;
	it_register(&u, "refresh");
	char sid[64];
	token_sid(u.access, sid, sizeof(sid));
	struct it_resp *r = refresh_body(u.refresh);
	char *r1 = expect_token_response(r, 200, true, u.email); /* body token → body mode by default */
	ck_assert_str_ne(r1, u.refresh);
	ck_assert_str_eq(it_str(r, "user.id"), u.id);
	char sid1[64], access1[1024];
	snprintf(access1, sizeof(access1), "%s", it_str(r, "access_token"));
	token_sid(access1, sid1, sizeof(sid1));
	ck_assert_str_eq(sid1, sid); /* same session */
	ck_assert_str_ne(access1, u.access);
	it_free(r);
	ck_assert_int_eq(me_status(access1), 200);
	ck_assert_int_eq(me_status(u.access), 200);
	/* stored only as a SHA-256 hash */
	char hex[65];
	sha256_hex(r1, hex);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM refresh_tokens WHERE token_hash = '%s' AND session_id = '%s'", hex, sid),
			 1);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM refresh_tokens WHERE token_hash = '%s' OR token_hash = '%s'", r1,
				  u.refresh),
			 0);
	/* the new one rotates too, into yet another token */
	r = refresh_body(r1);
	char *r2 = expect_token_response(r, 200, true, u.email);
	ck_assert_str_ne(r2, r1);
	ck_assert_str_ne(r2, u.refresh);
	it_free(r);
	/* session: "cookie" on a body token → the new token comes as a cookie */
	char body[256];
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\",\"session\":\"cookie\"}", r2);
	r = it_post("/api/auth/refresh", NULL, body);
	char *r3 = expect_token_response(r, 200, false, u.email);
	ck_assert_str_ne(r3, r2);
	it_free(r);
	/* last_used_at and the session list follow */
	r = it_get("/api/auth/sessions", access1);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 1);
	it_free(r);
	free(r1);
	free(r2);
	free(r3);
}
END_TEST

START_TEST(refresh_reuse_detection)
{
	long grace = cfg_seconds("refresh_reuse_interval", 10);
	ck_assert_msg(grace <= 60, "refresh_reuse_interval %ld s is too long for the suite", grace);
	struct it_user u, bystander;
	it_register(&u, "reuse");
	it_register(&bystander, "reuse-bystander");
	struct sess other;
	login_session(&u, NULL, &other); /* a second session of the same user: unaffected */
	const char *r0 = u.refresh;
	struct it_resp *r = refresh_body(r0);
	char *r1 = expect_token_response(r, 200, true, u.email);
	it_free(r);
	char *r2 = NULL;
	if (grace > 0) {
		/* the old token again within the grace interval (a lost response, two tabs) still works,
		 * and gets the very same successor: the session does not fork into two chains */
		r = refresh_body(r0);
		r2 = expect_token_response(r, 200, true, u.email);
		ck_assert_str_eq(r2, r1);
		it_free(r);
	} else {
		r2 = xstrdup(r1);
	}
	r = refresh_body(r2);
	char *r3 = expect_token_response(r, 200, true, u.email);
	char newest_access[1024];
	snprintf(newest_access, sizeof(newest_access), "%s", it_str(r, "access_token"));
	it_free(r);
	ck_assert_int_eq(me_status(newest_access), 200);

	sleep_s((double)grace + 1.0);
	r = refresh_body(r0);
	expect_problem(r, 401, "refresh_token_reused");
	it_free(r);
	/* the whole session is revoked: the newest refresh token and every access token of it */
	r = refresh_body(r3);
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	ck_assert_int_eq(refresh_status(r1), 401);
	ck_assert_int_eq(me_status(newest_access), 401);
	ck_assert_int_eq(me_status(u.access), 401);
	/* other sessions and other users are untouched */
	ck_assert_int_eq(me_status(other.access), 200);
	ck_assert_int_eq(refresh_status(other.refresh), 200);
	ck_assert_int_eq(me_status(bystander.access), 200);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM sessions WHERE user_id = '%s' AND revoked_at IS NULL", u.id), 1);
	free(r1);
	free(r2);
	free(r3);
}
END_TEST

START_TEST(refresh_cookie_mode)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("refresh-cookie"));
	struct it_resp *r = register_raw(email, "Correct-Horse-9", NULL);
	char *c0 = expect_token_response(r, 201, false, email);
	it_free(r);
	char cookie[256];
	snprintf(cookie, sizeof(cookie), "tg_refresh=%s", c0);
	/* a foreign Origin with the cookie → 403, and the token is not consumed */
	const char *foreign[] = {"https://evil.example", "null", "https://localhost:8443.evil.example"};
	for (size_t i = 0; i < 3; i++) {
		if (!strcmp(foreign[i], it_origin()))
			continue;
		struct it_req q = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie, .origin = foreign[i]};
		r = it_do(&q);
		expect_problem(r, 403, "forbidden");
		ck_assert_ptr_null(it_str(r, "access_token"));
		it_free(r);
	}
	/* our own Origin → 200, a new cookie, nothing in the body */
	struct it_req q = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie, .origin = it_origin()};
	r = it_do(&q);
	char *c1 = expect_token_response(r, 200, false, email);
	ck_assert_str_ne(c1, c0);
	it_free(r);
	/* no Origin at all (same-origin GET-less clients) → fine too; with an empty JSON body as well */
	snprintf(cookie, sizeof(cookie), "tg_refresh=%s", c1);
	struct it_req q2 = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie, .json = "{}"};
	r = it_do(&q2);
	char *c2 = expect_token_response(r, 200, false, email);
	ck_assert_str_ne(c2, c1);
	it_free(r);
	/* the cookie alongside other cookies */
	snprintf(cookie, sizeof(cookie), "theme=dark; tg_refresh=%s; other=1", c2);
	struct it_req q3 = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie, .origin = it_origin()};
	r = it_do(&q3);
	free(expect_token_response(r, 200, false, email));
	it_free(r);
	free(c0);
	free(c1);
	free(c2);
}
END_TEST

START_TEST(refresh_missing_or_garbage)
{
	struct it_req q = {.method = "POST", .path = "/api/auth/refresh"};
	struct it_resp *r = it_do(&q);
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = it_post("/api/auth/refresh", NULL, "{}");
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = it_post("/api/auth/refresh", NULL, "{\"refresh_token\":\"\"}");
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = refresh_body("garbage");
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = refresh_body("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	struct it_req qc = {.method = "POST", .path = "/api/auth/refresh", .cookie = "tg_refresh=garbage"};
	r = it_do(&qc);
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	/* an access token is not a refresh token */
	struct it_user u;
	it_register(&u, "refresh-garbage");
	r = refresh_body(u.access);
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	/* wrong content type with a body → 415 */
	struct it_req qt = {.method = "POST", .path = "/api/auth/refresh", .body = "x", .content_type = "text/plain"};
	r = it_do(&qt);
	expect_problem(r, 415, "unsupported_media_type");
	it_free(r);
	r = it_post("/api/auth/refresh", NULL, "{nope");
	expect_problem(r, 400, "invalid_json");
	it_free(r);
}
END_TEST

START_TEST(refresh_and_session_expiry)
{
	struct it_user u;
	it_register(&u, "expiry");
	struct sess s1, s2;
	user_session(&u, &s1);
	login_session(&u, NULL, &s2);
	/* an expired refresh token is refused; its session's access token still works until it ends */
	char hex[65];
	sha256_hex(s1.refresh, hex);
	sql_exec("UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = '%s'", hex);
	struct it_resp *r = refresh_body(s1.refresh);
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	/* an expired session: its access token and refresh token die */
	sql_exec("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = '%s'", s2.sid);
	ck_assert_int_eq(me_status(s2.access), 401);
	ck_assert_int_eq(refresh_status(s2.refresh), 401);
	r = it_get("/api/auth/sessions", s1.access);
	it_expect(r, 200, NULL);
	ck_assert_ptr_null(find_session(it_at(r, "items"), s2.sid));
	it_free(r);
}
END_TEST

/* ================================================================================================ */
/* logout, logout-all */

static void expect_cookie_cleared(const struct it_resp *r)
{
	char *line = set_cookie_line(r, "tg_refresh");
	ck_assert_msg(line, "logout did not clear tg_refresh");
	ck_assert_str_eq(it_set_cookie(r, "tg_refresh"), "");
	ck_assert_msg(cookie_has_attr(line, "Max-Age=0"), "no Max-Age=0: %s", line);
	ck_assert_msg(cookie_has_attr(line, "Path=/api/auth"), "clearing cookie has another Path: %s", line);
	free(line);
}

START_TEST(logout_body_token)
{
	struct it_user u;
	it_register(&u, "logout");
	struct sess s2;
	login_session(&u, NULL, &s2);
	char body[256];
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", s2.refresh);
	struct it_resp *r = it_post("/api/auth/logout", NULL, body);
	it_expect(r, 204, NULL);
	ck_assert_uint_eq(r->body_len, 0);
	expect_request_id(r);
	expect_cookie_cleared(r);
	it_free(r);
	ck_assert_int_eq(me_status(s2.access), 401);
	ck_assert_int_eq(refresh_status(s2.refresh), 401);
	/* the other session lives on */
	ck_assert_int_eq(me_status(u.access), 200);
	ck_assert_int_eq(refresh_status(u.refresh), 200);
	ck_assert_int_ge(audit_count("user.logout", "target_id", s2.sid), 1);
}
END_TEST

START_TEST(logout_cookie)
{
	struct it_user u;
	it_register(&u, "logout-cookie");
	struct it_resp *r = login_raw(u.email, u.password, NULL, NULL);
	char *c = expect_token_response(r, 200, false, u.email);
	char access[1024], sid[64];
	snprintf(access, sizeof(access), "%s", it_str(r, "access_token"));
	token_sid(access, sid, sizeof(sid));
	it_free(r);
	char cookie[256];
	snprintf(cookie, sizeof(cookie), "tg_refresh=%s", c);
	/* a foreign Origin cannot log the browser out */
	struct it_req qf = {.method = "POST", .path = "/api/auth/logout", .cookie = cookie, .origin = "https://evil.example"};
	r = it_do(&qf);
	expect_problem(r, 403, "forbidden");
	it_free(r);
	ck_assert_int_eq(me_status(access), 200);
	struct it_req q = {.method = "POST", .path = "/api/auth/logout", .cookie = cookie, .origin = it_origin()};
	r = it_do(&q);
	it_expect(r, 204, NULL);
	expect_cookie_cleared(r);
	it_free(r);
	ck_assert_int_eq(me_status(access), 401);
	struct it_req qr = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie};
	r = it_do(&qr);
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	ck_assert_int_eq(me_status(u.access), 200);
	free(c);
}
END_TEST

START_TEST(logout_all)
{
	struct it_user u, other;
	it_register(&u, "logout-all");
	it_register(&other, "logout-all-other");
	struct sess s2, s3;
	login_session(&u, NULL, &s2);
	login_session(&u, NULL, &s3);
	struct it_resp *r = it_post("/api/auth/logout-all", NULL, NULL);
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = it_post("/api/auth/logout-all", s2.access, NULL);
	it_expect(r, 204, NULL);
	expect_request_id(r);
	it_free(r);
	const char *accesses[] = {u.access, s2.access, s3.access};
	const char *refreshes[] = {u.refresh, s2.refresh, s3.refresh};
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(me_status(accesses[i]), 401);
		ck_assert_int_eq(refresh_status(refreshes[i]), 401);
	}
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM sessions WHERE user_id = '%s' AND revoked_at IS NULL", u.id), 0);
	/* other users are unaffected */
	ck_assert_int_eq(me_status(other.access), 200);
	ck_assert_int_eq(refresh_status(other.refresh), 200);
	/* and the user can sign in again */
	ck_assert_int_eq(it_login(&u), 200);
	ck_assert_int_eq(me_status(u.access), 200);
}
END_TEST

/* ================================================================================================ */
/* sessions */

static json_object *find_session(json_object *items, const char *id)
{
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		if (obj_str(it, "id") && !strcmp(obj_str(it, "id"), id))
			return it;
	}
	return NULL;
}

START_TEST(sessions_list)
{
	struct it_user a;
	it_register(&a, "sessions");
	struct sess a2;
	login_session(&a, "itest-agent/2.0 (sessions)", &a2);
	char a1sid[64];
	token_sid(a.access, a1sid, sizeof(a1sid));
	struct it_resp *r = it_get("/api/auth/sessions", a2.access);
	it_expect(r, 200, NULL);
	expect_json_ct(r);
	expect_no_store(r);
	json_object *items = it_at(r, "items");
	ck_assert_msg(items && json_object_is_type(items, json_type_array), "no items: %s", r->body);
	ck_assert_int_eq(json_object_array_length(items), 2);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "total")), 2);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "page")), 1);
	json_object *pp = it_at(r, "per_page");
	ck_assert_msg(pp && json_object_get_int64(pp) >= 1 && json_object_get_int64(pp) <= 200, "per_page");
	int current = 0;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		ck_assert(is_uuid(obj_str(it, "id")));
		ck_assert(is_rfc3339_utc(obj_str(it, "created_at")));
		ck_assert(is_rfc3339_utc(obj_str(it, "last_used_at")));
		ck_assert_ptr_nonnull(obj_str(it, "user_agent"));
		ck_assert_msg(obj_str(it, "ip") && *obj_str(it, "ip"), "session without ip: %s", r->body);
		if (!strncmp(it_url(), "https://127.0.0.1:", 18))
			ck_assert_str_eq(obj_str(it, "ip"), "127.0.0.1");
		json_object *cur = obj_get(it, "current");
		ck_assert(cur && json_object_is_type(cur, json_type_boolean));
		if (json_object_get_boolean(cur)) {
			current++;
			ck_assert_str_eq(obj_str(it, "id"), a2.sid);
		}
	}
	ck_assert_int_eq(current, 1);
	json_object *s2 = find_session(items, a2.sid);
	ck_assert_ptr_nonnull(s2);
	ck_assert_str_eq(obj_str(s2, "user_agent"), "itest-agent/2.0 (sessions)");
	ck_assert_ptr_nonnull(find_session(items, a1sid));
	it_free(r);
	/* from the other session, the other one is current */
	r = it_get("/api/auth/sessions", a.access);
	it_expect(r, 200, NULL);
	json_object *s1 = find_session(it_at(r, "items"), a1sid);
	ck_assert(s1 && json_object_get_boolean(obj_get(s1, "current")));
	it_free(r);
	r = it_get("/api/auth/sessions", NULL);
	expect_problem(r, 401, "unauthorized");
	it_free(r);
}
END_TEST

START_TEST(sessions_isolation)
{
	struct it_user a, b;
	it_register(&a, "sess-a");
	it_register(&b, "sess-b");
	char bsid[64];
	token_sid(b.access, bsid, sizeof(bsid));
	struct it_resp *r = it_get("/api/auth/sessions", a.access);
	it_expect(r, 200, NULL);
	ck_assert_ptr_null(find_session(it_at(r, "items"), bsid));
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 1);
	it_free(r);
	char path[128];
	snprintf(path, sizeof(path), "/api/auth/sessions/%s", bsid);
	r = req_json("DELETE", path, a.access, NULL);
	expect_problem(r, 404, "not_found");
	it_free(r);
	/* B's session still works */
	ck_assert_int_eq(me_status(b.access), 200);
	ck_assert_int_eq(refresh_status(b.refresh), 200);
	const char *bad[] = {"/api/auth/sessions/not-a-uuid", "/api/auth/sessions/00000000-0000-0000-0000-000000000000",
			     "/api/auth/sessions/12345", "/api/auth/sessions/%27%20OR%201=1--"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = req_json("DELETE", bad[i], a.access, NULL);
		if (r->status != 404)
			ck_abort_msg("DELETE %s: %ld %s", bad[i], r->status, r->body);
		expect_problem(r, 404, "not_found");
		it_free(r);
	}
	ck_assert_int_eq(me_status(a.access), 200);
	r = req_json("DELETE", path, NULL, NULL);
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	ck_assert_int_eq(me_status(b.access), 200);
}
END_TEST

START_TEST(sessions_revoke_own)
{
	struct it_user a;
	it_register(&a, "sess-revoke");
	struct sess s1, s2;
	user_session(&a, &s1);
	login_session(&a, NULL, &s2);
	char path[128];
	snprintf(path, sizeof(path), "/api/auth/sessions/%s", s1.sid);
	struct it_resp *r = req_json("DELETE", path, s2.access, NULL);
	it_expect(r, 204, NULL);
	ck_assert_uint_eq(r->body_len, 0);
	it_free(r);
	ck_assert_int_eq(me_status(s1.access), 401);
	ck_assert_int_eq(refresh_status(s1.refresh), 401);
	ck_assert_int_eq(me_status(s2.access), 200);
	r = it_get("/api/auth/sessions", s2.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 1);
	ck_assert_ptr_null(find_session(it_at(r, "items"), s1.sid));
	it_free(r);
	/* twice → 404 */
	r = req_json("DELETE", path, s2.access, NULL);
	expect_problem(r, 404, "not_found");
	it_free(r);
	ck_assert_int_eq(audit_count("session.revoked", "target_id", s1.sid), 1);
	/* the current session may be revoked too: its token dies with it */
	snprintf(path, sizeof(path), "/api/auth/sessions/%s", s2.sid);
	r = req_json("DELETE", path, s2.access, NULL);
	it_expect(r, 204, NULL);
	it_free(r);
	ck_assert_int_eq(me_status(s2.access), 401);
	ck_assert_int_eq(refresh_status(s2.refresh), 401);
}
END_TEST

/* Lists take ?page=&per_page= (API.md, Conventions). */
START_TEST(sessions_pagination)
{
	struct it_user a;
	it_register(&a, "sess-page");
	struct sess s[3];
	for (int i = 0; i < 3; i++)
		login_session(&a, NULL, &s[i]);
	/* 4 sessions: register + 3 logins */
	struct it_resp *r = it_get("/api/auth/sessions?per_page=2", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "total")), 4);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "per_page")), 2);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "page")), 1);
	ck_assert_msg(json_object_array_length(it_at(r, "items")) == 2, "per_page=2 gave %zu items",
		      json_object_array_length(it_at(r, "items")));
	char first[2][64];
	for (int i = 0; i < 2; i++)
		snprintf(first[i], sizeof(first[i]), "%s", obj_str(json_object_array_get_idx(it_at(r, "items"), (size_t)i), "id"));
	it_free(r);
	r = it_get("/api/auth/sessions?page=2&per_page=2", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "page")), 2);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 2);
	for (int i = 0; i < 2; i++)
		ck_assert_ptr_null(find_session(it_at(r, "items"), first[i]));
	it_free(r);
	r = it_get("/api/auth/sessions?page=3&per_page=2", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 0);
	ck_assert_int_eq(json_object_get_int64(it_at(r, "total")), 4);
	it_free(r);
	/* per_page at most 200 */
	r = it_get("/api/auth/sessions?per_page=1000", a.access);
	if (r->status == 200)
		ck_assert_int_le(json_object_get_int64(it_at(r, "per_page")), 200);
	else
		expect_problem(r, 422, "validation_failed");
	it_free(r);
}
END_TEST

/* ================================================================================================ */
/* profile */

START_TEST(profile_update_name)
{
	struct it_user u;
	it_register(&u, "profile");
	const char *name = "Grace Hopper \xe2\x9c\x93";
	char body[512];
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	struct it_resp *r = req_json("PATCH", "/api/profile", u.access, body);
	it_expect(r, 200, NULL);
	expect_json_ct(r);
	expect_no_store(r);
	expect_user(r->json, u.email);
	ck_assert_str_eq(it_str(r, "name"), name);
	ck_assert_str_eq(it_str(r, "id"), u.id);
	it_free(r);
	r = it_get("/api/auth/me", u.access);
	ck_assert_str_eq(it_str(r, "name"), name);
	it_free(r);
	/* 100 characters (200 bytes) is fine; an empty name too */
	char n100[256] = "";
	for (int i = 0; i < 100; i++)
		append_e_acute(n100, sizeof(n100));
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", n100);
	r = req_json("PATCH", "/api/profile", u.access, body);
	it_expect(r, 200, NULL);
	ck_assert_str_eq(it_str(r, "name"), n100);
	it_free(r);
	/* invalid: missing, non-string, null, 101 characters */
	char n101[160];
	memset(n101, 'x', 101);
	n101[101] = '\0';
	char long_body[256];
	snprintf(long_body, sizeof(long_body), "{\"name\":\"%s\"}", n101);
	const char *bad[] = {"{}", "{\"nom\":\"x\"}", "{\"name\":5}", "{\"name\":[\"x\"]}", "{\"name\":null}", long_body};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = req_json("PATCH", "/api/profile", u.access, bad[i]);
		if (r->status != 422)
			ck_abort_msg("PATCH %s: %ld %s", bad[i], r->status, r->body);
		expect_invalid(r, "name");
		it_free(r);
	}
	r = it_get("/api/auth/me", u.access);
	ck_assert_str_eq(it_str(r, "name"), n100);
	it_free(r);
	/* no token → 401; not JSON → 400; another type → 415 */
	r = req_json("PATCH", "/api/profile", NULL, "{\"name\":\"x\"}");
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = req_json("PATCH", "/api/profile", u.access, "{\"name\":");
	expect_problem(r, 400, "invalid_json");
	it_free(r);
	struct it_req q = {.method = "PATCH", .path = "/api/profile", .bearer = u.access, .body = "name=x",
			   .content_type = "application/x-www-form-urlencoded"};
	r = it_do(&q);
	expect_problem(r, 415, "unsupported_media_type");
	it_free(r);
}
END_TEST

static struct it_resp *change_password(const char *access, const char *current, const char *fresh)
{
	json_object *o = json_object_new_object();
	if (current)
		json_object_object_add(o, "current_password", json_object_new_string(current));
	if (fresh)
		json_object_object_add(o, "new_password", json_object_new_string(fresh));
	struct it_resp *r = it_post("/api/profile/change-password", access, json_object_to_json_string(o));
	json_object_put(o);
	return r;
}

START_TEST(profile_change_password)
{
	struct it_user u;
	it_register(&u, "chpw");
	struct sess s1, s2, s3;
	user_session(&u, &s1);
	login_session(&u, NULL, &s2);
	login_session(&u, NULL, &s3);
	struct it_resp *r = change_password(s1.access, "Wrong-Current-1", "Brand-New-Pass-42");
	expect_invalid(r, "current_password");
	it_free(r);
	r = change_password(s1.access, NULL, "Brand-New-Pass-42");
	expect_invalid(r, "current_password");
	it_free(r);
	const char *weak[] = {"short7!", "password123", "", NULL};
	for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
		r = change_password(s1.access, u.password, weak[i]);
		expect_invalid(r, "new_password");
		it_free(r);
	}
	r = change_password(s1.access, u.password, u.email);
	expect_invalid(r, "new_password");
	it_free(r);
	r = it_post("/api/profile/change-password", s1.access, "{\"current_password\":1,\"new_password\":\"Brand-New-Pass-42\"}");
	expect_invalid(r, "current_password");
	it_free(r);
	r = it_post("/api/profile/change-password", s1.access,
		    "{\"current_password\":\"Brand-New-Pass-42\",\"new_password\":42}");
	expect_invalid(r, "new_password");
	it_free(r);
	/* nothing changed so far */
	ck_assert_int_eq(me_status(s2.access), 200);
	r = change_password(NULL, u.password, "Brand-New-Pass-42");
	expect_problem(r, 401, "unauthorized");
	it_free(r);

	r = change_password(s1.access, u.password, "Brand-New-Pass-42");
	it_expect(r, 204, NULL);
	ck_assert_uint_eq(r->body_len, 0);
	expect_request_id(r);
	it_free(r);
	/* other sessions die at once, the current one lives on (access and refresh) */
	ck_assert_int_eq(me_status(s2.access), 401);
	ck_assert_int_eq(me_status(s3.access), 401);
	ck_assert_int_eq(refresh_status(s2.refresh), 401);
	ck_assert_int_eq(refresh_status(s3.refresh), 401);
	ck_assert_int_eq(me_status(s1.access), 200);
	ck_assert_int_eq(refresh_status(s1.refresh), 200);
	/* the old password fails, the new one works */
	r = login_raw(u.email, u.password, "body", NULL);
	expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	r = login_raw(u.email, "Brand-New-Pass-42", "body", NULL);
	free(expect_token_response(r, 200, true, u.email));
	it_free(r);
	ck_assert_int_eq(audit_count("user.password_changed", "target_id", u.id), 1);
	/* a "password changed" email was queued */
	ck_assert_msg(wait_mail(u.email, "changed", 15) >= 1, "no password-changed email to %s", u.email);
}
END_TEST

START_TEST(profile_delete_account)
{
	struct it_user u, other;
	it_register(&u, "delete");
	it_register(&other, "delete-other");
	struct sess s2;
	login_session(&u, NULL, &s2);
	struct it_resp *r = it_post("/api/profile/delete-account", u.access, "{\"password\":\"Wrong-Pass-1\"}");
	expect_invalid(r, "password");
	it_free(r);
	r = it_post("/api/profile/delete-account", u.access, "{}");
	expect_invalid(r, "password");
	it_free(r);
	r = it_post("/api/profile/delete-account", u.access, "{\"password\":7}");
	expect_invalid(r, "password");
	it_free(r);
	r = it_post("/api/profile/delete-account", NULL, "{\"password\":\"x\"}");
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	/* another user's password does not delete this account */
	char body[256];
	snprintf(body, sizeof(body), "{\"password\":\"%s\"}", other.password);
	r = it_post("/api/profile/delete-account", u.access, body);
	expect_invalid(r, "password");
	it_free(r);
	ck_assert_int_eq(me_status(u.access), 200);

	snprintf(body, sizeof(body), "{\"password\":\"%s\"}", u.password);
	r = it_post("/api/profile/delete-account", u.access, body);
	it_expect(r, 204, NULL);
	expect_request_id(r);
	it_free(r);
	/* its throttle row went with it (a later login for the address starts a new one) */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM login_throttle WHERE email = '%s'", u.email), 0);
	/* everything is revoked */
	ck_assert_int_eq(me_status(u.access), 401);
	ck_assert_int_eq(me_status(s2.access), 401);
	ck_assert_int_eq(refresh_status(u.refresh), 401);
	ck_assert_int_eq(refresh_status(s2.refresh), 401);
	r = login_raw(u.email, u.password, "body", NULL);
	expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	/* the user and what they own are gone; the audit entry remains */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE id = '%s'", u.id), 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM sessions WHERE user_id = '%s'", u.id), 0);
	/* nothing of the account is left to send or to read in the outbox */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address = '%s'", u.email), 0);
	ck_assert_int_eq(audit_count("user.deleted", "target_id", u.id), 1);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM audit_log WHERE action = 'user.deleted' AND target_id = '%s'"
				  " AND actor_id = '%s' AND ip <> '' AND at > now() - interval '5 minutes'",
				  u.id, u.id),
			 1);
	/* the deleted user's email is not kept in clear in the entry */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM audit_log WHERE action = 'user.deleted' AND target_id = '%s'"
				  " AND detail::text LIKE '%%%s%%'",
				  u.id, u.email),
			 0);
	/* other users are unaffected; the address is free again */
	ck_assert_int_eq(me_status(other.access), 200);
	r = register_raw(u.email, "Another-Horse-5", "body");
	free(expect_token_response(r, 201, true, u.email));
	ck_assert_str_ne(it_str(r, "user.id"), u.id);
	it_free(r);
}
END_TEST

START_TEST(audit_trail)
{
	struct it_user u;
	it_register(&u, "audit");
	ck_assert_int_eq(audit_count("user.register", "target_id", u.id), 1);
	ck_assert_int_eq(it_login(&u), 200);
	ck_assert_int_eq(audit_count("user.login", "target_id", u.id), 1);
	struct it_resp *r = login_raw(u.email, "Wrong-Pass-1", "body", NULL);
	expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	ck_assert_int_eq(audit_count("user.login_failed", "target_id", u.id), 1);
	struct sess s;
	login_session(&u, NULL, &s);
	char body[256];
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", s.refresh);
	r = it_post("/api/auth/logout", NULL, body);
	it_expect(r, 204, NULL);
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM audit_log WHERE action = 'user.logout' AND actor_id = '%s'", u.id), 1);
	struct sess s3;
	login_session(&u, NULL, &s3);
	char path[128];
	snprintf(path, sizeof(path), "/api/auth/sessions/%s", s3.sid);
	r = req_json("DELETE", path, u.access, NULL);
	it_expect(r, 204, NULL);
	it_free(r);
	ck_assert_int_eq(audit_count("session.revoked", "target_id", s3.sid), 1);
	r = change_password(u.access, u.password, "Audit-New-Pass-7");
	it_expect(r, 204, NULL);
	it_free(r);
	ck_assert_int_eq(audit_count("user.password_changed", "target_id", u.id), 1);
	/* every entry of this user records an IP and a time */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM audit_log WHERE (actor_id = '%s' OR target_id = '%s')"
				  " AND (ip = '' OR at IS NULL)",
				  u.id, u.id),
			 0);
	/* passwords never reach the audit log */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM audit_log WHERE detail::text LIKE '%%%s%%'", u.password), 0);
}
END_TEST

/* ================================================================================================ */
/* latency isolation: the password pool */

struct storm_thread {
	char email[128];
	const char *password;
	long status;
	double t_end;
	pthread_barrier_t *barrier;
};

static void *storm_fn(void *arg)
{
	struct storm_thread *t = arg;
	pthread_barrier_wait(t->barrier);
	char body[300];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"session\":\"body\"}", t->email, t->password);
	struct it_req q = {.method = "POST", .path = "/api/auth/login", .json = body};
	struct it_resp *r = it_do(&q);
	t->status = r->status;
	t->t_end = now_s();
	it_free(r);
	return NULL;
}

/* n sequential GET /api/auth/me: the median latency; the slowest one into *worst. */
static double me_median(const char *access, int n, double *worst)
{
	double v[64];
	ck_assert_int_le(n, 64);
	double w = 0;
	for (int i = 0; i < n; i++) {
		struct it_resp *r = it_get("/api/auth/me", access);
		it_expect(r, 200, NULL);
		v[i] = r->seconds;
		if (v[i] > w)
			w = v[i];
		it_free(r);
	}
	if (worst)
		*worst = w;
	return median(v, (size_t)n);
}

START_TEST(latency_isolation)
{
	enum { LOGINS = 40, SAMPLES = 20 };
	struct it_user u;
	it_register(&u, "latency");
	(void)me_median(u.access, 3, NULL); /* warm-up */
	double quiet = me_median(u.access, SAMPLES, NULL);

	/* 40 accounts sharing one cost-10 hash: every login costs a real bcrypt verification (~90 ms)
	 * whatever the stack's own bcrypt_cost is, so the storm is heavy enough to show queueing */
	const char *pw = "Storm-Trooper-12";
	char hash[128];
	make_bcrypt(pw, 10, "$2b$", hash, sizeof(hash));
	char tag[64];
	snprintf(tag, sizeof(tag), "storm-%d-%x", (int)getpid(), (unsigned)rand());
	sql_exec("INSERT INTO users (email, name, password_hash) SELECT '%s-' || g || '@example.com', 'storm', '%s'"
		 " FROM generate_series(1, %d) g",
		 tag, hash, LOGINS);
	static struct storm_thread t[LOGINS];
	pthread_t th[LOGINS];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, LOGINS + 1);
	for (int i = 0; i < LOGINS; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		snprintf(t[i].email, sizeof(t[i].email), "%s-%d@example.com", tag, i + 1);
		t[i].password = pw;
		t[i].barrier = &barrier;
		ck_assert_int_eq(pthread_create(&th[i], NULL, storm_fn, &t[i]), 0);
	}
	pthread_barrier_wait(&barrier);
	double t_start = now_s();
	sleep_s(0.3); /* let the logins reach the server */
	double worst;
	double busy = me_median(u.access, SAMPLES, &worst);
	double t_sampled = now_s();
	int ok = 0;
	double last_end = 0;
	for (int i = 0; i < LOGINS; i++) {
		pthread_join(th[i], NULL);
		if (t[i].status == 200)
			ok++;
		else
			fprintf(stderr, "latency_isolation: login %d got %ld\n", i, t[i].status);
		if (t[i].t_end > last_end)
			last_end = t[i].t_end;
	}
	pthread_barrier_destroy(&barrier);
	fprintf(stderr,
		"latency_isolation: /me median quiet %.1f ms, during %d logins %.1f ms (%.1fx, slowest %.1f ms);"
		" logins took %.2f s, sampling ended at %.2f s; %d x 200\n",
		quiet * 1000, LOGINS, busy * 1000, busy / quiet, worst * 1000, last_end - t_start, t_sampled - t_start, ok);
	sql_exec("DELETE FROM users WHERE email LIKE '%s-%%'", tag);
	ck_assert_msg(ok == LOGINS, "only %d of %d storm logins succeeded", ok, LOGINS);
	ck_assert_msg(last_end > t_sampled, "the logins were over before the sampling ended: not measured under load");
	ck_assert_msg(busy < 0.200, "/me median %.1f ms during the login storm", busy * 1000);
	/* no single call may wait behind the logins (a shared pool shows up as one call of seconds) */
	ck_assert_msg(worst < 0.250, "slowest /me %.1f ms during the login storm", worst * 1000);
	ck_assert_msg(busy < 5 * (quiet > 0.002 ? quiet : 0.002), "/me median %.1f ms during the storm vs %.1f ms quiet",
		      busy * 1000, quiet * 1000);
}
END_TEST

/* ================================================================================================ */

/* `tollgate user create`: the operator's way to make the first admin (make run uses it). */
START_TEST(cli_user_create_admin)
{
	const char *config = getenv("TG_CONFIG");
	ck_assert_msg(config && *config, "TG_CONFIG is not set");
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("cli-admin"));
	const char *password = "Operator-Chosen-77";
	const char *out = it_sh_out("printf '%%s\\n' '%s' | '%s' --config '%s' user create --email '%s' --name Ops --admin 2>&1;"
				    " echo \"exit=$?\"", password, it_tollgate_bin(), config, email);
	ck_assert_msg(strstr(out, "exit=0") && strstr(out, "created admin"), "user create: %s", out);

	/* the admin can sign in, with role admin and a verified email */
	char body[512];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"session\":\"body\"}", email, password);
	struct it_resp *r = it_post("/api/auth/login", NULL, body);
	it_expect(r, 200, NULL);
	ck_assert_str_eq(it_str(r, "user.role"), "admin");
	ck_assert(json_object_get_boolean(it_at(r, "user.email_verified")));
	it_free(r);

	/* the same email again: refused with its own exit code, nothing changed */
	out = it_sh_out("printf '%%s\\n' 'Another-Pass-88' | '%s' --config '%s' user create --email '%s' 2>&1;"
			" echo \"exit=$?\"", it_tollgate_bin(), config, email);
	ck_assert_msg(strstr(out, "exit=3") && strstr(out, "already exists"), "duplicate user create: %s", out);
	/* the password rules hold here too */
	out = it_sh_out("printf '%%s\\n' 'password123' | '%s' --config '%s' user create --email '%s' 2>&1;"
			" echo \"exit=$?\"", it_tollgate_bin(), config, it_unique_email("cli-weak"));
	ck_assert_msg(strstr(out, "exit=1") && strstr(out, "too common"), "weak password: %s", out);
	out = it_sh_out("'%s' --config '%s' user create --email not-an-email </dev/null 2>&1; echo \"exit=$?\"",
			it_tollgate_bin(), config);
	ck_assert_msg(strstr(out, "exit=1") && strstr(out, "valid email"), "bad email: %s", out);
}
END_TEST

/* Review findings, each failed before its fix. */

/* An upper-case non-ASCII address was lower-cased differently by us and PostgreSQL: a 500. */
START_TEST(register_non_ascii_email_refused)
{
	const char *bodies[] = {
		"{\"email\":\"\u03a9@example.com\",\"password\":\"correct horse 1\"}",
		"{\"email\":\"j\u00f6rg@b\u00fccher.de\",\"password\":\"correct horse 1\"}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct it_resp *r = it_post("/api/auth/register", NULL, bodies[i]);
		expect_problem(r, 422, "validation_failed");
		ck_assert_ptr_nonnull(it_str(r, "errors.email"));
		it_free(r);
	}
}
END_TEST

/* A User-Agent that is not UTF-8, or one cut at 512 bytes inside a character, went to the sessions
 * table as it was: PostgreSQL refused it and register/login answered 500. Found with the request
 * fuzz target (tests/fuzz/fuzz_request.c); api_client stores valid UTF-8 now. */
START_TEST(user_agent_not_utf8_accepted)
{
	const char *email = it_unique_email("ua-bytes");
	char body[256], ua_bytes[64], ua_long[700];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"correct horse 1\",\"session\":\"body\"}", email);
	snprintf(ua_bytes, sizeof(ua_bytes), "User-Agent: Mozilla \xff\xfe Caf\xe9");
	struct it_req q = {.method = "POST", .path = "/api/auth/register", .json = body, .headers = {ua_bytes}};
	struct it_resp *r = it_do(&q);
	it_expect(r, 201, NULL);
	char access[1024];
	snprintf(access, sizeof(access), "%s", it_str(r, "access_token"));
	it_free(r);
	/* 509 ASCII bytes, then "😀": the 512-byte cut falls inside it */
	int n = snprintf(ua_long, sizeof(ua_long), "User-Agent: %509d\xf0\x9f\x98\x80 tail", 7);
	ck_assert(n > 0 && (size_t)n < sizeof(ua_long));
	q.path = "/api/auth/login";
	q.headers[0] = ua_long;
	r = it_do(&q);
	it_expect(r, 200, NULL);
	it_free(r);
	r = it_get("/api/auth/sessions", access);
	it_expect(r, 200, NULL);
	ck_assert_msg(strstr(r->body, "Mozilla ?? Caf?") != NULL, "user agent not stored cleaned: %s", r->body);
	it_free(r);
}
END_TEST

/* Wrong passwords on change-password and delete-account were never throttled: an access token
 * let anyone guess the password without limit. */
START_TEST(profile_password_checks_throttled)
{
	struct it_user u;
	it_register(&u, "recheck-throttle");
	long max = cfg_seconds("login_max_failures", 5);
	struct it_resp *r = NULL;
	for (long i = 0; i < max; i++) {
		r = req_json("POST", i % 2 ? "/api/profile/delete-account" : "/api/profile/change-password", u.access,
			     i % 2 ? "{\"password\":\"wrong-guess-1234\"}"
				   : "{\"current_password\":\"wrong-guess-1234\",\"new_password\":\"Brand-New-Pass-9\"}");
		expect_problem(r, 422, "validation_failed");
		it_free(r);
	}
	/* locked now: even the right password waits, and login is locked too */
	char body[512];
	snprintf(body, sizeof(body), "{\"current_password\":\"%s\",\"new_password\":\"Brand-New-Pass-9\"}", u.password);
	r = req_json("POST", "/api/profile/change-password", u.access, body);
	expect_problem(r, 429, "rate_limited");
	ck_assert_ptr_nonnull(it_header(r, "Retry-After"));
	it_free(r);
	ck_assert_int_eq(it_login(&u), 429);
}
END_TEST

/* change-password {} said "must be a string" for a missing new_password. */
START_TEST(change_password_missing_field_message)
{
	struct it_user u;
	it_register(&u, "cp-message");
	struct it_resp *r = req_json("POST", "/api/profile/change-password", u.access, "{}");
	expect_problem(r, 422, "validation_failed");
	ck_assert_str_eq(it_str(r, "errors.new_password"), "is required");
	it_free(r);
}
END_TEST

/* A successful refresh sent Cache-Control twice; names are stored trimmed. */
START_TEST(refresh_single_cache_control_and_trimmed_name)
{
	struct it_user u;
	it_register(&u, "one-cc");
	struct it_resp *r = refresh_body(u.refresh);
	it_expect(r, 200, NULL);
	int n = 0;
	for (const char *p = r->headers; (p = strcasestr(p, "\r\nCache-Control:")); p++)
		n++;
	ck_assert_int_eq(n, 1);
	it_free(r);
	r = req_json("PATCH", "/api/profile", u.access, "{\"name\":\"   Ada Lovelace  \"}");
	it_expect(r, 200, NULL);
	ck_assert_str_eq(it_str(r, "name"), "Ada Lovelace");
	it_free(r);
}
END_TEST

/* The cleanup job deleted rotated refresh tokens after a day, so replaying one later no longer
 * revoked its session. */
START_TEST(rotated_token_replay_after_cleanup_revokes)
{
	struct it_user u;
	it_register(&u, "replay-late");
	const char *old = xstrdup(u.refresh);
	struct it_resp *r = refresh_body(old);
	char *fresh = expect_token_response(r, 200, true, u.email);
	it_free(r);
	char hash[65];
	sha256_hex(old, hash);
	it_sql("UPDATE refresh_tokens SET rotated_at = now() - interval '25 hours' WHERE token_hash = '%s'", hash);
	/* a jobs worker runs its periodic cleanup as soon as it starts */
	const char *config = getenv("TG_CONFIG");
	it_sh("timeout -s TERM 3 '%s' --config '%s' jobs >/dev/null 2>&1", it_tollgate_bin(), config);
	r = refresh_body(old);
	expect_problem(r, 401, "refresh_token_reused");
	it_free(r);
	r = refresh_body(fresh);
	expect_problem(r, 401, "unauthorized");
	it_free(r);
	free(fresh);
	free((char *)old);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accounts");
	TCase *tc = tcase_create("register");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, NULL, restore_registration);
	tcase_add_test(tc, register_cookie_mode);
	tcase_add_test(tc, register_body_mode);
	tcase_add_test(tc, register_normalizes_email);
	tcase_add_test(tc, register_validation);
	tcase_add_test(tc, register_boundaries_accepted);
	tcase_add_test(tc, register_closed);
	tcase_add_test(tc, register_bad_requests);
	tcase_add_test(tc, register_concurrent_same_email);
	tcase_add_test(tc, register_password_with_nul);
	suite_add_tcase(s, tc);

	tc = tcase_create("login");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, login_both_modes);
	tcase_add_test(tc, login_invalid_credentials_uniform);
	tcase_add_test(tc, login_throttle);
	tcase_add_test(tc, login_throttle_parallel);
	tcase_add_test(tc, login_throttle_cap);
	tcase_add_test(tc, login_suspended);
	tcase_add_test(tc, login_bcrypt_upgrade);
	suite_add_tcase(s, tc);

	tc = tcase_create("tokens");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, me_returns_user);
	tcase_add_test(tc, me_rejects_bad_tokens);
	suite_add_tcase(s, tc);

	tc = tcase_create("refresh");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, refresh_rotation_body);
	tcase_add_test(tc, refresh_reuse_detection);
	tcase_add_test(tc, refresh_cookie_mode);
	tcase_add_test(tc, refresh_missing_or_garbage);
	tcase_add_test(tc, refresh_and_session_expiry);
	suite_add_tcase(s, tc);

	tc = tcase_create("logout");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, logout_body_token);
	tcase_add_test(tc, logout_cookie);
	tcase_add_test(tc, logout_all);
	suite_add_tcase(s, tc);

	tc = tcase_create("sessions");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sessions_list);
	tcase_add_test(tc, sessions_isolation);
	tcase_add_test(tc, sessions_revoke_own);
	tcase_add_test(tc, sessions_pagination);
	suite_add_tcase(s, tc);

	tc = tcase_create("profile");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, profile_update_name);
	tcase_add_test(tc, profile_change_password);
	tcase_add_test(tc, profile_delete_account);
	tcase_add_test(tc, audit_trail);
	tcase_add_test(tc, cli_user_create_admin);
	suite_add_tcase(s, tc);

	tc = tcase_create("review");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, register_non_ascii_email_refused);
	tcase_add_test(tc, profile_password_checks_throttled);
	tcase_add_test(tc, change_password_missing_field_message);
	tcase_add_test(tc, refresh_single_cache_control_and_trimmed_name);
	tcase_add_test(tc, rotated_token_replay_after_cleanup_revokes);
	tcase_add_test(tc, user_agent_not_utf8_accepted);
	suite_add_tcase(s, tc);

	tc = tcase_create("isolation");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, latency_isolation);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
