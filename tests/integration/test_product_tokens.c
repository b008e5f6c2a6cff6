/* test_product_tokens.c — the monthly token allowance (API.md, Quotas and Chat): tokens are reserved
 * before a chat is sent (an estimate of the prompt, one token per two bytes, plus the reply's
 * max_tokens) and settled to LiteLLM's reported usage after; parallel chats at the edge never pass
 * the limit; a chat that would pass it is 402 and stores nothing; a reservation left by a crash
 * counts until it expires and then no more; a new period (the calendar month on the free plan, the
 * billing period on a paid one) starts from zero with no job; a LiteLLM budget refusal is 402 and
 * charges nothing; a chat refused for tokens notifies 100 % once.
 *
 * The stand-in counts usage as words: prompt_tokens = the words of every message sent,
 * completion_tokens = the reply's words, so every expected figure here is computed, not observed. */
#include "accounts_helpers.h"
#include "billing_helpers.h"
#include "itest.h"
#include "product_helpers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reservation of a chat of an agent without system prompt or project, in a new conversation:
 * one token per two bytes of the message (rounded up) plus the reply's max_tokens. */
static long long reservation_of(const char *content)
{
	return (long long)(strlen(content) + 1) / 2 + cfg_long("chat_max_tokens", 1024);
}

static long long words(const char *s)
{
	long long n = 0;
	for (const char *p = s; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		n++;
		while (*p && *p != ' ')
			p++;
	}
	return n;
}

static void set_used(const struct it_user *u, long long used)
{
	sql_exec("INSERT INTO token_usage (user_id, period_start, period_end, used)"
		 " SELECT '%s', period_start, period_end, %lld FROM usage_period('%s')"
		 " ON CONFLICT (user_id, period_start) DO UPDATE SET used = EXCLUDED.used",
		 u->id, used, u->id);
}

static void expect_tokens(const struct it_user *u, long long used, long long reserved)
{
	struct pt_metric m;
	pt_usage(u, "monthly_tokens", &m);
	ck_assert_msg(m.used == used && m.reserved == reserved,
		      "/api/usage monthly_tokens: want used %lld reserved %lld, got used %lld reserved %lld", used, reserved,
		      m.used, m.reserved);
}

/* A chat refused for tokens: 402 with the state, nothing sent, stored or charged. */
static void expect_refused(const struct it_user *u, const char *agent, const char *conv, long long used,
			   long long limit)
{
	long long convs = pt_stored_conversations(u->id), msgs = pt_stored_messages(u->id);
	long long held = it_sql_long("SELECT count(*) FROM token_reservations WHERE user_id = '%s'", u->id);
	int sent = pt_llm_chat_count(u->id);
	struct it_resp *r = pt_chat(u, agent, "one more question please", conv);
	pt_expect_quota(r, "monthly_tokens", used, limit);
	it_free(r);
	/* streamed or not: a refusal before LiteLLM answers is an HTTP status, not a stream */
	r = pt_req("POST", u->access, "{\"content\": \"one more question please\", \"stream\": true}", "/api/agents/%s/chat",
		   agent);
	pt_expect_quota(r, "monthly_tokens", used, limit);
	it_free(r);
	ck_assert_int_eq(pt_stored_conversations(u->id), convs);
	ck_assert_int_eq(pt_stored_messages(u->id), msgs);
	ck_assert_int_eq(pt_llm_chat_count(u->id), sent);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM token_reservations WHERE user_id = '%s'", u->id), held);
}

struct streamer {
	const struct it_user *u;
	const char *agent, *body;
	struct pt_stream s;
};

static void *stream_fn(void *arg)
{
	struct streamer *t = arg;
	pt_stream_chat(t->u, t->agent, t->body, 0, &t->s);
	return NULL;
}

START_TEST(reserved_while_it_runs_then_settled_to_the_reported_usage)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-reserve", NULL, -1, -1, -1, 100000);
	char a[64];
	pt_agent(&u, "counter", NULL, a);
	pt_llm_stream(u.id, "\"chunks\": 20, \"chunk_delay_ms\": 150");
	const char *content = "how many tokens does this take";
	struct streamer t = {.u = &u, .agent = a, .body = "{\"content\": \"how many tokens does this take\", \"stream\": true}"};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, stream_fn, &t), 0);
	/* while the reply streams: the estimate is reserved, nothing used yet */
	struct pt_metric m = {0};
	int64_t until = it_now_ms() + 2500;
	do {
		it_sleep_ms(50);
		pt_usage(&u, "monthly_tokens", &m);
	} while (m.reserved == 0 && it_now_ms() < until);
	long long want = reservation_of(content);
	ck_assert_msg(m.reserved == want && m.used == 0, "during the chat: want %lld reserved and 0 used, got %lld and %lld",
		      want, m.reserved, m.used);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM token_reservations WHERE user_id = '%s' AND tokens = %lld"
				     " AND expires_at BETWEEN now() + interval '9 minutes' AND now() + interval '10 minutes'",
				     u.id, want),
			 1);
	pthread_join(th, NULL);
	ck_assert_int_eq(t.s.status, 200);
	ck_assert_str_eq(t.s.event[t.s.n - 1], "done");
	long long total = json_object_get_int64(jget(jget(t.s.data[t.s.n - 1], "usage"), "total_tokens"));
	ck_assert_int_eq(total, words(content) + 20);
	pt_stream_free(&t.s);
	/* settled: used is the reported usage, nothing reserved any more */
	expect_tokens(&u, total, 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM token_reservations WHERE user_id = '%s'", u.id), 0);
	ck_assert_int_eq(it_sql_long("SELECT reserved FROM token_usage WHERE user_id = '%s'", u.id), 0);

	/* a chat that is not streamed settles the same way */
	pt_llm_stream(u.id, "");
	struct it_resp *r = pt_chat_ok(&u, a, "and this one", NULL, NULL);
	long long t2 = it_int(r, "usage.total_tokens");
	ck_assert_int_eq(t2, 3 + 8); /* three words, the stand-in's default reply of eight */
	ck_assert_int_eq(it_int(r, "usage.prompt_tokens"), 3);
	it_free(r);
	expect_tokens(&u, total + t2, 0);
}
END_TEST

START_TEST(a_chat_past_the_limit_is_402_and_stores_nothing)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-over", NULL, -1, -1, -1, 5000);
	char a[64], conv[64];
	pt_agent(&u, "limited", NULL, a);
	it_free(pt_chat_ok(&u, a, "a first chat", NULL, conv));
	/* 1,000 tokens left: less than any chat's reservation (the reply's max_tokens alone is more) */
	ck_assert_int_gt(reservation_of("one more question please"), 1000);
	set_used(&u, 4000);
	expect_refused(&u, a, NULL, 4000, 5000);
	expect_refused(&u, a, conv, 4000, 5000); /* continuing a conversation */
	expect_tokens(&u, 4000, 0);
	struct it_resp *r = pt_conversation(&u, conv);
	ck_assert_int_eq(it_int(r, "message_count"), 2);
	it_free(r);
	/* refused for tokens: 100 % reached, notified once however often it is refused */
	r = it_get("/api/usage", u.access);
	json_object *w = it_at(r, "warnings");
	int at100 = 0;
	for (size_t i = 0; i < json_object_array_length(w); i++) {
		json_object *it = json_object_array_get_idx(w, i);
		if (!strcmp(jstr(it, "metric"), "monthly_tokens") && json_object_get_int(jget(it, "threshold")) == 100)
			at100++;
	}
	ck_assert_msg(at100 == 1, "a chat refused for tokens reaches 100 %% once: %s", r->body);
	it_free(r);
	pt_mail_wait(u.email, "100% of your monthly tokens", 1);
	pt_mail_barrier(&u);
	ck_assert_int_eq(pt_mail_count(u.email, "100% of your monthly tokens"), 1);
	/* just enough left: the same chat passes */
	set_used(&u, 5000 - reservation_of("one more question please"));
	it_free(pt_chat_ok(&u, a, "one more question please", NULL, NULL));
}
END_TEST

struct chatter {
	const struct it_user *u;
	const char *agent;
	char content[64];
	pthread_barrier_t *barrier;
	long status;
	char code[40];
	long long total, used, limit;
};

static void *chat_fn(void *arg)
{
	struct chatter *t = arg;
	pthread_barrier_wait(t->barrier);
	struct it_resp *r = pt_chat(t->u, t->agent, t->content, NULL);
	t->status = r->status;
	snprintf(t->code, sizeof(t->code), "%s", it_code(r) ? it_code(r) : "");
	json_object *v = it_at(r, r->status == 200 ? "usage.total_tokens" : "used");
	t->total = r->status == 200 && v ? json_object_get_int64(v) : 0;
	t->used = r->status != 200 && v ? json_object_get_int64(v) : -1;
	v = it_at(r, "limit");
	t->limit = v ? json_object_get_int64(v) : -1;
	it_free(r);
	return NULL;
}

START_TEST(parallel_chats_at_the_edge_never_pass_the_limit)
{
	enum { N = 10, REPLY = 1000 };
	const long long L = 4000;
	struct it_user u;
	pt_user_on_plan(&u, "pt-edge", NULL, -1, -1, -1, L);
	char a[64];
	pt_agent(&u, "busy", NULL, a);
	/* each reply: 1,000 words, about a second to come (so the chats overlap) */
	pt_llm_stream(u.id, "\"chunks\": 1000, \"chunk_delay_ms\": 1");
	static struct chatter t[N];
	pthread_t th[N];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, N);
	for (int i = 0; i < N; i++) {
		t[i] = (struct chatter){.u = &u, .agent = a, .barrier = &barrier};
		snprintf(t[i].content, sizeof(t[i].content), "parallel chat number %d", i);
		ck_assert_int_eq(pthread_create(&th[i], NULL, chat_fn, &t[i]), 0);
	}
	long long sum = 0;
	int ok = 0, refused = 0;
	char seen[2048] = "";
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		size_t l = strlen(seen);
		snprintf(seen + l, sizeof(seen) - l, " %ld %s total=%lld used=%lld;", t[i].status, t[i].code, t[i].total,
			 t[i].used);
		if (t[i].status == 200) {
			ok++;
			sum += t[i].total;
			ck_assert_int_eq(t[i].total, 4 + REPLY);
		} else if (t[i].status == 402 && !strcmp(t[i].code, "quota_exceeded") && t[i].limit == L && t[i].used <= L) {
			refused++;
		}
	}
	pthread_barrier_destroy(&barrier);
	/* A chat is let through only when used + reserved + its reservation R fits in L. With R = 1,035
	 * and a use of 1,004 per chat, at least floor(L / R) pass (the reservations of chats under way
	 * all fit) and at most floor((L - R) / 1,004) + 1 (every earlier one already settled). */
	long long R = reservation_of("parallel chat number 0");
	long long lo = L / R, hi = (L - R) / (4 + REPLY) + 1;
	ck_assert_msg(ok + refused == N && ok >= lo && ok <= hi,
		      "%d parallel chats at a %lld-token limit: want %lld..%lld answered and the rest 402, got:%s", N, L, lo, hi,
		      seen);
	expect_tokens(&u, sum, 0);
	ck_assert_msg(sum <= L, "parallel chats passed the limit: %lld of %lld tokens used", sum, L);
	ck_assert_int_eq(pt_llm_chat_count(u.id), ok);     /* the refused never reached LiteLLM */
	ck_assert_int_eq(pt_stored_conversations(u.id), ok); /* and stored nothing */
	ck_assert_int_eq(pt_stored_messages(u.id), 2 * ok);
}
END_TEST

START_TEST(the_80_percent_notice_counts_reserved_tokens)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-eighty", NULL, -1, -1, -1, 5000);
	char a[64];
	pt_agent(&u, "near", NULL, a);
	it_free(pt_chat_ok(&u, a, "first", NULL, NULL));
	set_used(&u, 3000); /* 60 % */
	/* the reservation (about 1,030) takes used + reserved past 80 %, the reply itself uses little */
	ck_assert_int_ge(3000 + reservation_of("a small question"), 4000);
	struct it_resp *r = pt_chat_ok(&u, a, "a small question", NULL, NULL);
	long long t = it_int(r, "usage.total_tokens");
	it_free(r);
	expect_tokens(&u, 3000 + t, 0);
	ck_assert_int_lt(3000 + t, 4000);
	r = it_get("/api/usage", u.access);
	json_object *w = it_at(r, "warnings");
	ck_assert_msg(json_object_array_length(w) == 1 && !strcmp(jstr(json_object_array_get_idx(w, 0), "metric"), "monthly_tokens") &&
			      json_object_get_int(jget(json_object_array_get_idx(w, 0), "threshold")) == 80,
		      "want one 80 %% notice for the tokens: %s", r->body);
	it_free(r);
	/* once: another chat over 80 % again notifies nothing more */
	it_free(pt_chat_ok(&u, a, "a small question", NULL, NULL));
	json_object *n = pt_notifications(&u, "usage_warning");
	ck_assert_int_eq(json_object_array_length(n), 1);
	json_object_put(n);
	pt_mail_wait(u.email, "80% of your monthly tokens", 1);
	pt_mail_barrier(&u);
	ck_assert_int_eq(pt_mail_count(u.email, "You have used"), 1);
}
END_TEST

START_TEST(a_crashed_chats_reservation_counts_until_it_expires)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-crash", NULL, -1, -1, -1, 3000);
	char a[64];
	pt_agent(&u, "survivor", NULL, a);
	struct it_resp *r = pt_chat_ok(&u, a, "before the crash", NULL, NULL);
	long long used = it_int(r, "usage.total_tokens");
	it_free(r);
	/* a worker died in a chat: its reservation of 2,000 tokens is left, expiring in 5 minutes */
	sql_exec("INSERT INTO token_reservations (user_id, period_start, tokens, expires_at)"
		 " SELECT '%s', period_start, 2000, now() + interval '5 minutes' FROM usage_period('%s');"
		 " UPDATE token_usage SET reserved = reserved + 2000 WHERE user_id = '%s'",
		 u.id, u.id, u.id);
	expect_tokens(&u, used, 2000);
	ck_assert_int_gt(used + 2000 + reservation_of("one more question please"), 3000);
	expect_refused(&u, a, NULL, used + 2000, 3000);
	/* expired: it counts no more, and the next chat goes through and gives it back */
	sql_exec("UPDATE token_reservations SET expires_at = now() - interval '1 second' WHERE user_id = '%s'", u.id);
	expect_tokens(&u, used, 0);
	r = pt_chat_ok(&u, a, "after the crash", NULL, NULL);
	used += it_int(r, "usage.total_tokens");
	it_free(r);
	expect_tokens(&u, used, 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM token_reservations WHERE user_id = '%s'", u.id), 0);
	ck_assert_int_eq(it_sql_long("SELECT reserved FROM token_usage WHERE user_id = '%s'", u.id), 0);
	ck_assert_int_eq(it_sql_long("SELECT used FROM token_usage WHERE user_id = '%s'", u.id), used);
}
END_TEST

START_TEST(a_new_calendar_month_restores_the_free_allowance)
{
	struct it_user u;
	it_register(&u, "pt-month");
	char a[64];
	pt_agent(&u, "monthly", NULL, a);
	it_free(pt_chat_ok(&u, a, "first of the month", NULL, NULL));
	long long limit = it_sql_long("SELECT limit_monthly_tokens FROM plans WHERE code = 'free'");
	set_used(&u, limit);
	expect_refused(&u, a, NULL, limit, limit);
	/* the month rolls over: this row becomes last month's */
	sql_exec("UPDATE token_usage SET period_start = period_start - interval '1 month',"
		 " period_end = period_end - interval '1 month' WHERE user_id = '%s'",
		 u.id);
	expect_tokens(&u, 0, 0);
	struct it_resp *r = pt_chat_ok(&u, a, "a new month", NULL, NULL);
	long long t = it_int(r, "usage.total_tokens");
	it_free(r);
	expect_tokens(&u, t, 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM token_usage WHERE user_id = '%s'", u.id), 2);
	ck_assert_int_eq(it_sql_long("SELECT used FROM token_usage WHERE user_id = '%s' AND period_end <= now()", u.id),
			 limit);
}
END_TEST

START_TEST(a_renewed_billing_period_restores_the_paid_allowance)
{
	struct it_user u;
	char code[40];
	pt_user_on_plan(&u, "pt-renew", code, -1, -1, -1, 2000);
	char a[64];
	pt_agent(&u, "paid", NULL, a);
	it_free(pt_chat_ok(&u, a, "in this period", NULL, NULL));
	set_used(&u, 2000);
	expect_refused(&u, a, NULL, 2000, 2000);
	/* Stripe renews the subscription: a new billing period starts now */
	sql_exec("UPDATE subscriptions SET current_period_start = date_trunc('second', now()) - interval '1 second',"
		 " current_period_end = date_trunc('second', now()) + interval '1 month' WHERE user_id = '%s'",
		 u.id);
	char *start = sql_text("SELECT rfc3339(current_period_start) FROM subscriptions WHERE user_id = '%s'", u.id);
	struct it_resp *r = it_get("/api/usage", u.access);
	expect_str(r, "period.start", start);
	ck_assert_int_eq(it_int(r, "metrics.monthly_tokens.used"), 0);
	it_free(r);
	free(start);
	r = pt_chat_ok(&u, a, "in the next period", NULL, NULL);
	long long t = it_int(r, "usage.total_tokens");
	it_free(r);
	expect_tokens(&u, t, 0);
}
END_TEST

START_TEST(a_litellm_budget_refusal_is_402_and_charges_nothing)
{
	struct it_user u;
	char code[40];
	it_register(&u, "pt-budget");
	pt_plan(code, -1, -1, -1, 100000, 1.0);
	pt_subscribe(&u, code);
	char a[64];
	pt_agent(&u, "spender", NULL, a);
	struct it_resp *r = pt_chat_ok(&u, a, "spend a little", NULL, NULL);
	long long used = it_int(r, "usage.total_tokens");
	it_free(r);
	/* the key carries the plan's USD budget; LiteLLM says it is spent */
	json_object *k = litellm_key(u.id, NULL);
	ck_assert_msg(k && json_object_get_double(jget(k, "max_budget")) == 1.0, "the key has no max_budget 1.0: %s",
		      k ? json_object_to_json_string(k) : "none");
	char *body = xprintf("{\"key\": \"%s\", \"spend\": 1.5}", jstr(k, "key"));
	json_object_put(k);
	struct it_resp *c = litellm_ctl("POST", "spend", body);
	ck_assert_int_eq(c->status, 200);
	it_free(c);
	free(body);
	int sent = pt_llm_chat_count(u.id);
	long long convs = pt_stored_conversations(u.id);
	for (int stream = 0; stream < 2; stream++) {
		r = pt_req("POST", u.access, stream ? "{\"content\": \"more\", \"stream\": true}" : "{\"content\": \"more\"}",
			   "/api/agents/%s/chat", a);
		/* the members say the plan's figures (tokens used this period, the plan's limit) */
		pt_expect_quota(r, "monthly_tokens", used, 100000);
		it_free(r);
	}
	ck_assert_int_eq(pt_llm_chat_count(u.id), sent + 2); /* LiteLLM was asked, and refused */
	ck_assert_int_eq(pt_stored_conversations(u.id), convs);
	expect_tokens(&u, used, 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM token_reservations WHERE user_id = '%s'", u.id), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("product_tokens");
	TCase *tc = product_tcase(s, "reservations", 90);
	tcase_add_test(tc, reserved_while_it_runs_then_settled_to_the_reported_usage);
	tcase_add_test(tc, a_chat_past_the_limit_is_402_and_stores_nothing);
	tcase_add_test(tc, parallel_chats_at_the_edge_never_pass_the_limit);
	tcase_add_test(tc, the_80_percent_notice_counts_reserved_tokens);
	tcase_add_test(tc, a_crashed_chats_reservation_counts_until_it_expires);
	tc = product_tcase(s, "periods", 60);
	tcase_add_test(tc, a_new_calendar_month_restores_the_free_allowance);
	tcase_add_test(tc, a_renewed_billing_period_restores_the_paid_allowance);
	tcase_add_test(tc, a_litellm_budget_refusal_is_402_and_charges_nothing);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
