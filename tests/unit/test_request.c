/* test_request.c — building a request from the FastCGI environment: method, path, query,
 * cookies, headers, client address, content type and the JSON body. */
#include "unit.h"

#include "tollgate/arena.h"
#include "tollgate/http.h"
#include "tollgate/utf8.h"
#include "tollgate/status.h"

static struct arena *A;
static struct http_req req;

static void setup(void)
{
	A = arena_new(0);
	ck_assert_ptr_nonnull(A);
	memset(&req, 0, sizeof(req));
}

static void teardown(void)
{
	arena_destroy(A); /* also releases the parsed JSON (LSan checks it) */
	A = NULL;
}

#define INIT(trusted, ...) \
	ck_assert_int_eq(http_req_init(&req, A, UNIT_ENV(A, __VA_ARGS__), (trusted), 32), TG_OK)

/* ---- method ---- */

START_TEST(test_methods)
{
	static const struct {
		const char *name;
		enum http_method m;
	} v[] = {
		{"GET", HTTP_GET}, {"HEAD", HTTP_HEAD}, {"POST", HTTP_POST}, {"PUT", HTTP_PUT},
		{"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
		{"BREW", HTTP_OTHER}, {"get", HTTP_OTHER}, {"GETX", HTTP_OTHER}, {"", HTTP_OTHER},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *m = arena_printf(A, "REQUEST_METHOD=%s", v[i].name);
		INIT(NULL, m, "REQUEST_URI=/api/health");
		ck_assert_msg(req.method == v[i].m, "%s", v[i].name);
		ck_assert_str_eq(req.method_name, v[i].name);
	}
	INIT(NULL, "REQUEST_URI=/");
	ck_assert_int_eq(req.method, HTTP_OTHER);
	ck_assert_str_eq(req.method_name, "");
}
END_TEST

/* ---- path and query ---- */

START_TEST(test_path_and_query_split)
{
	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/api/notifications?unread=1&page=2");
	ck_assert_str_eq(req.path, "/api/notifications");
	ck_assert_str_eq(req.query, "unread=1&page=2");

	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/api/health");
	ck_assert_str_eq(req.path, "/api/health");
	ck_assert_str_eq(req.query, "");

	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/api/health?");
	ck_assert_str_eq(req.path, "/api/health");
	ck_assert_str_eq(req.query, "");

	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/api/x?a=1?b=2");
	ck_assert_str_eq(req.path, "/api/x");
	ck_assert_str_eq(req.query, "a=1?b=2");
}
END_TEST

START_TEST(test_path_is_raw)
{
	/* routing uses REQUEST_URI, not nginx's decoded DOCUMENT_URI */
	INIT(NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/api/sessions/a/b",
	     "REQUEST_URI=/api/sessions/a%2Fb?x=%20");
	ck_assert_str_eq(req.path, "/api/sessions/a%2Fb");
	ck_assert_str_eq(req.query, "x=%20");
}
END_TEST

START_TEST(test_path_fallbacks)
{
	INIT(NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/api/health");
	ck_assert_str_eq(req.path, "/api/health");
	INIT(NULL, "REQUEST_METHOD=GET");
	ck_assert_str_eq(req.path, "/");
	ck_assert_str_eq(req.query, "");
}
END_TEST

/* The decoded value of a query parameter, "(malformed)" for TG_EINPUT, NULL when absent. */
static const char *q(const struct http_req *r, const char *name)
{
	const char *v;
	int rc = http_req_query(r, name, &v);
	if (rc == TG_EINPUT)
		return "(malformed)";
	ck_assert_int_eq(rc, TG_OK);
	return v;
}

START_TEST(test_query_decoding)
{
	INIT(NULL, "REQUEST_METHOD=GET",
	     "REQUEST_URI=/api/x?q=hello+world&e=a%20b%2Bc&u=%C3%A9t%c3%a9&flag&empty=&dup=1&dup=2"
	     "&bad=%zz&short=%4&trail=%&nul=a%00b&eq=a=b&ab=1&latin=%e9t%e9&ff=%ff&surrogate=%ed%a0%80");
	ck_assert_str_eq(q(&req, "q"), "hello world");
	ck_assert_str_eq(q(&req, "e"), "a b+c");
	ck_assert_str_eq(q(&req, "u"), "\xc3\xa9t\xc3\xa9");
	ck_assert_str_eq(q(&req, "flag"), "");
	ck_assert_str_eq(q(&req, "empty"), "");
	ck_assert_str_eq(q(&req, "dup"), "1"); /* the first occurrence */
	ck_assert_str_eq(q(&req, "eq"), "a=b");
	/* issue 8: a malformed value is malformed, not absent (it used to read as NULL) */
	ck_assert_str_eq(q(&req, "bad"), "(malformed)");
	ck_assert_str_eq(q(&req, "short"), "(malformed)");
	ck_assert_str_eq(q(&req, "trail"), "(malformed)");
	ck_assert_str_eq(q(&req, "nul"), "(malformed)");
	ck_assert_str_eq(q(&req, "latin"), "(malformed)");
	ck_assert_str_eq(q(&req, "ff"), "(malformed)");
	ck_assert_str_eq(q(&req, "surrogate"), "(malformed)");
	ck_assert_ptr_null(q(&req, "missing"));
	ck_assert_ptr_null(q(&req, "a"));    /* not a prefix match on "ab" */
	ck_assert_ptr_null(q(&req, "hello")); /* values are not names */
	ck_assert_str_eq(q(&req, "ab"), "1");

	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/api/x");
	ck_assert_ptr_null(q(&req, "q"));
}
END_TEST

START_TEST(test_url_decode)
{
	ck_assert_str_eq(http_url_decode(A, "a+b%41%4a%4A%2f", 15, true), "a bAJJ/");
	ck_assert_str_eq(http_url_decode(A, "a+b", 3, false), "a+b"); /* '+' is literal in paths */
	ck_assert_str_eq(http_url_decode(A, "", 0, false), "");
	ck_assert_ptr_null(http_url_decode(A, "%", 1, false));
	ck_assert_ptr_null(http_url_decode(A, "%4", 2, false));
	ck_assert_ptr_null(http_url_decode(A, "%g1", 3, false));
	ck_assert_ptr_null(http_url_decode(A, "%1g", 3, false));
	ck_assert_ptr_null(http_url_decode(A, "%00", 3, false));
	ck_assert_ptr_null(http_url_decode(A, "% 1", 3, false));
	/* len bounds the input: an escape cut off by len is bad even if the string goes on */
	ck_assert_ptr_null(http_url_decode(A, "ab%41", 4, false));
	ck_assert_str_eq(http_url_decode(A, "ab%41", 5, false), "abA");
	ck_assert_str_eq(http_url_decode(A, "%ff%FE", 6, false), "\xff\xfe");
}
END_TEST

/* ---- cookies ---- */

START_TEST(test_cookies)
{
	INIT(NULL, "REQUEST_METHOD=POST", "REQUEST_URI=/api/auth/refresh",
	     "HTTP_COOKIE=theme=dark; tg_refresh=abc-DEF_123; q=\"quoted value\"; empty=; last=z");
	ck_assert_str_eq(http_req_cookie(&req, "tg_refresh"), "abc-DEF_123");
	ck_assert_str_eq(http_req_cookie(&req, "theme"), "dark");
	ck_assert_str_eq(http_req_cookie(&req, "q"), "quoted value");
	ck_assert_str_eq(http_req_cookie(&req, "empty"), "");
	ck_assert_str_eq(http_req_cookie(&req, "last"), "z");
	ck_assert_ptr_null(http_req_cookie(&req, "tg"));       /* not a prefix match */
	ck_assert_ptr_null(http_req_cookie(&req, "refresh"));  /* nor a suffix match */
	ck_assert_ptr_null(http_req_cookie(&req, "dark"));     /* values are not names */
	ck_assert_ptr_null(http_req_cookie(&req, "missing"));

	INIT(NULL, "REQUEST_METHOD=POST", "REQUEST_URI=/", "HTTP_COOKIE=a=1;b=2;tg_refresh=\"x\"");
	ck_assert_str_eq(http_req_cookie(&req, "a"), "1");
	ck_assert_str_eq(http_req_cookie(&req, "b"), "2");
	ck_assert_str_eq(http_req_cookie(&req, "tg_refresh"), "x");

	INIT(NULL, "REQUEST_METHOD=POST", "REQUEST_URI=/");
	ck_assert_ptr_null(req.cookie_header);
	ck_assert_ptr_null(http_req_cookie(&req, "tg_refresh"));

	/* a lone quote is not a quoted value */
	INIT(NULL, "REQUEST_METHOD=POST", "REQUEST_URI=/", "HTTP_COOKIE=a=\"");
	ck_assert_str_eq(http_req_cookie(&req, "a"), "\"");
}
END_TEST

/* ---- headers and well-known fields ---- */

START_TEST(test_headers)
{
	INIT(NULL, "REQUEST_METHOD=POST", "REQUEST_URI=/api/auth/login", "HTTP_USER_AGENT=curl/8.0",
	     "HTTP_ORIGIN=https://app.example.com", "HTTP_AUTHORIZATION=Bearer abc.def.ghi",
	     "HTTP_X_FOO_BAR=1", "HTTP_X_EMPTY=", "HTTP_X_EQ=a=b", "CONTENT_TYPE=application/json",
	     "CONTENT_LENGTH=17");
	ck_assert_str_eq(req.user_agent, "curl/8.0");
	ck_assert_str_eq(req.origin, "https://app.example.com");
	ck_assert_str_eq(req.authorization, "Bearer abc.def.ghi");
	ck_assert_str_eq(req.content_type, "application/json");
	ck_assert_int_eq(req.content_length, 17);
	ck_assert_str_eq(http_req_header(&req, "HTTP_USER_AGENT"), "curl/8.0");
	ck_assert_str_eq(http_req_header(&req, "HTTP_X_FOO_BAR"), "1");
	ck_assert_str_eq(http_req_header(&req, "HTTP_X_EMPTY"), "");
	ck_assert_str_eq(http_req_header(&req, "HTTP_X_EQ"), "a=b");
	ck_assert_ptr_null(http_req_header(&req, "HTTP_X_FOO")); /* a prefix is not a match */
	ck_assert_ptr_null(http_req_header(&req, "HTTP_X_MISSING"));
	ck_assert_str_eq(http_req_env(&req, "REQUEST_METHOD"), "POST");
	ck_assert_ptr_null(http_req_env(&req, "REQUEST"));

	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/");
	ck_assert_str_eq(req.user_agent, "");
	ck_assert_ptr_null(req.origin);
	ck_assert_ptr_null(req.authorization);
	ck_assert_ptr_null(req.content_type);
	ck_assert_int_eq(req.content_length, -1);
}
END_TEST

/* Issue 8: a User-Agent that is not UTF-8 reached a text column as it came (cut at 512 bytes,
 * sometimes mid-character) and PostgreSQL refused it: 500 on login, and a locked account. */
START_TEST(test_user_agent_made_valid_utf8)
{
	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_USER_AGENT=Caf\xe9 \xff/1.0");
	ck_assert_str_eq(req.user_agent, "Caf\xef\xbf\xbd \xef\xbf\xbd/1.0");
	ck_assert(utf8_valid(req.user_agent, strlen(req.user_agent)));
	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_USER_AGENT=a\x01" "b\x7f");
	ck_assert_str_eq(req.user_agent, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	/* 511 ASCII bytes then "é": the cut at 512 bytes must not split the character */
	char ua[600] = "HTTP_USER_AGENT=";
	size_t o = strlen(ua);
	memset(ua + o, 'a', 511);
	memcpy(ua + o + 511, "\xc3\xa9tail", 7);
	ua[o + 511 + 7] = '\0';
	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/", ua);
	ck_assert_uint_eq(strlen(req.user_agent), 511);
	ck_assert(utf8_valid(req.user_agent, strlen(req.user_agent)));
	/* a valid UTF-8 agent is kept as it is */
	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_USER_AGENT=\xd0\x9f\xd1\x80\xd0\xb8 \xf0\x9f\x98\x80");
	ck_assert_str_eq(req.user_agent, "\xd0\x9f\xd1\x80\xd0\xb8 \xf0\x9f\x98\x80");
}
END_TEST

/* A trusted proxy's X-Forwarded-For entry that is not an address is not stored as the client. */
START_TEST(test_forwarded_garbage_falls_back)
{
	INIT("10.0.0.1", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=10.0.0.1",
	     "HTTP_X_FORWARDED_FOR=\xff\xfe");
	ck_assert_str_eq(req.client_ip, "10.0.0.1");
	INIT("10.0.0.1", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=10.0.0.1",
	     "HTTP_X_FORWARDED_FOR=203.0.113.7, not-an-ip");
	ck_assert_str_eq(req.client_ip, "10.0.0.1");
	INIT("10.0.0.1", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=10.0.0.1",
	     "HTTP_X_FORWARDED_FOR=2001:db8::1");
	ck_assert_str_eq(req.client_ip, "2001:db8::1");
}
END_TEST

/* CORS: exact origins only (moved here from config: it is HTTP's business). */
START_TEST(test_origin_allowed)
{
	const char *pub = "https://app.example.com";
	ck_assert(http_origin_allowed(pub, "", "https://app.example.com"));
	ck_assert(!http_origin_allowed(pub, "", NULL));
	ck_assert(!http_origin_allowed(pub, "", ""));
	ck_assert(!http_origin_allowed(pub, "", "https://app.example.com/"));
	ck_assert(!http_origin_allowed(pub, "", "http://app.example.com"));
	ck_assert(!http_origin_allowed(pub, "", "https://app.example.com.evil.net"));
	ck_assert(!http_origin_allowed(pub, "", "https://app.example.co"));
	ck_assert(!http_origin_allowed(pub, "", "null"));
	const char *list = "https://a.example  https://b.example:8443,https://c.example ";
	ck_assert(http_origin_allowed(pub, list, "https://app.example.com"));
	ck_assert(http_origin_allowed(pub, list, "https://a.example"));
	ck_assert(http_origin_allowed(pub, list, "https://b.example:8443"));
	ck_assert(http_origin_allowed(pub, list, "https://c.example"));
	ck_assert(!http_origin_allowed(pub, list, "https://b.example"));
	ck_assert(!http_origin_allowed(pub, list, "https://a.exampl"));
	ck_assert(!http_origin_allowed(pub, list, "https://a.example.evil"));
	ck_assert(!http_origin_allowed(pub, list, "https://a.example  https://b.example:8443"));
	ck_assert(!http_origin_allowed(pub, list, ""));
	ck_assert(http_origin_allowed(pub, "*", "https://anything.example"));
	ck_assert(!http_origin_allowed(pub, "*", NULL));
}
END_TEST

START_TEST(test_content_length)
{
	static const struct {
		const char *env;
		long long v;
	} v[] = {
		{"CONTENT_LENGTH=0", 0}, {"CONTENT_LENGTH=1048576", 1048576}, {"CONTENT_LENGTH=", -1},
		{"CONTENT_LENGTH=abc", -1}, {"CONTENT_LENGTH=12abc", -1}, {"CONTENT_LENGTH=-5", -1},
		{"CONTENT_LENGTH=99999999999999999999999", -1},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		INIT(NULL, "REQUEST_METHOD=POST", "REQUEST_URI=/", v[i].env);
		ck_assert_msg(req.content_length == v[i].v, "%s gave %lld", v[i].env, req.content_length);
	}
	INIT(NULL, "REQUEST_METHOD=POST", "REQUEST_URI=/", "CONTENT_TYPE=");
	ck_assert_ptr_null(req.content_type); /* empty is absent */
}
END_TEST

START_TEST(test_request_id)
{
	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/", "REQUEST_ID=nginx-id", "HTTP_X_REQUEST_ID=client-id");
	ck_assert_str_eq(req.request_id, "nginx-id");
	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/", "REQUEST_ID=", "HTTP_X_REQUEST_ID=client-id");
	ck_assert_str_eq(req.request_id, "client-id");
	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_X_REQUEST_ID=client-id");
	ck_assert_str_eq(req.request_id, "client-id");
}
END_TEST

/* ---- client address ---- */

START_TEST(test_client_ip_direct)
{
	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=198.51.100.4");
	ck_assert_str_eq(req.client_ip, "198.51.100.4");
	/* without trusted proxies, X-Forwarded-For is the client's own claim: ignored */
	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=198.51.100.4",
	     "HTTP_X_FORWARDED_FOR=203.0.113.9");
	ck_assert_str_eq(req.client_ip, "198.51.100.4");
	INIT("", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=198.51.100.4",
	     "HTTP_X_FORWARDED_FOR=203.0.113.9");
	ck_assert_str_eq(req.client_ip, "198.51.100.4");
	INIT(NULL, "REQUEST_METHOD=GET", "REQUEST_URI=/");
	ck_assert_str_eq(req.client_ip, "");
}
END_TEST

START_TEST(test_client_ip_untrusted_peer)
{
	/* the peer is not a trusted proxy: its X-Forwarded-For is not believed */
	INIT("10.0.0.1", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=198.51.100.4",
	     "HTTP_X_FORWARDED_FOR=203.0.113.9");
	ck_assert_str_eq(req.client_ip, "198.51.100.4");
	/* exact match only: 10.0.0.10 is not 10.0.0.1 */
	INIT("10.0.0.1", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=10.0.0.10",
	     "HTTP_X_FORWARDED_FOR=203.0.113.9");
	ck_assert_str_eq(req.client_ip, "10.0.0.10");
}
END_TEST

START_TEST(test_client_ip_trusted_proxy)
{
	INIT("10.0.0.1", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=10.0.0.1",
	     "HTTP_X_FORWARDED_FOR=203.0.113.9");
	ck_assert_str_eq(req.client_ip, "203.0.113.9");
	/* the right-most entry was added by our proxy; the ones left of it are the client's claims */
	INIT("10.0.0.1", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=10.0.0.1",
	     "HTTP_X_FORWARDED_FOR=1.1.1.1, 6.6.6.6,203.0.113.9");
	ck_assert_str_eq(req.client_ip, "203.0.113.9");
	/* trusted hops are skipped from the right */
	INIT("10.0.0.1 10.0.0.2,10.0.0.3", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=10.0.0.1",
	     "HTTP_X_FORWARDED_FOR=6.6.6.6, 203.0.113.9, 10.0.0.3 , 10.0.0.2");
	ck_assert_str_eq(req.client_ip, "203.0.113.9");
	/* no header: the proxy itself */
	INIT("10.0.0.1", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=10.0.0.1");
	ck_assert_str_eq(req.client_ip, "10.0.0.1");
	/* every hop trusted: the left-most one */
	INIT("10.0.0.1 10.0.0.2", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=10.0.0.1",
	     "HTTP_X_FORWARDED_FOR=10.0.0.2, 10.0.0.1");
	ck_assert_str_eq(req.client_ip, "10.0.0.2");
	/* the header is not modified in place */
	INIT("10.0.0.1", "REQUEST_METHOD=GET", "REQUEST_URI=/", "REMOTE_ADDR=10.0.0.1",
	     "HTTP_X_FORWARDED_FOR=6.6.6.6, 203.0.113.9");
	ck_assert_str_eq(http_req_header(&req, "HTTP_X_FORWARDED_FOR"), "6.6.6.6, 203.0.113.9");
}
END_TEST

/* ---- content type ---- */

START_TEST(test_is_json)
{
	static const struct {
		const char *ct;
		bool json;
	} v[] = {
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"application/json;charset=UTF-8", true},
		{"Application/JSON", true},
		{"application/jsonp", false},
		{"application/json-seq", false},
		{"application/json+x", false},
		{"application/problem+json", false},
		{"text/json", false},
		{"text/plain", false},
		{"application/x-www-form-urlencoded", false},
		{"multipart/form-data; boundary=application/json", false},
		{"application/jso", false},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *e = arena_printf(A, "CONTENT_TYPE=%s", v[i].ct);
		INIT(NULL, "REQUEST_METHOD=POST", "REQUEST_URI=/", e);
		ck_assert_msg(http_req_is_json(&req) == v[i].json, "%s", v[i].ct);
	}
	INIT(NULL, "REQUEST_METHOD=POST", "REQUEST_URI=/");
	ck_assert(!http_req_is_json(&req));
}
END_TEST

/* ---- the JSON body ---- */

static int parse_body(const char *body, size_t len, int depth, json_object **out)
{
	ck_assert_int_eq(http_req_init(&req, A, UNIT_ENV(A, "REQUEST_METHOD=POST", "REQUEST_URI=/api/x",
							 "CONTENT_TYPE=application/json"),
				       NULL, depth),
			 TG_OK);
	req.body = arena_memdup(A, body, len);
	req.body_len = len;
	*out = NULL;
	return http_req_json(&req, out);
}

#define PARSE(s, out) parse_body((s), sizeof(s) - 1, 32, (out))

START_TEST(test_json_valid_object)
{
	json_object *o;
	ck_assert_int_eq(PARSE("{\"email\":\"a@example.com\",\"n\":3,\"nested\":{\"ok\":true}}", &o), TG_OK);
	ck_assert_ptr_nonnull(o);
	json_object *v;
	ck_assert(json_object_object_get_ex(o, "email", &v));
	ck_assert_str_eq(json_object_get_string(v), "a@example.com");
	ck_assert(json_object_object_get_ex(o, "n", &v));
	ck_assert_int_eq(json_object_get_int(v), 3);
	ck_assert_ptr_eq(req.json, o);

	/* parsed once: the second call returns the same object */
	json_object *again = NULL;
	ck_assert_int_eq(http_req_json(&req, &again), TG_OK);
	ck_assert_ptr_eq(again, o);
}
END_TEST

START_TEST(test_json_whitespace_and_utf8)
{
	json_object *o;
	ck_assert_int_eq(PARSE(" \n\t{ \"a\" : \"caf\xc3\xa9 \xf0\x9f\x98\x80\" }\r\n ", &o), TG_OK);
	json_object *v;
	ck_assert(json_object_object_get_ex(o, "a", &v));
	ck_assert_str_eq(json_object_get_string(v), "caf\xc3\xa9 \xf0\x9f\x98\x80");
	ck_assert_int_eq(PARSE("{}", &o), TG_OK);
	ck_assert_int_eq(json_object_object_length(o), 0);
}
END_TEST

START_TEST(test_json_not_an_object)
{
	static const char *const bad[] = {
		"[]", "[1,2]", "[{\"a\":1}]", "\"str\"", "1", "1.5", "true", "false", "null",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o = (json_object *)1;
		ck_assert_msg(parse_body(bad[i], strlen(bad[i]), 32, &o) == TG_EINPUT, "accepted %s", bad[i]);
		ck_assert_ptr_null(o);
		ck_assert_ptr_null(req.json);
	}
}
END_TEST

START_TEST(test_json_trailing_garbage)
{
	static const char *const bad[] = {
		"{} x", "{}{}", "{\"a\":1}}", "{\"a\":1} []", "{\"a\":1}\n{\"b\":2}", "{}\x01",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o;
		ck_assert_msg(parse_body(bad[i], strlen(bad[i]), 32, &o) == TG_EINPUT, "accepted %s", bad[i]);
	}
	/* a NUL byte inside the declared length */
	json_object *o;
	ck_assert_int_eq(parse_body("{}\0", 3, 32, &o), TG_EINPUT);
	ck_assert_int_eq(parse_body("{\"a\":\"x\0y\"}", 11, 32, &o), TG_EINPUT);
}
END_TEST

START_TEST(test_json_malformed)
{
	static const char *const bad[] = {
		"{", "{\"a\":1", "{\"a\":}", "{\"a\":1,}", "{a:1}", "{\"a\":01}", "{\"a\":\"x",
		"{\"a\" 1}", "{/* c */\"a\":1}", "}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o;
		ck_assert_msg(parse_body(bad[i], strlen(bad[i]), 32, &o) == TG_EINPUT, "accepted %s", bad[i]);
	}
}
END_TEST

START_TEST(test_json_empty_body)
{
	json_object *o = (json_object *)1;
	ck_assert_int_eq(parse_body("", 0, 32, &o), TG_EINPUT);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(parse_body("   \n", 4, 32, &o), TG_EINPUT);
}
END_TEST

/* n nested objects: {"a":{"a":...{}...}} */
static char *nested(int n)
{
	char *s = arena_alloc(A, (size_t)n * 6 + 1);
	ck_assert_ptr_nonnull(s);
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		if (i == n - 1) {
			memcpy(s + k, "{", 1);
			k += 1;
		} else {
			memcpy(s + k, "{\"a\":", 5);
			k += 5;
		}
	}
	for (int i = 0; i < n; i++)
		s[k++] = '}';
	s[k] = '\0';
	return s;
}

/* Depth counts nested values, the body itself being depth 1: {"a":1} is depth 2 (hence the
 * config minimum of 2), {"a":{}} is depth 2, {"a":{"b":1}} is depth 3. */
START_TEST(test_json_depth_limit)
{
	json_object *o;
	char *ok = nested(4), *deep = nested(5);
	ck_assert_int_eq(parse_body(ok, strlen(ok), 4, &o), TG_OK);
	ck_assert_int_eq(parse_body(deep, strlen(deep), 4, &o), TG_EINPUT);

	const char *flat = "{\"a\":1,\"b\":\"x\"}";
	ck_assert_int_eq(parse_body(flat, strlen(flat), 2, &o), TG_OK);
	const char *two = "{\"a\":{\"b\":1}}";
	ck_assert_int_eq(parse_body(two, strlen(two), 2, &o), TG_EINPUT);
	ck_assert_int_eq(parse_body(two, strlen(two), 3, &o), TG_OK);

	/* arrays count too: the 1 sits at depth 6 */
	const char *arr = "{\"a\":[[[[1]]]]}";
	ck_assert_int_eq(parse_body(arr, strlen(arr), 6, &o), TG_OK);
	ck_assert_int_eq(parse_body(arr, strlen(arr), 5, &o), TG_EINPUT);

	/* the configured default (32) */
	char *ok32 = nested(32), *deep33 = nested(33);
	ck_assert_int_eq(parse_body(ok32, strlen(ok32), 32, &o), TG_OK);
	ck_assert_int_eq(parse_body(deep33, strlen(deep33), 32, &o), TG_EINPUT);

	/* a hostile body: far deeper than any limit */
	char *hostile = nested(100000);
	ck_assert_int_eq(parse_body(hostile, strlen(hostile), 32, &o), TG_EINPUT);
}
END_TEST

START_TEST(test_json_invalid_utf8)
{
	static const char *const bad[] = {
		"{\"a\":\"\xff\"}",                 /* never valid */
		"{\"\xfe\":1}",                     /* in a key */
		"{\"a\":\"\xc3\"}",                 /* truncated sequence */
		"{\"a\":\"\xe2\x82\"}",
		"{\"a\":\"\x80\"}",                 /* lone continuation byte */
		"{\"a\":\"\xc0\xaf\"}",             /* overlong '/' */
		"{\"a\":\"\xe0\x80\xaf\"}",         /* overlong, 3 bytes */
		"{\"a\":\"\xf0\x80\x80\xaf\"}",     /* overlong, 4 bytes */
		"{\"a\":\"\xed\xa0\x80\"}",         /* UTF-16 surrogate D800 */
		"{\"a\":\"\xed\xbf\xbf\"}",         /* surrogate DFFF */
		"{\"a\":\"\xf4\x90\x80\x80\"}",     /* above U+10FFFF */
		"{\"a\":\"\xf5\x80\x80\x80\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o;
		ck_assert_msg(parse_body(bad[i], strlen(bad[i]), 32, &o) == TG_EINPUT, "accepted case %zu", i);
	}
	/* the edges that are valid */
	static const char *const good[] = {
		"{\"a\":\"\xc2\x80\"}",             /* U+0080 */
		"{\"a\":\"\xed\x9f\xbf\"}",         /* U+D7FF */
		"{\"a\":\"\xee\x80\x80\"}",         /* U+E000 */
		"{\"a\":\"\xef\xbf\xbf\"}",         /* U+FFFF */
		"{\"a\":\"\xf4\x8f\xbf\xbf\"}",     /* U+10FFFF */
		"{\"a\":\"\\ud83d\\ude00\"}",       /* escaped surrogate pair */
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		json_object *o;
		ck_assert_msg(parse_body(good[i], strlen(good[i]), 32, &o) == TG_OK, "refused case %zu", i);
	}
}
END_TEST


static Suite *request_suite(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("env");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_methods);
	tcase_add_test(tc, test_path_and_query_split);
	tcase_add_test(tc, test_path_is_raw);
	tcase_add_test(tc, test_path_fallbacks);
	tcase_add_test(tc, test_query_decoding);
	tcase_add_test(tc, test_url_decode);
	tcase_add_test(tc, test_cookies);
	tcase_add_test(tc, test_headers);
	tcase_add_test(tc, test_origin_allowed);
	tcase_add_test(tc, test_user_agent_made_valid_utf8);
	tcase_add_test(tc, test_forwarded_garbage_falls_back);
	tcase_add_test(tc, test_content_length);
	tcase_add_test(tc, test_request_id);
	tcase_add_test(tc, test_client_ip_direct);
	tcase_add_test(tc, test_client_ip_untrusted_peer);
	tcase_add_test(tc, test_client_ip_trusted_proxy);
	tcase_add_test(tc, test_is_json);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_json_valid_object);
	tcase_add_test(tc, test_json_whitespace_and_utf8);
	tcase_add_test(tc, test_json_not_an_object);
	tcase_add_test(tc, test_json_trailing_garbage);
	tcase_add_test(tc, test_json_malformed);
	tcase_add_test(tc, test_json_empty_body);
	tcase_add_test(tc, test_json_depth_limit);
	tcase_add_test(tc, test_json_invalid_utf8);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(request_suite)
