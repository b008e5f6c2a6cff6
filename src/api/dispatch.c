/* dispatch.c — the one place where method, CORS, content type, body and auth are checked. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/log.h"
#include "tollgate/status.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void api_fail(struct http_res *res, struct http_req *req, int status)
{
	switch (status) {
	case TG_EUNAVAIL:
		http_res_header(res, req->arena, "Retry-After", "5");
		http_res_problem(res, req, 503, "unavailable", "A dependency is unavailable; try again shortly.");
		return;
	case TG_ENOMEM:
	default:
		http_res_problem(res, req, 500, "internal", "Something went wrong on our side.");
		return;
	}
}

struct deadline api_deadline(const struct app *app, const struct http_req *req)
{
	return deadline_at(req->started_us, (long)app->cfg->outbound_deadline * 1000);
}

void api_no_store(struct http_res *res, struct http_req *req)
{
	for (const struct http_header *h = res->headers; h; h = h->next)
		if (!strcasecmp(h->name, "Cache-Control"))
			return;
	http_res_header(res, req->arena, "Cache-Control", "no-store");
}

bool api_json_string(json_object *obj, const char *key, const char **out)
{
	json_object *v;
	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
		return true;
	if (!json_object_is_type(v, json_type_string))
		return false;
	const char *s = json_object_get_string(v);
	/* "\u0000" would cut the C string short: a password would silently lose its tail */
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return false;
	*out = s;
	return true;
}

void api_field_error(struct http_res *res, struct http_req *req, const char *field, const char *why)
{
	json_object *e = json_object_new_object();
	json_object_object_add(e, field, json_object_new_string(why));
	http_res_invalid(res, req, e);
}

void api_too_many(struct http_res *res, struct http_req *req, int retry_after, const char *detail)
{
	char *ra = arena_printf(req->arena, "%d", retry_after > 0 ? retry_after : 1);
	if (ra)
		http_res_header(res, req->arena, "Retry-After", ra);
	http_res_problem(res, req, 429, "rate_limited", detail);
}

static bool parse_positive(int qrc, const char *s, long max, int *out)
{
	if (qrc != TG_OK)
		return false;
	if (!s)
		return true;
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 1 || v > max)
		return false;
	*out = (int)v;
	return true;
}

bool api_pagination(struct http_req *req, struct http_res *res, struct page *pg)
{
	int page = 1, per_page = 50;
	const char *v;
	int qrc = http_req_query(req, "page", &v);
	if (!parse_positive(qrc, v, 1000000, &page)) {
		api_field_error(res, req, "page", "must be a positive integer");
		return false;
	}
	qrc = http_req_query(req, "per_page", &v);
	if (!parse_positive(qrc, v, 200, &per_page)) {
		api_field_error(res, req, "per_page", "must be an integer from 1 to 200");
		return false;
	}
	page_init(pg, page, per_page);
	return true;
}

static void cors(struct app *app, struct http_req *req, struct http_res *res)
{
	/* the answer depends on Origin whether or not this one is allowed: caches must know */
	http_res_header(res, req->arena, "Vary", "Origin");
	if (!req->origin || !config_origin_allowed(app->cfg, req->origin))
		return;
	http_res_header(res, req->arena, "Access-Control-Allow-Origin", req->origin);
	http_res_header(res, req->arena, "Access-Control-Allow-Credentials", "true");
	http_res_header(res, req->arena, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
}

static bool preflight(struct app *app, struct http_req *req, struct http_res *res)
{
	if (req->method != HTTP_OPTIONS)
		return false;
	const struct route *route;
	unsigned allowed;
	enum router_result rr = router_match(app->router, req, &route, &allowed);
	if (rr == ROUTER_NOT_FOUND) {
		http_res_problem(res, req, 404, "not_found", "No such endpoint.");
		return true;
	}
	if (rr == ROUTER_FOUND)
		allowed = route->methods;
	const char *allow = router_allow_header(req->arena, allowed | HTTP_OPTIONS);
	http_res_header(res, req->arena, "Allow", allow);
	if (req->origin && config_origin_allowed(app->cfg, req->origin)) {
		http_res_header(res, req->arena, "Access-Control-Allow-Methods", allow);
		http_res_header(res, req->arena, "Access-Control-Allow-Headers",
				"Authorization, Content-Type, X-Request-Id");
		http_res_header(res, req->arena, "Access-Control-Max-Age", "600");
	}
	http_res_empty(res, 204);
	return true;
}

static bool check_body(struct http_req *req, struct http_res *res, unsigned flags)
{
	if (!(flags & ROUTE_BODY) || (flags & ROUTE_RAW))
		return true;
	bool empty = req->body_len == 0;
	if ((flags & ROUTE_BODY_OPTIONAL) && empty)
		return true;
	if (!http_req_is_json(req)) {
		http_res_problem(res, req, 415, "unsupported_media_type", "Send the body as application/json.");
		return false;
	}
	json_object *obj;
	if (http_req_json(req, &obj) != TG_OK) {
		http_res_problem(res, req, 400, "invalid_json", "The body is not a valid JSON object.");
		return false;
	}
	return true;
}

void api_dispatch(struct app *app, struct http_req *req, struct http_res *res)
{
	cors(app, req, res);
	if (preflight(app, req, res))
		return;
	const struct route *route = NULL;
	unsigned allowed = 0;
	switch (router_match(app->router, req, &route, &allowed)) {
	case ROUTER_NOT_FOUND:
		http_res_problem(res, req, 404, "not_found", "No such endpoint.");
		return;
	case ROUTER_METHOD_NOT_ALLOWED:
		http_res_header(res, req->arena, "Allow", router_allow_header(req->arena, allowed | HTTP_OPTIONS));
		http_res_problem(res, req, 405, "method_not_allowed", "This endpoint does not accept that method.");
		return;
	case ROUTER_FOUND:
		break;
	}
	if (route->flags & (ROUTE_USER | ROUTE_ADMIN)) {
		api_no_store(res, req);
		int rc = api_authenticate(app, req);
		if (rc == TG_EAUTH) {
			http_res_header(res, req->arena, "WWW-Authenticate", "Bearer");
			http_res_problem(res, req, 401, "unauthorized", "A valid access token is required.");
			return;
		}
		if (rc != TG_OK) {
			api_fail(res, req, rc);
			return;
		}
		if ((route->flags & ROUTE_ADMIN) && (!req->user_role || strcmp(req->user_role, "admin"))) {
			http_res_problem(res, req, 403, "forbidden", "This endpoint is for administrators.");
			return;
		}
	}
	if (!check_body(req, res, route->flags))
		return;
	route->handler(app, req, res);
}
