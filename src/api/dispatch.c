/* dispatch.c — the one place where method, CORS, content type, body and auth are checked. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/log.h"
#include "tollgate/settings.h"
#include "tollgate/status.h"
#include "tollgate/valid.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The one mapping from a status to what the client is told. Handlers answer their own
 * contract codes (email_taken, already_subscribed, …) and leave every other status to this. */
static const struct {
	int status, http;
	const char *code, *detail, *retry_after;
} status_answers[] = {
	{TG_EINPUT, 422, "validation_failed", "The request is not valid.", NULL},
	{TG_ENOTFOUND, 404, "not_found", "No such resource.", NULL},
	{TG_ECONFLICT, 409, "conflict", "The request conflicts with the current state; reload and try again.", NULL},
	{TG_EAUTH, 401, "unauthorized", "A valid access token is required.", NULL},
	{TG_EFORBIDDEN, 403, "forbidden", "You are not allowed to do this.", NULL},
	{TG_ELIMIT, 429, "rate_limited", "Too many requests; try again later.", "60"},
	{TG_EUNAVAIL, 503, "unavailable", "A dependency is unavailable; try again shortly.", "5"},
};

void api_fail(struct http_res *res, struct http_req *req, int status)
{
	for (size_t i = 0; i < sizeof(status_answers) / sizeof(status_answers[0]); i++) {
		if (status_answers[i].status != status)
			continue;
		if (status_answers[i].retry_after)
			http_res_header(res, req->arena, "Retry-After", status_answers[i].retry_after);
		if (status == TG_EAUTH)
			http_res_header(res, req->arena, "WWW-Authenticate", "Bearer");
		http_res_problem(res, req, status_answers[i].http, status_answers[i].code, status_answers[i].detail);
		return;
	}
	/* TG_ENOMEM, TG_EDB, TG_EUPSTREAM, TG_EIO, TG_EINTERNAL: ours, and nothing to tell but that */
	http_res_problem(res, req, 500, "internal", "Something went wrong on our side.");
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

void api_page(const struct http_req *req, struct page *pg)
{
	page_init(pg, (int)req->values[API_F_PAGE].num, (int)req->values[API_F_PER_PAGE].num);
}

json_object *api_list(const struct page *pg, json_object *items)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "items", items);
	json_object_object_add(o, "page", json_object_new_int(pg->number));
	json_object_object_add(o, "per_page", json_object_new_int(pg->per_page));
	json_object_object_add(o, "total", json_object_new_int64(pg->total));
	return o;
}

static void cors(struct app *app, struct http_req *req, struct http_res *res)
{
	/* the answer depends on Origin whether or not this one is allowed: caches must know */
	http_res_header(res, req->arena, "Vary", "Origin");
	if (!req->origin || !http_origin_allowed(app->cfg->public_origin, app->cfg->cors_origins, req->origin))
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
	if (req->origin && http_origin_allowed(app->cfg->public_origin, app->cfg->cors_origins, req->origin)) {
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

/* Maintenance mode: everyone but an admin gets 503 maintenance, except on ROUTE_ANYTIME routes.
 * The settings come from the worker's cache (no query). False when answered. */
static bool maintenance_allows(struct app *app, struct http_req *req, struct http_res *res, const struct route *route)
{
	const struct settings *st;
	if ((route->flags & ROUTE_ANYTIME) || settings_get(app->settings, &st) != TG_OK || !st->maintenance_mode)
		return true;
	if (req->authorization && api_authenticate(app, req) == TG_OK && app->me && !strcmp(app->me->role, "admin"))
		return true;
	http_res_header(res, req->arena, "Retry-After", "120");
	http_res_problem(res, req, 503, "maintenance", "We are doing maintenance; please try again in a few minutes.");
	return false;
}

/* Matches req's route once (the body limit needs it before the body is read). */
static enum router_result route_of(struct app *app, struct http_req *req)
{
	if (req->route_result < 0) {
		const struct route *route = NULL;
		req->route_result = (int)router_match(app->router, req, &route, &req->route_allowed);
		req->route = route;
	}
	return (enum router_result)req->route_result;
}

long long api_body_limit(struct app *app, struct http_req *req)
{
	long long limit = app->cfg->max_body_bytes;
	if (req->method != HTTP_OPTIONS && route_of(app, req) == ROUTER_FOUND && (req->route->flags & ROUTE_LARGE_BODY) &&
	    limit < API_LARGE_BODY_BYTES)
		limit = API_LARGE_BODY_BYTES;
	return limit;
}

void api_dispatch(struct app *app, struct http_req *req, struct http_res *res)
{
	app->me = NULL;
	cors(app, req, res);
	if (preflight(app, req, res))
		return;
	enum router_result rr = route_of(app, req);
	const struct route *route = req->route;
	unsigned allowed = req->route_allowed;
	switch (rr) {
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
	if (!maintenance_allows(app, req, res, route))
		return;
	if (route->flags & (ROUTE_USER | ROUTE_ADMIN)) {
		api_no_store(res, req);
		int rc = api_authenticate(app, req);
		if (rc != TG_OK) {
			api_fail(res, req, rc);
			return;
		}
		if ((route->flags & ROUTE_ADMIN) && (!req->user_role || strcmp(req->user_role, "admin"))) {
			http_res_problem(res, req, 403, "forbidden", "This endpoint is for administrators.");
			return;
		}
		const struct settings *st;
		if ((route->flags & ROUTE_ADMIN) && settings_get(app->settings, &st) == TG_OK && st->admin_mfa_required &&
		    !app->me->mfa_enabled) {
			http_res_problem(res, req, 403, "mfa_required",
					 "Administrators must turn on two-factor sign-in to use the admin routes.");
			return;
		}
	}
	if (!check_body(req, res, route->flags))
		return;
	if (route->fields) {
		size_t n = 0;
		while (route->fields[n].name)
			n++;
		struct valid_value *values = arena_alloc(req->arena, (n + 1) * sizeof(*values));
		if (!valid_request(req, res, route->fields, values))
			return;
		req->values = values;
	}
	route->handler(app, req, res);
}
