/* accounts_helpers.c — see accounts_helpers.h. */
#include "accounts_helpers.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- the stack's configuration */

/* Appends "é" (2 bytes of UTF-8) to the NUL-terminated buf of size cap. */
void append_e_acute(char *buf, size_t cap)
{
	size_t n = strlen(buf);
	ck_assert_uint_lt(n + 2, cap);
	memcpy(buf + n, "\xc3\xa9", 3);
}

char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Last value of key in TG_CONFIG (or the environment override) into out; false when unset. */
bool cfg_lookup(const char *key, char *out, size_t outlen)
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

long cfg_long(const char *key, long dflt)
{
	char v[256];
	if (!cfg_lookup(key, v, sizeof(v)))
		return dflt;
	return strtol(v, NULL, 10);
}

/* A duration ("30s", "15m", "2h", "30d", "10") in seconds. */
long cfg_seconds(const char *key, long dflt)
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

/* ---- small helpers */

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");
	ck_assert_ptr_nonnull(d);
	return d;
}

/* The whole Set-Cookie line (after "Set-Cookie: ") that sets cookie name, or NULL. */
char *set_cookie_line(const struct it_resp *r, const char *name)
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
bool cookie_has_attr(const char *line, const char *attr)
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

bool is_uuid(const char *s)
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
bool is_rfc3339_utc(const char *s)
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

json_object *obj_get(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *obj_str(json_object *o, const char *key)
{
	json_object *v = obj_get(o, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

void sql_exec(const char *fmt, ...)
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

/* Waits up to secs for a message to addr in TG_MAIL_DIR whose text contains needle
 * (case-insensitive); returns how many there are. */
int wait_mail(const char *addr, const char *needle, double secs)
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

/* ---- the server's JWTs */

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
json_object *jwt_claims(const char *tok)
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

json_object *jwt_header(const char *tok)
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
void token_sid(const char *tok, char *out, size_t n)
{
	json_object *c = jwt_claims(tok);
	snprintf(out, n, "%s", obj_str(c, "sid") ? obj_str(c, "sid") : "");
	json_object_put(c);
}

/* ---- expectations on the documented shapes */

void expect_invalid_at(const char *file, int line, const struct it_resp *r, const char *field)
{
	it_expect_problem_at(file, line, r, 422, "validation_failed");
	json_object *e = obj_get(obj_get(r->json, "errors"), field);
	ck_assert_msg(e && json_object_is_type(e, json_type_string) && *json_object_get_string(e),
		      "%s:%d: errors.%s missing in %s", file, line, field, r->body);
}

void expect_no_store(const struct it_resp *r)
{
	const char *cc = it_header(r, "Cache-Control");
	ck_assert_msg(cc && strstr(cc, "no-store"), "Cache-Control is %s on %ld %s", cc ? cc : "(none)", r->status,
		      r->body);
}

void expect_json_ct(const struct it_resp *r)
{
	const char *ct = it_header(r, "Content-Type");
	ck_assert_msg(ct && !strncmp(ct, "application/json", 16), "Content-Type is %s", ct ? ct : "(none)");
}

/* The User object: exactly id, email, name, role, email_verified, mfa_enabled, plan, created_at. */
void expect_user(json_object *u, const char *email)
{
	ck_assert_msg(u && json_object_is_type(u, json_type_object), "user is not an object");
	static const char *const keys[] = {"id", "email", "name", "role", "email_verified", "mfa_enabled", "plan",
					   "created_at", "terms_accepted"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(obj_get(u, keys[i]), "user.%s missing: %s", keys[i], json_object_to_json_string(u));
	ck_assert_msg(json_object_object_length(u) == 9, "user has extra fields: %s", json_object_to_json_string(u));
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
	ck_assert(json_object_is_type(obj_get(u, "terms_accepted"), json_type_boolean));
}

void expect_cookie_attrs(const char *line)
{
	ck_assert_msg(cookie_has_attr(line, "HttpOnly"), "no HttpOnly: %s", line);
	ck_assert_msg(cookie_has_attr(line, "Secure"), "no Secure: %s", line);
	ck_assert_msg(cookie_has_attr(line, "SameSite=Strict"), "no SameSite=Strict: %s", line);
	ck_assert_msg(cookie_has_attr(line, "Path=/api/auth"), "no Path=/api/auth: %s", line);
}

/* A token response (register, login, refresh). Returns the refresh token (cookie or body), malloc'd. */
char *expect_token_response(const struct it_resp *r, long status, bool body_mode, const char *email)
{
	it_expect(r, status, NULL);
	expect_json_ct(r);
	expect_no_store(r);
	it_expect_request_id(r, NULL);
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

/* ---- requests */

struct it_resp *req_json(const char *method, const char *path, const char *bearer, const char *json)
{
	struct it_req q = {.method = method, .path = path, .bearer = bearer, .json = json};
	return it_do(&q);
}

struct it_resp *login_raw(const char *email, const char *password, const char *mode, const char *ua)
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

struct it_resp *register_raw(const char *email, const char *password, const char *mode)
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

void login_session(const struct it_user *u, const char *ua, struct sess *s)
{
	struct it_resp *r = login_raw(u->email, u->password, "body", ua);
	it_expect(r, 200, NULL);
	snprintf(s->access, sizeof(s->access), "%s", it_str(r, "access_token"));
	snprintf(s->refresh, sizeof(s->refresh), "%s", it_str(r, "refresh_token"));
	token_sid(s->access, s->sid, sizeof(s->sid));
	it_free(r);
}

void user_session(const struct it_user *u, struct sess *s)
{
	snprintf(s->access, sizeof(s->access), "%s", u->access);
	snprintf(s->refresh, sizeof(s->refresh), "%s", u->refresh);
	token_sid(s->access, s->sid, sizeof(s->sid));
}

long me_status(const char *access)
{
	struct it_resp *r = it_get("/api/auth/me", access);
	long st = r->status;
	if (st == 401)
		it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	return st;
}

struct it_resp *refresh_body(const char *token)
{
	char body[2048];
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", token);
	return it_post("/api/auth/refresh", NULL, body);
}

long refresh_status(const char *token)
{
	struct it_resp *r = refresh_body(token);
	long st = r->status;
	it_free(r);
	return st;
}

json_object *find_session(json_object *items, const char *id)
{
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		if (obj_str(it, "id") && !strcmp(obj_str(it, "id"), id))
			return it;
	}
	return NULL;
}

long audit_count(const char *action, const char *column, const char *value)
{
	return it_sql_long("SELECT count(*) FROM audit_log WHERE action = '%s' AND %s = '%s'", action, column, value);
}
