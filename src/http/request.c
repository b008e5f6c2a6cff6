/* request.c — a request from the FastCGI environment: path, query, headers, cookies, JSON body. */
#include "tollgate/http.h"
#include "tollgate/arena.h"
#include "tollgate/crypto.h"
#include "tollgate/status.h"
#include "tollgate/timeutil.h"
#include "tollgate/utf8.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum http_method m;
} methods[] = {
	{"GET", HTTP_GET}, {"HEAD", HTTP_HEAD}, {"POST", HTTP_POST}, {"PUT", HTTP_PUT},
	{"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
};

static const char *env_get(char **env, const char *name)
{
	size_t nl = strlen(name);
	for (char **e = env; e && *e; e++)
		if (strncmp(*e, name, nl) == 0 && (*e)[nl] == '=')
			return *e + nl + 1;
	return NULL;
}

const char *http_req_env(const struct http_req *req, const char *name)
{
	return env_get(req->env, name);
}

const char *http_req_header(const struct http_req *req, const char *cgi_name)
{
	return env_get(req->env, cgi_name);
}

static bool in_list(const char *list, const char *item)
{
	size_t il = strlen(item);
	const char *p = list;
	while (p && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *s = p;
		while (*p && *p != ' ' && *p != ',')
			p++;
		if ((size_t)(p - s) == il && il && !memcmp(s, item, il))
			return true;
	}
	return false;
}

static bool ip_literal(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* The client is REMOTE_ADDR, unless that is a trusted proxy: then the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy. */
static const char *client_ip(struct http_req *req, const char *trusted)
{
	const char *remote = env_get(req->env, "REMOTE_ADDR");
	if (!remote)
		return "";
	if (!ip_literal(remote)) /* nginx's own word, but it reaches a text column all the same */
		return utf8_clean(req->arena, remote, 64);
	if (!trusted || !*trusted || !in_list(trusted, remote))
		return remote;
	const char *xff = env_get(req->env, "HTTP_X_FORWARDED_FOR");
	if (!xff)
		return remote;
	char *copy = arena_strdup(req->arena, xff);
	if (!copy)
		return remote;
	for (;;) {
		char *comma = strrchr(copy, ',');
		char *item = comma ? comma + 1 : copy;
		while (*item == ' ')
			item++;
		size_t n = strlen(item);
		while (n && item[n - 1] == ' ')
			item[--n] = '\0';
		if (!*item || !ip_literal(item))
			return remote; /* not an address: the proxy's own view is all we can believe */
		if (!in_list(trusted, item) || !comma)
			return item;
		*comma = '\0';
	}
}

/* 1-64 characters of [A-Za-z0-9._-]: what nginx's $request_id and common tracers produce. */
static bool request_id_valid(const char *id)
{
	if (!id || !*id)
		return false;
	size_t n = 0;
	for (const char *p = id; *p; p++, n++) {
		if (n >= 64 || !(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
			return false;
	}
	return true;
}

static const char *new_request_id(struct arena *a)
{
	unsigned char raw[16];
	char *hex = arena_alloc(a, 2 * sizeof(raw) + 1);
	if (!hex || crypto_random(raw, sizeof(raw)) != 0)
		return NULL;
	crypto_hex(raw, sizeof(raw), hex);
	return hex;
}

int http_req_init(struct http_req *req, struct arena *a, char **env, const char *trusted_proxies,
		  int json_max_depth)
{
	memset(req, 0, sizeof(*req));
	req->arena = a;
	req->env = env;
	req->json_max_depth = json_max_depth;
	req->content_length = -1;
	req->started_us = time_mono_us();
	req->route_result = -1;

	const char *m = env_get(env, "REQUEST_METHOD");
	req->method_name = m ? m : "";
	req->method = HTTP_OTHER;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (m && !strcmp(m, methods[i].name))
			req->method = methods[i].m;

	/* Route on the raw REQUEST_URI: DOCUMENT_URI is already decoded by nginx. */
	const char *uri = env_get(env, "REQUEST_URI");
	if (!uri)
		uri = env_get(env, "DOCUMENT_URI");
	if (!uri)
		uri = "/";
	const char *q = strchr(uri, '?');
	req->path = q ? arena_strndup(a, uri, (size_t)(q - uri)) : uri;
	req->query = q ? q + 1 : "";
	if (!req->path)
		return TG_ENOMEM;

	req->content_type = env_get(env, "CONTENT_TYPE");
	if (req->content_type && !*req->content_type)
		req->content_type = NULL;
	const char *cl = env_get(env, "CONTENT_LENGTH");
	if (cl && *cl) {
		errno = 0;
		char *end;
		long long v = strtoll(cl, &end, 10);
		req->content_length = (errno || *end || v < 0) ? -1 : v;
	}
	req->request_id = env_get(env, "REQUEST_ID");
	if (!request_id_valid(req->request_id))
		req->request_id = env_get(env, "HTTP_X_REQUEST_ID");
	if (!request_id_valid(req->request_id))
		req->request_id = new_request_id(a); /* never echo a client's arbitrary bytes */
	/* stored with sessions and audit entries: valid UTF-8, bounded, whatever the client sent */
	const char *ua = env_get(env, "HTTP_USER_AGENT");
	req->user_agent = utf8_clean(a, ua ? ua : "", HTTP_USER_AGENT_MAX);
	req->origin = env_get(env, "HTTP_ORIGIN");
	req->authorization = env_get(env, "HTTP_AUTHORIZATION");
	req->cookie_header = env_get(env, "HTTP_COOKIE");
	req->client_ip = client_ip(req, trusted_proxies);
	return TG_OK;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *http_url_decode(struct arena *a, const char *s, size_t len, bool form)
{
	char *out = arena_alloc(a, len + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len)
				return NULL;
			int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return NULL;
			char c = (char)(h * 16 + l);
			if (c == '\0')
				return NULL;
			out[o++] = c;
			i += 2;
		} else if (form && s[i] == '+') {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

int http_req_query(const struct http_req *req, const char *name, const char **out)
{
	*out = NULL;
	size_t nl = strlen(name);
	const char *p = req->query;
	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t seg = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', seg);
		size_t kl = eq ? (size_t)(eq - p) : seg;
		if (kl == nl && !memcmp(p, name, nl)) {
			if (!eq) {
				*out = "";
				return TG_OK;
			}
			char *v = http_url_decode(req->arena, eq + 1, seg - kl - 1, true);
			if (!v || !utf8_valid(v, strlen(v)))
				return TG_EINPUT;
			*out = v;
			return TG_OK;
		}
		p = amp ? amp + 1 : NULL;
	}
	return TG_OK;
}

const char *http_req_cookie(const struct http_req *req, const char *name)
{
	size_t nl = strlen(name);
	const char *p = req->cookie_header;
	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t seg = end ? (size_t)(end - p) : strlen(p);
		if (seg > nl && !memcmp(p, name, nl) && p[nl] == '=') {
			const char *v = p + nl + 1;
			size_t vl = seg - nl - 1;
			if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
				v++;
				vl -= 2;
			}
			return arena_strndup(req->arena, v, vl);
		}
		p = end;
	}
	return NULL;
}

const char *http_req_param(const struct http_req *req, const char *name)
{
	for (int i = 0; i < req->nparams; i++)
		if (!strcmp(req->param_names[i], name))
			return req->param_values[i];
	return NULL;
}

bool http_req_is_json(const struct http_req *req)
{
	const char *ct = req->content_type;
	if (!ct)
		return false;
	static const char want[] = "application/json";
	if (strncasecmp(ct, want, sizeof(want) - 1))
		return false;
	char next = ct[sizeof(want) - 1];
	return next == '\0' || next == ';' || next == ' ';
}

int http_req_json(struct http_req *req, json_object **out)
{
	if (!req->json_parsed) {
		req->json_parsed = true;
		json_tokener *tok = json_tokener_new_ex(req->json_max_depth > 0 ? req->json_max_depth : 32);
		if (!tok)
			return TG_ENOMEM;
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		json_object *obj = NULL;
		if (req->body_len > 0 && req->body_len <= (size_t)INT32_MAX &&
		    memchr(req->body, '\0', req->body_len) == NULL &&
		    utf8_valid(req->body, req->body_len)) {
			obj = json_tokener_parse_ex(tok, req->body, (int)req->body_len);
			if (json_tokener_get_error(tok) != json_tokener_success) {
				json_object_put(obj);
				obj = NULL;
			} else if (json_tokener_get_parse_end(tok) < req->body_len) {
				/* trailing bytes after the value: only whitespace allowed */
				for (size_t i = json_tokener_get_parse_end(tok); i < req->body_len; i++)
					if (!isspace((unsigned char)req->body[i])) {
						json_object_put(obj);
						obj = NULL;
						break;
					}
			}
		}
		json_tokener_free(tok);
		if (obj && !json_object_is_type(obj, json_type_object)) {
			json_object_put(obj);
			obj = NULL;
		}
		arena_own_json(req->arena, obj);
		req->json = obj;
	}
	*out = req->json;
	return req->json ? TG_OK : TG_EINPUT;
}
