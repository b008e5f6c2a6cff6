/* product_helpers.c — see product_helpers.h. */
#include "product_helpers.h"
#include "accounts_helpers.h"
#include "billing_helpers.h"
/* email_helpers.h defines its own MAIL_WAIT_MS */
#undef MAIL_WAIT_MS
#include "email_helpers.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- fixtures */

static long runner_pid; /* set in the parent before the tests fork: names this program's plans */

static void product_setup(void)
{
	runner_pid = (long)getpid();
	standins_normal();
}

static void product_teardown(void)
{
	standins_normal(); /* the /_control/stream settings are each test user's own: left alone */
	/* the subscriptions and plans this program made (also those of a failed test) */
	it_sql("DELETE FROM subscriptions WHERE plan_code LIKE 'tpt\\_%ld\\_%%';"
	       " DELETE FROM plans WHERE code LIKE 'tpt\\_%ld\\_%%'",
	       runner_pid, runner_pid);
}

TCase *product_tcase(Suite *s, const char *name, int timeout)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, timeout);
	tcase_add_unchecked_fixture(tc, product_setup, product_teardown);
	suite_add_tcase(s, tc);
	return tc;
}

/* ---- requests */

struct it_resp *pt_req(const char *method, const char *bearer, const char *json, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *path = NULL;
	ck_assert_int_ge(vasprintf(&path, fmt, ap), 0);
	va_end(ap);
	struct it_req q = {.method = method, .path = path, .bearer = bearer, .json = json};
	struct it_resp *r = it_do(&q);
	free(path);
	return r;
}

char *pt_jstr(const char *s)
{
	json_object *o = json_object_new_string(s);
	char *out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	ck_assert_ptr_nonnull(out);
	return out;
}

char *pt_fill(const char *unit, size_t bytes)
{
	size_t ul = strlen(unit);
	char *out = malloc(bytes + 1);
	ck_assert_ptr_nonnull(out);
	for (size_t i = 0; i < bytes; i++)
		out[i] = unit[i % ul];
	out[bytes] = '\0';
	return out;
}

/* ---- resources */

static void create(const char *what, const char *path, const struct it_user *u, const char *body, char id[64])
{
	struct it_resp *r = it_post(path, u->access, body);
	ck_assert_msg(r->status == 201, "creating a %s: %ld %.400s", what, r->status, r->body);
	const char *v = it_str(r, "id");
	ck_assert_msg(is_uuid(v), "the new %s has no UUID id: %s", what, r->body);
	snprintf(id, 64, "%s", v);
	it_free(r);
}

void pt_project(const struct it_user *u, const char *name, char id[64])
{
	char *n = pt_jstr(name);
	char *body = xprintf("{\"name\": %s}", n);
	create("project", "/api/projects", u, body, id);
	free(body);
	free(n);
}

void pt_document(const struct it_user *u, const char *project, const char *title, const char *content, char id[64])
{
	char *t = pt_jstr(title), *c = pt_jstr(content);
	char *body = xprintf("{\"title\": %s, \"content\": %s}", t, c);
	char *path = xprintf("/api/projects/%s/documents", project);
	create("document", path, u, body, id);
	free(path);
	free(body);
	free(t);
	free(c);
}

void pt_agent(const struct it_user *u, const char *name, const char *project, char id[64])
{
	char *n = pt_jstr(name);
	char *proj = project ? xprintf("\"%s\"", project) : strdup("null");
	char *body = xprintf("{\"name\": %s, \"model\": \"" PT_MODEL "\", \"system_prompt\": \"\", \"project_id\": %s}", n,
			     proj);
	create("agent", "/api/agents", u, body, id);
	free(body);
	free(proj);
	free(n);
}

struct it_resp *pt_list(const struct it_user *u, const char *path)
{
	struct it_resp *r = it_get(path, u->access);
	ck_assert_msg(r->status == 200, "GET %s: %ld %.300s", path, r->status, r->body);
	json_object *items = it_at(r, "items");
	ck_assert_msg(items && json_object_is_type(items, json_type_array), "GET %s: no items array: %.300s", path, r->body);
	ck_assert_msg(it_int(r, "page") >= 1 && it_int(r, "per_page") >= 1 && it_int(r, "total") >= 0,
		      "GET %s: the list envelope is incomplete: %.300s", path, r->body);
	expect_no_store(r);
	return r;
}

int pt_index_of(const struct it_resp *r, const char *id)
{
	json_object *items = it_at(r, "items");
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		const char *v = jstr(json_object_array_get_idx(items, i), "id");
		if (v && !strcmp(v, id))
			return (int)i;
	}
	return -1;
}

void pt_expect_keys(json_object *o, const char *const *keys)
{
	ck_assert_msg(o && json_object_is_type(o, json_type_object), "not an object: %s",
		      o ? json_object_to_json_string(o) : "(null)");
	int n = 0;
	for (; keys[n]; n++)
		ck_assert_msg(json_object_object_get_ex(o, keys[n], NULL), "\"%s\" missing in %s", keys[n],
			      json_object_to_json_string(o));
	ck_assert_msg(json_object_object_length(o) == n, "expected exactly %d members in %s", n,
		      json_object_to_json_string(o));
}

void pt_expect_quota(const struct it_resp *r, const char *metric, long long used, long long limit)
{
	it_expect_problem(r, 402, "quota_exceeded");
	expect_str(r, "metric", metric);
	ck_assert_msg(it_int(r, "used") == used && it_int(r, "limit") == limit,
		      "402 for %s: want used %lld and limit %lld: %s", metric, used, limit, r->body);
}

/* ---- usage */

void pt_usage(const struct it_user *u, const char *metric, struct pt_metric *m)
{
	struct it_resp *r = it_get("/api/usage", u->access);
	it_expect(r, 200, NULL);
	char path[96];
	snprintf(path, sizeof(path), "metrics.%s.used", metric);
	m->used = it_int(r, path);
	m->reserved = 0;
	if (!strcmp(metric, "monthly_tokens")) {
		snprintf(path, sizeof(path), "metrics.%s.reserved", metric);
		m->reserved = it_int(r, path);
	}
	snprintf(path, sizeof(path), "metrics.%s.limit", metric);
	json_object *l = it_at(r, path);
	m->limit = l ? json_object_get_int64(l) : -1;
	it_free(r);
}

/* ---- notices */

json_object *pt_notifications(const struct it_user *u, const char *kind)
{
	struct it_resp *r = it_get("/api/notifications?per_page=200", u->access);
	it_expect(r, 200, NULL);
	json_object *items = it_at(r, "items"), *out = json_object_new_array();
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		json_object *n = json_object_array_get_idx(items, i);
		if (jstr(n, "kind") && !strcmp(jstr(n, "kind"), kind))
			json_object_array_add(out, json_object_get(n));
	}
	it_free(r);
	return out;
}

int pt_mail_count(const char *addr, const char *subj)
{
	return mailbox_count(addr, subj);
}

void pt_mail_wait(const char *addr, const char *subj, int want)
{
	struct mails ms;
	mail_wait(addr, subj, want, 15000, &ms);
	mails_free(&ms);
}

void pt_mail_barrier(const struct it_user *u)
{
	int before = mailbox_count(u->email, SUBJ_RESET);
	expect_forgot_accepted(u->email);
	pt_mail_wait(u->email, SUBJ_RESET, before + 1);
}

/* ---- test plans */

/* A limit as SQL: a number, or NULL (unlimited) when negative. */
static void lim(char out[24], long long v)
{
	if (v < 0)
		snprintf(out, 24, "NULL");
	else
		snprintf(out, 24, "%lld", v);
}

void pt_plan(char code[40], long projects, long documents, long agents, long long tokens, double max_budget)
{
	char tok[9];
	rand_token(tok, 8);
	snprintf(code, 40, "tpt_%ld_%s", runner_pid ? runner_pid : (long)getppid(), tok);
	char p[24], d[24], a[24], t[24], b[32];
	lim(p, projects);
	lim(d, documents);
	lim(a, agents);
	lim(t, tokens);
	if (max_budget < 0)
		snprintf(b, sizeof(b), "NULL");
	else
		snprintf(b, sizeof(b), "%.2f", max_budget);
	sql_exec("INSERT INTO plans (code, name, description, limit_projects, limit_documents, limit_agents,"
		 " limit_monthly_tokens, litellm_models, litellm_max_budget, sort_order, archived_at)"
		 " VALUES ('%s', 'Test plan %s', 'made by a product test', %s, %s, %s, %s, '[\"" PT_MODEL "\"]', %s, 99, now())",
		 code, code, p, d, a, t, b);
}

void pt_subscribe(const struct it_user *u, const char *plan)
{
	char tok[17];
	rand_token(tok, 16);
	sql_exec("INSERT INTO subscriptions (user_id, stripe_subscription_id, stripe_customer_id, plan_code, status,"
		 " current_period_start, current_period_end)"
		 " VALUES ('%s', 'sub_tpt%s', 'cus_tpt%s', '%s', 'active', date_trunc('second', now()) - interval '1 day',"
		 " date_trunc('second', now()) + interval '29 days')",
		 u->id, tok, tok, plan);
	struct it_resp *r = it_get("/api/usage", u->access);
	it_expect(r, 200, NULL);
	expect_str(r, "plan", plan);
	it_free(r);
}

void pt_user_on_plan(struct it_user *u, const char *prefix, char code[40], long projects, long documents,
		     long agents, long long tokens)
{
	char c[40];
	it_register(u, prefix);
	pt_plan(c, projects, documents, agents, tokens, -1);
	pt_subscribe(u, c);
	if (code)
		snprintf(code, 40, "%s", c);
}

/* ---- the LiteLLM stand-in */

static void ctl_ok(const char *method, const char *path, const char *json)
{
	struct it_resp *r = litellm_ctl(method, path, json);
	ck_assert_msg(r->status == 200, "LiteLLM stand-in %s /_control/%s %s: %ld %s", method, path, json ? json : "",
		      r->status, r->body);
	it_free(r);
}

void pt_llm_stream(const char *user_id, const char *json_fields)
{
	char *body = user_id ? xprintf("{%s%s\"user_id\": \"%s\"}", json_fields, *json_fields ? ", " : "", user_id)
			     : xprintf("{%s}", json_fields);
	ctl_ok("POST", "stream", body);
	free(body);
}

void pt_llm_fail(const char *user_id, int count, int status, const char *message)
{
	char *m = pt_jstr(message ? message : "Injected failure");
	char *body = xprintf("{\"count\": %d, \"status\": %d, \"path\": \"/chat/completions\", \"user_id\": \"%s\","
			     " \"message\": %s}",
			     count, status, user_id, m);
	ctl_ok("POST", "fail", body);
	free(body);
	free(m);
}

void pt_llm_down(bool down)
{
	ctl_ok("POST", "down", down ? "{\"down\": true}" : "{\"down\": false}");
}

json_object *pt_llm_chats(const char *user_id)
{
	char *path = xprintf("requests?path=/chat/completions&user_id=%s", user_id);
	struct it_resp *r = litellm_ctl("GET", path, NULL);
	free(path);
	ck_assert_msg(r->status == 200 && r->json, "stand-in requests: %ld %s", r->status, r->body);
	json_object *data = json_object_get(it_at(r, "data"));
	it_free(r);
	ck_assert_ptr_nonnull(data);
	return data;
}

int pt_llm_chat_count(const char *user_id)
{
	json_object *d = pt_llm_chats(user_id);
	int n = (int)json_object_array_length(d);
	json_object_put(d);
	return n;
}

char *pt_lorem(int n)
{
	static const char *const w[] = {"Lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit",
					"sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et",
					"dolore", "magna", "aliqua"};
	size_t cap = (size_t)n * 13 + 1, len = 0;
	char *out = calloc(1, cap);
	ck_assert_ptr_nonnull(out);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", w[i % 19]);
	return out;
}

/* ---- chat */

struct it_resp *pt_chat(const struct it_user *u, const char *agent, const char *content, const char *conv)
{
	char *c = pt_jstr(content);
	char *conv_part = conv ? xprintf(", \"conversation_id\": \"%s\"", conv) : strdup("");
	char *body = xprintf("{\"content\": %s%s}", c, conv_part);
	struct it_resp *r = pt_req("POST", u->access, body, "/api/agents/%s/chat", agent);
	free(body);
	free(conv_part);
	free(c);
	return r;
}

struct it_resp *pt_chat_ok(const struct it_user *u, const char *agent, const char *content, const char *conv,
			   char conv_out[64])
{
	struct it_resp *r = pt_chat(u, agent, content, conv);
	ck_assert_msg(r->status == 200, "chat: %ld %.500s", r->status, r->body);
	expect_json_ct(r);
	expect_no_store(r);
	static const char *const top[] = {"conversation_id", "message", "usage", "sources", NULL};
	static const char *const msg[] = {"id", "role", "content", "created_at", NULL};
	static const char *const use[] = {"prompt_tokens", "completion_tokens", "total_tokens", NULL};
	pt_expect_keys(r->json, top);
	pt_expect_keys(it_at(r, "message"), msg);
	pt_expect_keys(it_at(r, "usage"), use);
	ck_assert(is_uuid(it_str(r, "conversation_id")) && is_uuid(it_str(r, "message.id")));
	expect_str(r, "message.role", "assistant");
	expect_rfc3339(r, "message.created_at");
	ck_assert_msg(json_object_is_type(it_at(r, "sources"), json_type_array), "sources is not an array: %s", r->body);
	ck_assert_int_eq(it_int(r, "usage.total_tokens"), it_int(r, "usage.prompt_tokens") + it_int(r, "usage.completion_tokens"));
	if (conv)
		expect_str(r, "conversation_id", conv);
	if (conv_out)
		snprintf(conv_out, 64, "%s", it_str(r, "conversation_id"));
	return r;
}

/* --- the event-stream client */

struct sse_state {
	struct pt_stream *s;
	int stop_after;
	char line[65536];
	size_t len;
	char event[16];
	char *data;
	size_t dlen;
	size_t blen, bcap;
};

static void sse_dispatch(struct sse_state *st)
{
	struct pt_stream *s = st->s;
	if (!st->data && !*st->event)
		return;
	ck_assert_msg(s->n < PT_MAX_EVENTS, "more than %d events", PT_MAX_EVENTS);
	snprintf(s->event[s->n], sizeof(s->event[0]), "%s", *st->event ? st->event : "message");
	s->data[s->n] = st->data ? json_tokener_parse(st->data) : NULL;
	s->at[s->n] = it_now_ms();
	ck_assert_msg(s->data[s->n] != NULL, "event %s: data is not JSON: %s", s->event[s->n], st->data ? st->data : "");
	if (!strcmp(s->event[s->n], "delta")) {
		s->deltas++;
		json_object *c;
		if (json_object_object_get_ex(s->data[s->n], "content", &c)) {
			size_t have = strlen(s->reply);
			snprintf(s->reply + have, sizeof(s->reply) - have, "%s", json_object_get_string(c));
		}
	}
	s->n++;
	free(st->data);
	st->data = NULL;
	st->dlen = 0;
	st->event[0] = '\0';
}

static void sse_line(struct sse_state *st)
{
	char *l = st->line;
	size_t n = st->len;
	if (n && l[n - 1] == '\r')
		l[--n] = '\0';
	if (n == 0)
		return sse_dispatch(st);
	if (!strncmp(l, "event:", 6)) {
		const char *v = l + 6 + (l[6] == ' ');
		snprintf(st->event, sizeof(st->event), "%s", v);
	} else if (!strncmp(l, "data:", 5)) {
		const char *v = l + 5 + (l[5] == ' ');
		size_t vl = strlen(v);
		char *nd = realloc(st->data, st->dlen + vl + 2);
		ck_assert_ptr_nonnull(nd);
		if (st->dlen)
			nd[st->dlen++] = '\n';
		memcpy(nd + st->dlen, v, vl + 1);
		st->dlen += vl;
		st->data = nd;
	}
}

static size_t sse_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sse_state *st = ud;
	size_t n = size * nmemb;
	if (st->blen + n + 1 > st->bcap) {
		st->bcap = (st->blen + n + 1) * 2;
		st->s->body = realloc(st->s->body, st->bcap);
		ck_assert_ptr_nonnull(st->s->body);
	}
	memcpy(st->s->body + st->blen, ptr, n);
	st->blen += n;
	st->s->body[st->blen] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (ptr[i] == '\n') {
			st->line[st->len] = '\0';
			sse_line(st);
			st->len = 0;
			if (st->stop_after > 0 && st->s->deltas >= st->stop_after) {
				st->s->aborted = true;
				return 0; /* the browser closes the connection */
			}
		} else if (st->len + 1 < sizeof(st->line)) {
			st->line[st->len++] = ptr[i];
		}
	}
	return n;
}

static size_t hdr_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	char **h = ud;
	size_t n = size * nmemb, have = *h ? strlen(*h) : 0;
	if (n > 5 && !strncmp(ptr, "HTTP/", 5))
		have = 0;
	char *nh = realloc(*h, have + n + 1);
	ck_assert_ptr_nonnull(nh);
	memcpy(nh + have, ptr, n);
	nh[have + n] = '\0';
	*h = nh;
	return n;
}

void pt_stream_chat(const struct it_user *u, const char *agent, const char *body, int stop_after, struct pt_stream *s)
{
	memset(s, 0, sizeof(*s));
	struct sse_state *st = calloc(1, sizeof(*st));
	ck_assert_ptr_nonnull(st);
	st->s = s;
	st->stop_after = stop_after;
	CURL *c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	char *url = xprintf("%s/api/agents/%s/chat", it_url(), agent);
	char *auth = xprintf("Authorization: Bearer %s", u->access);
	struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
	hl = curl_slist_append(hl, "Accept: text/event-stream");
	hl = curl_slist_append(hl, auth);
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, hdr_write);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &s->headers);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
	ck_assert_msg(cc == CURLE_OK || (s->aborted && cc == CURLE_WRITE_ERROR), "stream: %s", curl_easy_strerror(cc));
	char *ct = NULL;
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(s->content_type, sizeof(s->content_type), "%s", ct ? ct : "");
	curl_slist_free_all(hl);
	curl_easy_cleanup(c); /* closes the connection: an aborted stream is a dropped client */
	if (!s->aborted && st->len) {
		st->line[st->len] = '\0';
		sse_line(st);
	}
	if (!s->aborted)
		sse_dispatch(st);
	free(st->data);
	free(st);
	free(url);
	free(auth);
	if (!s->body)
		s->body = strdup("");
	if (!s->headers)
		s->headers = strdup("");
}

void pt_stream_free(struct pt_stream *s)
{
	for (int i = 0; i < s->n; i++)
		json_object_put(s->data[i]);
	free(s->body);
	free(s->headers);
	memset(s, 0, sizeof(*s));
}

const char *pt_ev_str(const struct pt_stream *s, int i, const char *key)
{
	return i < s->n ? jstr(s->data[i], key) : NULL;
}

struct it_resp *pt_conversation(const struct it_user *u, const char *id)
{
	struct it_resp *r = pt_req("GET", u->access, NULL, "/api/conversations/%s", id);
	ck_assert_msg(r->status == 200, "GET /api/conversations/%s: %ld %.300s", id, r->status, r->body);
	return r;
}

struct it_resp *pt_wait_conversation(const struct it_user *u, const char *id, int want)
{
	int64_t until = it_now_ms() + PT_WAIT_MS;
	for (;;) {
		struct it_resp *r = pt_req("GET", u->access, NULL, "/api/conversations/%s", id);
		json_object *m = r->status == 200 ? it_at(r, "messages") : NULL;
		if (m && (int)json_object_array_length(m) >= want)
			return r;
		ck_assert_msg(it_now_ms() < until, "conversation %s: %d messages not stored within %d ms: %ld %.300s", id,
			      want, PT_WAIT_MS, r->status, r->body);
		it_free(r);
		it_sleep_ms(100);
	}
}

long long pt_stored_conversations(const char *user_id)
{
	return it_sql_long("SELECT count(*) FROM conversations WHERE user_id = '%s'", user_id);
}

long long pt_stored_messages(const char *user_id)
{
	return it_sql_long("SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
			   " WHERE c.user_id = '%s'",
			   user_id);
}
