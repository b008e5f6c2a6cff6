/* itest.c — the integration test helpers (see itest.h). */
#include "itest.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

const char *it_url(void)
{
	return env_or("TG_URL", "https://127.0.0.1:8443");
}

const char *it_origin(void)
{
	return env_or("TG_ORIGIN", "https://localhost:8443");
}

const char *it_stack_dir(void)
{
	return env_or("TG_STACK_DIR", "var");
}

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t add = size * nmemb;
	char *np = realloc(b->p, b->n + add + 1);
	if (!np)
		return 0;
	memcpy(np + b->n, ptr, add);
	b->p = np;
	b->n += add;
	b->p[b->n] = '\0';
	return add;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t add = size * nmemb;
	/* a new status line starts a new response (redirects, 100-continue): keep only the last */
	if (add > 5 && !strncmp(ptr, "HTTP/", 5))
		b->n = 0;
	return on_data(ptr, size, nmemb, ud);
}

/* With TG_RESPONSE_LOG set, appends one JSON line per response to that file: {method, path (no
 * query), status, content_type, headers (lower-cased names), body (parsed JSON or null), and for a
 * text/event-stream text (the raw stream, whose events are checked one by one)}, for the
 * run's OpenAPI check (tests/openapi/responses.py). One write() on an O_APPEND descriptor, so the
 * forked Check tests and parallel programs never interleave their lines. */
static void log_response(const struct it_req *r, const char *method, const struct it_resp *res)
{
	const char *file = getenv("TG_RESPONSE_LOG");
	if (!file || !*file)
		return;
	json_object *o = json_object_new_object(), *h = json_object_new_object();
	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "path", json_object_new_string_len(r->path, (int)strcspn(r->path, "?#")));
	json_object_object_add(o, "status", json_object_new_int((int)res->status));
	for (const char *p = res->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		char name[128];
		if (colon && (size_t)(colon - p) < sizeof(name)) {
			size_t nl = (size_t)(colon - p);
			for (size_t i = 0; i < nl; i++)
				name[i] = (char)tolower((unsigned char)p[i]);
			name[nl] = '\0';
			const char *v = colon + 1;
			while (*v == ' ')
				v++;
			json_object_object_add(h, name, json_object_new_string_len(v, (int)(len - (size_t)(v - p))));
		}
		p = eol ? eol + 2 : NULL;
	}
	json_object *ct = NULL;
	json_object_object_add(o, "content_type",
			       json_object_object_get_ex(h, "content-type", &ct) ? json_object_get(ct) : NULL);
	json_object_object_add(o, "headers", h);
	json_object_object_add(o, "body", json_object_get(res->json));
	if (ct && !strncasecmp(json_object_get_string(ct), "text/event-stream", 17))
		json_object_object_add(o, "text", json_object_new_string_len(res->body, (int)res->body_len));
	const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *text;
	int n = asprintf(&text, "%s\n", line);
	json_object_put(o);
	if (n < 0)
		return;
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, (size_t)n) != n)
		fprintf(stderr, "itest: could not append to %s\n", file);
	if (fd >= 0)
		close(fd);
	free(text);
}

struct it_resp *it_do(const struct it_req *r)
{
	CURL *c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	struct buf body = {0}, head = {0};
	char url[2048];
	snprintf(url, sizeof(url), "%s%s", it_url(), r->path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &head);
	const char *method = r->method ? r->method : "GET";
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	struct curl_slist *hl = NULL;
	char line[2048];
	const char *payload = r->json ? r->json : r->body;
	if (payload) {
		size_t len = r->body_len ? r->body_len : strlen(payload);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		snprintf(line, sizeof(line), "Content-Type: %s",
			 r->content_type ? r->content_type : r->json ? "application/json" : "application/octet-stream");
		hl = curl_slist_append(hl, line);
	} else if (r->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", r->content_type);
		hl = curl_slist_append(hl, line);
	}
	hl = curl_slist_append(hl, "Expect:");
	if (r->bearer) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", r->bearer);
		hl = curl_slist_append(hl, line);
	}
	if (r->cookie) {
		snprintf(line, sizeof(line), "Cookie: %s", r->cookie);
		hl = curl_slist_append(hl, line);
	}
	if (r->origin) {
		snprintf(line, sizeof(line), "Origin: %s", r->origin);
		hl = curl_slist_append(hl, line);
	}
	for (int i = 0; i < 8 && r->headers[i]; i++)
		hl = curl_slist_append(hl, r->headers[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	CURLcode cc = curl_easy_perform(c);
	struct it_resp *res = calloc(1, sizeof(*res));
	ck_assert_ptr_nonnull(res);
	if (cc != CURLE_OK) {
		res->status = 0;
		res->body = strdup(curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
		res->body = body.p ? body.p : strdup("");
		body.p = NULL;
	}
	free(body.p);
	res->body_len = strlen(res->body);
	res->headers = head.p ? head.p : strdup("");
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &res->seconds);
	if (res->body_len && (res->body[0] == '{' || res->body[0] == '['))
		res->json = json_tokener_parse(res->body);
	if (cc == CURLE_OK)
		log_response(r, method, res);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return res;
}

struct it_resp *it_get(const char *path, const char *bearer)
{
	struct it_req r = {.method = "GET", .path = path, .bearer = bearer};
	return it_do(&r);
}

struct it_resp *it_post(const char *path, const char *bearer, const char *json)
{
	struct it_req r = {.method = "POST", .path = path, .bearer = bearer, .json = json};
	return it_do(&r);
}

void it_free(struct it_resp *r)
{
	if (!r)
		return;
	json_object_put(r->json);
	free(r->body);
	free(r->headers);
	free(r);
}

const char *it_header(const struct it_resp *r, const char *name)
{
	static char value[2048];
	size_t nl = strlen(name);
	for (const char *p = r->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t vl = len - (size_t)(v - p);
			if (vl >= sizeof(value))
				vl = sizeof(value) - 1;
			memcpy(value, v, vl);
			value[vl] = '\0';
			return value;
		}
		p = eol ? eol + 2 : NULL;
	}
	return NULL;
}

const char *it_set_cookie(const struct it_resp *r, const char *name)
{
	static char value[1024];
	size_t nl = strlen(name);
	for (const char *p = r->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > 11 && !strncasecmp(p, "Set-Cookie:", 11)) {
			const char *v = p + 11;
			while (*v == ' ')
				v++;
			if (!strncmp(v, name, nl) && v[nl] == '=') {
				v += nl + 1;
				size_t vl = strcspn(v, ";\r\n");
				if (vl >= sizeof(value))
					vl = sizeof(value) - 1;
				memcpy(value, v, vl);
				value[vl] = '\0';
				return value;
			}
		}
		p = eol ? eol + 2 : NULL;
	}
	return NULL;
}

json_object *it_at(const struct it_resp *r, const char *path)
{
	json_object *cur = r->json;
	char key[128];
	const char *p = path;
	while (cur && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		if (json_object_is_type(cur, json_type_array)) {
			cur = json_object_array_get_idx(cur, (size_t)strtoul(key, NULL, 10));
		} else if (!json_object_object_get_ex(cur, key, &cur)) {
			return NULL;
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

const char *it_str(const struct it_resp *r, const char *path)
{
	json_object *o = it_at(r, path);
	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

const char *it_code(const struct it_resp *r)
{
	const char *ct = it_header(r, "Content-Type");
	if (!ct || strncmp(ct, "application/problem+json", 24))
		return NULL;
	return it_str(r, "code");
}

void it_expect_at(const char *file, int line, const struct it_resp *r, long status, const char *code)
{
	if (r->status != status || (code && (!it_code(r) || strcmp(it_code(r), code))))
		ck_assert_msg(0, "%s:%d: expected %ld %s, got %ld: %.500s", file, line, status, code ? code : "",
			      r->status, r->body);
}

const char *it_unique_email(const char *prefix)
{
	static char buf[128];
	static unsigned counter;
	unsigned rnd = (unsigned)time(NULL) ^ ((unsigned)getpid() << 8) ^ (unsigned)rand();
	snprintf(buf, sizeof(buf), "%s-%d-%u-%x@example.com", prefix, (int)getpid(), ++counter, rnd);
	return buf;
}

/* Copies src (NULL counts as "") into dst of cap bytes. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void it_register(struct it_user *u, const char *prefix)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->email, sizeof(u->email), "%s", it_unique_email(prefix));
	snprintf(u->password, sizeof(u->password), "pw-%08x-Quartz", (unsigned)rand());
	char body[512];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"name\":\"Test %s\",\"session\":\"body\"}",
		 u->email, u->password, prefix);
	struct it_resp *r = it_post("/api/auth/register", NULL, body);
	it_expect(r, 201, NULL);
	copy_str(u->id, sizeof(u->id), it_str(r, "user.id"));
	copy_str(u->access, sizeof(u->access), it_str(r, "access_token"));
	copy_str(u->refresh, sizeof(u->refresh), it_str(r, "refresh_token"));
	it_free(r);
}

long it_login(struct it_user *u)
{
	char body[512];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"session\":\"body\"}", u->email, u->password);
	struct it_resp *r = it_post("/api/auth/login", NULL, body);
	long st = r->status;
	if (st == 200) {
		copy_str(u->access, sizeof(u->access), it_str(r, "access_token"));
		copy_str(u->refresh, sizeof(u->refresh), it_str(r, "refresh_token"));
	}
	it_free(r);
	return st;
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

const char *it_tollgate_bin(void)
{
	static char path[1024];
	const char *b = getenv("TOLLGATE_BIN");
	if (!b || !*b)
		b = getenv("TG_TOLLGATE_BIN");
	if (b && *b)
		return b;
	snprintf(path, sizeof(path), "%s/bin/tollgate", env_or("TG_REPO", "."));
	return path;
}

int it_sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = vformat(fmt, ap);
	va_end(ap);
	ck_assert_ptr_nonnull(cmd);
	int st = system(cmd);
	free(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *capture(const char *cmd)
{
	static char out[65536];
	out[0] = '\0';
	FILE *p = popen(cmd, "r");
	if (!p)
		return out;
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	return out;
}

const char *it_sh_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = vformat(fmt, ap);
	va_end(ap);
	ck_assert_ptr_nonnull(cmd);
	const char *out = capture(cmd);
	free(cmd);
	return out;
}

const char *it_sql(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *sql = vformat(fmt, ap);
	va_end(ap);
	ck_assert_ptr_nonnull(sql);
	/* pass the statement through a temp file: no shell quoting of SQL */
	char path[] = "/tmp/itest-sql-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, sql, strlen(sql)), (ssize_t)strlen(sql));
	close(fd);
	free(sql);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "scripts/stack psql '%s' -v ON_ERROR_STOP=1 -qtA -f '%s' 2>&1", it_stack_dir(), path);
	const char *out = capture(cmd);
	unlink(path);
	return out;
}

void it_sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

long long it_sql_long(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *q = vformat(fmt, ap);
	va_end(ap);
	ck_assert_ptr_nonnull(q);
	const char *out = it_sql("%s", q);
	char *end = NULL;
	errno = 0;
	long long v = strtoll(out, &end, 10);
	ck_assert_msg(*out && end && *end == '\0' && !errno, "SQL %s: expected a number, got '%s'", q, out);
	free(q);
	return v;
}

int it_run_suite(Suite *s)
{
	const char *repo = getenv("TG_REPO");
	if (repo && *repo && chdir(repo) != 0)
		fprintf(stderr, "itest: cannot chdir to %s\n", repo);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- shared by the suites (moved here when the suites were split by area) ---- */

int64_t it_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int it_header_count(const struct it_resp *r, const char *name)
{
	int n = 0;
	size_t nl = strlen(name);
	for (const char *p = r->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > nl && !strncasecmp(p, name, nl) && p[nl] == ':')
			n++;
		p = eol ? eol + 2 : NULL;
	}
	return n;
}

static bool is_hex32(const char *s)
{
	if (!s || strlen(s) != 32)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

void it_expect_content_type(const struct it_resp *r, const char *type)
{
	const char *ct = it_header(r, "Content-Type");
	size_t tl = strlen(type);
	ck_assert_msg(ct && !strncasecmp(ct, type, tl) && (ct[tl] == '\0' || ct[tl] == ';'),
		      "expected Content-Type %s, got '%s' (status %ld, body %.300s)", type, ct ? ct : "(none)",
		      r->status, r->body);
}

void it_expect_request_id(const struct it_resp *r, char out[64])
{
	ck_assert_msg(it_header_count(r, "X-Request-Id") == 1, "expected exactly one X-Request-Id on %ld, headers:\n%s",
		      r->status, r->headers);
	const char *id = it_header(r, "X-Request-Id");
	ck_assert_msg(is_hex32(id), "X-Request-Id is not 32 lowercase hex digits: '%s'", id ? id : "(none)");
	if (out)
		snprintf(out, 64, "%s", id);
}

void it_expect_problem_at(const char *file, int line, const struct it_resp *r, long status, const char *code)
{
	ck_assert_msg(code != NULL, "%s:%d: it_expect_problem needs a code", file, line);
	it_expect_at(file, line, r, status, code);
	it_expect_content_type(r, "application/problem+json");
	ck_assert_msg(r->json && json_object_is_type(r->json, json_type_object) && !strstr(r->body, "<html"),
		      "%s:%d: the problem body is not a JSON object: %.300s", file, line, r->body);
	char type[160];
	snprintf(type, sizeof(type), "https://tollgate.invalid/problems/%s", code);
	const char *t = it_str(r, "type");
	ck_assert_msg(t && !strcmp(t, type), "%s:%d: type '%s', want '%s'", file, line, t ? t : "(none)", type);
	const char *title = it_str(r, "title");
	ck_assert_msg(title && *title, "%s:%d: no title in %s", file, line, r->body);
	json_object *st = it_at(r, "status");
	ck_assert_msg(st && json_object_is_type(st, json_type_int) && json_object_get_int64(st) == status,
		      "%s:%d: \"status\" must be the number %ld: %s", file, line, status, r->body);
	const char *detail = it_str(r, "detail");
	ck_assert_msg(detail && *detail, "%s:%d: no detail in %s", file, line, r->body);
	json_object *errs = it_at(r, "errors");
	if (!strcmp(code, "validation_failed"))
		ck_assert_msg(errs && json_object_is_type(errs, json_type_object) && json_object_object_length(errs) > 0,
			      "%s:%d: validation_failed without errors: %s", file, line, r->body);
	else
		ck_assert_msg(errs == NULL, "%s:%d: \"errors\" only belongs to validation_failed: %s", file, line, r->body);
	char hid[64];
	it_expect_request_id(r, hid);
	const char *bid = it_str(r, "request_id");
	ck_assert_msg(bid && !strcmp(bid, hid), "%s:%d: body request_id '%s' != X-Request-Id '%s'", file, line,
		      bid ? bid : "(none)", hid);
}

long long it_int(const struct it_resp *r, const char *path)
{
	json_object *o = it_at(r, path);
	ck_assert_msg(o && json_object_is_type(o, json_type_int), "%s is not an integer in %.600s", path, r->body);
	return json_object_get_int64(o);
}

bool it_bool(const struct it_resp *r, const char *path)
{
	json_object *o = it_at(r, path);
	ck_assert_msg(o && json_object_is_type(o, json_type_boolean), "%s is not a boolean in %.600s", path, r->body);
	return json_object_get_boolean(o);
}

bool it_sanitizer_build(void)
{
	const char *v = getenv("TG_SANITIZE");
	return v && !strcmp(v, "1");
}

bool it_timing_checked_at(const char *file, int line, const char *what)
{
	if (!it_sanitizer_build())
		return true;
	fprintf(stderr, "%s:%d: note: timing assertion skipped in the sanitizer build (TG_SANITIZE=1): %s\n", file, line,
		what);
	return false;
}
