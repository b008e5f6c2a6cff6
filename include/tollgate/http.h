/* http.h — the request and response of one FastCGI call, independent of libfcgi.
 *
 * The worker builds a request from the FastCGI environment and body; handlers read it and
 * fill a response; the worker serialises the response. Everything lives in the request arena. */
#ifndef TOLLGATE_HTTP_H
#define TOLLGATE_HTTP_H

#include <json.h>
#include <stdbool.h>
#include <stddef.h>

struct arena;
struct tg_config;
struct valid_value;
struct route;

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_PATCH = 1 << 4,
	HTTP_DELETE = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
	HTTP_OTHER = 1 << 7,
};

#define HTTP_MAX_PARAMS 4
#define HTTP_USER_AGENT_MAX 512 /* bytes of User-Agent kept (valid UTF-8, cut on a character) */

struct http_req {
	struct arena *arena;
	enum http_method method;
	const char *method_name;
	const char *path;          /* raw path, without the query string */
	const char *query;         /* raw query string, "" when none */
	const char *content_type;  /* NULL when absent */
	long long content_length;  /* -1 when absent */
	const char *client_ip;     /* REMOTE_ADDR, or a trusted proxy's X-Forwarded-For address */
	const char *request_id;
	long long started_us;      /* time_mono_us() when the request was read */
	const char *user_agent;    /* valid UTF-8, at most HTTP_USER_AGENT_MAX bytes, "" when absent */
	const char *origin;        /* NULL when absent */
	const char *authorization;
	const char *cookie_header;
	char **env;                /* FastCGI params, NULL-terminated "NAME=value" */

	/* set by the router: decoded path parameters */
	const char *param_names[HTTP_MAX_PARAMS];
	const char *param_values[HTTP_MAX_PARAMS];
	int nparams;

	/* the body, read by the worker before dispatch (bounded by max_body_bytes) */
	const char *body;
	size_t body_len;
	json_object *json;         /* parsed lazily; owned by the arena */
	bool json_parsed;
	int json_max_depth;

	/* set by the dispatcher: the matched route (router.h), its body limit, its declared fields
	 * checked (valid.h) */
	const struct route *route;
	int route_result;          /* enum router_result; -1 before matching */
	unsigned route_allowed;
	const struct valid_value *values;

	/* set by authentication (for the log line and the handlers) */
	const char *user_id;
	const char *session_id;
	const char *user_role;
};

struct http_header {
	const char *name, *value;
	struct http_header *next;
};

/* How a response can be streamed (set by the worker when its transport can). */
struct http_stream {
	/* Writes and flushes len bytes; < 0 when the client has gone away. */
	int (*write)(void *ctx, const char *data, size_t len);
	void *ctx;
};

struct http_res {
	int status;
	const char *content_type;
	struct http_header *headers;
	const char *body;
	size_t body_len;
	const char *problem_code;  /* for the log line */
	struct http_stream *stream; /* NULL when the transport cannot stream */
	bool streamed;             /* the handler wrote the response itself */
};

/* Fills req from a FastCGI environment. trusted_proxies: space-separated. Returns 0 or TG_ENOMEM. */
int http_req_init(struct http_req *req, struct arena *a, char **env, const char *trusted_proxies,
		  int json_max_depth);
/* Value of FastCGI parameter name, or NULL. */
const char *http_req_env(const struct http_req *req, const char *name);
/* Request header by its FastCGI name ("HTTP_X_FOO"), or NULL. */
const char *http_req_header(const struct http_req *req, const char *cgi_name);
/* Decoded value of query parameter name in *out (NULL when absent). Returns TG_OK, or TG_EINPUT
 * when the value is malformed: a bad percent escape, an encoded NUL, or not valid UTF-8. */
int http_req_query(const struct http_req *req, const char *name, const char **out);
/* Value of cookie name, or NULL. */
const char *http_req_cookie(const struct http_req *req, const char *name);
/* Decoded path parameter captured by the router, or NULL. */
const char *http_req_param(const struct http_req *req, const char *name);
/* True when the declared content type is application/json (parameters allowed). */
bool http_req_is_json(const struct http_req *req);
/* Parses the body as a JSON object (once). Returns 0, or TG_EINPUT when it is not a JSON object. */
int http_req_json(struct http_req *req, json_object **out);
/* Percent-decodes s (and '+' as space when form is true) into arena memory; NULL on bad escapes. */
char *http_url_decode(struct arena *a, const char *s, size_t len, bool form);

/* True when a browser page of origin may call the API: the public origin, or one of the
 * space/comma-separated cors_origins ("*" = any). Exact matches only. */
bool http_origin_allowed(const char *public_origin, const char *cors_origins, const char *origin);

/* Response building. Every function copies what it is given into the arena. */
void http_res_init(struct http_res *res);
void http_res_header(struct http_res *res, struct arena *a, const char *name, const char *value);
/* Serialises obj (and drops the caller's reference) as the body with status. */
void http_res_json(struct http_res *res, struct arena *a, int status, json_object *obj);
void http_res_empty(struct http_res *res, int status);
/* Problem document (RFC 9457) with the contract's code. detail may be NULL. */
void http_res_problem(struct http_res *res, struct http_req *req, int status, const char *code,
		      const char *detail);
/* A problem document with more members (takes members; e.g. quota_exceeded's metric, used, limit). */
void http_res_problem_with(struct http_res *res, struct http_req *req, int status, const char *code,
			   const char *detail, json_object *members);
/* 422 validation_failed with errors: {"field": "reason"} (takes ownership of errors). */
void http_res_invalid(struct http_res *res, struct http_req *req, json_object *errors);
/* Set-Cookie with the given attributes; max_age < 0 omits Max-Age, 0 deletes. */
void http_res_cookie(struct http_res *res, struct arena *a, const char *name, const char *value,
		     const char *path, long long max_age);
/* Title of a problem code (static). */
const char *http_problem_title(const char *code);
const char *http_status_text(int status);

/* Starts a streamed response: sends status and headers now (content_type, no-store, no proxy
 * buffering); the handler then writes the body with http_stream_write and the worker adds
 * nothing. TG_EIO when the client has gone away, TG_EUNAVAIL when the transport cannot stream. */
int http_stream_begin(struct http_res *res, struct http_req *req, int status, const char *content_type);
/* Writes (and flushes) part of a streamed body. TG_OK or TG_EIO (the client went away). */
int http_stream_write(struct http_res *res, const char *data, size_t len);

/* Serialises status line-less CGI response headers + body into one arena buffer. */
int http_res_serialize(const struct http_res *res, struct arena *a, const char *request_id,
		       char **out, size_t *out_len);

#endif
