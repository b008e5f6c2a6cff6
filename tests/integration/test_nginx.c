/* test_nginx.c — nginx in front of tollgate, as the dev template and nginx/tollgate-api.conf set
 * it up: nginx's own errors are problem+json under /api/ (malformed requests sent raw over TLS,
 * and over HTTP/2 with libcurl), static pages keep their HTML, the per-IP limit applies to the
 * credential routes only, the TLS profile is Mozilla's "intermediate" (checked with testssl
 * against an RSA and an ECDSA certificate), and the production site passes `nginx -t`.
 *
 * Cases that need another nginx configuration (a dead upstream, a low rate, other certificates)
 * start one more nginx in front of the same tollgate with `scripts/stack nginx-start`. */
#include "itest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define RAW_MAX (1 << 20)

/* ---- raw HTTP/1.1 over TLS (or plain TCP), for requests libcurl will not send ------------- */

struct raw_resp {
	long status;       /* 0 when nothing parseable came back */
	char *data;        /* everything received, NUL-terminated */
	size_t len;
	const char *body;  /* after the blank line, or "" */
	json_object *json;
};

static int port_of(const char *url)
{
	const char *colon = strrchr(url, ':');
	ck_assert_msg(colon != NULL, "no port in %s", url);
	return (int)strtol(colon + 1, NULL, 10);
}

static int connect_loopback(int port, int timeout_s)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct timeval tv = {.tv_sec = timeout_s};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect to 127.0.0.1:%d failed", port);
	return fd;
}

/* Sends req (len bytes) and reads until the server closes, timeout_s passes or RAW_MAX. Write
 * errors are ignored: nginx may answer and close before it has read everything. */
static struct raw_resp *raw_send(int port, bool tls, const char *req, size_t len, int timeout_s)
{
	int fd = connect_loopback(port, timeout_s);
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	if (tls) {
		ctx = SSL_CTX_new(TLS_client_method());
		ck_assert_ptr_nonnull(ctx);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		static const unsigned char alpn[] = "\x08http/1.1";
		SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
		ssl = SSL_new(ctx);
		ck_assert_ptr_nonnull(ssl);
		SSL_set_tlsext_host_name(ssl, "localhost");
		SSL_set_fd(ssl, fd);
		ck_assert_msg(SSL_connect(ssl) == 1, "TLS handshake with 127.0.0.1:%d failed", port);
	}
	for (size_t off = 0; off < len;) {
		int n = tls ? SSL_write(ssl, req + off, (int)(len - off)) : (int)send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	struct raw_resp *r = calloc(1, sizeof(*r));
	ck_assert_ptr_nonnull(r);
	r->data = malloc(RAW_MAX + 1);
	ck_assert_ptr_nonnull(r->data);
	time_t deadline = time(NULL) + timeout_s + 1;
	while (r->len < RAW_MAX && time(NULL) <= deadline) {
		int n = tls ? SSL_read(ssl, r->data + r->len, (int)(RAW_MAX - r->len))
			    : (int)recv(fd, r->data + r->len, RAW_MAX - r->len, 0);
		if (n <= 0)
			break;
		r->len += (size_t)n;
	}
	r->data[r->len] = '\0';
	if (ssl)
		SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	close(fd);
	if (r->len > 12 && !strncmp(r->data, "HTTP/1.", 7))
		r->status = strtol(r->data + 9, NULL, 10);
	const char *blank = strstr(r->data, "\r\n\r\n");
	r->body = blank ? blank + 4 : "";
	if (*r->body == '{')
		r->json = json_tokener_parse(r->body);
	return r;
}

static struct raw_resp *raw_tls(const char *req)
{
	return raw_send(port_of(it_url()), true, req, strlen(req), 10);
}

static void raw_free(struct raw_resp *r)
{
	if (!r)
		return;
	json_object_put(r->json);
	free(r->data);
	free(r);
}

/* Value of header name in r's head (static buffer), or NULL. */
static const char *raw_header(const struct raw_resp *r, const char *name)
{
	static char value[1024];
	size_t nl = strlen(name);
	const char *end = strstr(r->data, "\r\n\r\n");
	for (const char *p = strstr(r->data, "\r\n"); p && (!end || p < end); p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, nl) || p[2 + nl] != ':')
			continue;
		const char *v = p + 3 + nl;
		while (*v == ' ')
			v++;
		size_t vl = strcspn(v, "\r\n");
		if (vl >= sizeof(value))
			vl = sizeof(value) - 1;
		memcpy(value, v, vl);
		value[vl] = '\0';
		return value;
	}
	return NULL;
}

static const char *json_str(json_object *j, const char *key)
{
	json_object *v;
	return j && json_object_object_get_ex(j, key, &v) ? json_object_get_string(v) : NULL;
}

/* The problem document of one response: status, content type, code, type, status member and a
 * request_id equal to the X-Request-Id header; never an HTML page. */
static void check_problem(const char *what, long status, const char *ctype, const char *body, json_object *j,
			  const char *request_id_header, long want_status, const char *want_code)
{
	ck_assert_msg(!strcasestr(body, "<html"), "%s: an HTML page: %.300s", what, body);
	ck_assert_msg(status == want_status, "%s: status %ld, want %ld: %.300s", what, status, want_status, body);
	ck_assert_msg(ctype && !strncmp(ctype, "application/problem+json", 24), "%s: Content-Type %s, want"
		      " application/problem+json", what, ctype ? ctype : "(none)");
	ck_assert_msg(j != NULL, "%s: the body is not JSON: %.300s", what, body);
	const char *code = json_str(j, "code");
	ck_assert_msg(code && !strcmp(code, want_code), "%s: code %s, want %s", what, code ? code : "(none)",
		      want_code);
	char type[160];
	snprintf(type, sizeof(type), "https://tollgate.invalid/problems/%s", want_code);
	ck_assert_msg(json_str(j, "type") && !strcmp(json_str(j, "type"), type), "%s: type %s", what,
		      json_str(j, "type"));
	json_object *st;
	ck_assert_msg(json_object_object_get_ex(j, "status", &st) && json_object_get_int(st) == want_status,
		      "%s: status member is not %ld", what, want_status);
	const char *rid = json_str(j, "request_id");
	ck_assert_msg(rid && strlen(rid) == 32 && request_id_header && !strcmp(rid, request_id_header),
		      "%s: request_id %s, X-Request-Id %s", what, rid ? rid : "(none)",
		      request_id_header ? request_id_header : "(none)");
}

#define expect_raw(r, st, code) expect_raw_at(__LINE__, (r), (st), (code))
static void expect_raw_at(int line, const struct raw_resp *r, long status, const char *code)
{
	char what[64];
	snprintf(what, sizeof(what), "line %d (HTTP/1.1)", line);
	char rid[64] = "";
	const char *h = raw_header(r, "X-Request-Id");
	snprintf(rid, sizeof(rid), "%s", h ? h : "");
	check_problem(what, r->status, raw_header(r, "Content-Type"), r->data, r->json, h ? rid : NULL, status, code);
}

#define expect_h2(r, st, code) expect_h2_at(__LINE__, (r), (st), (code))
static void expect_h2_at(int line, const struct it_resp *r, long status, const char *code)
{
	char what[64];
	snprintf(what, sizeof(what), "line %d (HTTP/2)", line);
	ck_assert_msg(!strncmp(r->headers, "HTTP/2", 6), "%s: not HTTP/2: %.40s", what, r->headers);
	char ctype[128] = "", rid[64] = "";
	const char *h = it_header(r, "Content-Type");
	snprintf(ctype, sizeof(ctype), "%s", h ? h : "");
	h = it_header(r, "X-Request-Id");
	snprintf(rid, sizeof(rid), "%s", h ? h : "");
	check_problem(what, r->status, ctype, r->body, r->json, rid, status, code);
}

/* A string of n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- nginx's errors on the stack's own nginx ------------------------------------------------ */

START_TEST(trace_is_405_problem)
{
	struct raw_resp *r = raw_tls("TRACE /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
	expect_raw(r, 405, "method_not_allowed");
	const char *allow = raw_header(r, "Allow");
	ck_assert_msg(allow && strstr(allow, "GET") && !strstr(allow, "TRACE"), "405 without a fitting Allow: %s",
		      allow ? allow : "(none)");
	raw_free(r);
	struct it_req q = {.method = "TRACE", .path = "/api/auth/me"};
	struct it_resp *h = it_do(&q);
	expect_h2(h, 405, "method_not_allowed");
	ck_assert_ptr_nonnull(it_header(h, "Allow"));
	it_free(h);
}
END_TEST

START_TEST(connect_is_400_problem)
{
	struct raw_resp *r = raw_tls("CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\nConnection: close\r\n\r\n");
	expect_raw(r, 400, "bad_request");
	raw_free(r);
}
END_TEST

START_TEST(nul_in_path_is_400_problem)
{
	struct raw_resp *r = raw_tls("GET /api/auth/me%00.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
	expect_raw(r, 400, "bad_request");
	raw_free(r);
	struct it_resp *h = it_get("/api/a%00b", NULL);
	expect_h2(h, 400, "bad_request");
	it_free(h);
}
END_TEST

/* Malformed request lines and headers, each answered before nginx has chosen a location. */
START_TEST(malformed_requests_are_400_problems)
{
	static const char *const reqs[] = {
		"GARBAGE\r\n\r\n",
		"get /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		"GET /api/health HTTP/1.1\r\nConnection: close\r\n\r\n",                       /* no Host */
		"GET /api/health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", /* two Hosts */
		"GET /../etc/passwd HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		"POST /api/health HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\nConnection: close\r\n\r\n",
		"POST /api/health HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
		"Connection: close\r\n\r\n0\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(reqs) / sizeof(*reqs); i++) {
		struct raw_resp *r = raw_tls(reqs[i]);
		ck_assert_msg(r->status == 400, "request %zu: %ld %.200s", i, r->status, r->data);
		expect_raw(r, 400, "bad_request");
		raw_free(r);
	}
}
END_TEST

START_TEST(http_version_is_505_problem)
{
	struct raw_resp *r = raw_tls("GET /api/health HTTP/2.0\r\nHost: localhost\r\nConnection: close\r\n\r\n");
	expect_raw(r, 505, "http_version_not_supported");
	raw_free(r);
}
END_TEST

/* Plain HTTP sent to the TLS port (nginx's 497) */
START_TEST(plain_http_on_tls_port_is_400_problem)
{
	const char *req = "GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	struct raw_resp *r = raw_send(port_of(it_url()), false, req, strlen(req), 10);
	expect_raw(r, 400, "bad_request");
	raw_free(r);
}
END_TEST

START_TEST(header_too_large_is_431_problem)
{
	char *big = repeat('a', 9000);
	size_t cap = 10000;
	char *req = malloc(cap);
	ck_assert_ptr_nonnull(req);
	snprintf(req, cap, "GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Big: %s\r\nConnection: close\r\n\r\n", big);
	struct raw_resp *r = raw_tls(req);
	expect_raw(r, 431, "request_header_too_large");
	raw_free(r);
	/* "Request Header Or Cookie Too Large": a cookie header over the buffer */
	snprintf(req, cap, "GET /api/auth/me HTTP/1.1\r\nHost: localhost\r\nCookie: tg_refresh=%.4000s; x=%.4500s\r\n"
		 "Connection: close\r\n\r\n", big, big);
	r = raw_tls(req);
	expect_raw(r, 431, "request_header_too_large");
	raw_free(r);
	free(req);
	free(big);
}
END_TEST

START_TEST(uri_too_long_is_414_problem)
{
	char *big = repeat('a', 9000);
	char *req = malloc(9200);
	ck_assert_ptr_nonnull(req);
	snprintf(req, 9200, "GET /api/%s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", big);
	struct raw_resp *r = raw_tls(req);
	expect_raw(r, 414, "uri_too_long");
	raw_free(r);
	free(req);
	free(big);
}
END_TEST

START_TEST(unknown_transfer_coding_is_501_problem)
{
	struct raw_resp *r = raw_tls("POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
				     "Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n");
	expect_raw(r, 501, "not_implemented");
	raw_free(r);
}
END_TEST

START_TEST(bad_chunk_sizes_are_400_problems)
{
	static const char *const bodies[] = {
		"zz\r\nabc\r\n0\r\n\r\n",                   /* not hex */
		"-1\r\nabc\r\n0\r\n\r\n",                   /* negative */
		"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n", /* overflows */
		"3\r\nabcdef\r\n0\r\n\r\n",                 /* longer than declared */
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
		char req[512];
		snprintf(req, sizeof(req), "POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
			 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%s", bodies[i]);
		struct raw_resp *r = raw_tls(req);
		ck_assert_msg(r->status == 400, "chunked body %zu: %ld %.200s", i, r->status, r->data);
		expect_raw(r, 400, "bad_request");
		raw_free(r);
	}
}
END_TEST

/* Over client_max_body_size, declared, chunked and over HTTP/2 (where the error location is
 * looked up again: it must not apply the limit a second time). */
START_TEST(body_too_large_is_413_problem)
{
	struct raw_resp *r = raw_tls("POST /api/health HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
				     "Content-Length: 2000000\r\nConnection: close\r\n\r\n{}");
	expect_raw(r, 413, "payload_too_large");
	raw_free(r);
	r = raw_tls("POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n200000\r\n{\"a\":");
	expect_raw(r, 413, "payload_too_large");
	raw_free(r);
	size_t n = 1100000;
	char *big = repeat(' ', n);
	struct it_req q = {.method = "POST", .path = "/api/auth/login", .body = big, .body_len = n,
			   .content_type = "application/json"};
	struct it_resp *h = it_do(&q);
	expect_h2(h, 413, "payload_too_large");
	it_free(h);
	free(big);
}
END_TEST

/* /api without its slash, and the internal error locations asked for from outside. */
START_TEST(api_paths_nginx_owns_are_404_problems)
{
	static const char *const paths[] = {"/api", "/_tollgate/problems/internal", "/_tollgate/problems/"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		struct it_resp *h = it_get(paths[i], NULL);
		expect_h2(h, 404, "not_found");
		it_free(h);
	}
}
END_TEST

/* Where nginx knows the path is a page, its errors stay HTML. */
START_TEST(static_pages_keep_html_errors)
{
	static const struct {
		const char *method, *path;
		long status;
	} cases[] = {
		{"GET", "/no-such-page", 404},
		{"GET", "/.env", 404},
		{"POST", "/login", 405},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct it_req q = {.method = cases[i].method, .path = cases[i].path};
		if (!strcmp(cases[i].method, "POST"))
			q.json = "{}";
		struct it_resp *h = it_do(&q);
		const char *ct = it_header(h, "Content-Type");
		ck_assert_msg(h->status == cases[i].status && ct && !strncmp(ct, "text/html", 9),
			      "%s %s: %ld %s, want %ld text/html", cases[i].method, cases[i].path, h->status,
			      ct ? ct : "(none)", cases[i].status);
		it_free(h);
	}
	struct it_resp *h = it_get("/no-such-page", NULL);
	ck_assert_msg(strstr(h->body, "<title>Page not found"), "not the site's 404 page: %.200s", h->body);
	it_free(h);
}
END_TEST

/* ---- another nginx: dead upstream, no temp directory, short client timeouts -------------- */

static int extra_port;

static void extra_start(const char *name, const char *env)
{
	const char *dir = it_stack_dir();
	const char *out = it_sh_out("%s scripts/stack nginx-start '%s' %s 2>'%s/nginx-start-%s.err'", env, dir, name,
				    dir, name);
	extra_port = (int)strtol(out, NULL, 10);
	if (extra_port <= 0)
		fprintf(stderr, "nginx-start %s failed: %s\n", name, it_sh_out("cat '%s/nginx-start-%s.err'", dir, name));
}

static void extra_use(void)
{
	ck_assert_msg(extra_port > 0, "the extra nginx did not start (see above)");
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", extra_port);
	setenv("TG_URL", url, 1);
}

static void broken_setup(void)
{
	extra_start("broken", "TG_NGINX_SOCKET_DIR=/nonexistent-tollgate TG_NGINX_CLIENT_TIMEOUT=2s");
	/* without its body temp directory, nginx cannot buffer a large body: its own 500 */
	if (extra_port > 0)
		it_sh("rm -rf '%s/nginx-broken/tmp/body'", it_stack_dir());
}

static void broken_teardown(void)
{
	it_sh("scripts/stack nginx-stop '%s' broken >/dev/null 2>&1", it_stack_dir());
	extra_port = 0;
}

START_TEST(dead_upstream_is_503_problem)
{
	extra_use();
	static const char *const paths[] = {"/api/health", "/api/auth/me"};
	for (size_t i = 0; i < 2; i++) {
		struct it_resp *h = it_get(paths[i], NULL);
		expect_h2(h, 503, "unavailable");
		ck_assert_str_eq(it_header(h, "Retry-After") ? it_header(h, "Retry-After") : "", "5");
		it_free(h);
	}
	/* the password pool's socket is gone too */
	struct it_resp *h = it_post("/api/auth/login", NULL, "{\"email\":\"a@example.com\",\"password\":\"x\"}");
	expect_h2(h, 503, "unavailable");
	it_free(h);
}
END_TEST

START_TEST(nginx_internal_error_is_500_problem)
{
	extra_use();
	size_t n = 200000; /* over client_body_buffer_size: nginx needs a temp file */
	char *big = repeat(' ', n);
	struct it_req q = {.method = "POST", .path = "/api/auth/login", .body = big, .body_len = n,
			   .content_type = "application/json"};
	struct it_resp *h = it_do(&q);
	expect_h2(h, 500, "internal");
	it_free(h);
	free(big);
}
END_TEST

/* nginx closes a connection whose body stalls (its 408) without an answer: never an HTML one. */
START_TEST(stalled_body_gets_no_html)
{
	extra_use();
	const char *req = "POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
			  "Content-Length: 100\r\n\r\n{\"a\":";
	struct raw_resp *r = raw_send(extra_port, true, req, strlen(req), 8);
	if (r->len)
		expect_raw(r, 408, "request_timeout");
	raw_free(r);
	/* and a request line that never ends */
	req = "GET /api/health HTTP/1.1\r\nHost: localhost\r\n";
	r = raw_send(extra_port, true, req, strlen(req), 8);
	if (r->len)
		expect_raw(r, 408, "request_timeout");
	raw_free(r);
}
END_TEST

/* ---- the per-IP limit: credential routes only ------------------------------------------- */

static void limit_setup(void)
{
	extra_start("ratelimit", "TG_NGINX_AUTH_RATE=1r/m TG_NGINX_AUTH_BURST=5");
}

static void limit_teardown(void)
{
	it_sh("scripts/stack nginx-stop '%s' ratelimit >/dev/null 2>&1", it_stack_dir());
	extra_port = 0;
}

/* One address, rate 1/min with a burst of 5: authenticated reads never count and never get 429;
 * the credential routes share the budget: 6 logins pass, then every credential route is 429. */
START_TEST(credential_limit_spares_authenticated_reads)
{
	struct it_user u;
	it_register(&u, "nginx-limit"); /* through the stack's own nginx */
	extra_use();
	for (int i = 0; i < 40; i++) {
		struct it_resp *h = it_get(i % 2 ? "/api/auth/sessions" : "/api/auth/me", u.access);
		ck_assert_msg(h->status == 200, "read %d before the login burst: %ld %.200s", i, h->status, h->body);
		it_free(h);
	}
	int passed = 0, limited = 0;
	for (int i = 0; i < 20; i++) {
		/* a new address each time: the application's own per-account lockout (also 429) stays out */
		char body[256];
		snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"wrong-password-1\",\"session\":\"body\"}",
			 it_unique_email("nginx-limit-nobody"));
		struct it_resp *h = it_post("/api/auth/login", NULL, body);
		if (h->status == 429) {
			expect_h2(h, 429, "rate_limited");
			ck_assert_ptr_nonnull(it_header(h, "Retry-After"));
			limited++;
		} else {
			ck_assert_msg(h->status == 401 && limited == 0, "login %d: %ld %.200s (after %d limited)", i,
				      h->status, h->body, limited);
			passed++;
		}
		it_free(h);
	}
	ck_assert_msg(passed == 6 && limited == 14, "%d logins passed and %d were limited; want 6 and 14 (burst 5)",
		      passed, limited);
	/* the address is out of credential budget; reads go on */
	for (int i = 0; i < 40; i++) {
		struct it_resp *h = it_get(i % 2 ? "/api/auth/sessions" : "/api/auth/me", u.access);
		ck_assert_msg(h->status == 200, "read %d after the login burst: %ld %.200s", i, h->status, h->body);
		it_free(h);
	}
	/* authenticated password routes are not limited per IP (the app re-checks the password) */
	struct it_resp *h = it_post("/api/profile/change-password", NULL, "{}");
	it_expect(h, 401, "unauthorized");
	it_free(h);
	static const char *const credential[] = {
		"/api/auth/register", "/api/auth/refresh", "/api/auth/logout", "/api/auth/forgot-password",
		"/api/auth/reset-password", "/api/auth/verify-email", "/api/auth/resend-verification",
		"/api/auth/login/mfa", "/api/auth/mfa/totp/verify", "/api/auth/oauth/google/callback",
	};
	for (size_t i = 0; i < sizeof(credential) / sizeof(*credential); i++) {
		h = it_post(credential[i], u.access, "{}");
		ck_assert_msg(h->status == 429, "%s: %ld, want 429", credential[i], h->status);
		expect_h2(h, 429, "rate_limited");
		it_free(h);
	}
}
END_TEST

/* ---- TLS: Mozilla's intermediate profile, checked with testssl ------------------------------ */

static const char *const tls_kinds[] = {"rsa", "ecdsa"};

/* Suites that must be offered with each kind of key (and no other). */
static const char *const want_rsa[] = {
	"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305",
	"DHE-RSA-AES128-GCM-SHA256",   "DHE-RSA-AES256-GCM-SHA384",   "DHE-RSA-CHACHA20-POLY1305",
	"TLS_AES_128_GCM_SHA256",      "TLS_AES_256_GCM_SHA384",      "TLS_CHACHA20_POLY1305_SHA256", NULL,
};
static const char *const want_ecdsa[] = {
	"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
	"TLS_AES_128_GCM_SHA256",        "TLS_AES_256_GCM_SHA384",        "TLS_CHACHA20_POLY1305_SHA256", NULL,
};

static void tls_teardown(void)
{
	for (size_t i = 0; i < 2; i++)
		it_sh("scripts/stack nginx-stop '%s' tls-%s >/dev/null 2>&1", it_stack_dir(), tls_kinds[i]);
}

static const char *finding(json_object *all, const char *id)
{
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *e = json_object_array_get_idx(all, i);
		const char *eid = json_str(e, "id");
		if (eid && !strcmp(eid, id))
			return json_str(e, "finding");
	}
	return NULL;
}

START_TEST(tls_profile_is_intermediate)
{
	const char *kind = tls_kinds[_i];
	const char *dir = it_stack_dir();
	const char *newkey = _i == 0 ? "rsa:2048" : "ec -pkeyopt ec_paramgen_curve:prime256v1";
	ck_assert_int_eq(it_sh("mkdir -p '%s/tls-test' && openssl req -x509 -newkey %s -nodes -days 2 -subj /CN=localhost"
			       " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '%s/tls-test/%s.key'"
			       " -out '%s/tls-test/%s.pem' >/dev/null 2>&1",
			       dir, newkey, dir, kind, dir, kind),
			 0);
	const char *out = it_sh_out("TG_NGINX_TLS_CERT='%s/tls-test/%s.pem' TG_NGINX_TLS_KEY='%s/tls-test/%s.key'"
				    " scripts/stack nginx-start '%s' tls-%s 2>&1",
				    dir, kind, dir, kind, dir, kind);
	int port = (int)strtol(out, NULL, 10);
	ck_assert_msg(port > 0, "nginx-start tls-%s: %s", kind, out);
	/* protocols, cipher categories, forward secrecy, and every suite offered per protocol */
	char json[512];
	snprintf(json, sizeof(json), "%s/tls-test/testssl-%s.json", dir, kind);
	unlink(json);
	int rc = it_sh("timeout 150 testssl --quiet --warnings off --color 0 --openssl-timeout 5 -p -s -f -E"
		       " --jsonfile '%s' 127.0.0.1:%d >'%s/tls-test/testssl-%s.log' 2>&1",
		       json, port, dir, kind);
	json_object *all = json_object_from_file(json);
	ck_assert_msg(all && json_object_is_type(all, json_type_array), "testssl (exit %d) wrote no JSON; see"
		      " %s/tls-test/testssl-%s.log", rc, dir, kind);

	static const char *const off[] = {"SSLv2", "SSLv3", "TLS1", "TLS1_1", "cipherlist_NULL", "cipherlist_aNULL",
					  "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA",
					  "cipherlist_AVERAGE"};
	for (size_t i = 0; i < sizeof(off) / sizeof(*off); i++) {
		const char *f = finding(all, off[i]);
		ck_assert_msg(f && !strncmp(f, "not offered", 11), "%s (%s): %s is %s", kind, json, off[i], f ? f : "missing");
	}
	static const char *const on[] = {"TLS1_2", "TLS1_3", "PFS"};
	for (size_t i = 0; i < sizeof(on) / sizeof(*on); i++) {
		const char *f = finding(all, on[i]);
		ck_assert_msg(f && !strncmp(f, "offered", 7), "%s: %s is %s", kind, on[i], f ? f : "missing");
	}
	const char *const *want = _i == 0 ? want_rsa : want_ecdsa;
	size_t nwant = 0;
	while (want[nwant])
		nwant++;
	bool seen[16] = {false};
	size_t offered = 0;
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *e = json_object_array_get_idx(all, i);
		const char *id = json_str(e, "id"), *sev = json_str(e, "severity"), *f = json_str(e, "finding");
		ck_assert_msg(!sev || (strcmp(sev, "MEDIUM") && strcmp(sev, "HIGH") && strcmp(sev, "CRITICAL")),
			      "%s: testssl: %s %s: %s", kind, sev, id, f);
		if (!id || strncmp(id, "cipher-", 7) || !f)
			continue;
		/* "TLS 1.2   xc02f   ECDHE-RSA-AES128-GCM-SHA256   ECDH 253   AESGCM   128   TLS_ECDHE_…" */
		char proto[8], ver[8], hex[16], name[64], kx[16], kxbits[16], enc[16], bits[16], iana[80];
		ck_assert_msg(sscanf(f, "%7s %7s %15s %63s %15s %15s %15s %15s %79s", proto, ver, hex, name, kx, kxbits,
				     enc, bits, iana) == 9,
			      "%s: cannot read %s", kind, f);
		offered++;
		ck_assert_msg(!strcmp(kx, "ECDH") || !strcmp(kx, "DH"), "%s: %s without forward secrecy (%s)", kind,
			      name, kx);
		ck_assert_msg(!strcmp(enc, "AESGCM") || !strcmp(enc, "ChaCha20"), "%s: %s is %s, not AEAD", kind, name,
			      enc);
		ck_assert_msg(!strstr(iana, "CBC") && (strlen(iana) < 4 || strcmp(iana + strlen(iana) - 4, "_SHA")),
			      "%s: %s uses CBC or a SHA-1 MAC", kind, iana);
		bool known = false;
		for (size_t k = 0; k < nwant; k++)
			if (!strcmp(want[k], name))
				known = seen[k] = true;
		ck_assert_msg(known, "%s: %s is offered but not in the profile", kind, name);
	}
	for (size_t k = 0; k < nwant; k++)
		ck_assert_msg(seen[k], "%s: %s is not offered (ssl_ciphers or ssl_dhparam not applied?)", kind, want[k]);
	ck_assert_uint_eq(offered, nwant);
	json_object_put(all);
}
END_TEST

/* The production site (with test certificates and the repository's API block) is valid nginx. */
START_TEST(production_site_passes_nginx_t)
{
	const char *dir = it_stack_dir();
	char repo[1024];
	ck_assert_ptr_nonnull(getcwd(repo, sizeof(repo))); /* it_run_suite runs from the repository */
	ck_assert_int_eq(it_sh("mkdir -p '%s/prod-nginx/logs' && cp '%s/tls/cert.pem' '%s/tls/key.pem' '%s/prod-nginx/'",
			       dir, dir, dir, dir),
			 0);
	ck_assert_int_eq(it_sh("sed -e 's|/usr/local/share/tollgate/nginx/|%s/nginx/|g'"
			       " -e 's|/etc/letsencrypt/live/example.com/fullchain.pem|%s/prod-nginx/cert.pem|'"
			       " -e 's|/etc/letsencrypt/live/example.com/privkey.pem|%s/prod-nginx/key.pem|'"
			       " nginx/tollgate.conf >'%s/prod-nginx/site.conf'",
			       repo, dir, dir, dir),
			 0);
	ck_assert_msg(it_sh("grep -q 'letsencrypt/live\\|/usr/local/share/tollgate/nginx' '%s/prod-nginx/site.conf'",
			    dir) != 0,
		      "paths left unreplaced in the production site");
	/* Debian's nginx.conf wraps a site in http { } with the MIME types */
	ck_assert_int_eq(it_sh("printf 'events {}\\nhttp {\\n\\tinclude /etc/nginx/mime.types;\\n\\tinclude %%s;\\n}\\n'"
			       " '%s/prod-nginx/site.conf' >'%s/prod-nginx/nginx.conf'",
			       dir, dir),
			 0);
	int rc = it_sh("nginx -t -q -p '%s/prod-nginx/' -c '%s/prod-nginx/nginx.conf' -g 'pid %s/prod-nginx/nginx.pid;"
		       " error_log %s/prod-nginx/logs/error.log;' 2>'%s/prod-nginx/test.log'",
		       dir, dir, dir, dir, dir);
	ck_assert_msg(rc == 0, "nginx -t rejects nginx/tollgate.conf: %s", it_sh_out("cat '%s/prod-nginx/test.log'", dir));
}
END_TEST

static TCase *tcase(Suite *s, const char *name, double timeout)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *nginx_suite(void)
{
	Suite *s = suite_create("nginx");
	TCase *tc = tcase(s, "errors", 60);
	tcase_add_test(tc, trace_is_405_problem);
	tcase_add_test(tc, connect_is_400_problem);
	tcase_add_test(tc, nul_in_path_is_400_problem);
	tcase_add_test(tc, malformed_requests_are_400_problems);
	tcase_add_test(tc, http_version_is_505_problem);
	tcase_add_test(tc, plain_http_on_tls_port_is_400_problem);
	tcase_add_test(tc, header_too_large_is_431_problem);
	tcase_add_test(tc, uri_too_long_is_414_problem);
	tcase_add_test(tc, unknown_transfer_coding_is_501_problem);
	tcase_add_test(tc, bad_chunk_sizes_are_400_problems);
	tcase_add_test(tc, body_too_large_is_413_problem);
	tcase_add_test(tc, api_paths_nginx_owns_are_404_problems);
	tcase_add_test(tc, static_pages_keep_html_errors);

	tc = tcase(s, "broken", 60);
	tcase_add_unchecked_fixture(tc, broken_setup, broken_teardown);
	tcase_add_test(tc, dead_upstream_is_503_problem);
	tcase_add_test(tc, nginx_internal_error_is_500_problem);
	tcase_add_test(tc, stalled_body_gets_no_html);

	tc = tcase(s, "rate_limit", 60);
	tcase_add_unchecked_fixture(tc, limit_setup, limit_teardown);
	tcase_add_test(tc, credential_limit_spares_authenticated_reads);

	tc = tcase(s, "production", 30);
	tcase_add_test(tc, production_site_passes_nginx_t);

	tc = tcase(s, "tls", 180);
	tcase_add_unchecked_fixture(tc, NULL, tls_teardown);
	tcase_add_loop_test(tc, tls_profile_is_intermediate, 0, 2);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* a raw write to a connection nginx already closed */
	return it_run_suite(nginx_suite());
}
