/* chat.c — POST /api/agents/{id}/chat: a message to an agent, answered by LiteLLM with the user's
 * virtual key, at once or as a server-sent event stream relayed as the model produces it.
 *
 * Order of work: the agent, the key (made at a free user's first chat), the prompt (system prompt,
 * the project's best passages, the history that fits), a token reservation; then the call, with
 * no transaction open (and, in the chat pool, no connection through a stream); then the exchange
 * stored and the reservation settled to the reported usage. A chat refused before LiteLLM answers
 * (402, 502, 503) stores nothing. A client that goes away stops the upstream call; what was
 * produced and used is still recorded. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/chat.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/litellm.h"
#include "tollgate/log.h"
#include "tollgate/mail.h"
#include "tollgate/product.h"
#include "tollgate/quota.h"
#include "tollgate/status.h"
#include "tollgate/uuid.h"

#include <string.h>
#include <strings.h>

#define CHAT_MESSAGE_MAX 50000 /* characters of one message */
#define CHAT_HISTORY_ROWS 200  /* latest messages read; the context budget decides how many are sent */

enum { CHAT_CONTENT, CHAT_CONVERSATION, CHAT_STREAM };
const struct valid_field api_chat_fields[] = {
	[CHAT_CONTENT] = {.name = "content", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_MULTILINE,
			  .max = CHAT_MESSAGE_MAX},
	[CHAT_CONVERSATION] = {.name = "conversation_id", .type = VALID_UUID, .flags = VALID_NULLABLE,
			       .reason = "must be the id of one of this agent's conversations"},
	[CHAT_STREAM] = {.name = "stream", .type = VALID_BOOL, .flags = VALID_NULLABLE},
	{0},
};

/* Tokens a text may count for: never below the real count (one per two bytes). */
static long long estimate(const char *s)
{
	return (long long)(strlen(s) + 1) / 2;
}

static json_object *message(const char *role, const char *content)
{
	json_object *m = json_object_new_object();
	json_object_object_add(m, "role", json_object_new_string(role));
	json_object_object_add(m, "content", json_object_new_string(content));
	return m;
}

/* The messages sent to the model, within the context budget: the system prompt (with the cited
 * passages) and the new message always; then as much history as fits, newest first. *tokens: the
 * prompt's estimate. */
static json_object *build_prompt(struct arena *a, const struct product_agent *agent, json_object *passages,
				 json_object *history, const char *content, long long budget, long long *tokens)
{
	char *system = arena_strdup(a, agent->system_prompt ? agent->system_prompt : "");
	size_t np = passages ? json_object_array_length(passages) : 0; /* NULL: an agent without a project */
	if (np) {
		system = arena_printf(a, "%s%sUse these passages from the user's documents when they help, and say which "
					 "document you used:\n",
				      system, *system ? "\n\n" : "");
		for (size_t i = 0; i < np; i++) {
			json_object *p = json_object_array_get_idx(passages, i), *t, *c;
			json_object_object_get_ex(p, "title", &t);
			json_object_object_get_ex(p, "content", &c);
			system = arena_printf(a, "%s\n[%zu] %s:\n%s\n", system, i + 1, json_object_get_string(t),
					      json_object_get_string(c));
		}
	}
	long long used = estimate(system) + estimate(content);
	/* the history that fits, oldest first */
	size_t keep = 0, nh = history ? json_object_array_length(history) : 0;
	for (; keep < nh; keep++) {
		json_object *m = json_object_array_get_idx(history, keep), *c;
		json_object_object_get_ex(m, "content", &c);
		long long t = estimate(json_object_get_string(c)) + 4;
		if (used + t > budget)
			break;
		used += t;
	}
	json_object *msgs = json_object_new_array();
	if (*system)
		json_object_array_add(msgs, message("system", system));
	for (size_t i = keep; i-- > 0;) {
		json_object *m = json_object_array_get_idx(history, i);
		json_object_array_add(msgs, json_object_get(m));
	}
	json_object_array_add(msgs, message("user", content));
	*tokens = used;
	return msgs;
}

/* sources:[{document_id, title, snippet}] of the passages */
static json_object *sources_of(json_object *passages)
{
	json_object *out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(passages); i++) {
		json_object *p = json_object_array_get_idx(passages, i), *v;
		json_object *s = json_object_new_object();
		static const char *const keys[] = {"document_id", "title", "snippet"};
		for (size_t k = 0; k < 3; k++)
			if (json_object_object_get_ex(p, keys[k], &v))
				json_object_object_add(s, keys[k], json_object_get(v));
		json_object_array_add(out, s);
	}
	return out;
}

struct streamer {
	struct http_req *req;
	struct http_res *res;
	const char *conversation_id, *reply_id;
	bool started;
	bool gone;   /* the client went away */
};

/* Writes one event; false once the client has gone. */
static bool send_event(struct streamer *s, const char *event, json_object *data)
{
	const char *text = json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *frame = arena_printf(s->req->arena, "event: %s\ndata: %s\n\n", event, text);
	json_object_put(data);
	if (s->gone || http_stream_write(s->res, frame, strlen(frame)) != TG_OK)
		s->gone = true;
	return !s->gone;
}

static bool start_stream(struct streamer *s)
{
	if (s->started)
		return !s->gone;
	s->started = true;
	if (http_stream_begin(s->res, s->req, 200, "text/event-stream") != TG_OK) {
		s->gone = true;
		return false;
	}
	json_object *d = json_object_new_object();
	json_object_object_add(d, "conversation_id", json_object_new_string(s->conversation_id));
	json_object_object_add(d, "message_id", json_object_new_string(s->reply_id));
	return send_event(s, "start", d);
}

static int on_delta(void *ud, const char *text, size_t len)
{
	struct streamer *s = ud;
	if (!start_stream(s))
		return 1;
	json_object *d = json_object_new_object();
	json_object_object_add(d, "content", json_object_new_string_len(text, (int)len));
	return send_event(s, "delta", d) ? 0 : 1;
}

static json_object *usage_json(long long p, long long c, long long t)
{
	json_object *u = json_object_new_object();
	json_object_object_add(u, "prompt_tokens", json_object_new_int64(p));
	json_object_object_add(u, "completion_tokens", json_object_new_int64(c));
	json_object_object_add(u, "total_tokens", json_object_new_int64(t));
	return u;
}

/* A refusal before any of the answer: an HTTP status, nothing stored. */
static void refused(struct http_res *res, struct http_req *req, int rc, const struct chat_error *err,
		    const struct quota_refusal *budget)
{
	if (rc == TG_ELIMIT)
		return api_quota_exceeded(res, req, budget);
	if (rc == TG_EUPSTREAM) {
		json_object *m = json_object_new_object();
		json_object_object_add(m, "reason", json_object_new_string(err->message));
		return http_res_problem_with(res, req, 502, "llm_error", err->message, m);
	}
	if (rc == TG_EUNAVAIL) {
		http_res_header(res, req->arena, "Retry-After", "30");
		return http_res_problem(res, req, 503, "llm_unavailable",
					"The language model is not reachable right now; try again shortly.");
	}
	api_fail(res, req, rc);
}

HANDLER(api_chat)
{
	const struct valid_value *v = req->values;
	const char *content = v[CHAT_CONTENT].str, *conversation = v[CHAT_CONVERSATION].str;
	const char *accept = http_req_header(req, "HTTP_ACCEPT");
	bool stream = v[CHAT_STREAM].yes || (!v[CHAT_STREAM].present && accept && strcasestr(accept, "text/event-stream"));
	const char *agent_id = http_req_param(req, "id");
	const struct tg_config *cfg = app->cfg;

	struct product_agent agent;
	int rc = product_chat_agent(app->db, req->arena, req->user_id, agent_id, conversation, &agent);
	if (rc == TG_ENOTFOUND && conversation) {
		/* the agent is the user's but the conversation is not one of its */
		struct product_agent only;
		if (product_chat_agent(app->db, req->arena, req->user_id, agent_id, NULL, &only) == TG_OK)
			return api_field_error(res, req, "conversation_id", "must be the id of one of this agent's conversations");
	}
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	if (!litellm_configured(cfg))
		return refused(res, req, TG_EUNAVAIL, NULL, NULL);

	struct quota_ctx q = api_quota(app, req);
	struct quota_refusal refusal = {.metric = QUOTA_TOKENS};
	char *key;
	rc = litellm_chat_key(app->db, req->arena, cfg, (long)cfg->outbound_deadline * 1000, req->user_id, &key);
	if (rc == TG_ENOTFOUND) { /* the plan has no model: no allowance */
		quota_tokens_refusal(&q, &refusal);
		return refused(res, req, TG_ELIMIT, NULL, &refusal);
	}
	if (rc != TG_OK)
		return refused(res, req, rc == TG_EUPSTREAM ? TG_EUNAVAIL : rc, NULL, NULL);

	json_object *passages = NULL, *history = NULL;
	if (!agent.project_id)
		passages = json_object_new_array(); /* an agent without a project cites nothing */
	else if ((rc = product_chat_passages(app->db, req->arena, agent.project_id, content, cfg->chat_sources,
					     &passages)) != TG_OK)
		return api_fail(res, req, rc);
	arena_own_json(req->arena, passages);
	if (conversation && (rc = product_chat_history(app->db, req->arena, conversation, CHAT_HISTORY_ROWS, &history)) != TG_OK)
		return api_fail(res, req, rc);
	arena_own_json(req->arena, history);
	long long prompt_tokens;
	json_object *msgs = arena_own_json(req->arena, build_prompt(req->arena, &agent, passages, history, content,
								     cfg->chat_context_tokens, &prompt_tokens));
	const char *reservation;
	rc = quota_reserve_tokens(&q, prompt_tokens + cfg->chat_max_tokens, &reservation, &refusal);
	if (rc != TG_OK)
		return refused(res, req, rc, NULL, &refusal);

	char conv_id[37], user_msg_id[37], reply_id[37];
	if (conversation)
		snprintf(conv_id, sizeof(conv_id), "%s", conversation);
	else
		uuid_new(conv_id);
	uuid_new(user_msg_id);
	uuid_new(reply_id);
	struct streamer st = {.req = req, .res = res, .conversation_id = conv_id, .reply_id = reply_id};
	/* A stream needs no database: the chat pool's connections stay free for the others. */
	if (stream && !strcmp(app->pool, "chat"))
		db_disconnect(app->db);
	struct chat_request cr = {.base = cfg->litellm_base, .key = key, .model = agent.model, .messages = msgs,
				  .max_tokens = cfg->chat_max_tokens, .timeout_ms = (long)cfg->chat_timeout * 1000};
	char *reply;
	struct chat_usage usage;
	struct chat_error err;
	bool answered;
	rc = chat_send(&cr, req->arena, stream ? on_delta : NULL, &st, &reply, &usage, &err, &answered);

	if (!answered && !st.started) {
		/* nothing came back: nothing stored, the reservation given back */
		quota_settle_tokens(&q, reservation, 0);
		/* LiteLLM's budget refusal: the 402 says the plan's tokens, not the zeros it started with */
		if (rc == TG_ELIMIT && quota_tokens_refusal(&q, &refusal) == TG_OK)
			refusal.budget = true;
		return refused(res, req, rc, &err, &refusal);
	}
	/* What was produced is kept and counted, even when the stream broke or the client left. */
	if (!usage.known) {
		usage.prompt_tokens = prompt_tokens;
		usage.completion_tokens = estimate(reply);
		usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
	}
	json_object *sources = arena_own_json(req->arena, sources_of(passages));
	struct product_exchange x = {
		.conversation_id = conv_id, .new_conversation = conversation == NULL, .user_id = req->user_id,
		.agent_id = agent_id, .title = product_conversation_title(req->arena, content),
		.user_message_id = user_msg_id, .user_content = content, .reply_id = reply_id, .reply_content = reply,
		.prompt_tokens = usage.prompt_tokens, .completion_tokens = usage.completion_tokens,
		.total_tokens = usage.total_tokens, .sources = sources,
	};
	int saved = db_begin(app->db);
	if (saved == TG_OK)
		saved = db_finish(app->db, product_chat_save(app->db, req->arena, &x));
	int settled = quota_settle_tokens(&q, reservation, usage.total_tokens);
	if (saved != TG_OK || settled != TG_OK)
		log_error("chat of user %s: the exchange %s stored and the tokens %s settled", req->user_id,
			  saved == TG_OK ? "was" : "was not", settled == TG_OK ? "were" : "were not");

	if (stream) {
		if (st.gone)
			return; /* the client left: recorded above, nobody to tell */
		if (!start_stream(&st))
			return;
		if (rc != TG_OK) {
			json_object *e = json_object_new_object();
			json_object_object_add(e, "code", json_object_new_string(rc == TG_EUNAVAIL ? "llm_unavailable" : "llm_error"));
			json_object_object_add(e, "detail", json_object_new_string(err.message));
			send_event(&st, "error", e);
			return;
		}
		json_object *d = json_object_new_object();
		json_object_object_add(d, "usage", usage_json(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens));
		json_object_object_add(d, "sources", json_object_get(sources));
		send_event(&st, "done", d);
		return;
	}
	if (saved != TG_OK)
		return api_fail(res, req, saved);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "conversation_id", json_object_new_string(conv_id));
	json_object *m = json_object_new_object();
	json_object_object_add(m, "id", json_object_new_string(reply_id));
	json_object_object_add(m, "role", json_object_new_string("assistant"));
	json_object_object_add(m, "content", json_object_new_string(reply));
	json_object_object_add(m, "created_at", x.reply_created_at ? json_object_new_string(x.reply_created_at) : NULL);
	json_object_object_add(o, "message", m);
	json_object_object_add(o, "usage", usage_json(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens));
	json_object_object_add(o, "sources", json_object_get(sources));
	api_no_store(res, req);
	http_res_json(res, req->arena, 200, o);
}
