/* response.c — building responses and RFC 9457 problem documents. */
#include "tollgate/http.h"
#include "tollgate/arena.h"
#include "tollgate/status.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *code, *title;
} problem_titles[] = {
	{"invalid_json", "Malformed JSON body"},
	{"unauthorized", "Authentication required"},
	{"forbidden", "Forbidden"},
	{"not_found", "Not found"},
	{"method_not_allowed", "Method not allowed"},
	{"conflict", "Conflict"},
	{"payload_too_large", "Payload too large"},
	{"unsupported_media_type", "Unsupported media type"},
	{"validation_failed", "Validation failed"},
	{"rate_limited", "Too many requests"},
	{"internal", "Internal server error"},
	{"unavailable", "Service unavailable"},
	{"invalid_credentials", "Invalid email or password"},
	{"email_taken", "Email already registered"},
	{"registration_closed", "Registration is closed"},
	{"account_suspended", "Account suspended"},
	{"refresh_token_reused", "Refresh token reused"},
	{"invalid_token", "Invalid or expired token"},
	{"already_subscribed", "Already subscribed"},
	{"no_customer", "No billing account"},
	{"billing_unavailable", "Billing unavailable"},
	{"invalid_signature", "Invalid signature"},
	{"quota_exceeded", "Quota exceeded"},
	{"llm_unavailable", "LLM unavailable"},
	{"llm_error", "The model refused the request"},
	{"bad_request", "Bad request"},
};

const char *http_problem_title(const char *code)
{
	for (size_t i = 0; i < sizeof(problem_titles) / sizeof(problem_titles[0]); i++)
		if (!strcmp(problem_titles[i].code, code))
			return problem_titles[i].title;
	return "Error";
}

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	}
	return "Unknown";
}

void http_res_init(struct http_res *res)
{
	memset(res, 0, sizeof(*res));
	res->status = 200;
}

void http_res_header(struct http_res *res, struct arena *a, const char *name, const char *value)
{
	struct http_header *h = arena_alloc(a, sizeof(*h));
	if (!h)
		return;
	h->name = arena_strdup(a, name);
	h->value = arena_strdup(a, value);
	if (!h->name || !h->value)
		return;
	/* append, so headers go out in the order they were set */
	struct http_header **pp = &res->headers;
	while (*pp)
		pp = &(*pp)->next;
	*pp = h;
}

static void set_body_json(struct http_res *res, struct arena *a, json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(s);
	res->body = arena_memdup(a, s, n);
	res->body_len = res->body ? n : 0;
}

void http_res_json(struct http_res *res, struct arena *a, int status, json_object *obj)
{
	res->status = status;
	res->content_type = "application/json";
	set_body_json(res, a, obj);
	json_object_put(obj);
}

void http_res_empty(struct http_res *res, int status)
{
	res->status = status;
	res->content_type = NULL;
	res->body = NULL;
	res->body_len = 0;
}

static void problem(struct http_res *res, struct http_req *req, int status, const char *code,
		    const char *detail, json_object *errors, json_object *members)
{
	json_object *o = json_object_new_object();
	char type[160];
	snprintf(type, sizeof(type), "https://tollgate.invalid/problems/%s", code);
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "title", json_object_new_string(http_problem_title(code)));
	json_object_object_add(o, "status", json_object_new_int(status));
	json_object_object_add(o, "code", json_object_new_string(code));
	if (detail)
		json_object_object_add(o, "detail", json_object_new_string(detail));
	if (req && req->request_id)
		json_object_object_add(o, "request_id", json_object_new_string(req->request_id));
	if (errors)
		json_object_object_add(o, "errors", errors);
	if (members) {
		json_object_object_foreach(members, k, v) json_object_object_add(o, k, json_object_get(v));
		json_object_put(members);
	}
	res->status = status;
	res->content_type = "application/problem+json";
	res->problem_code = code;
	set_body_json(res, req->arena, o);
	json_object_put(o);
}

void http_res_problem(struct http_res *res, struct http_req *req, int status, const char *code,
		      const char *detail)
{
	problem(res, req, status, code, detail, NULL, NULL);
}

void http_res_problem_with(struct http_res *res, struct http_req *req, int status, const char *code,
			   const char *detail, json_object *members)
{
	problem(res, req, status, code, detail, NULL, members);
}

void http_res_invalid(struct http_res *res, struct http_req *req, json_object *errors)
{
	problem(res, req, 422, "validation_failed", "One or more fields are invalid.", errors, NULL);
}

void http_res_cookie(struct http_res *res, struct arena *a, const char *name, const char *value,
		     const char *path, long long max_age)
{
	char *v;
	if (max_age == 0)
		v = arena_printf(a, "%s=; Path=%s; Max-Age=0; HttpOnly; Secure; SameSite=Strict", name, path);
	else if (max_age < 0)
		v = arena_printf(a, "%s=%s; Path=%s; HttpOnly; Secure; SameSite=Strict", name, value, path);
	else
		v = arena_printf(a, "%s=%s; Path=%s; Max-Age=%lld; HttpOnly; Secure; SameSite=Strict", name, value,
				 path, max_age);
	if (v)
		http_res_header(res, a, "Set-Cookie", v);
}

int http_res_serialize(const struct http_res *res, struct arena *a, const char *request_id,
		       char **out, size_t *out_len)
{
	size_t cap = 256 + res->body_len + (request_id ? strlen(request_id) : 0) +
		     (res->content_type ? strlen(res->content_type) : 0);
	for (const struct http_header *h = res->headers; h; h = h->next)
		cap += strlen(h->name) + strlen(h->value) + 4;
	char *buf = arena_alloc(a, cap);
	if (!buf)
		return -1;
	size_t n = 0;
#define PUT(...)                                                                     \
	do {                                                                         \
		int w = snprintf(buf + n, cap - n, __VA_ARGS__);                     \
		if (w < 0 || (size_t)w >= cap - n)                                   \
			return -1;                                                   \
		n += (size_t)w;                                                      \
	} while (0)
	PUT("Status: %d %s\r\n", res->status, http_status_text(res->status));
	if (res->content_type)
		PUT("Content-Type: %s\r\n", res->content_type);
	if (request_id && *request_id)
		PUT("X-Request-Id: %s\r\n", request_id);
	for (const struct http_header *h = res->headers; h; h = h->next)
		PUT("%s: %s\r\n", h->name, h->value);
	PUT("\r\n");
#undef PUT
	if (res->body_len) {
		if (res->body_len > cap - n)
			return -1;
		memcpy(buf + n, res->body, res->body_len);
		n += res->body_len;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

int http_stream_begin(struct http_res *res, struct http_req *req, int status, const char *content_type)
{
	if (!res->stream)
		return TG_EUNAVAIL;
	res->status = status;
	res->content_type = content_type;
	res->body = NULL;
	res->body_len = 0;
	bool cache_control = false; /* the dispatcher may have set it already: once is enough */
	for (const struct http_header *h = res->headers; h; h = h->next)
		cache_control = cache_control || !strcasecmp(h->name, "Cache-Control");
	if (!cache_control)
		http_res_header(res, req->arena, "Cache-Control", "no-store");
	http_res_header(res, req->arena, "X-Accel-Buffering", "no");
	char *head;
	size_t len;
	if (http_res_serialize(res, req->arena, req->request_id, &head, &len) != 0)
		return TG_EINTERNAL;
	res->streamed = true;
	return res->stream->write(res->stream->ctx, head, len) < 0 ? TG_EIO : TG_OK;
}

int http_stream_write(struct http_res *res, const char *data, size_t len)
{
	if (!res->stream || !res->streamed)
		return TG_EIO;
	return res->stream->write(res->stream->ctx, data, len) < 0 ? TG_EIO : TG_OK;
}
