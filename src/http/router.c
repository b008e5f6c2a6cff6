/* router.c — match method + raw path against a compiled route table. */
#include "tollgate/router.h"
#include "tollgate/mem.h"
#include "tollgate/arena.h"

#include <stdlib.h>
#include <string.h>

struct segment {
	const char *text; /* literal, or the parameter name when param */
	size_t len;
	bool param;
};

struct compiled {
	const struct route *route;
	struct segment seg[ROUTER_MAX_SEGMENTS];
	int nseg;
	int nparams;
};

struct router {
	struct compiled *routes;
	size_t n;
};

static int split(const char *path, const char *out[], size_t lens[], int max)
{
	if (*path != '/')
		return -1;
	int n = 0;
	const char *p = path + 1;
	for (;;) {
		const char *s = p;
		while (*p && *p != '/')
			p++;
		if (n == max)
			return -1;
		out[n] = s;
		lens[n] = (size_t)(p - s);
		n++;
		if (!*p)
			break;
		p++;
	}
	return n;
}

struct router *router_new(const struct route *routes, size_t n)
{
	struct router *r = mem_calloc(1, sizeof(*r));
	r->routes = mem_calloc(n ? n : 1, sizeof(*r->routes));
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		struct compiled *c = &r->routes[i];
		const char *parts[ROUTER_MAX_SEGMENTS];
		size_t lens[ROUTER_MAX_SEGMENTS];
		c->route = &routes[i];
		c->nseg = split(routes[i].pattern, parts, lens, ROUTER_MAX_SEGMENTS);
		if (c->nseg < 0)
			goto bad;
		for (int s = 0; s < c->nseg; s++) {
			struct segment *sg = &c->seg[s];
			if (lens[s] >= 2 && parts[s][0] == '{' && parts[s][lens[s] - 1] == '}') {
				sg->param = true;
				sg->text = parts[s] + 1;
				sg->len = lens[s] - 2;
				if (++c->nparams > HTTP_MAX_PARAMS)
					goto bad;
			} else {
				sg->text = parts[s];
				sg->len = lens[s];
			}
		}
	}
	return r;
bad:
	router_free(r);
	return NULL;
}

void router_free(struct router *r)
{
	if (!r)
		return;
	free(r->routes);
	free(r);
}

static bool match_path(const struct compiled *c, const char *parts[], const size_t lens[], int n)
{
	if (n != c->nseg)
		return false;
	for (int i = 0; i < n; i++) {
		if (c->seg[i].param) {
			if (lens[i] == 0)
				return false;
		} else if (lens[i] != c->seg[i].len || memcmp(parts[i], c->seg[i].text, lens[i])) {
			return false;
		}
	}
	return true;
}

enum router_result router_match(const struct router *r, struct http_req *req, const struct route **route,
				unsigned *allowed)
{
	const char *parts[ROUTER_MAX_SEGMENTS];
	size_t lens[ROUTER_MAX_SEGMENTS];
	int n = split(req->path, parts, lens, ROUTER_MAX_SEGMENTS);
	*allowed = 0;
	if (n < 0)
		return ROUTER_NOT_FOUND;
	/* HEAD is served by GET routes */
	unsigned want = req->method == HTTP_HEAD ? (HTTP_HEAD | HTTP_GET) : req->method;
	for (size_t i = 0; i < r->n; i++) {
		const struct compiled *c = &r->routes[i];
		if (!match_path(c, parts, lens, n))
			continue;
		if (!(c->route->methods & want)) {
			*allowed |= c->route->methods;
			continue;
		}
		req->nparams = 0;
		for (int s = 0; s < n; s++) {
			if (!c->seg[s].param)
				continue;
			char *v = http_url_decode(req->arena, parts[s], lens[s], false);
			if (!v || strchr(v, '/'))
				return ROUTER_NOT_FOUND;
			req->param_names[req->nparams] = arena_strndup(req->arena, c->seg[s].text, c->seg[s].len);
			req->param_values[req->nparams] = v;
			req->nparams++;
		}
		*route = c->route;
		return ROUTER_FOUND;
	}
	if (*allowed) {
		if (*allowed & HTTP_GET)
			*allowed |= HTTP_HEAD;
		return ROUTER_METHOD_NOT_ALLOWED;
	}
	return ROUTER_NOT_FOUND;
}

const char *router_allow_header(struct arena *a, unsigned methods)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{HTTP_GET, "GET"}, {HTTP_HEAD, "HEAD"}, {HTTP_POST, "POST"}, {HTTP_PUT, "PUT"},
		{HTTP_PATCH, "PATCH"}, {HTTP_DELETE, "DELETE"}, {HTTP_OPTIONS, "OPTIONS"},
	};
	char buf[64];
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(methods & names[i].bit))
			continue;
		size_t l = strlen(names[i].name);
		if (n + l + 3 > sizeof(buf))
			break;
		if (n) {
			memcpy(buf + n, ", ", 2);
			n += 2;
		}
		memcpy(buf + n, names[i].name, l);
		n += l;
		buf[n] = '\0';
	}
	return arena_strdup(a, buf);
}
