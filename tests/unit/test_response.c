/* test_response.c — problem documents, JSON bodies, cookies and the serialised CGI response. */
#include "unit.h"

#include "tollgate/arena.h"
#include "tollgate/http.h"
#include "tollgate/status.h"

static struct arena *A;
static struct http_req req;
static struct http_res res;

static void setup(void)
{
	A = arena_new(0);
	ck_assert_ptr_nonnull(A);
	ck_assert_int_eq(http_req_init(&req, A,
				       UNIT_ENV(A, "REQUEST_METHOD=GET", "REQUEST_URI=/api/x", "REQUEST_ID=req-42"),
				       NULL, 32),
			 TG_OK);
	http_res_init(&res);
}

static void teardown(void)
{
	arena_destroy(A);
	A = NULL;
}

static json_object *parse_body(void)
{
	ck_assert_ptr_nonnull(res.body);
	ck_assert_uint_eq(strlen(res.body), res.body_len);
	json_object *o = json_tokener_parse(res.body);
	ck_assert_msg(o && json_object_is_type(o, json_type_object), "not a JSON object: %s", res.body);
	return o;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, key, &v), "missing %s", key);
	ck_assert_msg(json_object_is_type(v, json_type_string), "%s not a string", key);
	return json_object_get_string(v);
}

/* The object has exactly these keys (NULL-terminated list). */
static void assert_keys(json_object *o, ...)
{
	va_list ap;
	int n = 0;
	va_start(ap, o);
	for (const char *k; (k = va_arg(ap, const char *)); n++)
		ck_assert_msg(json_object_object_get_ex(o, k, NULL), "missing key %s in %s", k,
			      json_object_to_json_string(o));
	va_end(ap);
	ck_assert_msg(json_object_object_length(o) == n, "unexpected keys in %s", json_object_to_json_string(o));
}

static char *serialize(const char *request_id, size_t *len)
{
	char *out = NULL;
	size_t n = 0;
	ck_assert_int_eq(http_res_serialize(&res, A, request_id, &out, &n), 0);
	ck_assert_ptr_nonnull(out);
	if (len)
		*len = n;
	return arena_memdup(A, out, n); /* NUL-terminated copy for string asserts */
}

/* ---- defaults ---- */

START_TEST(test_init)
{
	memset(&res, 0x5a, sizeof(res));
	http_res_init(&res);
	ck_assert_int_eq(res.status, 200);
	ck_assert_ptr_null(res.content_type);
	ck_assert_ptr_null(res.headers);
	ck_assert_ptr_null(res.body);
	ck_assert_uint_eq(res.body_len, 0);
	ck_assert_ptr_null(res.problem_code);
}
END_TEST

/* ---- problems ---- */

START_TEST(test_problem_shape)
{
	http_res_problem(&res, &req, 404, "not_found", "No such session.");
	ck_assert_int_eq(res.status, 404);
	ck_assert_str_eq(res.content_type, "application/problem+json");
	ck_assert_str_eq(res.problem_code, "not_found");
	json_object *o = parse_body();
	assert_keys(o, "type", "title", "status", "code", "detail", "request_id", NULL);
	ck_assert_str_eq(get_str(o, "type"), "https://tollgate.invalid/problems/not_found");
	ck_assert_str_eq(get_str(o, "title"), "Not found");
	json_object *st;
	ck_assert(json_object_object_get_ex(o, "status", &st));
	ck_assert(json_object_is_type(st, json_type_int));
	ck_assert_int_eq(json_object_get_int(st), 404);
	ck_assert_str_eq(get_str(o, "code"), "not_found");
	ck_assert_str_eq(get_str(o, "detail"), "No such session.");
	ck_assert_str_eq(get_str(o, "request_id"), "req-42");
	json_object_put(o);
	/* the type URI is written as is, without escaped slashes */
	ck_assert_ptr_nonnull(strstr(res.body, "\"https://tollgate.invalid/problems/not_found\""));
}
END_TEST

START_TEST(test_problem_api_example)
{
	/* the example in API.md */
	http_res_problem(&res, &req, 401, "invalid_credentials", "…");
	json_object *o = parse_body();
	ck_assert_str_eq(get_str(o, "type"), "https://tollgate.invalid/problems/invalid_credentials");
	ck_assert_str_eq(get_str(o, "title"), "Invalid email or password");
	ck_assert_str_eq(get_str(o, "detail"), "…");
	ck_assert(!json_object_object_get_ex(o, "errors", NULL));
	json_object_put(o);
}
END_TEST

/* Without nginx's REQUEST_ID (or a valid client one) the server makes its own: every
 * response and problem carries one. */
START_TEST(test_problem_without_detail_or_request_id)
{
	ck_assert_int_eq(http_req_init(&req, A, UNIT_ENV(A, "REQUEST_METHOD=GET", "REQUEST_URI=/",
							  "HTTP_X_REQUEST_ID=bad id\r\nX-Evil: 1"), NULL, 32), TG_OK);
	http_res_problem(&res, &req, 500, "internal", NULL);
	json_object *o = parse_body();
	assert_keys(o, "type", "title", "status", "code", "request_id", NULL);
	ck_assert_str_eq(get_str(o, "title"), "Internal server error");
	const char *id = get_str(o, "request_id");
	ck_assert_uint_eq(strlen(id), 32);
	ck_assert_uint_eq(strspn(id, "0123456789abcdef"), 32);
	json_object_put(o);
}
END_TEST

START_TEST(test_problem_detail_is_escaped)
{
	const char *detail = "quote \" backslash \\ newline \n tab \t ctl \x01 end";
	http_res_problem(&res, &req, 400, "invalid_json", detail);
	ck_assert_ptr_null(memchr(res.body, '\n', res.body_len));
	json_object *o = parse_body();
	ck_assert_str_eq(get_str(o, "detail"), detail);
	json_object_put(o);
}
END_TEST

START_TEST(test_problem_contract_codes)
{
	static const struct {
		const char *code;
		int status;
	} v[] = {
		{"invalid_json", 400}, {"unauthorized", 401}, {"forbidden", 403}, {"not_found", 404},
		{"method_not_allowed", 405}, {"conflict", 409}, {"payload_too_large", 413},
		{"unsupported_media_type", 415}, {"validation_failed", 422}, {"rate_limited", 429},
		{"internal", 500}, {"unavailable", 503},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_msg(strcmp(http_problem_title(v[i].code), "Error") != 0, "no title for %s", v[i].code);
		ck_assert_msg(strcmp(http_status_text(v[i].status), "Unknown") != 0, "no text for %d", v[i].status);
		http_res_init(&res);
		http_res_problem(&res, &req, v[i].status, v[i].code, NULL);
		json_object *o = parse_body();
		ck_assert_str_eq(get_str(o, "code"), v[i].code);
		ck_assert(!json_object_object_get_ex(o, "errors", NULL)); /* errors only on 422 via invalid */
		json_object_put(o);
	}
	ck_assert_str_eq(http_problem_title("no_such_code"), "Error");
}
END_TEST

START_TEST(test_invalid_has_errors)
{
	json_object *errors = json_object_new_object();
	json_object_object_add(errors, "password", json_object_new_string("must be at least 8 characters"));
	json_object_object_add(errors, "email", json_object_new_string("must look like an address"));
	http_res_invalid(&res, &req, errors); /* takes ownership (LSan would report a leak) */
	ck_assert_int_eq(res.status, 422);
	ck_assert_str_eq(res.content_type, "application/problem+json");
	ck_assert_str_eq(res.problem_code, "validation_failed");
	json_object *o = parse_body();
	assert_keys(o, "type", "title", "status", "code", "detail", "request_id", "errors", NULL);
	ck_assert_str_eq(get_str(o, "code"), "validation_failed");
	ck_assert_str_eq(get_str(o, "type"), "https://tollgate.invalid/problems/validation_failed");
	json_object *e;
	ck_assert(json_object_object_get_ex(o, "errors", &e));
	ck_assert(json_object_is_type(e, json_type_object));
	ck_assert_int_eq(json_object_object_length(e), 2);
	ck_assert_str_eq(get_str(e, "password"), "must be at least 8 characters");
	ck_assert_str_eq(get_str(e, "email"), "must look like an address");
	json_object_put(o);
}
END_TEST

/* ---- JSON and empty bodies ---- */

START_TEST(test_json_body)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("ok"));
	json_object_object_add(o, "url", json_object_new_string("https://x.example/a/b"));
	http_res_json(&res, A, 201, o); /* drops the reference */
	ck_assert_int_eq(res.status, 201);
	ck_assert_str_eq(res.content_type, "application/json");
	ck_assert_str_eq(res.body, "{\"status\":\"ok\",\"url\":\"https://x.example/a/b\"}");
	ck_assert_uint_eq(res.body_len, strlen(res.body));
	ck_assert_ptr_null(res.problem_code);
}
END_TEST

START_TEST(test_empty)
{
	http_res_json(&res, A, 200, json_object_new_object());
	http_res_empty(&res, 204);
	ck_assert_int_eq(res.status, 204);
	ck_assert_ptr_null(res.content_type);
	ck_assert_ptr_null(res.body);
	ck_assert_uint_eq(res.body_len, 0);
	ck_assert_str_eq(serialize("r", NULL), "Status: 204 No Content\r\nX-Request-Id: r\r\n\r\n");
}
END_TEST

/* ---- headers and serialisation ---- */

START_TEST(test_serialize_exact)
{
	http_res_json(&res, A, 200, json_object_new_object());
	http_res_header(&res, A, "Cache-Control", "no-store");
	http_res_header(&res, A, "X-B", "2");
	http_res_header(&res, A, "X-A", "1");
	size_t n;
	char *out = serialize("req-42", &n);
	ck_assert_str_eq(out, "Status: 200 OK\r\n"
			      "Content-Type: application/json\r\n"
			      "X-Request-Id: req-42\r\n"
			      "Cache-Control: no-store\r\n"
			      "X-B: 2\r\n"
			      "X-A: 1\r\n"
			      "\r\n"
			      "{}");
	ck_assert_uint_eq(n, strlen(out));
}
END_TEST

START_TEST(test_serialize_problem)
{
	http_res_problem(&res, &req, 405, "method_not_allowed", NULL);
	http_res_header(&res, A, "Allow", "GET, HEAD");
	char *out = serialize(req.request_id, NULL);
	const char *head = "Status: 405 Method Not Allowed\r\n"
			   "Content-Type: application/problem+json\r\n"
			   "X-Request-Id: req-42\r\n"
			   "Allow: GET, HEAD\r\n"
			   "\r\n";
	ck_assert_msg(strncmp(out, head, strlen(head)) == 0, "got %s", out);
	ck_assert_str_eq(out + strlen(head), res.body);
}
END_TEST

START_TEST(test_serialize_without_request_id)
{
	http_res_empty(&res, 204);
	ck_assert_str_eq(serialize(NULL, NULL), "Status: 204 No Content\r\n\r\n");
	ck_assert_str_eq(serialize("", NULL), "Status: 204 No Content\r\n\r\n");
}
END_TEST

START_TEST(test_serialize_status_texts)
{
	static const struct {
		int status;
		const char *line;
	} v[] = {
		{201, "Status: 201 Created\r\n"}, {400, "Status: 400 Bad Request\r\n"},
		{401, "Status: 401 Unauthorized\r\n"}, {413, "Status: 413 Content Too Large\r\n"},
		{415, "Status: 415 Unsupported Media Type\r\n"}, {422, "Status: 422 Unprocessable Content\r\n"},
		{429, "Status: 429 Too Many Requests\r\n"}, {503, "Status: 503 Service Unavailable\r\n"},
		{299, "Status: 299 Unknown\r\n"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		http_res_empty(&res, v[i].status);
		char *out = serialize(NULL, NULL);
		ck_assert_msg(strncmp(out, v[i].line, strlen(v[i].line)) == 0, "got %s", out);
	}
}
END_TEST

START_TEST(test_serialize_binary_body)
{
	res.status = 200;
	res.content_type = "application/octet-stream";
	res.body = "a\0b\r\n";
	res.body_len = 5;
	char *out = NULL;
	size_t n = 0;
	ck_assert_int_eq(http_res_serialize(&res, A, NULL, &out, &n), 0);
	const char *head = "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n";
	ck_assert_uint_eq(n, strlen(head) + 5);
	ck_assert_mem_eq(out, head, strlen(head));
	ck_assert_mem_eq(out + strlen(head), "a\0b\r\n", 5);
}
END_TEST

START_TEST(test_serialize_large)
{
	/* many long headers and a large body: the buffer is sized from all of them */
	char *val = arena_alloc(A, 5001);
	memset(val, 'v', 5000);
	for (int i = 0; i < 20; i++)
		http_res_header(&res, A, arena_printf(A, "X-Long-%d", i), val);
	size_t blen = 300000;
	char *body = arena_alloc(A, blen + 1);
	memset(body, 'b', blen);
	res.status = 200;
	res.content_type = "text/plain";
	res.body = body;
	res.body_len = blen;
	char *long_id = arena_alloc(A, 3001);
	memset(long_id, 'i', 3000);
	size_t n;
	char *out = serialize(long_id, &n);
	char *sep = strstr(out, "\r\n\r\n");
	ck_assert_ptr_nonnull(sep);
	ck_assert_uint_eq(n - (size_t)(sep + 4 - out), blen);
	ck_assert_ptr_nonnull(strstr(out, "X-Long-19: vvvv"));
}
END_TEST

START_TEST(test_serialize_long_content_type)
{
	/* a content type longer than the fixed slack must not eat into the body's room */
	char *ct = arena_alloc(A, 1001);
	memset(ct, 'c', 1000);
	res.status = 200;
	res.content_type = ct;
	res.body = "0123456789";
	res.body_len = 10;
	size_t n;
	char *out = serialize(NULL, &n);
	ck_assert_uint_eq(n, strlen("Status: 200 OK\r\nContent-Type: ") + 1000 + 4 + 10);
	ck_assert_str_eq(out + n - 14, "\r\n\r\n0123456789");

	/* with a body big enough that the header lines fit in its share, the body must still fit */
	char *body = arena_alloc(A, 2001);
	memset(body, 'b', 2000);
	res.body = body;
	res.body_len = 2000;
	out = serialize(NULL, &n);
	ck_assert_uint_eq(n, strlen("Status: 200 OK\r\nContent-Type: ") + 1000 + 4 + 2000);
	ck_assert_str_eq(out + n - 2000, body);
}
END_TEST

START_TEST(test_header_copies)
{
	char name[] = "X-Mutable", value[] = "before";
	http_res_header(&res, A, name, value);
	name[0] = 'Y';
	memcpy(value, "after!", sizeof(value));
	ck_assert_str_eq(res.headers->name, "X-Mutable");
	ck_assert_str_eq(res.headers->value, "before");
	ck_assert_ptr_null(res.headers->next);
}
END_TEST

/* ---- cookies ---- */

/* The Set-Cookie headers in order; returns the count. */
static int cookies(const char *out[], int max)
{
	int n = 0;
	for (const struct http_header *h = res.headers; h; h = h->next)
		if (!strcmp(h->name, "Set-Cookie") && n < max)
			out[n++] = h->value;
	return n;
}

static bool has_attr(const char *cookie, const char *attr)
{
	/* attributes are "; "-separated after the name=value pair */
	const char *p = cookie;
	size_t al = strlen(attr);
	while ((p = strstr(p, "; "))) {
		p += 2;
		if (!strncmp(p, attr, al) && (p[al] == ';' || p[al] == '\0'))
			return true;
	}
	return false;
}

START_TEST(test_cookie_set)
{
	http_res_cookie(&res, A, "tg_refresh", "tok_ABC-123", "/api/auth", 2592000);
	const char *c[4];
	ck_assert_int_eq(cookies(c, 4), 1);
	ck_assert_msg(!strncmp(c[0], "tg_refresh=tok_ABC-123; ", 24), "%s", c[0]);
	ck_assert(has_attr(c[0], "HttpOnly"));
	ck_assert(has_attr(c[0], "Secure"));
	ck_assert(has_attr(c[0], "SameSite=Strict"));
	ck_assert(has_attr(c[0], "Path=/api/auth"));
	ck_assert(has_attr(c[0], "Max-Age=2592000"));
	ck_assert_ptr_null(strstr(c[0], "Domain="));
	ck_assert_str_eq(c[0], "tg_refresh=tok_ABC-123; Path=/api/auth; Max-Age=2592000; HttpOnly; Secure; SameSite=Strict");
}
END_TEST

START_TEST(test_cookie_session)
{
	http_res_cookie(&res, A, "tg_refresh", "v", "/api/auth", -1);
	const char *c[4];
	ck_assert_int_eq(cookies(c, 4), 1);
	ck_assert_ptr_null(strstr(c[0], "Max-Age"));
	ck_assert_ptr_null(strstr(c[0], "Expires"));
	ck_assert(has_attr(c[0], "HttpOnly"));
	ck_assert(has_attr(c[0], "Secure"));
	ck_assert(has_attr(c[0], "SameSite=Strict"));
	ck_assert(has_attr(c[0], "Path=/api/auth"));
}
END_TEST

START_TEST(test_cookie_delete)
{
	http_res_cookie(&res, A, "tg_refresh", "old-token-value", "/api/auth", 0);
	const char *c[4];
	ck_assert_int_eq(cookies(c, 4), 1);
	ck_assert_msg(!strncmp(c[0], "tg_refresh=;", 12), "%s", c[0]); /* the value is not echoed */
	ck_assert_ptr_null(strstr(c[0], "old-token-value"));
	ck_assert(has_attr(c[0], "Max-Age=0"));
	ck_assert(has_attr(c[0], "Path=/api/auth")); /* same path, or the browser keeps the cookie */
	ck_assert(has_attr(c[0], "HttpOnly"));
	ck_assert(has_attr(c[0], "Secure"));
	ck_assert(has_attr(c[0], "SameSite=Strict"));
}
END_TEST

START_TEST(test_cookie_serialized_with_other_headers)
{
	http_res_json(&res, A, 200, json_object_new_object());
	http_res_header(&res, A, "Cache-Control", "no-store");
	http_res_cookie(&res, A, "tg_refresh", "x", "/api/auth", 60);
	char *out = serialize("id", NULL);
	ck_assert_str_eq(out, "Status: 200 OK\r\n"
			      "Content-Type: application/json\r\n"
			      "X-Request-Id: id\r\n"
			      "Cache-Control: no-store\r\n"
			      "Set-Cookie: tg_refresh=x; Path=/api/auth; Max-Age=60; HttpOnly; Secure; SameSite=Strict\r\n"
			      "\r\n"
			      "{}");
}
END_TEST

static Suite *response_suite(void)
{
	Suite *s = suite_create("response");
	TCase *tc = tcase_create("problem");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_problem_shape);
	tcase_add_test(tc, test_problem_api_example);
	tcase_add_test(tc, test_problem_without_detail_or_request_id);
	tcase_add_test(tc, test_problem_detail_is_escaped);
	tcase_add_test(tc, test_problem_contract_codes);
	tcase_add_test(tc, test_invalid_has_errors);
	tcase_add_test(tc, test_json_body);
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("serialize");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_serialize_exact);
	tcase_add_test(tc, test_serialize_problem);
	tcase_add_test(tc, test_serialize_without_request_id);
	tcase_add_test(tc, test_serialize_status_texts);
	tcase_add_test(tc, test_serialize_binary_body);
	tcase_add_test(tc, test_serialize_large);
	tcase_add_test(tc, test_serialize_long_content_type);
	tcase_add_test(tc, test_header_copies);
	suite_add_tcase(s, tc);

	tc = tcase_create("cookie");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cookie_set);
	tcase_add_test(tc, test_cookie_session);
	tcase_add_test(tc, test_cookie_delete);
	tcase_add_test(tc, test_cookie_serialized_with_other_headers);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(response_suite)
