/* chat.c — LiteLLM chat completions (libcurl + json-c), answered at once or streamed. */
#include "tollgate/chat.h"
#include "tollgate/arena.h"
#include "tollgate/fetch.h"
#include "tollgate/log.h"
#include "tollgate/mem.h"
#include "tollgate/status.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_MAX_ANSWER (4 * 1024 * 1024) /* a reply (or an error body) larger than this is refused */

/* --- the event-stream parser --- */

static long long int_member(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
		       ? json_object_get_int64(v)
		       : -1;
}

static void read_usage(json_object *chunk, struct chat_usage *u)
{
	json_object *usage;
	if (!u || !json_object_object_get_ex(chunk, "usage", &usage) || !json_object_is_type(usage, json_type_object))
		return;
	long long p = int_member(usage, "prompt_tokens"), c = int_member(usage, "completion_tokens");
	long long t = int_member(usage, "total_tokens");
	if (p < 0 || c < 0)
		return;
	u->prompt_tokens = p;
	u->completion_tokens = c;
	u->total_tokens = t >= 0 ? t : p + c;
	u->known = true;
}

/* The text of choices[0].delta.content (stream) or choices[0].message.content (answer), or NULL. */
static const char *choice_text(json_object *o, const char *part, size_t *len)
{
	json_object *choices, *c0, *d, *content;
	if (!json_object_object_get_ex(o, "choices", &choices) || !json_object_is_type(choices, json_type_array) ||
	    json_object_array_length(choices) == 0)
		return NULL;
	c0 = json_object_array_get_idx(choices, 0);
	if (!json_object_object_get_ex(c0, part, &d) || !json_object_object_get_ex(d, "content", &content) ||
	    !json_object_is_type(content, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(content);
	return json_object_get_string(content);
}

static void error_reason(json_object *o, char *out, size_t outlen)
{
	json_object *e, *m;
	if (o && json_object_object_get_ex(o, "error", &e)) {
		if (json_object_is_type(e, json_type_string)) {
			snprintf(out, outlen, "%s", json_object_get_string(e));
			return;
		}
		if (json_object_object_get_ex(e, "message", &m) && json_object_is_type(m, json_type_string)) {
			snprintf(out, outlen, "%s", json_object_get_string(m));
			return;
		}
	}
	if (o && json_object_object_get_ex(o, "detail", &m) && json_object_is_type(m, json_type_string))
		snprintf(out, outlen, "%s", json_object_get_string(m));
}

/* One complete line of the stream. */
static bool sse_line(struct chat_sse *p, const char *line, size_t n, struct chat_sse_sink *sink)
{
	if (n && line[n - 1] == '\r')
		n--;
	if (n < 5 || memcmp(line, "data:", 5))
		return true; /* blank line, comment (": ping"), event:, id: … */
	line += 5;
	n -= 5;
	while (n && *line == ' ') {
		line++;
		n--;
	}
	if (n == 6 && !memcmp(line, "[DONE]", 6)) {
		p->done = true;
		return true;
	}
	json_tokener *tok = json_tokener_new();
	json_object *o = json_tokener_parse_ex(tok, line, (int)n);
	bool ok = o && json_tokener_get_error(tok) == json_tokener_success && json_object_is_type(o, json_type_object);
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(o);
		snprintf(p->error, sizeof(p->error), "malformed event from the model");
		p->failed = true;
		return false;
	}
	if (json_object_object_get_ex(o, "error", NULL)) {
		snprintf(p->error, sizeof(p->error), "the model stopped with an error");
		error_reason(o, p->error, sizeof(p->error));
		p->failed = true;
		json_object_put(o);
		return false;
	}
	size_t len = 0;
	const char *text = choice_text(o, "delta", &len);
	if (text && len && sink->on_delta && !sink->stop)
		sink->stop = sink->on_delta(sink->ud, text, len);
	read_usage(o, sink->usage);
	json_object_put(o);
	return !sink->stop;
}

bool chat_sse_feed(struct chat_sse *p, const char *data, size_t n, struct chat_sse_sink *sink)
{
	for (size_t i = 0; i < n; i++) {
		if (p->failed || sink->stop)
			return false;
		if (data[i] == '\n') {
			bool ok = sse_line(p, p->line, p->len, sink);
			p->len = 0;
			if (!ok)
				return false;
			continue;
		}
		if (p->len + 1 >= sizeof(p->line)) {
			snprintf(p->error, sizeof(p->error), "an event from the model is too long");
			p->failed = true;
			return false;
		}
		p->line[p->len++] = data[i];
	}
	return !p->failed && !sink->stop;
}

/* --- the call --- */

struct call {
	struct arena *a;
	bool stream;
	bool ok_status;          /* a 2xx: the body is the answer or the stream */
	struct chat_sse *sse;
	struct chat_sse_sink sink;
	struct fetch_body body;  /* a non-stream answer, or an error body */
	char *reply;             /* the reply assembled from deltas */
	size_t reply_len, reply_cap;
	bool streamed;
	bool stopped;            /* on_delta asked to stop */
};

static int collect_delta(void *ud, const char *text, size_t len)
{
	struct call *c = ud;
	if (c->reply_len + len + 1 > c->reply_cap) {
		size_t cap = c->reply_cap ? c->reply_cap * 2 : 4096;
		while (cap < c->reply_len + len + 1)
			cap *= 2;
		char *nb = arena_alloc(c->a, cap);
		if (c->reply_len)
			memcpy(nb, c->reply, c->reply_len);
		c->reply = nb;
		c->reply_cap = cap;
	}
	memcpy(c->reply + c->reply_len, text, len);
	c->reply_len += len;
	c->reply[c->reply_len] = '\0';
	c->streamed = true;
	return 0;
}

struct relay {
	struct call *call;
	chat_delta_fn on_delta;
	void *ud;
};

static int relay_delta(void *ud, const char *text, size_t len)
{
	struct relay *r = ud;
	collect_delta(r->call, text, len);
	if (r->on_delta(r->ud, text, len)) {
		r->call->stopped = true;
		return 1;
	}
	return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct call *c = ud;
	size_t n = size * nmemb;
	if (c->stream && c->ok_status)
		return chat_sse_feed(c->sse, ptr, n, &c->sink) || c->sse->done ? n : 0;
	return fetch_write(ptr, size, nmemb, &c->body);
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct call *c = ud;
	size_t n = size * nmemb;
	if (n > 9 && !strncmp(ptr, "HTTP/", 5)) {
		const char *sp = memchr(ptr, ' ', n);
		long st = sp ? strtol(sp + 1, NULL, 10) : 0;
		c->ok_status = st >= 200 && st < 300;
	}
	return n;
}

/* Is this refusal LiteLLM's budget check? (400/429 with budget_exceeded or "budget" in the text) */
static bool budget_refusal(long status, const char *body)
{
	return (status == 400 || status == 429 || status == 402) && body &&
	       (strstr(body, "budget_exceeded") || strstr(body, "Budget has been exceeded") ||
		strstr(body, "ExceededBudget"));
}

int chat_send(const struct chat_request *rq, struct arena *a, chat_delta_fn on_delta, void *ud, char **reply,
	      struct chat_usage *usage, struct chat_error *err, bool *streamed)
{
	memset(usage, 0, sizeof(*usage));
	memset(err, 0, sizeof(*err));
	*reply = NULL;
	*streamed = false;
	json_object *body = json_object_new_object();
	json_object_object_add(body, "model", json_object_new_string(rq->model));
	json_object_object_add(body, "messages", json_object_get(rq->messages));
	json_object_object_add(body, "max_tokens", json_object_new_int(rq->max_tokens));
	if (on_delta) {
		json_object_object_add(body, "stream", json_object_new_boolean(1));
		json_object *so = json_object_new_object();
		json_object_object_add(so, "include_usage", json_object_new_boolean(1));
		json_object_object_add(body, "stream_options", so);
	}
	const char *payload = arena_strdup(a, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	json_object_put(body);

	struct call c = {.a = a, .stream = on_delta != NULL, .body = {.max = CHAT_MAX_ANSWER}};
	struct relay rel = {.call = &c, .on_delta = on_delta, .ud = ud};
	if (c.stream) {
		c.sse = arena_alloc(a, sizeof(*c.sse));
		c.sink = (struct chat_sse_sink){.on_delta = relay_delta, .ud = &rel, .usage = usage};
	}
	CURL *h = curl_easy_init();
	if (!h)
		mem_oom();
	char *url = arena_printf(a, "%s/chat/completions", rq->base);
	char *auth = arena_printf(a, "Authorization: Bearer %s", rq->key);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, auth);
	if (c.stream)
		hdr = curl_slist_append(hdr, "Accept: text/event-stream");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, rq->timeout_ms < 5000 ? rq->timeout_ms : 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	err->http_status = status;
	char *body_text = c.body.data ? arena_strdup(a, c.body.data) : NULL;
	free(c.body.data);
	*streamed = c.streamed;
	*reply = c.reply ? c.reply : arena_strdup(a, "");

	if (c.stopped)
		return TG_EIO;
	if (cc != CURLE_OK && !(c.stream && c.ok_status && (c.sse->failed || c.sse->done))) {
		snprintf(err->message, sizeof(err->message), "%s", curl_easy_strerror(cc));
		log_warn("litellm chat: %s (status %ld)", err->message, status);
		return TG_EUNAVAIL;
	}
	if (status < 200 || status >= 300) {
		json_object *eo = body_text ? json_tokener_parse(body_text) : NULL;
		snprintf(err->message, sizeof(err->message), "the model refused the request (HTTP %ld)", status);
		error_reason(eo, err->message, sizeof(err->message));
		json_object_put(eo);
		log_warn("litellm chat answered %ld: %s", status, err->message);
		if (budget_refusal(status, body_text))
			return TG_ELIMIT;
		return status >= 500 || status == 429 || status == 408 ? TG_EUNAVAIL : TG_EUPSTREAM;
	}
	if (c.stream) {
		if (c.sse->failed) {
			snprintf(err->message, sizeof(err->message), "%s", c.sse->error);
			return TG_EUPSTREAM;
		}
		if (!c.sse->done && !usage->known) {
			snprintf(err->message, sizeof(err->message), "the stream ended early");
			return TG_EUNAVAIL;
		}
		return TG_OK;
	}
	json_object *o = body_text ? json_tokener_parse(body_text) : NULL;
	size_t len = 0;
	const char *text = o ? choice_text(o, "message", &len) : NULL;
	if (!text) {
		json_object_put(o);
		snprintf(err->message, sizeof(err->message), "the model's answer has no message");
		return TG_EUPSTREAM;
	}
	*reply = arena_memdup(a, text, len);
	read_usage(o, usage);
	json_object_put(o);
	*streamed = true;
	return TG_OK;
}
