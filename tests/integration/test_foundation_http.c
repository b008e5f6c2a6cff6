/* test_foundation_http.c — the foundation through nginx: health and readiness, problem+json for
 * 404/405/413/415/400, request ids (header, body, log line) and CORS.
 * (The operational promises — a killed worker, PostgreSQL going away, SIGHUP under load — are in
 * test_foundation_process.c.) */
#include "foundation_helpers.h"
#include "itest.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---------- health and readiness ---------- */

START_TEST(health_get)
{
	struct it_resp *r = it_get("/api/health", NULL);
	it_expect(r, 200, NULL);
	it_expect_content_type(r, "application/json");
	ck_assert_msg(r->json && json_object_is_type(r->json, json_type_object), "not a JSON object: %s", r->body);
	const char *status = it_str(r, "status");
	ck_assert_msg(status && !strcmp(status, "ok"), "status: %s", r->body);
	json_object *version = it_at(r, "version");
	ck_assert_msg(version && json_object_is_type(version, json_type_string) && *json_object_get_string(version),
		      "version must be a non-empty string: %s", r->body);
	char id[64];
	it_expect_request_id(r, id);
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
	it_expect_content_type(r, "application/json");
	char id[64];
	it_expect_request_id(r, id);
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
	it_expect_content_type(r, "application/json");
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
		it_expect_problem(r, 404, "not_found");
		it_free(r);
	}
	/* other methods on an unknown path are 404 too, not 405 */
	static const char *const methods[] = {"POST", "DELETE", "PUT"};
	for (size_t i = 0; i < 3; i++) {
		struct it_req q = {.method = methods[i], .path = "/api/nope", .json = "{}"};
		struct it_resp *r = it_do(&q);
		ck_assert_msg(r->status == 404, "%s /api/nope: got %ld", methods[i], r->status);
		it_expect_problem(r, 404, "not_found");
		it_free(r);
	}
}
END_TEST

START_TEST(method_not_allowed_405)
{
	struct it_resp *r = it_post("/api/health", NULL, "{}");
	it_expect_problem(r, 405, "method_not_allowed");
	const char *allow = it_header(r, "Allow");
	ck_assert_msg(allow && !strcmp(allow, "GET, HEAD, OPTIONS"), "Allow: '%s', want 'GET, HEAD, OPTIONS'", allow ? allow : "(none)");
	it_free(r);

	struct it_req q = {.method = "DELETE", .path = "/api/ready"};
	r = it_do(&q);
	it_expect_problem(r, 405, "method_not_allowed");
	allow = it_header(r, "Allow");
	ck_assert_msg(allow && !strcmp(allow, "GET, HEAD, OPTIONS"), "Allow: '%s', want 'GET, HEAD, OPTIONS'", allow ? allow : "(none)");
	it_free(r);

	/* a POST-only route lists only POST */
	r = it_get("/api/auth/login", NULL);
	it_expect_problem(r, 405, "method_not_allowed");
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
		it_expect_problem(r, 415, "unsupported_media_type");
		it_free(r);
	}
	/* a body with no Content-Type at all */
	struct it_req q = {.method = "POST", .path = "/api/auth/login", .body = login_body(), .content_type = ""};
	struct it_resp *r = it_do(&q);
	it_expect_problem(r, 415, "unsupported_media_type");
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
		it_expect_problem(r, 400, "invalid_json");
		it_free(r);
	}
	/* invalid UTF-8 inside a string */
	const char bad_utf8[] = "{\"email\":\"\xff\xfe@example.com\",\"password\":\"abcdefgh1\"}";
	struct it_resp *r = login_raw("application/json", bad_utf8);
	it_expect_problem(r, 400, "invalid_json");
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
		it_expect_problem(r, 401, "invalid_credentials");
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
	it_expect_problem(r, 413, "payload_too_large");
	it_free(r);

	/* the same on a route that would not take a body at all: the size is checked first */
	q.path = "/api/health";
	r = it_do(&q);
	it_expect_problem(r, 413, "payload_too_large");
	it_free(r);

	/* exactly 1 MiB is not "over the limit": it reaches the app, which parses it */
	q.path = "/api/auth/login";
	q.body_len = mib;
	b[mib] = '\0';
	r = it_do(&q);
	ck_assert_msg(r->status != 413, "exactly 1 MiB must not be 413: %.300s", r->body);
	it_expect_problem(r, 400, "invalid_json");
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
		it_expect_request_id(r, seen[i]);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(seen[i], seen[j]), "request ids repeat: %s", seen[i]);
		it_free(r);
	}
	/* a client cannot choose its own id: nginx's $request_id wins */
	struct it_req q = {.path = "/api/nope", .headers = {"X-Request-Id: client-chosen-id"}};
	struct it_resp *r = it_do(&q);
	it_expect_problem(r, 404, "not_found");
	ck_assert_str_ne(it_header(r, "X-Request-Id"), "client-chosen-id");
	it_free(r);
}
END_TEST

START_TEST(request_id_logged)
{
	struct it_resp *r = it_get("/api/no%20such-thing?q=1", NULL);
	it_expect_problem(r, 404, "not_found");
	char id[64];
	it_expect_request_id(r, id);
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
	it_expect_request_id(r, id);
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
	/* a preflight is 204 whatever the origin; a foreign one just gets no CORS headers */
	it_expect(r, 204, NULL);
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
	it_expect(r, 204, NULL);
	ck_assert_msg(r->body_len == 0, "a 204 preflight with a body: %s", r->body);
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

static Suite *suite(void)
{
	Suite *s = suite_create("foundation_http");

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
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
