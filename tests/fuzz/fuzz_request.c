/* fuzz_request.c — the request parser (src/http/request.c) on a FastCGI environment built from
 * the input: http_req_init, then query, cookie and header lookups, the JSON body, the list
 * pagination and client fields the handlers read (api_page, api_client, field tables), and a problem
 * response serialised for the request.
 *
 * Input: lines up to the first empty line, then the body (raw bytes, to the end).
 *   NAME=value   a FastCGI parameter as nginx sends it (REQUEST_METHOD, REQUEST_URI, HTTP_COOKIE…)
 *   ?name        look the query parameter up      ;name   look the cookie up
 *   :NAME        look the header up by its FastCGI name (HTTP_X_FOO)
 * The names the API reads (page, per_page, unread, tg_refresh, HTTP_STRIPE_SIGNATURE) are always
 * looked up. Trusted proxies are 127.0.0.1 and 10.0.0.1, so X-Forwarded-For is parsed when
 * REMOTE_ADDR is one of them. */
#include "fuzz.h"

#include "tollgate/arena.h"
#include "tollgate/http.h"
#include "tollgate/page.h"
#include "tollgate/status.h"

#include "../../src/api/handlers.h" /* api_page, api_client, field tables: private to src/api, no database */

#include <arpa/inet.h>
#include <ctype.h>

#define MAX_PARAMS 64
#define MAX_LOOKUPS 16
#define TRUSTED "127.0.0.1, 10.0.0.1"

static bool ip_literal(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static bool request_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64)
		return false;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return true;
}

/* Strict UTF-8 (RFC 3629), what PostgreSQL accepts in a text column. */
static bool utf8_ok(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		unsigned long cp, min;
		size_t len;
		if (*s < 0x80) {
			s++;
			continue;
		} else if (*s >= 0xC2 && *s <= 0xDF) {
			len = 2, cp = *s & 0x1F, min = 0x80;
		} else if ((*s & 0xF0) == 0xE0) {
			len = 3, cp = *s & 0x0F, min = 0x800;
		} else if (*s >= 0xF0 && *s <= 0xF4) {
			len = 4, cp = *s & 0x07, min = 0x10000;
		} else {
			return false;
		}
		for (size_t k = 1; k < len; k++) {
			if ((s[k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		s += len;
	}
	return true;
}

/* A query value (NULL when absent or malformed: http_req_query says which). */
static const char *query(const struct http_req *req, const char *name)
{
	const char *v;
	int rc = http_req_query(req, name, &v);
	FUZZ_CHECK(rc == TG_OK || rc == TG_EINPUT);
	FUZZ_CHECK(rc == TG_OK || v == NULL);
	if (v)
		FUZZ_CHECK(utf8_ok(v)); /* a value that reaches a handler is UTF-8 */
	return v;
}

/* A decoded value is never longer than its encoded form and holds no NUL before its end. */
static void check_decoded(const char *v, size_t encoded_len)
{
	if (v)
		FUZZ_CHECK(strlen(v) <= encoded_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_span in = {(const char *)data, size}, line;
	char *env[MAX_PARAMS + 1];
	size_t nenv = 0;
	char *lookups[MAX_LOOKUPS];
	size_t nlookups = 0;
	while (fuzz_next_line(&in, &line) && line.n > 0) {
		if (line.p[0] == '?' || line.p[0] == ';' || line.p[0] == ':') {
			if (nlookups < MAX_LOOKUPS)
				lookups[nlookups++] = fuzz_cstr(line.p, line.n);
		} else if (memchr(line.p, '=', line.n) && nenv < MAX_PARAMS) {
			env[nenv++] = fuzz_cstr(line.p, line.n); /* libfcgi's params are C strings */
		}
	}
	env[nenv] = NULL;
	char *body = fuzz_dup_exact(in.p, in.n);

	struct arena *a = arena_new(0);
	FUZZ_CHECK(a != NULL);
	struct http_req req;
	FUZZ_CHECK(http_req_init(&req, a, env, TRUSTED, 32) == TG_OK);
	req.body = body;
	req.body_len = in.n;

	FUZZ_CHECK(req.path && req.query && req.method_name && req.client_ip);
	FUZZ_CHECK(strchr(req.path, '?') == NULL);
	FUZZ_CHECK(req.request_id && request_id_ok(req.request_id));
	const char *remote = http_req_env(&req, "REMOTE_ADDR");
	if (remote && strcmp(remote, "127.0.0.1") && strcmp(remote, "10.0.0.1"))
		/* X-Forwarded-For only from a trusted proxy (a REMOTE_ADDR that is not an address is only
		 * repaired into text) */
		FUZZ_CHECK(ip_literal(remote) ? !strcmp(req.client_ip, remote) : utf8_ok(req.client_ip));

	size_t ql = strlen(req.query), cl = req.cookie_header ? strlen(req.cookie_header) : 0;
	static const char *const queries[] = {"page", "per_page", "unread", ""};
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
		check_decoded(query(&req, queries[i]), ql);
	const char *c = http_req_cookie(&req, "tg_refresh");
	if (c)
		FUZZ_CHECK(strlen(c) <= cl);
	(void)http_req_header(&req, "HTTP_STRIPE_SIGNATURE");
	for (size_t i = 0; i < nlookups; i++) {
		const char *name = lookups[i] + 1;
		if (lookups[i][0] == '?') {
			check_decoded(query(&req, name), ql);
		} else if (lookups[i][0] == ';') {
			c = http_req_cookie(&req, name);
			if (c)
				FUZZ_CHECK(strlen(c) <= cl);
		} else {
			(void)http_req_header(&req, name);
		}
	}

	/* the path as a router parameter would be decoded */
	size_t pl = strlen(req.path);
	check_decoded(http_url_decode(a, req.path, pl, false), pl);
	check_decoded(http_url_decode(a, req.path, pl, true), pl);
	(void)http_req_param(&req, "id");

	(void)http_req_is_json(&req);
	json_object *obj = NULL, *again = NULL;
	int rc = http_req_json(&req, &obj);
	FUZZ_CHECK(rc == TG_OK || rc == TG_EINPUT);
	if (rc == TG_OK)
		FUZZ_CHECK(obj && json_object_is_type(obj, json_type_object));
	FUZZ_CHECK(http_req_json(&req, &again) == rc && again == obj); /* parsed once */

	struct http_res res;
	http_res_init(&res);
	struct page pg;
	struct valid_value values[8];
	if (valid_request(&req, &res, api_notifications_fields, values)) {
		req.values = values;
		api_page(&req, &pg);
		FUZZ_CHECK(pg.number >= 1 && pg.number <= 1000000 && pg.per_page >= 1 && pg.per_page <= 200);
	} else {
		FUZZ_CHECK(res.status == 422);
	}
	struct account_client client = api_client(&req); /* stored in text columns */
	FUZZ_CHECK(client.ip && client.user_agent && strlen(client.user_agent) <= 512);
	FUZZ_CHECK(utf8_ok(client.user_agent) && utf8_ok(client.ip));
	if (req.user_agent && strlen(req.user_agent) <= 512 && utf8_ok(req.user_agent))
		FUZZ_CHECK(!strcmp(client.user_agent, req.user_agent)); /* valid text is kept as it is */

	http_res_init(&res);
	http_res_problem(&res, &req, 400, "bad_request", "fuzz");
	char *out;
	size_t out_len;
	FUZZ_CHECK(http_res_serialize(&res, a, req.request_id, &out, &out_len) == 0);

	arena_destroy(a);
	free(body);
	for (size_t i = 0; i < nenv; i++)
		free(env[i]);
	for (size_t i = 0; i < nlookups; i++)
		free(lookups[i]);
	return 0;
}
