/* fuzz_router.c — the router over the real route table (api_routes) on a fuzzed method and path,
 * then the dispatcher's checks before a handler runs (CORS, preflight, 404/405, authentication,
 * content type and JSON body) with every handler replaced by a stub, and the serialised response.
 *
 * Input: "METHOD URI" on the first line (URI with its query string, as nginx's REQUEST_URI), then
 * FastCGI parameters "NAME=value" (HTTP_ORIGIN, CONTENT_TYPE, HTTP_AUTHORIZATION…) up to an
 * empty line, then the body. No database: the token key is empty, so every bearer token is
 * refused before a session lookup, and a stub must never run for a route that needs a user. */
#include "fuzz.h"

#include "tollgate/app.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/http.h"
#include "tollgate/router.h"
#include "tollgate/status.h"
#include "tollgate/token.h"

#include "../../src/api/handlers.h" /* struct auth_state */

#include <unistd.h>

#define MAX_PARAMS 32

static struct router *real;  /* the table as api_init compiles it */
static struct route *stubbed; /* the same table, every handler a stub */
static struct tg_config cfg;
static struct token_key key;
static struct auth_state auth;
static struct app app;
static const struct route *called;

static void stub(struct app *ap, struct http_req *req, struct http_res *res)
{
	(void)ap;
	const struct route *route;
	unsigned allowed;
	FUZZ_CHECK(router_match(real, req, &route, &allowed) == ROUTER_FOUND);
	called = route;
	http_res_empty(res, 204);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	size_t n;
	const struct route *routes = api_routes(&n);
	real = router_new(routes, n);
	stubbed = calloc(n, sizeof(*stubbed));
	FUZZ_CHECK(real && stubbed);
	for (size_t i = 0; i < n; i++) {
		stubbed[i] = routes[i];
		stubbed[i].handler = stub;
	}
	char err[256];
	for (char **e = environ; e && *e; e++) /* no TOLLGATE_* variable changes the defaults */
		FUZZ_CHECK(strncmp(*e, "TOLLGATE_", 9) != 0);
	FUZZ_CHECK(config_load(&cfg, NULL, err, sizeof(err)) == TG_OK);
	free(cfg.cors_origins);
	cfg.cors_origins = strdup("https://app.example.com http://localhost:5173");
	key.secret = (const unsigned char *)"";
	key.secret_len = 0; /* token_verify refuses every token: no session lookup */
	auth.key = &key;
	app.cfg = &cfg;
	app.auth = &auth;
	app.router = router_new(stubbed, n);
	FUZZ_CHECK(app.router != NULL);
	return 0;
}

static int count_params(const char *pattern)
{
	int n = 0;
	for (const char *p = pattern; *p; p++)
		n += *p == '{';
	return n;
}

/* Every header line of a serialised response ends in CRLF and holds no other CR or LF. */
static void check_headers(const char *out, size_t len)
{
	size_t i = 0;
	for (;;) {
		const char *crlf = NULL;
		for (size_t j = i; j + 1 < len; j++)
			if (out[j] == '\r' || out[j] == '\n') {
				FUZZ_CHECK(out[j] == '\r' && out[j + 1] == '\n');
				crlf = out + j;
				break;
			}
		FUZZ_CHECK(crlf != NULL);
		if (crlf == out + i)
			return; /* the empty line before the body */
		FUZZ_CHECK(memchr(out + i, ':', (size_t)(crlf - out - i)) != NULL);
		i = (size_t)(crlf - out) + 2;
	}
}

static void route_checks(struct http_req *req)
{
	const struct route *route = NULL;
	unsigned allowed = 0;
	unsigned want = req->method == HTTP_HEAD ? (HTTP_HEAD | HTTP_GET) : req->method;
	switch (router_match(real, req, &route, &allowed)) {
	case ROUTER_FOUND:
		FUZZ_CHECK(route && (route->methods & want));
		FUZZ_CHECK(req->nparams == count_params(route->pattern));
		for (int i = 0; i < req->nparams; i++) {
			FUZZ_CHECK(req->param_names[i] && req->param_values[i] && *req->param_values[i]);
			FUZZ_CHECK(!strchr(req->param_values[i], '/'));
			FUZZ_CHECK(http_req_param(req, req->param_names[i]) != NULL);
		}
		break;
	case ROUTER_METHOD_NOT_ALLOWED:
		FUZZ_CHECK(allowed && !(allowed & want));
		FUZZ_CHECK(router_allow_header(req->arena, allowed | HTTP_OPTIONS) != NULL);
		break;
	case ROUTER_NOT_FOUND:
		FUZZ_CHECK(allowed == 0);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_span in = {(const char *)data, size}, line, method = {"", 0}, uri = {"", 0};
	if (fuzz_next_line(&in, &line)) {
		struct fuzz_span l = line;
		fuzz_next_field(&l, ' ', &method);
		uri = l;
	}
	char *env[MAX_PARAMS + 3];
	size_t nenv = 0;
	char *m = fuzz_cstr(method.p, method.n), *u = fuzz_cstr(uri.p, uri.n);
	size_t ml = strlen(m), ul = strlen(u);
	env[nenv] = malloc(ml + 16);
	FUZZ_CHECK(env[nenv] != NULL);
	memcpy(env[nenv], "REQUEST_METHOD=", 15);
	memcpy(env[nenv] + 15, m, ml + 1);
	nenv++;
	env[nenv] = malloc(ul + 13);
	FUZZ_CHECK(env[nenv] != NULL);
	memcpy(env[nenv], "REQUEST_URI=", 12);
	memcpy(env[nenv] + 12, u, ul + 1);
	nenv++;
	while (nenv < MAX_PARAMS + 2 && fuzz_next_line(&in, &line) && line.n > 0)
		if (memchr(line.p, '=', line.n))
			env[nenv++] = fuzz_cstr(line.p, line.n);
	env[nenv] = NULL;
	char *body = fuzz_dup_exact(in.p, in.n);

	struct arena *a = arena_new(0);
	FUZZ_CHECK(a != NULL);
	struct http_req req;
	FUZZ_CHECK(http_req_init(&req, a, env, NULL, cfg.json_max_depth) == TG_OK);
	req.body = body;
	req.body_len = in.n;
	route_checks(&req);

	/* the dispatcher on a fresh request (the router fills the parameters again) */
	FUZZ_CHECK(http_req_init(&req, a, env, NULL, cfg.json_max_depth) == TG_OK);
	req.body = body;
	req.body_len = in.n;
	struct http_res res;
	http_res_init(&res);
	app.arena = a;
	called = NULL;
	api_dispatch(&app, &req, &res);
	FUZZ_CHECK(res.status >= 200 && res.status < 600);
	if (called) {
		FUZZ_CHECK(!(called->flags & (ROUTE_USER | ROUTE_ADMIN))); /* no token can be valid */
		if ((called->flags & ROUTE_BODY) && !(called->flags & ROUTE_RAW) &&
		    !((called->flags & ROUTE_BODY_OPTIONAL) && req.body_len == 0)) {
			json_object *obj;
			FUZZ_CHECK(http_req_is_json(&req) && http_req_json(&req, &obj) == TG_OK);
		}
	} else {
		FUZZ_CHECK(res.status >= 400 || res.status == 204); /* 204: a preflight */
	}
	char *out;
	size_t out_len;
	FUZZ_CHECK(http_res_serialize(&res, a, req.request_id, &out, &out_len) == 0);
	check_headers(out, out_len);

	arena_destroy(a);
	free(body);
	free(m);
	free(u);
	for (size_t i = 0; i < nenv; i++)
		free(env[i]);
	return 0;
}
