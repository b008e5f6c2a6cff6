/* chat.h — LiteLLM's OpenAI-compatible chat API with a user's virtual key: one answer, or a
 * server-sent event stream relayed as it comes. No database here: the caller holds no transaction
 * and, in the chat pool, no connection while a chat runs. */
#ifndef TOLLGATE_CHAT_H
#define TOLLGATE_CHAT_H

#include <json.h>
#include <stdbool.h>
#include <stddef.h>

struct arena;

struct chat_request {
	const char *base;        /* litellm_base */
	const char *key;         /* the user's virtual key (never logged) */
	const char *model;
	json_object *messages;   /* [{role, content}] (not consumed) */
	int max_tokens;
	long timeout_ms;         /* the whole call */
};

struct chat_usage {
	long long prompt_tokens, completion_tokens, total_tokens;
	bool known;              /* LiteLLM reported it */
};

struct chat_error {
	long http_status;        /* 0: no answer */
	char message[256];       /* LiteLLM's reason, for 502 llm_error */
};

/* Called with each piece of the reply as it arrives; a non-zero return stops the call (the
 * client went away). */
typedef int (*chat_delta_fn)(void *ud, const char *text, size_t len);

/* Sends the chat. With on_delta: streams (stream: true, stream_options.include_usage) and calls it
 * for each delta; without: one answer. *reply is the whole reply (arena), also after a stop or an
 * error mid-stream (what was produced). Returns TG_OK; TG_EUNAVAIL (not reachable, timeout, 5xx,
 * 429); TG_ELIMIT (LiteLLM refused for the key's budget); TG_EUPSTREAM (another refusal, reason in
 * err); TG_EIO (stopped by on_delta). *streamed tells whether any of the answer had arrived. */
int chat_send(const struct chat_request *rq, struct arena *a, chat_delta_fn on_delta, void *ud, char **reply,
	      struct chat_usage *usage, struct chat_error *err, bool *streamed);

/* --- the event-stream parser (exposed for tests and fuzzing) --- */
struct chat_sse {
	char line[65536];        /* a line being assembled; a longer one is an error */
	size_t len;
	bool done;               /* "data: [DONE]" seen */
	bool failed;             /* malformed or an error event */
	char error[256];
};
/* What the parser found in one event. */
struct chat_sse_sink {
	chat_delta_fn on_delta;
	void *ud;
	struct chat_usage *usage;
	int stop;                /* non-zero once on_delta asked to stop */
};
/* Feeds n bytes of the stream. Returns false once the stream is malformed, carried an error
 * event, or the sink asked to stop. */
bool chat_sse_feed(struct chat_sse *p, const char *data, size_t n, struct chat_sse_sink *sink);

#endif
