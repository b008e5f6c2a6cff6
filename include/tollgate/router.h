/* router.h — table-driven routing: method + path pattern with {param} captures. */
#ifndef TOLLGATE_ROUTER_H
#define TOLLGATE_ROUTER_H

#include "tollgate/http.h"

struct app;

typedef void (*route_handler)(struct app *app, struct http_req *req, struct http_res *res);

enum route_flags {
	ROUTE_PUBLIC = 0,
	ROUTE_USER = 1 << 0,    /* bearer token required */
	ROUTE_ADMIN = 1 << 1,   /* bearer token of an admin */
	ROUTE_BODY = 1 << 2,    /* takes a JSON body: other content types get 415 */
	ROUTE_RAW = 1 << 3,     /* takes a raw body (webhooks): no content-type check */
	ROUTE_BODY_OPTIONAL = 1 << 4, /* with ROUTE_BODY: an empty body is accepted */
	ROUTE_LARGE_BODY = 1 << 7, /* bodies up to API_LARGE_BODY_BYTES (documents); nginx allows as much */
	ROUTE_CHAT = 1 << 8,     /* a chat: nginx sends it to the chat pool, unbuffered */
	ROUTE_ANYTIME = 1 << 9,  /* answers in maintenance mode too (health, sign-in, webhooks) */
	ROUTE_PASSWORD = 1 << 5, /* checks a password (bcrypt): nginx sends it to the password pool */
	ROUTE_CREDENTIAL = 1 << 6, /* takes or issues credentials: nginx limits it per client address */
};

struct valid_field;

struct route {
	unsigned methods;        /* enum http_method bits */
	const char *pattern;     /* "/api/auth/sessions/{id}" */
	unsigned flags;
	route_handler handler;
	const struct valid_field *fields; /* body members and query parameters it takes, or NULL */
};

#define ROUTER_MAX_SEGMENTS 12

struct router;

/* Compiles a table. Returns NULL on a malformed pattern (programming error). Caller frees. */
struct router *router_new(const struct route *routes, size_t n);
void router_free(struct router *r);

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

/* Matches req->method and req->path. On FOUND sets *route and fills req->param_*; on
 * METHOD_NOT_ALLOWED sets *allowed to the methods the path accepts. */
enum router_result router_match(const struct router *r, struct http_req *req, const struct route **route,
				unsigned *allowed);
/* "GET, HEAD, POST" for a method set; arena string. */
const char *router_allow_header(struct arena *a, unsigned methods);

#endif
