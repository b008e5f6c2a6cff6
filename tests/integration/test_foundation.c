/* test_foundation.c — the foundation through nginx: health and readiness, problem+json for
 * 404/405/413/415/400, request ids (header, body, log line), CORS, and the operational promises:
 * a killed worker is replaced without losing the service, PostgreSQL going away and coming back is
 * survived without a restart, and SIGHUP replaces every worker under load without a failed request.
 *
 * The destructive cases (kill, pg stop, reload) run last, each in its own TCase, with bounded waits;
 * the PostgreSQL case restarts the database from an unchecked fixture (run in the parent process)
 * so a failing or timed-out test never leaves the stack without its database. */
#include "itest.h"

#include <curl/curl.h>
#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_KIDS 256

/* ---------- small helpers ---------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Number of header lines called name in r's final header block. */
static int header_count(const struct it_resp *r, const char *name)
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

/* The response's X-Request-Id (copied), asserting there is exactly one and it is nginx's 32 hex. */
static void expect_request_id(const struct it_resp *r, char out[64])
{
	ck_assert_msg(header_count(r, "X-Request-Id") == 1, "expected exactly one X-Request-Id, headers:\n%s",
		      r->headers);
	const char *id = it_header(r, "X-Request-Id");
	ck_assert_msg(is_hex32(id), "X-Request-Id is not 32 lowercase hex digits: '%s'", id ? id : "(none)");
	snprintf(out, 64, "%s", id);
}

/* Content-Type is exactly type (optionally followed by parameters). */
static void expect_content_type(const struct it_resp *r, const char *type)
{
	const char *ct = it_header(r, "Content-Type");
	size_t tl = strlen(type);
	ck_assert_msg(ct && !strncasecmp(ct, type, tl) && (ct[tl] == '\0' || ct[tl] == ';'),
		      "expected Content-Type %s, got '%s' (status %ld, body %.300s)", type, ct ? ct : "(none)",
		      r->status, r->body);
}

/* r is an RFC 9457 problem document as API.md describes, with the given status and code, whose
 * request_id equals the X-Request-Id header. */
static void expect_problem_at(int line, const struct it_resp *r, long status, const char *code)
{
	ck_assert_msg(r->status == status, "line %d: expected %ld, got %ld: %.500s", line, status, r->status,
		      r->body);
	expect_content_type(r, "application/problem+json");
	ck_assert_msg(r->body_len && r->body[0] == '{' && !strstr(r->body, "<html"),
		      "line %d: problem body is not JSON: %.300s", line, r->body);
	ck_assert_msg(r->json && json_object_is_type(r->json, json_type_object),
		      "line %d: problem body does not parse as a JSON object: %.300s", line, r->body);
	char type[160];
	snprintf(type, sizeof(type), "https://tollgate.invalid/problems/%s", code);
	const char *t = it_str(r, "type");
	ck_assert_msg(t && !strcmp(t, type), "line %d: type '%s', want '%s'", line, t ? t : "(none)", type);
	const char *title = it_str(r, "title");
	ck_assert_msg(title && *title, "line %d: no title in %s", line, r->body);
	json_object *st = it_at(r, "status");
	ck_assert_msg(st && json_object_is_type(st, json_type_int) && json_object_get_int(st) == status,
		      "line %d: \"status\" must be the number %ld: %s", line, status, r->body);
	const char *c = it_str(r, "code");
	ck_assert_msg(c && !strcmp(c, code), "line %d: code '%s', want '%s'", line, c ? c : "(none)", code);
	const char *detail = it_str(r, "detail");
	ck_assert_msg(detail && *detail, "line %d: no detail in %s", line, r->body);
	ck_assert_msg(it_at(r, "errors") == NULL || !strcmp(code, "validation_failed"),
		      "line %d: \"errors\" only belongs to validation_failed: %s", line, r->body);
	char hid[64];
	expect_request_id(r, hid);
	const char *bid = it_str(r, "request_id");
	ck_assert_msg(bid && !strcmp(bid, hid), "line %d: body request_id '%s' != X-Request-Id '%s'", line,
		      bid ? bid : "(none)", hid);
}
#define expect_problem(r, st, code) expect_problem_at(__LINE__, (r), (st), (code))

/* ---------- the stack's processes ---------- */

static pid_t master_pid(void)
{
	const char *file = getenv("TG_MASTER_PID_FILE");
	ck_assert_msg(file && *file, "TG_MASTER_PID_FILE is not set (source DIR/stack.env)");
	FILE *f = fopen(file, "r");
	ck_assert_msg(f != NULL, "cannot open %s: %s", file, strerror(errno));
	long pid = 0;
	int n = fscanf(f, "%ld", &pid);
	fclose(f);
	ck_assert_msg(n == 1 && pid > 1, "no pid in %s", file);
	ck_assert_msg(kill((pid_t)pid, 0) == 0, "master %ld from %s is not running", pid, file);
	return (pid_t)pid;
}

/* The master's children (pgrep -P), sorted; returns how many. */
static int children(pid_t master, pid_t out[MAX_KIDS])
{
	const char *s = it_sh_out("pgrep -P %d", (int)master);
	int n = 0;
	while (*s && n < MAX_KIDS) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s)
			break;
		out[n++] = (pid_t)v;
		s = end;
		while (*s == '\n' || *s == ' ')
			s++;
	}
	for (int i = 1; i < n; i++) /* insertion sort: a handful of pids */
		for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
			pid_t t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

static bool pid_in(pid_t p, const pid_t *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i] == p)
			return true;
	return false;
}

static void format_pids(char *buf, size_t cap, const pid_t *set, int n)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && o + 12 < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%d", i ? " " : "", (int)set[i]);
}

/* ---------- the log ---------- */

/* The log line (parsed) whose request_id is id, polling the stack's tollgate.log for up to
 * timeout_ms; NULL when there is none. The caller puts the object. */
static json_object *log_line_for(const char *id, int timeout_ms)
{
	char path[1024];
	const char *lf = getenv("TG_LOG_FILE");
	if (lf && *lf)
		snprintf(path, sizeof(path), "%s", lf);
	else
		snprintf(path, sizeof(path), "%s/tollgate.log", it_stack_dir());
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		FILE *f = fopen(path, "r");
		if (f) {
			char *line = NULL;
			size_t cap = 0;
			ssize_t len;
			while ((len = getline(&line, &cap, f)) > 0) {
				if (!strstr(line, id))
					continue;
				json_object *o = json_tokener_parse(line);
				json_object *v;
				if (o && json_object_object_get_ex(o, "request_id", &v) &&
				    json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), id)) {
					free(line);
					fclose(f);
					return o;
				}
				json_object_put(o);
			}
			free(line);
			fclose(f);
		}
		if (now_ms() > deadline)
			return NULL;
		it_sleep_ms(100);
	}
}

/* The pid of the worker that served request id (from its log line), or 0. */
static pid_t worker_of(const char *id)
{
	json_object *o = log_line_for(id, 3000);
	if (!o)
		return 0;
	json_object *v;
	pid_t pid = json_object_object_get_ex(o, "pid", &v) ? (pid_t)json_object_get_int(v) : 0;
	json_object_put(o);
	return pid;
}

/* The pool size the running master was started with (main + password + jobs), from its
 * "master started: main pool N …, password pool N …, jobs N" log line; 0 when not found. */
static int configured_children(pid_t master)
{
	char path[1024];
	const char *lf = getenv("TG_LOG_FILE");
	if (lf && *lf)
		snprintf(path, sizeof(path), "%s", lf);
	else
		snprintf(path, sizeof(path), "%s/tollgate.log", it_stack_dir());
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char pidkey[32];
	snprintf(pidkey, sizeof(pidkey), "\"pid\":%d,", (int)master);
	int total = 0;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		if (!strstr(line, pidkey))
			continue;
		const char *m = strstr(line, "master started: main pool ");
		if (!m)
			continue;
		int main_n = 0, pw = 0, jobs = 0;
		const char *p2 = strstr(m, "password pool ");
		const char *j = strstr(m, ", jobs ");
		if (sscanf(m, "master started: main pool %d", &main_n) == 1 && p2 &&
		    sscanf(p2, "password pool %d", &pw) == 1 && j && sscanf(j, ", jobs %d", &jobs) == 1)
			total = main_n + pw + jobs; /* the last start line of this pid wins */
	}
	free(line);
	fclose(f);
	return total;
}

/* ---------- health and readiness ---------- */

START_TEST(health_get)
{
	struct it_resp *r = it_get("/api/health", NULL);
	it_expect(r, 200, NULL);
	expect_content_type(r, "application/json");
	ck_assert_msg(r->json && json_object_is_type(r->json, json_type_object), "not a JSON object: %s", r->body);
	const char *status = it_str(r, "status");
	ck_assert_msg(status && !strcmp(status, "ok"), "status: %s", r->body);
	json_object *version = it_at(r, "version");
	ck_assert_msg(version && json_object_is_type(version, json_type_string) && *json_object_get_string(version),
		      "version must be a non-empty string: %s", r->body);
	char id[64];
	expect_request_id(r, id);
	it_free(r);

	/* a query string does not change the route */
	r = it_get("/api/health?verbose=1&x=%2F", NULL);
	it_expect(r, 200, NULL);
	ck_assert_msg(it_str(r, "status") && !strcmp(it_str(r, "status"), "ok"), "with a query: %s", r->body);
	it_free(r);
}
END_TEST

START_TEST(health_head)
{
	struct it_req q = {.method = "HEAD", .path = "/api/health"};
	struct it_resp *r = it_do(&q);
	it_expect(r, 200, NULL);
	ck_assert_msg(r->body_len == 0, "HEAD must have no body, got %zu bytes: %.100s", r->body_len, r->body);
	expect_content_type(r, "application/json");
	char id[64];
	expect_request_id(r, id);
	it_free(r);
}
END_TEST

static int count_migration_files(void)
{
	glob_t g;
	int rc = glob("sql/[0-9][0-9][0-9][0-9]_*.sql", 0, NULL, &g);
	int n = rc == 0 ? (int)g.gl_pathc : 0;
	if (rc == 0)
		globfree(&g);
	return n;
}

START_TEST(ready_ok)
{
	int files = count_migration_files();
	ck_assert_msg(files >= 1, "no sql/NNNN_*.sql found from %s (TG_REPO set?)", getcwd((char[1024]){0}, 1024));
	struct it_resp *r = it_get("/api/ready", NULL);
	it_expect(r, 200, NULL);
	expect_content_type(r, "application/json");
	const char *status = it_str(r, "status");
	ck_assert_msg(status && !strcmp(status, "ready"), "status: %s", r->body);
	const char *db = it_str(r, "database");
	ck_assert_msg(db && !strcmp(db, "ok"), "database: %s", r->body);
	json_object *m = it_at(r, "migrations");
	ck_assert_msg(m && json_object_is_type(m, json_type_int), "migrations must be a number: %s", r->body);
	ck_assert_msg(json_object_get_int(m) == files, "migrations %d, but the repository has %d sql files",
		      json_object_get_int(m), files);
	/* and that is what the database says too */
	const char *applied = it_sql("SELECT count(*) FROM schema_migrations");
	ck_assert_msg(strtol(applied, NULL, 10) == files, "schema_migrations has '%s' rows, want %d", applied, files);
	it_free(r);
}
END_TEST

/* ---------- errors as problem+json ---------- */

START_TEST(unknown_path_404)
{
	static const char *const paths[] = {
		"/api/nope",
		"/api",                     /* without its slash (was an HTML redirect) */
		"/api/.env",                /* dotted paths under /api/ are the API's too (was HTML) */
		"/api/.git/config",
		"/api/",
		"/api/health/",             /* no trailing-slash aliases */
		"/api/healthz",
		"/api/n%6Fpe",              /* encoded letters */
		"/api/health%3Fx=1",        /* an encoded '?' is part of the path, not a query */
		"/api/health%2F",           /* an encoded '/' */
		"/api/no%20such/%E2%9C%93", /* space and UTF-8 */
		"/api/nope?x=%3Cscript%3E",
		"/api/auth/sessions/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u",
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct it_resp *r = it_get(paths[i], NULL);
		ck_assert_msg(r->status == 404, "%s: expected 404, got %ld: %.300s", paths[i], r->status, r->body);
		expect_problem(r, 404, "not_found");
		it_free(r);
	}
	/* other methods on an unknown path are 404 too, not 405 */
	static const char *const methods[] = {"POST", "DELETE", "PUT"};
	for (size_t i = 0; i < 3; i++) {
		struct it_req q = {.method = methods[i], .path = "/api/nope", .json = "{}"};
		struct it_resp *r = it_do(&q);
		ck_assert_msg(r->status == 404, "%s /api/nope: got %ld", methods[i], r->status);
		expect_problem(r, 404, "not_found");
		it_free(r);
	}
}
END_TEST

START_TEST(method_not_allowed_405)
{
	struct it_resp *r = it_post("/api/health", NULL, "{}");
	expect_problem(r, 405, "method_not_allowed");
	const char *allow = it_header(r, "Allow");
	ck_assert_msg(allow && !strcmp(allow, "GET, HEAD, OPTIONS"), "Allow: '%s', want 'GET, HEAD, OPTIONS'", allow ? allow : "(none)");
	it_free(r);

	struct it_req q = {.method = "DELETE", .path = "/api/ready"};
	r = it_do(&q);
	expect_problem(r, 405, "method_not_allowed");
	allow = it_header(r, "Allow");
	ck_assert_msg(allow && !strcmp(allow, "GET, HEAD, OPTIONS"), "Allow: '%s', want 'GET, HEAD, OPTIONS'", allow ? allow : "(none)");
	it_free(r);

	/* a POST-only route lists only POST */
	r = it_get("/api/auth/login", NULL);
	expect_problem(r, 405, "method_not_allowed");
	allow = it_header(r, "Allow");
	ck_assert_msg(allow && !strcmp(allow, "POST, OPTIONS"), "Allow: '%s', want 'POST, OPTIONS'", allow ? allow : "(none)");
	it_free(r);
}
END_TEST

/* POST /api/auth/login with a raw body and content type. */
static struct it_resp *login_raw(const char *content_type, const char *body)
{
	struct it_req q = {.method = "POST", .path = "/api/auth/login", .body = body, .content_type = content_type};
	return it_do(&q);
}

static const char *login_body(void)
{
	static char body[256];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"not-the-password-1\",\"session\":\"body\"}",
		 it_unique_email("itf-ct"));
	return body;
}

START_TEST(body_content_type_415)
{
	static const char *const types[] = {
		"text/plain",
		"application/x-www-form-urlencoded",
		"application/jsonx",
		"application/json-patch+json",
		"text/json",
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct it_resp *r = login_raw(types[i], login_body());
		ck_assert_msg(r->status == 415, "Content-Type %s: expected 415, got %ld: %.300s", types[i], r->status,
			      r->body);
		expect_problem(r, 415, "unsupported_media_type");
		it_free(r);
	}
	/* a body with no Content-Type at all */
	struct it_req q = {.method = "POST", .path = "/api/auth/login", .body = login_body(), .content_type = ""};
	struct it_resp *r = it_do(&q);
	expect_problem(r, 415, "unsupported_media_type");
	it_free(r);
}
END_TEST

START_TEST(body_invalid_json_400)
{
	static const char *const bodies[] = {
		"{\"email\":",                  /* truncated */
		"{'email': 'a@b.c'}",           /* not JSON */
		"[1,2,3]",                      /* an array, not an object */
		"[{\"email\":\"a@example.com\",\"password\":\"x\"}]",
		"\"a string\"",
		"42",
		"null",
		"{\"email\":\"a@example.com\"} trailing", /* garbage after the value */
		"{\"a\":1}{\"b\":2}",
		"",                             /* empty body on a route that needs one */
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct it_req q = {.method = "POST", .path = "/api/auth/login", .json = bodies[i]};
		struct it_resp *r = it_do(&q);
		ck_assert_msg(r->status == 400, "body '%s': expected 400, got %ld: %.300s", bodies[i], r->status,
			      r->body);
		expect_problem(r, 400, "invalid_json");
		it_free(r);
	}
	/* invalid UTF-8 inside a string */
	const char bad_utf8[] = "{\"email\":\"\xff\xfe@example.com\",\"password\":\"abcdefgh1\"}";
	struct it_resp *r = login_raw("application/json", bad_utf8);
	expect_problem(r, 400, "invalid_json");
	it_free(r);
}
END_TEST

START_TEST(body_json_charset_accepted)
{
	static const char *const types[] = {
		"application/json; charset=utf-8",
		"application/json;charset=UTF-8",
		"Application/JSON",
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct it_resp *r = login_raw(types[i], login_body());
		ck_assert_msg(r->status != 415 && r->status != 400,
			      "Content-Type '%s' must be accepted as JSON, got %ld: %.300s", types[i], r->status, r->body);
		/* an unknown email: the request reached the handler, which refuses the credentials */
		expect_problem(r, 401, "invalid_credentials");
		it_free(r);
	}
}
END_TEST

static char *big_body(size_t n, char fill)
{
	char *b = malloc(n + 1);
	ck_assert_ptr_nonnull(b);
	memset(b, fill, n);
	b[n] = '\0';
	return b;
}

START_TEST(body_too_large_413)
{
	const size_t mib = 1024 * 1024;
	char *b = big_body(mib + 1, 'a');
	b[0] = '{';
	struct it_req q = {.method = "POST", .path = "/api/auth/login", .body = b, .body_len = mib + 1,
			   .content_type = "application/json"};
	struct it_resp *r = it_do(&q);
	ck_assert_msg(r->status == 413, "1 MiB + 1 byte: expected 413, got %ld: %.300s", r->status, r->body);
	expect_problem(r, 413, "payload_too_large");
	it_free(r);

	/* the same on a route that would not take a body at all: the size is checked first */
	q.path = "/api/health";
	r = it_do(&q);
	expect_problem(r, 413, "payload_too_large");
	it_free(r);

	/* exactly 1 MiB is not "over the limit": it reaches the app, which parses it */
	q.path = "/api/auth/login";
	q.body_len = mib;
	b[mib] = '\0';
	r = it_do(&q);
	ck_assert_msg(r->status != 413, "exactly 1 MiB must not be 413: %.300s", r->body);
	expect_problem(r, 400, "invalid_json");
	it_free(r);
	free(b);
}
END_TEST

/* ---------- request ids and the log ---------- */

START_TEST(request_id_everywhere)
{
	/* every kind of response carries exactly one nginx request id, and each request gets its own */
	struct it_req reqs[] = {
		{.path = "/api/health"},
		{.method = "HEAD", .path = "/api/health"},
		{.path = "/api/ready"},
		{.path = "/api/nope"},
		{.method = "POST", .path = "/api/health", .json = "{}"},
		{.method = "POST", .path = "/api/auth/login", .body = "x", .content_type = "text/plain"},
		{.method = "OPTIONS", .path = "/api/health", .origin = "https://evil.example"},
	};
	char seen[sizeof(reqs) / sizeof(reqs[0])][64];
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct it_resp *r = it_do(&reqs[i]);
		ck_assert_msg(r->status > 0, "%s: transport error %s", reqs[i].path, r->body);
		expect_request_id(r, seen[i]);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(seen[i], seen[j]), "request ids repeat: %s", seen[i]);
		it_free(r);
	}
	/* a client cannot choose its own id: nginx's $request_id wins */
	struct it_req q = {.path = "/api/nope", .headers = {"X-Request-Id: client-chosen-id"}};
	struct it_resp *r = it_do(&q);
	expect_problem(r, 404, "not_found");
	ck_assert_str_ne(it_header(r, "X-Request-Id"), "client-chosen-id");
	it_free(r);
}
END_TEST

START_TEST(request_id_logged)
{
	struct it_resp *r = it_get("/api/no%20such-thing?q=1", NULL);
	expect_problem(r, 404, "not_found");
	char id[64];
	expect_request_id(r, id);
	it_free(r);

	json_object *o = log_line_for(id, 3000);
	ck_assert_msg(o != NULL, "no line with request_id %s in the log (TG_LOG_FILE or %s/tollgate.log)", id,
		      it_stack_dir());
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, "method", &v) && !strcmp(json_object_get_string(v), "GET"),
		      "method: %s", json_object_to_json_string(o));
	ck_assert_msg(json_object_object_get_ex(o, "path", &v) && json_object_is_type(v, json_type_string) &&
			      !strncmp(json_object_get_string(v), "/api/no", 7) &&
			      !strchr(json_object_get_string(v), '?'),
		      "path (without the query): %s", json_object_to_json_string(o));
	ck_assert_msg(json_object_object_get_ex(o, "status", &v) && json_object_is_type(v, json_type_int) &&
			      json_object_get_int(v) == 404,
		      "status: %s", json_object_to_json_string(o));
	ck_assert_msg(json_object_object_get_ex(o, "duration_us", &v) && json_object_is_type(v, json_type_int) &&
			      json_object_get_int64(v) >= 0 && json_object_get_int64(v) < 60 * 1000000LL,
		      "duration_us: %s", json_object_to_json_string(o));
	ck_assert_msg(json_object_object_get_ex(o, "time", &v) && json_object_is_type(v, json_type_string),
		      "time: %s", json_object_to_json_string(o));
	ck_assert_msg(json_object_object_get_ex(o, "pid", &v) && json_object_is_type(v, json_type_int),
		      "pid: %s", json_object_to_json_string(o));
	/* the pid is a worker of this stack's master, not the master itself */
	pid_t wpid = (pid_t)json_object_get_int(v);
	pid_t master = master_pid();
	pid_t kids[MAX_KIDS];
	int n = children(master, kids);
	ck_assert_msg(wpid != master && pid_in(wpid, kids, n), "logged pid %d is not a worker of master %d",
		      (int)wpid, (int)master);
	json_object_put(o);

	/* a successful request is logged too, with its own id */
	r = it_get("/api/health", NULL);
	it_expect(r, 200, NULL);
	expect_request_id(r, id);
	it_free(r);
	o = log_line_for(id, 3000);
	ck_assert_msg(o != NULL, "no log line for the health request %s", id);
	ck_assert_msg(json_object_object_get_ex(o, "status", &v) && json_object_get_int(v) == 200, "status: %s",
		      json_object_to_json_string(o));
	json_object_put(o);
}
END_TEST

/* ---------- CORS ---------- */

START_TEST(cors_foreign_origin)
{
	const char *evil = "https://evil.example";
	struct it_req q = {.method = "OPTIONS", .path = "/api/health", .origin = evil,
			   .headers = {"Access-Control-Request-Method: GET",
				       "Access-Control-Request-Headers: authorization"}};
	struct it_resp *r = it_do(&q);
	ck_assert_msg(r->status > 0 && r->status < 500, "preflight: %ld %s", r->status, r->body);
	ck_assert_msg(!it_header(r, "Access-Control-Allow-Origin"), "a foreign origin got ACAO: %s",
		      it_header(r, "Access-Control-Allow-Origin"));
	ck_assert_msg(!it_header(r, "Access-Control-Allow-Credentials"), "a foreign origin got ACAC");
	ck_assert_msg(!it_header(r, "Access-Control-Allow-Methods"), "a foreign origin got ACAM");
	it_free(r);

	/* nor on the actual request */
	struct it_req g = {.path = "/api/health", .origin = evil};
	r = it_do(&g);
	it_expect(r, 200, NULL);
	ck_assert_msg(!it_header(r, "Access-Control-Allow-Origin"), "a foreign origin got ACAO on GET");
	it_free(r);

	/* a look-alike of the real origin is foreign too */
	char lookalike[512];
	snprintf(lookalike, sizeof(lookalike), "%s.evil.example", it_origin());
	g.origin = lookalike;
	r = it_do(&g);
	ck_assert_msg(!it_header(r, "Access-Control-Allow-Origin"), "look-alike origin %s got ACAO", lookalike);
	it_free(r);

	/* control: the stack's own origin is allowed (so the checks above can fail) */
	q.origin = it_origin();
	r = it_do(&q);
	ck_assert_msg(r->status == 204 || r->status == 200, "own-origin preflight: %ld %s", r->status, r->body);
	const char *acao = it_header(r, "Access-Control-Allow-Origin");
	ck_assert_msg(acao && !strcmp(acao, it_origin()), "own origin %s: ACAO '%s'", it_origin(),
		      acao ? acao : "(none)");
	it_free(r);

	/* an allowed origin may read the request id and Retry-After; every answer varies on Origin,
	 * allowed or not, so a shared cache never replays one origin's answer to another */
	struct it_req plans = {.method = "GET", .path = "/api/billing/plans", .origin = it_origin()};
	r = it_do(&plans);
	const char *expose = it_header(r, "Access-Control-Expose-Headers");
	ck_assert_msg(expose && strstr(expose, "X-Request-Id"), "Expose-Headers: %s", expose ? expose : "(none)");
	it_free(r);
	plans.origin = "https://evil.example";
	r = it_do(&plans);
	const char *vary = it_header(r, "Vary");
	ck_assert_msg(vary && strstr(vary, "Origin"), "Vary: %s", vary ? vary : "(none)");
	it_free(r);
}
END_TEST

/* ---------- a worker killed with SIGKILL ---------- */

START_TEST(worker_killed_is_replaced)
{
	pid_t master = master_pid();
	pid_t before[MAX_KIDS];
	int n0 = children(master, before);
	ck_assert_msg(n0 >= 2, "master %d has %d children", (int)master, n0);

	/* the victim: the main-pool worker that served a health request (from its log line) */
	struct it_resp *r = it_get("/api/health", NULL);
	it_expect(r, 200, NULL);
	char id[64];
	expect_request_id(r, id);
	it_free(r);
	pid_t victim = worker_of(id);
	if (!pid_in(victim, before, n0))
		victim = before[0];
	ck_assert_int_eq(kill(victim, SIGKILL), 0);

	/* the service goes on: at most the request in flight may fail, none after it */
	int64_t t0 = now_ms();
	int failures = 0, last_failure = -1;
	char why[600] = "";
	for (int i = 0; i < 50; i++) {
		r = it_get("/api/health", NULL);
		if (r->status != 200) {
			failures++;
			last_failure = i;
			snprintf(why, sizeof(why), "request %d: %ld %.400s", i, r->status, r->body);
		}
		it_free(r);
	}
	int64_t took = now_ms() - t0;
	ck_assert_msg(failures == 0 || (failures == 1 && last_failure == 0),
		      "%d of 50 requests after the kill failed (last: %s)", failures, why);
	ck_assert_msg(took < 15000, "50 health requests after the kill took %lld ms", (long long)took);

	/* the master replaces the worker: same number of children, the victim gone, a new pid */
	pid_t after[MAX_KIDS];
	int n = 0;
	bool replaced = false;
	int64_t deadline = now_ms() + 3000;
	do {
		n = children(master, after);
		bool has_new = false;
		for (int i = 0; i < n; i++)
			if (!pid_in(after[i], before, n0))
				has_new = true;
		replaced = n == n0 && !pid_in(victim, after, n) && has_new;
		if (!replaced)
			it_sleep_ms(100);
	} while (!replaced && now_ms() < deadline);
	char b1[2048], b2[2048];
	format_pids(b1, sizeof(b1), before, n0);
	format_pids(b2, sizeof(b2), after, n);
	ck_assert_msg(replaced, "worker %d not replaced within 3 s: before [%s], now [%s]", (int)victim, b1, b2);
	ck_assert_int_eq(master_pid(), master);
}
END_TEST

/* ---------- PostgreSQL stopped and started again ---------- */

static bool pg_up(void)
{
	return it_sh("scripts/stack psql '%s' -qtAc 'SELECT 1' >/dev/null 2>&1", it_stack_dir()) == 0;
}

/* Unchecked teardown (runs in the parent, even when the test failed or timed out). */
static void pg_restore(void)
{
	if (pg_up())
		return;
	fprintf(stderr, "test_foundation: PostgreSQL was left stopped; starting it again\n");
	if (it_sh("scripts/stack pg-start '%s' >&2", it_stack_dir()) != 0)
		fprintf(stderr, "test_foundation: pg-start failed\n");
}

START_TEST(postgres_down_and_back)
{
	pid_t master = master_pid();
	pid_t before[MAX_KIDS];
	int n0 = children(master, before);
	struct it_resp *r = it_get("/api/ready", NULL);
	it_expect(r, 200, NULL);
	it_free(r);

	ck_assert_msg(it_sh("scripts/stack pg-stop '%s' >/dev/null 2>&1", it_stack_dir()) == 0, "pg-stop failed");
	ck_assert_msg(!pg_up(), "PostgreSQL still answers after pg-stop");

	/* several requests, so that more than one worker notices */
	for (int i = 0; i < 8; i++) {
		r = it_get("/api/ready", NULL);
		ck_assert_msg(r->status == 503, "ready #%d with PostgreSQL down: %ld %.300s", i, r->status, r->body);
		expect_problem(r, 503, "unavailable");
		const char *ra = it_header(r, "Retry-After");
		ck_assert_msg(ra && strtol(ra, NULL, 10) > 0, "503 without a positive Retry-After: '%s'", ra ? ra : "(none)");
		ck_assert_msg(header_count(r, "Retry-After") == 1, "Retry-After repeated:\n%s", r->headers);
		it_free(r);
		r = it_get("/api/health", NULL);
		ck_assert_msg(r->status == 200, "health with PostgreSQL down: %ld %.300s", r->status, r->body);
		it_free(r);
	}
	/* a route that needs the database (on the password pool) answers 503 too, not 500 */
	for (int i = 0; i < 3; i++) {
		r = it_post("/api/auth/login", NULL, login_body());
		ck_assert_msg(r->status == 503, "login with PostgreSQL down: %ld %.300s", r->status, r->body);
		expect_problem(r, 503, "unavailable");
		it_free(r);
	}

	ck_assert_msg(it_sh("scripts/stack pg-start '%s' >/dev/null 2>&1", it_stack_dir()) == 0, "pg-start failed");
	int64_t t0 = now_ms();
	int streak = 0;
	long last = 0;
	char last_body[400] = "";
	while (streak < 12 && now_ms() - t0 < 15000) {
		r = it_get("/api/ready", NULL);
		last = r->status;
		snprintf(last_body, sizeof(last_body), "%s", r->body);
		streak = r->status == 200 ? streak + 1 : 0;
		it_free(r);
		if (streak == 0)
			it_sleep_ms(200);
	}
	ck_assert_msg(streak >= 12, "ready did not come back within 15 s of pg-start (last %ld: %s)", last, last_body);
	fprintf(stderr, "test_foundation: ready again %lld ms after pg-start\n", (long long)(now_ms() - t0));
	/* the password pool is back as well: an unknown user is refused, not 503 */
	for (int i = 0; i < 4; i++) {
		r = it_post("/api/auth/login", NULL, login_body());
		expect_problem(r, 401, "invalid_credentials");
		it_free(r);
	}

	/* without restarting tollgate: same master, and the workers recovered by themselves */
	ck_assert_int_eq(master_pid(), master);
	pid_t after[MAX_KIDS];
	int n = children(master, after);
	char b1[2048], b2[2048];
	format_pids(b1, sizeof(b1), before, n0);
	format_pids(b2, sizeof(b2), after, n);
	ck_assert_msg(n == n0 && !memcmp(before, after, sizeof(pid_t) * (size_t)n),
		      "workers were restarted: before [%s], after [%s]", b1, b2);
}
END_TEST

/* ---------- SIGHUP under load ---------- */

struct loader {
	pthread_t thread;
	int64_t deadline_ms;
	bool fresh_connections;
	int ok, bad_status, transport_errors;
	char first_problem[512];
	char body[512];
	size_t body_len;
};

static size_t keep_head(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct loader *l = ud;
	size_t n = size * nmemb;
	size_t room = sizeof(l->body) - 1 - l->body_len;
	size_t take = n < room ? n : room;
	memcpy(l->body + l->body_len, ptr, take);
	l->body_len += take;
	l->body[l->body_len] = '\0';
	return n;
}

static void *load_loop(void *p)
{
	struct loader *l = p;
	CURL *c = curl_easy_init();
	if (!c) {
		l->transport_errors++;
		snprintf(l->first_problem, sizeof(l->first_problem), "curl_easy_init failed");
		return NULL;
	}
	char url[1024];
	snprintf(url, sizeof(url), "%s/api/health", it_url());
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_head);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, l);
	if (l->fresh_connections)
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	while (now_ms() < l->deadline_ms) {
		l->body_len = 0;
		l->body[0] = '\0';
		CURLcode cc = curl_easy_perform(c);
		long status = 0;
		if (cc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cc != CURLE_OK) {
			if (!l->transport_errors++ && !l->bad_status)
				snprintf(l->first_problem, sizeof(l->first_problem), "transport: %s",
					 curl_easy_strerror(cc));
		} else if (status != 200) {
			if (!l->bad_status++ && !l->transport_errors)
				snprintf(l->first_problem, sizeof(l->first_problem), "status %ld: %.400s", status, l->body);
		} else {
			l->ok++;
		}
	}
	curl_easy_cleanup(c);
	return NULL;
}

/* Waits (up to timeout_ms) until master has want children, none of them in old[nold]. */
static bool wait_new_generation(pid_t master, const pid_t *old, int nold, int want, int timeout_ms,
				pid_t now[MAX_KIDS], int *n)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		*n = children(master, now);
		bool fresh = *n == want;
		for (int i = 0; fresh && i < *n; i++)
			if (pid_in(now[i], old, nold))
				fresh = false;
		if (fresh)
			return true;
		if (now_ms() > deadline)
			return false;
		it_sleep_ms(100);
	}
}

START_TEST(sighup_under_load)
{
	pid_t master = master_pid();
	pid_t before[MAX_KIDS];
	int n0 = children(master, before);
	int want = configured_children(master);
	ck_assert_msg(want >= 2, "cannot tell the configured pool size from master %d's start line", (int)master);

	enum { THREADS = 8 };
	struct loader l[THREADS];
	memset(l, 0, sizeof(l));
	int64_t start = now_ms();
	for (int i = 0; i < THREADS; i++) {
		l[i].deadline_ms = start + 4000;
		l[i].fresh_connections = i % 2;
		ck_assert_int_eq(pthread_create(&l[i].thread, NULL, load_loop, &l[i]), 0);
	}
	it_sleep_ms(1000);
	int k1 = kill(master, SIGHUP);
	it_sleep_ms(1300);
	int k2 = kill(master, SIGHUP);
	for (int i = 0; i < THREADS; i++)
		pthread_join(l[i].thread, NULL);
	ck_assert_int_eq(k1, 0);
	ck_assert_int_eq(k2, 0);

	int ok = 0, bad = 0, errs = 0;
	const char *first = NULL;
	for (int i = 0; i < THREADS; i++) {
		ok += l[i].ok;
		bad += l[i].bad_status;
		errs += l[i].transport_errors;
		if (!first && l[i].first_problem[0])
			first = l[i].first_problem;
	}
	fprintf(stderr, "test_foundation: reload under load: %d ok, %d non-200, %d transport errors in %lld ms\n",
		ok, bad, errs, (long long)(now_ms() - start));
	ck_assert_msg(bad == 0 && errs == 0, "reload lost requests: %d non-200, %d transport errors of %d (first: %s)",
		      bad, errs, ok + bad + errs, first ? first : "");
	ck_assert_msg(ok >= 100, "only %d requests in 4 s: the load did not happen", ok);

	/* a new generation replaced every child; same count; same master */
	pid_t after[MAX_KIDS];
	int n = 0;
	bool fresh = wait_new_generation(master, before, n0, want, 10000, after, &n);
	char b1[2048], b2[2048];
	format_pids(b1, sizeof(b1), before, n0);
	format_pids(b2, sizeof(b2), after, n);
	ck_assert_msg(fresh, "after two SIGHUPs: want %d new children, before [%s], now [%s]", want, b1, b2);
	ck_assert_int_eq(master_pid(), master);
	struct it_resp *r = it_get("/api/ready", NULL);
	it_expect(r, 200, NULL);
	it_free(r);
}
END_TEST

/* Two reloads back to back (a config tool that reloads twice, two operators): every old child goes
 * away and the pool converges on the configured size. The second SIGHUP arrives while the first
 * generation is still being forked, so its children get their SIGTERM within moments of fork(). */
START_TEST(sighup_twice_back_to_back)
{
	pid_t master = master_pid();
	int want = configured_children(master);
	ck_assert_msg(want >= 2, "cannot tell the configured pool size from master %d's start line", (int)master);
	static const long gap_us[] = {0, 200, 500, 1000, 2000};
	int64_t t0 = now_ms();
	for (int round = 0; round < 30; round++) {
		pid_t cur[MAX_KIDS];
		int nc = children(master, cur);
		ck_assert_int_eq(kill(master, SIGHUP), 0);
		if (gap_us[round % 5])
			usleep((useconds_t)gap_us[round % 5]);
		ck_assert_int_eq(kill(master, SIGHUP), 0);
		/* no traffic while waiting: a child that missed its SIGTERM stays visible */
		pid_t after[MAX_KIDS];
		int n = 0;
		bool fresh = wait_new_generation(master, cur, nc, want, 5000, after, &n);
		char b1[2048], b2[2048];
		format_pids(b1, sizeof(b1), cur, nc);
		format_pids(b2, sizeof(b2), after, n);
		ck_assert_msg(fresh,
			      "round %d (SIGHUPs %ld us apart): 5 s later the pool is not %d new children: before [%s], "
			      "now [%s] (old children that ignored SIGTERM?)",
			      round, gap_us[round % 5], want, b1, b2);
	}
	fprintf(stderr, "test_foundation: 30 double reloads converged in %lld ms\n", (long long)(now_ms() - t0));
	struct it_resp *r = it_get("/api/health", NULL);
	it_expect(r, 200, NULL);
	it_free(r);
	ck_assert_int_eq(master_pid(), master);
}
END_TEST

/* Unchecked teardown of the reload cases (parent process, also after a failure): one more, lone
 * SIGHUP, so that children left over by a failed case get a SIGTERM they can act on and the pool is
 * back to its configured size for the suites that run after this one. */
static void reload_settle(void)
{
	const char *file = getenv("TG_MASTER_PID_FILE");
	FILE *f = file ? fopen(file, "r") : NULL;
	long pid = 0;
	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	if (pid <= 1 || kill((pid_t)pid, 0) != 0)
		return;
	int want = configured_children((pid_t)pid);
	pid_t kids[MAX_KIDS];
	if (want > 0 && children((pid_t)pid, kids) == want)
		return;
	fprintf(stderr, "test_foundation: pool is not at its configured size; one more SIGHUP\n");
	kill((pid_t)pid, SIGHUP);
	for (int i = 0; i < 50 && children((pid_t)pid, kids) != want; i++)
		it_sleep_ms(100);
}

static Suite *suite(void)
{
	Suite *s = suite_create("foundation");

	TCase *basics = tcase_create("basics");
	tcase_set_timeout(basics, 60);
	tcase_add_test(basics, health_get);
	tcase_add_test(basics, health_head);
	tcase_add_test(basics, ready_ok);
	tcase_add_test(basics, unknown_path_404);
	tcase_add_test(basics, method_not_allowed_405);
	tcase_add_test(basics, body_content_type_415);
	tcase_add_test(basics, body_invalid_json_400);
	tcase_add_test(basics, body_json_charset_accepted);
	tcase_add_test(basics, body_too_large_413);
	tcase_add_test(basics, request_id_everywhere);
	tcase_add_test(basics, request_id_logged);
	tcase_add_test(basics, cors_foreign_origin);
	suite_add_tcase(s, basics);

	/* destructive, last */
	TCase *kill_tc = tcase_create("worker_killed");
	tcase_set_timeout(kill_tc, 60);
	tcase_add_test(kill_tc, worker_killed_is_replaced);
	suite_add_tcase(s, kill_tc);

	TCase *pg = tcase_create("postgres_restart");
	tcase_set_timeout(pg, 90);
	tcase_add_unchecked_fixture(pg, NULL, pg_restore);
	tcase_add_test(pg, postgres_down_and_back);
	suite_add_tcase(s, pg);

	TCase *reload = tcase_create("reload");
	tcase_set_timeout(reload, 180);
	tcase_add_unchecked_fixture(reload, NULL, reload_settle);
	tcase_add_test(reload, sighup_under_load);
	tcase_add_test(reload, sighup_twice_back_to_back);
	suite_add_tcase(s, reload);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
