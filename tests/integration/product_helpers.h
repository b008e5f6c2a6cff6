/* product_helpers.h — helpers of the product suites (test_product_*.c): the section "The product:
 * projects, documents, agents, chat; usage and quotas" of API.md, black-box through nginx, against
 * the stack's LiteLLM stand-in (tests/fixtures/litellm_standin.py, its /_control/ API).
 *
 * Plans for a test. Tests must not change the seeded plans (other suites on the same stack rely on
 * the free plan's limits), so a test that needs small limits makes a plan of its own: a row of the
 * `plans` table named tpt_<pid>_<random> (archived, so /api/billing/plans never lists it) and an
 * active `subscriptions` row of the test's user on it (stripe ids sub_tpt…/cus_tpt…, which no webhook
 * ever names), whose billing period (a day ago to 29 days ahead) is the user's usage period. The
 * unchecked teardown of every product TCase (product_tcase) deletes, in the parent process, the
 * subscriptions and plans this program made, so a failing test leaves none behind either.
 *
 * The stand-in's settings that change how it answers (/_control/stream, /_control/fail) are scoped to
 * the test's own user id where the stand-in allows it; /_control/down is global and reset by the same
 * fixtures. Every wait is bounded. */
#ifndef TOLLGATE_PRODUCT_HELPERS_H
#define TOLLGATE_PRODUCT_HELPERS_H

#include "itest.h"

#include <json.h>
#include <stdbool.h>
#include <stddef.h>

#define PT_MODEL "gpt-4o-mini" /* the model of the free plan (sql/0005_product.sql) */
#define PT_WAIT_MS 10000       /* a consequence of a request must show within this */

/* The TCase every product suite uses: timeout, and the unchecked fixtures that reset the stand-ins
 * and drop this program's test plans. */
TCase *product_tcase(Suite *s, const char *name, int timeout);

/* ---- requests */

struct it_resp *pt_req(const char *method, const char *bearer, const char *json, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A JSON string literal for s (quotes included, escaped), malloc'd. */
char *pt_jstr(const char *s);
/* s repeated to n bytes (malloc'd). */
char *pt_fill(const char *unit, size_t bytes);

/* ---- resources: each asserts 201 and copies the new id into id (37 bytes) */

void pt_project(const struct it_user *u, const char *name, char id[64]);
void pt_document(const struct it_user *u, const char *project, const char *title, const char *content, char id[64]);
/* project: a project id or NULL (unbound). */
void pt_agent(const struct it_user *u, const char *name, const char *project, char id[64]);

/* The list at path (GET): asserts 200 and the envelope {items, page, per_page, total}; returns it. */
struct it_resp *pt_list(const struct it_user *u, const char *path);
/* The index of the item with id in r's items, or -1. */
int pt_index_of(const struct it_resp *r, const char *id);
/* r's JSON object has exactly these keys (NULL-terminated). */
void pt_expect_keys(json_object *o, const char *const *keys);
/* 402 quota_exceeded with metric, used and limit as members. */
void pt_expect_quota(const struct it_resp *r, const char *metric, long long used, long long limit);

/* ---- usage */

struct pt_metric {
	long long used, reserved, limit; /* limit -1: unlimited (null) */
};
/* GET /api/usage, metric "projects" … "monthly_tokens". */
void pt_usage(const struct it_user *u, const char *metric, struct pt_metric *m);

/* ---- notices */

/* The user's in-app notifications of kind (all of them, newest first): a new reference to the items. */
json_object *pt_notifications(const struct it_user *u, const char *kind);
/* Messages to addr whose subject contains subj (case-insensitive), in TG_MAIL_DIR. */
int pt_mail_count(const char *addr, const char *subj);
/* Waits (bounded) until want such messages arrived; fails the test otherwise. */
void pt_mail_wait(const char *addr, const char *subj, int want);
/* Asks for a password reset of u and waits for that email: every message queued for u before it
 * has been delivered by then (the outbox sends in order), so a count taken after is final. */
void pt_mail_barrier(const struct it_user *u);

/* ---- test plans (see the top of this file) */

/* A new archived plan with these limits (-1: unlimited) and models ["gpt-4o-mini"]; max_budget: the
 * LiteLLM USD budget of its keys, or a negative number for none. code: 40 bytes. */
void pt_plan(char code[40], long projects, long documents, long agents, long long tokens, double max_budget);
/* An active subscription of u on plan, its period from a day ago to 29 days ahead. */
void pt_subscribe(const struct it_user *u, const char *plan);
/* Registers u and puts it on a new plan with these limits; the plan code into code (may be NULL). */
void pt_user_on_plan(struct it_user *u, const char *prefix, char code[40], long projects, long documents,
		     long agents, long long tokens);

/* ---- the LiteLLM stand-in */

/* POST /_control/stream for the user (NULL: every chat); json_fields: the settings' members without
 * braces, e.g. "\"chunks\": 40, \"chunk_delay_ms\": 150". */
void pt_llm_stream(const char *user_id, const char *json_fields);
/* POST /_control/fail {count, status, path "/chat/completions", user_id, message}. */
void pt_llm_fail(const char *user_id, int count, int status, const char *message);
void pt_llm_down(bool down);
/* The stand-in's chat requests (/chat/completions) with the user's virtual key: a new reference to
 * the array of log entries, oldest first. */
json_object *pt_llm_chats(const char *user_id);
int pt_llm_chat_count(const char *user_id);
/* The words of the stand-in's reply of n words (/_control/stream "chunks"), joined by spaces. */
char *pt_lorem(int n);

/* ---- chat */

/* POST /api/agents/{agent}/chat {"content": content[, "conversation_id": conv]} (not streamed). */
struct it_resp *pt_chat(const struct it_user *u, const char *agent, const char *content, const char *conv);
/* As pt_chat, asserting 200 with the documented shape; conversation id into conv_out (may be NULL). */
struct it_resp *pt_chat_ok(const struct it_user *u, const char *agent, const char *content, const char *conv,
			   char conv_out[64]);

/* One server-sent event stream, read as a browser's EventSource would. */
#define PT_MAX_EVENTS 256
struct pt_stream {
	long status;
	char content_type[128];
	char *headers, *body;       /* raw; body: the whole text received */
	int n;                      /* events */
	char event[PT_MAX_EVENTS][16];
	json_object *data[PT_MAX_EVENTS];
	int64_t at[PT_MAX_EVENTS];  /* when each event arrived (it_now_ms) */
	bool aborted;               /* the client closed the connection after stop_after deltas */
	int deltas;
	char reply[65536];          /* the deltas' content, joined */
};
/* POSTs body to the chat of agent with stream on (Accept: text/event-stream); with stop_after > 0,
 * closes the connection once that many deltas arrived. */
void pt_stream_chat(const struct it_user *u, const char *agent, const char *body, int stop_after, struct pt_stream *s);
void pt_stream_free(struct pt_stream *s);
/* The data member of event i as a string, or NULL. */
const char *pt_ev_str(const struct pt_stream *s, int i, const char *key);

/* GET /api/conversations/{id}: asserts 200. */
struct it_resp *pt_conversation(const struct it_user *u, const char *id);
/* Waits (bounded) until the conversation holds want messages; returns it (200). */
struct it_resp *pt_wait_conversation(const struct it_user *u, const char *id, int want);
/* Conversations and messages stored for the user (SQL). */
long long pt_stored_conversations(const char *user_id);
long long pt_stored_messages(const char *user_id);

#endif
