/* test_product_chat.c — POST /api/agents/{id}/chat as API.md's "Chat" paragraph says: the answer and
 * the stored conversation (title, both messages with usage and sources, history sent oldest first
 * and trimmed to the context budget), the free user's key made at the first chat (one key, also for
 * parallel first chats), streaming (start, delta…, done in order, relayed as produced, what is stored
 * matches what was streamed), a client dropping a stream (stopped upstream, the partial reply and its
 * usage recorded), an error in the middle of a stream, and LiteLLM down, failing or refusing (503
 * llm_unavailable with Retry-After, 502 llm_error with its reason; nothing stored, nothing charged).
 *
 * What LiteLLM received is read from the stand-in's request log (tests/fixtures/litellm_standin.py). */
#include "accounts_helpers.h"
#include "billing_helpers.h"
#include "itest.h"
#include "product_helpers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_REPLY "This is a reply from the LiteLLM stand-in."

static long long words(const char *s)
{
	long long n = 0;
	for (const char *p = s; p && *p;) {
		while (*p == ' ' || *p == '\n')
			p++;
		if (!*p)
			break;
		n++;
		while (*p && *p != ' ' && *p != '\n')
			p++;
	}
	return n;
}

/* The messages LiteLLM got in the user's last chat request (a new reference). */
static json_object *last_sent(const char *user_id)
{
	json_object *d = pt_llm_chats(user_id);
	size_t n = json_object_array_length(d);
	ck_assert_msg(n > 0, "LiteLLM got no chat from user %s", user_id);
	json_object *e = json_object_get(json_object_array_get_idx(d, n - 1));
	json_object_put(d);
	return e;
}

static long long sent_words(json_object *entry)
{
	json_object *msgs = jget(jget(entry, "body"), "messages");
	long long n = 0;
	for (size_t i = 0; i < json_object_array_length(msgs); i++)
		n += words(jstr(json_object_array_get_idx(msgs, i), "content"));
	return n;
}

static const char *msg_at(json_object *entry, size_t i, const char *key)
{
	return jstr(json_object_array_get_idx(jget(jget(entry, "body"), "messages"), i), key);
}

static void expect_tokens(const struct it_user *u, long long used)
{
	struct pt_metric m;
	pt_usage(u, "monthly_tokens", &m);
	ck_assert_msg(m.used == used && m.reserved == 0, "tokens: want %lld used and none reserved, got %lld and %lld", used,
		      m.used, m.reserved);
}

START_TEST(answer_and_stored_conversation)
{
	struct it_user u;
	it_register(&u, "pt-chat");
	struct it_resp *r = it_post("/api/agents", u.access,
				    "{\"name\": \"terse\", \"model\": \"" PT_MODEL "\", \"system_prompt\": \"You are terse.\"}");
	it_expect(r, 201, NULL);
	char a[64], conv[64];
	copy_to(a, sizeof(a), it_str(r, "id"));
	it_free(r);
	const char *first = "The quick brown fox jumps over the lazy dog and keeps running far away from the farm";
	r = pt_chat_ok(&u, a, first, NULL, conv);
	expect_str(r, "message.content", DEFAULT_REPLY);
	ck_assert_int_eq(json_object_array_length(it_at(r, "sources")), 0); /* an agent bound to no project */
	long long t1 = it_int(r, "usage.total_tokens");
	ck_assert_int_eq(it_int(r, "usage.prompt_tokens"), words("You are terse.") + words(first));
	ck_assert_int_eq(it_int(r, "usage.completion_tokens"), 8);
	char reply1[64];
	copy_to(reply1, sizeof(reply1), it_str(r, "message.id"));
	it_free(r);
	/* what LiteLLM got: the agent's model, its system prompt, the message, max_tokens, the user's key */
	json_object *e = last_sent(u.id);
	ck_assert_str_eq(jstr(jget(e, "body"), "model"), PT_MODEL);
	ck_assert_str_eq(jstr(e, "auth"), "virtual");
	ck_assert_int_eq(json_object_get_int(jget(jget(e, "body"), "max_tokens")), cfg_long("chat_max_tokens", 1024));
	ck_assert_int_eq(json_object_array_length(jget(jget(e, "body"), "messages")), 2);
	ck_assert_str_eq(msg_at(e, 0, "role"), "system");
	ck_assert_str_eq(msg_at(e, 0, "content"), "You are terse.");
	ck_assert_str_eq(msg_at(e, 1, "role"), "user");
	ck_assert_str_eq(msg_at(e, 1, "content"), first);
	json_object_put(e);

	/* the next message carries the history, oldest first */
	r = pt_chat_ok(&u, a, "and then?", conv, NULL);
	long long t2 = it_int(r, "usage.total_tokens");
	it_free(r);
	e = last_sent(u.id);
	static const char *const roles[] = {"system", "user", "assistant", "user"};
	const char *contents[] = {"You are terse.", first, DEFAULT_REPLY, "and then?"};
	ck_assert_int_eq(json_object_array_length(jget(jget(e, "body"), "messages")), 4);
	for (size_t i = 0; i < 4; i++) {
		ck_assert_str_eq(msg_at(e, i, "role"), roles[i]);
		ck_assert_str_eq(msg_at(e, i, "content"), contents[i]);
	}
	json_object_put(e);

	/* stored: the title (the first 60 characters, cut at a word), both messages of each exchange */
	r = pt_conversation(&u, conv);
	expect_str(r, "title", "The quick brown fox jumps over the lazy dog and keeps");
	expect_str(r, "agent_id", a);
	ck_assert_int_eq(it_int(r, "message_count"), 4);
	json_object *msgs = it_at(r, "messages");
	ck_assert_int_eq(json_object_array_length(msgs), 4);
	const char *stored[] = {first, DEFAULT_REPLY, "and then?", DEFAULT_REPLY};
	long long totals[] = {0, t1, 0, t2};
	for (size_t i = 0; i < 4; i++) {
		json_object *m = json_object_array_get_idx(msgs, i);
		ck_assert_str_eq(jstr(m, "role"), i % 2 ? "assistant" : "user");
		ck_assert_str_eq(jstr(m, "content"), stored[i]);
		ck_assert(is_rfc3339(jstr(m, "created_at")));
		ck_assert_int_eq(json_object_array_length(jget(m, "sources")), 0);
		json_object *usage = jget(m, "usage");
		if (totals[i])
			ck_assert_int_eq(json_object_get_int64(jget(usage, "total_tokens")), totals[i]);
	}
	ck_assert_str_eq(jstr(json_object_array_get_idx(msgs, 1), "id"), reply1);
	it_free(r);
	expect_tokens(&u, t1 + t2);
}
END_TEST

START_TEST(history_trimmed_to_the_context_budget_oldest_first)
{
	struct it_user u;
	it_register(&u, "pt-context");
	char a[64], conv[64];
	pt_agent(&u, "forgetful", NULL, a);
	/* two messages of budget bytes each (budget / 2 tokens at one per two bytes): both cannot fit */
	long budget = cfg_long("chat_context_tokens", 8000);
	char *m1 = pt_fill("old ", (size_t)budget - 1), *m2 = pt_fill("new ", (size_t)budget - 1);
	it_free(pt_chat_ok(&u, a, m1, NULL, conv));
	it_free(pt_chat_ok(&u, a, m2, conv, NULL));
	json_object *e = last_sent(u.id);
	json_object *msgs = jget(jget(e, "body"), "messages");
	ck_assert_msg(json_object_array_length(msgs) == 2, "want the last reply and the new message, got %zu messages",
		      json_object_array_length(msgs));
	ck_assert_str_eq(msg_at(e, 0, "role"), "assistant"); /* the oldest (the long first message) dropped */
	ck_assert_str_eq(msg_at(e, 0, "content"), DEFAULT_REPLY);
	ck_assert_str_eq(msg_at(e, 1, "content"), m2);
	json_object_put(e);
	struct it_resp *r = pt_conversation(&u, conv);
	ck_assert_int_eq(it_int(r, "message_count"), 4); /* trimmed for the model, never in storage */
	it_free(r);
	free(m1);
	free(m2);
}
END_TEST

struct first_chat {
	const struct it_user *u;
	const char *agent;
	pthread_barrier_t *barrier;
	long status;
};

static void *first_chat_fn(void *arg)
{
	struct first_chat *t = arg;
	pthread_barrier_wait(t->barrier);
	struct it_resp *r = pt_chat(t->u, t->agent, "hello there", NULL);
	t->status = r->status;
	it_free(r);
	return NULL;
}

START_TEST(a_free_users_key_is_made_at_the_first_chat_once)
{
	struct it_user u;
	it_register(&u, "pt-key");
	char a[64];
	pt_agent(&u, "keyed", NULL, a);
	ck_assert_msg(litellm_key(u.id, NULL) == NULL, "a free user has a LiteLLM key before any chat");
	it_free(pt_chat_ok(&u, a, "hello", NULL, NULL));
	json_object *k = litellm_key(u.id, NULL);
	ck_assert_msg(k != NULL, "no LiteLLM key after the first chat");
	ck_assert(!json_object_get_boolean(jget(k, "blocked")));
	json_object *models = jget(k, "models");
	ck_assert_int_eq(json_object_array_length(models), 1);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(models, 0)), PT_MODEL);
	json_object_put(k);
	it_free(pt_chat_ok(&u, a, "hello again", NULL, NULL));
	json_object_put(litellm_key(u.id, NULL)); /* still exactly one (litellm_key asserts it) */
	ck_assert_int_eq(pt_llm_chat_count(u.id), 2);

	/* six first chats at once (six tabs): every one answered, one key */
	enum { N = 6 };
	struct it_user v;
	it_register(&v, "pt-key-par");
	pt_agent(&v, "keyed", NULL, a);
	static struct first_chat t[N];
	pthread_t th[N];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, N);
	for (int i = 0; i < N; i++) {
		t[i] = (struct first_chat){.u = &v, .agent = a, .barrier = &barrier};
		ck_assert_int_eq(pthread_create(&th[i], NULL, first_chat_fn, &t[i]), 0);
	}
	char seen[256] = "";
	int ok = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		ok += t[i].status == 200;
		size_t l = strlen(seen);
		snprintf(seen + l, sizeof(seen) - l, " %ld", t[i].status);
	}
	pthread_barrier_destroy(&barrier);
	ck_assert_msg(ok == N, "%d parallel first chats: want all 200, got%s", N, seen);
	json_object_put(litellm_key(v.id, NULL));
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM litellm_keys WHERE user_id = '%s'", v.id), 1);
}
END_TEST

START_TEST(a_stream_relays_start_deltas_done_and_stores_them)
{
	struct it_user u;
	it_register(&u, "pt-stream");
	char a[64];
	pt_agent(&u, "streamer", NULL, a);
	pt_llm_stream(u.id, "\"chunks\": 12, \"chunk_delay_ms\": 60");
	struct pt_stream s;
	pt_stream_chat(&u, a, "{\"content\": \"tell me a story\", \"stream\": true}", 0, &s);
	ck_assert_msg(s.status == 200 && !strncmp(s.content_type, "text/event-stream", 17), "stream: %ld %s %.300s", s.status,
		      s.content_type, s.body);
	struct it_resp hr = {.headers = s.headers};
	ck_assert_msg(it_header_count(&hr, "Cache-Control") == 1 && strstr(it_header(&hr, "Cache-Control"), "no-store"),
		      "want one Cache-Control: no-store, headers:\n%s", s.headers);
	it_expect_request_id(&hr, NULL);
	/* start, 12 deltas, done: nothing else, in that order */
	ck_assert_msg(s.n == 14, "want 14 events, got %d: %.2000s", s.n, s.body);
	ck_assert_str_eq(s.event[0], "start");
	static const char *const sk[] = {"conversation_id", "message_id", NULL};
	pt_expect_keys(s.data[0], sk);
	for (int i = 1; i <= 12; i++) {
		ck_assert_str_eq(s.event[i], "delta");
		static const char *const dk[] = {"content", NULL};
		pt_expect_keys(s.data[i], dk);
	}
	ck_assert_str_eq(s.event[13], "done");
	static const char *const fk[] = {"usage", "sources", NULL};
	pt_expect_keys(s.data[13], fk);
	char *lorem = pt_lorem(12);
	ck_assert_str_eq(s.reply, lorem);
	/* relayed as produced (12 words, 60 ms apart), not buffered to the end */
	if (it_timing_checked("stream deltas spread over time"))
		ck_assert_msg(s.at[12] - s.at[1] >= 400, "the deltas arrived within %lld ms: buffered, not streamed",
			      (long long)(s.at[12] - s.at[1]));
	json_object *usage = jget(s.data[13], "usage");
	json_object *e = last_sent(u.id);
	ck_assert_int_eq(json_object_get_int64(jget(usage, "prompt_tokens")), sent_words(e));
	ck_assert_int_eq(json_object_get_int64(jget(usage, "completion_tokens")), 12);
	ck_assert(json_object_get_boolean(jget(jget(jget(e, "body"), "stream_options"), "include_usage")));
	json_object_put(e);
	/* stored as streamed */
	struct it_resp *r = pt_conversation(&u, pt_ev_str(&s, 0, "conversation_id"));
	json_object *msgs = it_at(r, "messages");
	ck_assert_int_eq(json_object_array_length(msgs), 2);
	json_object *reply = json_object_array_get_idx(msgs, 1);
	ck_assert_str_eq(jstr(json_object_array_get_idx(msgs, 0), "content"), "tell me a story");
	ck_assert_str_eq(jstr(reply, "id"), pt_ev_str(&s, 0, "message_id"));
	ck_assert_str_eq(jstr(reply, "role"), "assistant");
	ck_assert_str_eq(jstr(reply, "content"), lorem);
	static const char *const uk[] = {"prompt_tokens", "completion_tokens", "total_tokens"};
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(json_object_get_int64(jget(jget(reply, "usage"), uk[i])), json_object_get_int64(jget(usage, uk[i])));
	ck_assert_str_eq(json_object_to_json_string(jget(reply, "sources")), json_object_to_json_string(jget(s.data[13], "sources")));
	it_free(r);
	expect_tokens(&u, json_object_get_int64(jget(usage, "total_tokens")));
	pt_stream_free(&s);
	/* Accept: text/event-stream alone asks for a stream too */
	pt_stream_chat(&u, a, "{\"content\": \"another\"}", 0, &s);
	ck_assert_msg(s.status == 200 && !strncmp(s.content_type, "text/event-stream", 17) && s.n == 14 &&
			      !strcmp(s.event[13], "done"),
		      "Accept: text/event-stream: %ld %s %d events", s.status, s.content_type, s.n);
	pt_stream_free(&s);
	free(lorem);
}
END_TEST

START_TEST(a_dropped_stream_stops_upstream_and_records_what_was_produced)
{
	struct it_user u;
	it_register(&u, "pt-drop");
	char a[64];
	pt_agent(&u, "long-winded", NULL, a);
	pt_llm_stream(u.id, "\"chunks\": 40, \"chunk_delay_ms\": 150"); /* 6 s if read to the end */
	struct pt_stream s;
	pt_stream_chat(&u, a, "{\"content\": \"talk for a long time\", \"stream\": true}", 3, &s);
	int64_t dropped = it_now_ms();
	ck_assert_msg(s.aborted && s.deltas == 3, "the client did not get 3 deltas: %d, %.500s", s.deltas, s.body);
	char conv[64];
	copy_to(conv, sizeof(conv), pt_ev_str(&s, 0, "conversation_id"));
	pt_stream_free(&s);
	/* LiteLLM's stream was closed by tollgate: the stand-in saw it cut, long before its 40 words */
	json_object *e = NULL;
	for (;;) {
		json_object_put(e);
		e = last_sent(u.id);
		json_object *ended = jget(e, "ended");
		if (ended && json_object_is_type(ended, json_type_string))
			break;
		ck_assert_msg(it_now_ms() - dropped < 8000, "the upstream stream never ended: %s", json_object_to_json_string(e));
		it_sleep_ms(50);
	}
	ck_assert_msg(!strcmp(jstr(e, "ended"), "cut") && json_object_get_boolean(jget(e, "cut")),
		      "LiteLLM's stream was not stopped by the dropped client: %s", json_object_to_json_string(e));
	int sent = json_object_get_int(jget(e, "chunks_sent"));
	ck_assert_msg(sent >= 3 && sent < 40, "the stand-in sent %d words", sent);
	if (it_timing_checked("upstream stopped soon after the client left"))
		ck_assert_msg(it_now_ms() - dropped < 3000, "upstream stopped %lld ms after the client left",
			      (long long)(it_now_ms() - dropped));
	json_object_put(e);
	/* the conversation holds the message and the partial reply, and its usage was charged */
	struct it_resp *r = pt_wait_conversation(&u, conv, 2);
	json_object *reply = json_object_array_get_idx(it_at(r, "messages"), 1);
	const char *text = jstr(reply, "content");
	char *all = pt_lorem(40);
	ck_assert_msg(text && !strncmp(text, "Lorem ipsum dolor", 17) && !strncmp(all, text, strlen(text)) &&
			      strlen(text) < strlen(all),
		      "the partial reply is not what was produced: '%s'", text ? text : "(none)");
	long long total = json_object_get_int64(jget(jget(reply, "usage"), "total_tokens"));
	ck_assert_msg(total >= json_object_get_int64(jget(jget(reply, "usage"), "prompt_tokens")) + 1,
		      "the partial reply's usage: %s", json_object_to_json_string(jget(reply, "usage")));
	it_free(r);
	free(all);
	expect_tokens(&u, total);
}
END_TEST

START_TEST(an_error_mid_stream_ends_it_with_an_error_event)
{
	struct it_user u;
	it_register(&u, "pt-midfail");
	char a[64];
	pt_agent(&u, "fragile", NULL, a);
	pt_llm_stream(u.id, "\"chunks\": 10, \"error_after\": 3");
	struct pt_stream s;
	pt_stream_chat(&u, a, "{\"content\": \"go on\", \"stream\": true}", 0, &s);
	ck_assert_int_eq(s.status, 200);
	ck_assert_msg(s.n == 5, "want start, 3 deltas and an error, got %d events: %.1000s", s.n, s.body);
	ck_assert_str_eq(s.event[0], "start");
	ck_assert_str_eq(s.reply, "Lorem ipsum dolor ");
	ck_assert_str_eq(s.event[4], "error");
	static const char *const ek[] = {"code", "detail", NULL};
	pt_expect_keys(s.data[4], ek);
	ck_assert_str_eq(pt_ev_str(&s, 4, "code"), "llm_error");
	ck_assert(*pt_ev_str(&s, 4, "detail"));
	struct it_resp *r = pt_wait_conversation(&u, pt_ev_str(&s, 0, "conversation_id"), 2);
	json_object *reply = json_object_array_get_idx(it_at(r, "messages"), 1);
	ck_assert_msg(!strncmp(jstr(reply, "content"), "Lorem ipsum dolor", 17), "stored: %s", r->body);
	long long total = json_object_get_int64(jget(jget(reply, "usage"), "total_tokens"));
	it_free(r);
	pt_stream_free(&s);
	expect_tokens(&u, total);
}
END_TEST

/* A chat that is refused: the status and code, nothing stored, nothing charged. */
static void expect_refused(const struct it_user *u, const char *agent, const char *conv, long status, const char *code)
{
	long long convs = pt_stored_conversations(u->id), msgs = pt_stored_messages(u->id);
	struct pt_metric before;
	pt_usage(u, "monthly_tokens", &before);
	for (int stream = 0; stream < 2; stream++) {
		char *body = conv ? xprintf("{\"content\": \"are you there\", \"conversation_id\": \"%s\"%s}", conv,
					    stream ? ", \"stream\": true" : "")
				  : xprintf("{\"content\": \"are you there\"%s}", stream ? ", \"stream\": true" : "");
		struct it_resp *r = pt_req("POST", u->access, body, "/api/agents/%s/chat", agent);
		it_expect_problem(r, status, code); /* an HTTP status, not a stream */
		if (status == 503) {
			const char *ra = it_header(r, "Retry-After");
			ck_assert_msg(ra && strtol(ra, NULL, 10) > 0, "503 without a Retry-After in seconds: %s", r->headers);
		}
		it_free(r);
		free(body);
	}
	ck_assert_int_eq(pt_stored_conversations(u->id), convs);
	ck_assert_int_eq(pt_stored_messages(u->id), msgs);
	expect_tokens(u, before.used);
}

START_TEST(litellm_down_failing_or_refusing)
{
	struct it_user u;
	it_register(&u, "pt-down");
	char a[64], conv[64];
	pt_agent(&u, "patient", NULL, a);
	/* down before the first chat: no key can be made either */
	pt_llm_down(true);
	expect_refused(&u, a, NULL, 503, "llm_unavailable");
	pt_llm_down(false);
	it_free(pt_chat_ok(&u, a, "hello", NULL, conv));
	pt_llm_down(true);
	expect_refused(&u, a, NULL, 503, "llm_unavailable");
	expect_refused(&u, a, conv, 503, "llm_unavailable");
	pt_llm_down(false);
	/* 5xx and 429 from LiteLLM: unavailable too */
	pt_llm_fail(u.id, 2, 500, "Internal Server Error");
	expect_refused(&u, a, conv, 503, "llm_unavailable");
	pt_llm_fail(u.id, 2, 429, "Rate limit reached");
	expect_refused(&u, a, conv, 503, "llm_unavailable");
	/* another refusal (4xx): 502 llm_error with LiteLLM's reason */
	pt_llm_fail(u.id, 1, 400, "Invalid message: content policy");
	struct it_resp *r = pt_chat(&u, a, "are you there", conv);
	it_expect_problem(r, 502, "llm_error");
	ck_assert_msg(strstr(r->body, "Invalid message: content policy"), "502 without LiteLLM's reason: %s", r->body);
	it_free(r);
	pt_llm_fail(u.id, 2, 404, "The model `gpt-4o-mini` does not exist");
	expect_refused(&u, a, conv, 502, "llm_error");
	/* back to normal */
	r = pt_chat_ok(&u, a, "are you there", conv, NULL);
	expect_str(r, "message.content", DEFAULT_REPLY);
	it_free(r);
	r = pt_conversation(&u, conv);
	ck_assert_int_eq(it_int(r, "message_count"), 4);
	it_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("product_chat");
	TCase *tc = product_tcase(s, "chat", 60);
	tcase_add_test(tc, answer_and_stored_conversation);
	tcase_add_test(tc, history_trimmed_to_the_context_budget_oldest_first);
	tcase_add_test(tc, a_free_users_key_is_made_at_the_first_chat_once);
	tc = product_tcase(s, "stream", 60);
	tcase_add_test(tc, a_stream_relays_start_deltas_done_and_stores_them);
	tcase_add_test(tc, a_dropped_stream_stops_upstream_and_records_what_was_produced);
	tcase_add_test(tc, an_error_mid_stream_ends_it_with_an_error_event);
	tc = product_tcase(s, "litellm", 60);
	tcase_add_test(tc, litellm_down_failing_or_refusing);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
