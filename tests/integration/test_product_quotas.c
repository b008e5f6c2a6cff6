/* test_product_quotas.c — plan limits on projects, documents (across all projects) and agents (API.md,
 * Quotas): a create past the limit is 402 quota_exceeded with metric, used and limit; exact under
 * concurrency (20 parallel creates at limit − 1 make exactly one); GET /api/usage; reaching 80 % and
 * 100 % notifies once per period, in-app and by email as the usage_warnings preference allows (two
 * notices when one change reaches both); after a downgrade nothing is deleted, everything stays
 * readable, editable and deletable, and creates are refused until the user is under the new limit.
 *
 * Small limits come from plans of the test's own (product_helpers.h), never from the seeded plans. */
#include "accounts_helpers.h"
#include "billing_helpers.h"
#include "itest.h"
#include "product_helpers.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RACERS 20

struct racer {
	const char *access;
	char path[200];
	char body[200];
	pthread_barrier_t *barrier;
	long status;
	char code[40], metric[40];
	long long used, limit;
	char id[64];
};

static void *race_fn(void *arg)
{
	struct racer *t = arg;
	pthread_barrier_wait(t->barrier);
	struct it_req q = {.method = "POST", .path = t->path, .bearer = t->access, .json = t->body};
	struct it_resp *r = it_do(&q);
	t->status = r->status;
	snprintf(t->code, sizeof(t->code), "%s", it_code(r) ? it_code(r) : "");
	snprintf(t->metric, sizeof(t->metric), "%s", it_str(r, "metric") ? it_str(r, "metric") : "");
	snprintf(t->id, sizeof(t->id), "%s", r->status == 201 && it_str(r, "id") ? it_str(r, "id") : "");
	json_object *v = it_at(r, "used");
	t->used = v ? json_object_get_int64(v) : -1;
	v = it_at(r, "limit");
	t->limit = v ? json_object_get_int64(v) : -1;
	it_free(r);
	return NULL;
}

/* RACERS parallel POSTs (t[i].path and body set); exactly one must create, the others get 402 for
 * metric at used == limit. */
static void race(struct racer *t, const char *access, const char *metric, long long limit)
{
	pthread_t th[RACERS];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		t[i].access = access;
		t[i].barrier = &barrier;
		ck_assert_int_eq(pthread_create(&th[i], NULL, race_fn, &t[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	int made = 0, refused = 0;
	char seen[2048] = "";
	for (int i = 0; i < RACERS; i++) {
		size_t l = strlen(seen);
		snprintf(seen + l, sizeof(seen) - l, " %ld %s %s used=%lld limit=%lld;", t[i].status, t[i].code, t[i].metric,
			 t[i].used, t[i].limit);
		if (t[i].status == 201)
			made++;
		else if (t[i].status == 402 && !strcmp(t[i].code, "quota_exceeded") && !strcmp(t[i].metric, metric) &&
			 t[i].used == limit && t[i].limit == limit)
			refused++;
	}
	ck_assert_msg(made == 1 && refused == RACERS - 1,
		      "%d parallel creates of %s at limit - 1 (%lld): want 1 made and %d refused with 402 quota_exceeded"
		      " (used = limit = %lld), got:%s",
		      RACERS, metric, limit - 1, RACERS - 1, limit, seen);
}

static void expect_used(const struct it_user *u, const char *metric, long long used, long long limit)
{
	struct pt_metric m;
	pt_usage(u, metric, &m);
	ck_assert_msg(m.used == used && m.limit == limit, "/api/usage %s: want used %lld of %lld, got %lld of %lld", metric,
		      used, limit, m.used, m.limit);
}

START_TEST(parallel_creates_at_the_limit_make_exactly_one)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-race", NULL, 3, 5, 2, -1);
	char p[3][64], d[64], a[64];
	pt_project(&u, "one", p[0]);
	pt_project(&u, "two", p[1]);
	static struct racer t[RACERS];
	memset(t, 0, sizeof(t));
	for (int i = 0; i < RACERS; i++) {
		snprintf(t[i].path, sizeof(t[i].path), "/api/projects");
		snprintf(t[i].body, sizeof(t[i].body), "{\"name\": \"racer %d\"}", i);
	}
	race(t, u.access, "projects", 3);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM projects WHERE user_id = '%s'", u.id), 3);
	expect_used(&u, "projects", 3, 3);
	struct it_resp *r = pt_list(&u, "/api/projects");
	ck_assert_int_eq(it_int(r, "total"), 3);
	it_free(r);
	/* the refusal, one more time, as a whole problem document */
	r = it_post("/api/projects", u.access, "{\"name\": \"one too many\"}");
	pt_expect_quota(r, "projects", 3, 3);
	it_free(r);

	/* documents count across all projects: 4 spread over two, then 20 into both at once */
	for (int i = 0; i < 4; i++)
		pt_document(&u, p[i % 2], "doc", "some words", d);
	memset(t, 0, sizeof(t));
	for (int i = 0; i < RACERS; i++) {
		snprintf(t[i].path, sizeof(t[i].path), "/api/projects/%s/documents", p[i % 2]);
		snprintf(t[i].body, sizeof(t[i].body), "{\"title\": \"racer %d\", \"content\": \"x\"}", i);
	}
	race(t, u.access, "documents", 5);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM documents WHERE user_id = '%s'", u.id), 5);
	ck_assert_int_eq(it_sql_long("SELECT sum(document_count) FROM projects WHERE user_id = '%s'", u.id), 5);
	expect_used(&u, "documents", 5, 5);

	pt_agent(&u, "first", NULL, a);
	memset(t, 0, sizeof(t));
	for (int i = 0; i < RACERS; i++) {
		snprintf(t[i].path, sizeof(t[i].path), "/api/agents");
		snprintf(t[i].body, sizeof(t[i].body), "{\"name\": \"racer %d\", \"model\": \"" PT_MODEL "\"}", i);
	}
	race(t, u.access, "agents", 2);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM agents WHERE user_id = '%s'", u.id), 2);
	expect_used(&u, "agents", 2, 2);

	/* a delete gives one back: one create passes, the next is refused again */
	r = pt_req("DELETE", u.access, NULL, "/api/agents/%s", a);
	it_expect(r, 204, NULL);
	it_free(r);
	expect_used(&u, "agents", 1, 2);
	pt_agent(&u, "again", NULL, a);
	r = it_post("/api/agents", u.access, "{\"name\": \"no\", \"model\": \"" PT_MODEL "\"}");
	pt_expect_quota(r, "agents", 2, 2);
	it_free(r);
	/* at the limit, a request that is wrong anyway says what is wrong with it, and counts nothing */
	r = it_post("/api/agents", u.access,
		    "{\"name\": \"no\", \"model\": \"" PT_MODEL "\", \"project_id\": \"00000000-0000-4000-8000-000000000000\"}");
	it_expect_problem(r, 422, "validation_failed");
	ck_assert_ptr_nonnull(it_at(r, "errors.project_id"));
	it_free(r);
	expect_used(&u, "agents", 2, 2);
}
END_TEST

START_TEST(usage_shape_and_periods)
{
	struct it_user u;
	it_register(&u, "pt-usage");
	char p[64];
	pt_project(&u, "one", p);
	struct it_resp *r = it_get("/api/usage", u.access);
	it_expect(r, 200, NULL);
	expect_no_store(r);
	static const char *const top[] = {"period", "plan", "metrics", "warnings", NULL};
	static const char *const per[] = {"start", "end", NULL};
	static const char *const mets[] = {"monthly_tokens", "projects", "documents", "agents", NULL};
	static const char *const tok[] = {"used", "reserved", "limit", "percent", NULL};
	static const char *const cnt[] = {"used", "limit", "percent", NULL};
	pt_expect_keys(r->json, top);
	pt_expect_keys(it_at(r, "period"), per);
	pt_expect_keys(it_at(r, "metrics"), mets);
	pt_expect_keys(it_at(r, "metrics.monthly_tokens"), tok);
	pt_expect_keys(it_at(r, "metrics.projects"), cnt);
	pt_expect_keys(it_at(r, "metrics.documents"), cnt);
	pt_expect_keys(it_at(r, "metrics.agents"), cnt);
	expect_str(r, "plan", "free");
	/* the free plan's period: the calendar month in UTC, end = the first instant of the next */
	char *start = sql_text("SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
	char *end = sql_text("SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month',"
			     " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
	expect_str(r, "period.start", start);
	expect_str(r, "period.end", end);
	free(start);
	free(end);
	long long limit = it_sql_long("SELECT limit_projects FROM plans WHERE code = 'free'");
	ck_assert_int_eq(it_int(r, "metrics.projects.used"), 1);
	ck_assert_int_eq(it_int(r, "metrics.projects.limit"), limit);
	double pct = json_object_get_double(it_at(r, "metrics.projects.percent"));
	ck_assert_msg(fabs(pct - 100.0 / (double)limit) < 0.051, "1 of %lld projects is %.1f %%, not %f", limit,
		      100.0 / (double)limit, pct);
	ck_assert_int_eq(it_int(r, "metrics.monthly_tokens.used"), 0);
	ck_assert_int_eq(it_int(r, "metrics.monthly_tokens.reserved"), 0);
	ck_assert_int_eq(json_object_array_length(it_at(r, "warnings")), 0);
	it_free(r);

	/* on a paid plan: the subscription's period; unlimited metrics have null limit and percent */
	char code[40];
	pt_plan(code, -1, 7, -1, -1, -1);
	pt_subscribe(&u, code);
	r = it_get("/api/usage", u.access);
	expect_str(r, "plan", code);
	char *ps = sql_text("SELECT rfc3339(current_period_start) || ' ' || rfc3339(current_period_end) FROM subscriptions"
			    " WHERE user_id = '%s' AND plan_code = '%s'",
			    u.id, code);
	char *want = xprintf("%s %s", it_str(r, "period.start"), it_str(r, "period.end"));
	ck_assert_str_eq(want, ps);
	free(ps);
	free(want);
	expect_null(r, "metrics.projects.limit");
	expect_null(r, "metrics.projects.percent");
	expect_null(r, "metrics.monthly_tokens.limit");
	expect_null(r, "metrics.monthly_tokens.percent");
	ck_assert_int_eq(it_int(r, "metrics.documents.limit"), 7);
	it_free(r);
	/* unlimited: creates are never refused */
	for (int i = 0; i < 5; i++)
		pt_project(&u, "more", p);
	expect_used(&u, "projects", 6, -1);
}
END_TEST

/* The user's usage_warning notifications about metric at threshold (title wording of API.md's pages:
 * "80%" / "limit"). */
static int notices(const struct it_user *u, const char *metric, int threshold)
{
	json_object *items = pt_notifications(u, "usage_warning");
	int n = 0;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		const char *title = jstr(it, "title"), *body = jstr(it, "body");
		char label[32];
		snprintf(label, sizeof(label), "%s", !strcmp(metric, "monthly_tokens") ? "monthly tokens" : metric);
		bool about = (title && strstr(title, label)) || (body && strstr(body, label));
		bool at = threshold == 100 ? title && (strstr(title, "100%") || strstr(title, "limit"))
					   : title && strstr(title, "80%");
		if (about && at)
			n++;
	}
	json_object_put(items);
	return n;
}

static int warnings_in_usage(const struct it_user *u, const char *metric, int threshold)
{
	struct it_resp *r = it_get("/api/usage", u->access);
	it_expect(r, 200, NULL);
	json_object *w = it_at(r, "warnings");
	int n = 0;
	for (size_t i = 0; w && i < json_object_array_length(w); i++) {
		json_object *it = json_object_array_get_idx(w, i);
		static const char *const keys[] = {"metric", "threshold", "at", NULL};
		pt_expect_keys(it, keys);
		ck_assert(is_rfc3339(jstr(it, "at")));
		if (!strcmp(jstr(it, "metric"), metric) && json_object_get_int(jget(it, "threshold")) == threshold)
			n++;
	}
	it_free(r);
	return n;
}

static void expect_notices(const struct it_user *u, const char *metric, int at80, int at100)
{
	ck_assert_msg(notices(u, metric, 80) == at80 && notices(u, metric, 100) == at100,
		      "%s: want %d notice(s) at 80 %% and %d at 100 %%, got %d and %d", metric, at80, at100,
		      notices(u, metric, 80), notices(u, metric, 100));
	ck_assert_int_eq(warnings_in_usage(u, metric, 80), at80);
	ck_assert_int_eq(warnings_in_usage(u, metric, 100), at100);
}

START_TEST(notices_at_80_and_100_once_each)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-notice", NULL, 5, -1, 1, -1);
	char p[5][64], a[64];
	for (int i = 0; i < 3; i++)
		pt_project(&u, "p", p[i]);
	expect_notices(&u, "projects", 0, 0); /* 60 % */
	pt_project(&u, "p", p[3]);            /* 80 % */
	expect_notices(&u, "projects", 1, 0);
	pt_project(&u, "p", p[4]); /* 100 % */
	expect_notices(&u, "projects", 1, 1);
	/* down and up again, and refused creates at the limit: no new notice this period */
	struct it_resp *r = pt_req("DELETE", u.access, NULL, "/api/projects/%s", p[4]);
	it_expect(r, 204, NULL);
	it_free(r);
	r = pt_req("DELETE", u.access, NULL, "/api/projects/%s", p[3]);
	it_free(r);
	pt_project(&u, "p", p[3]);
	pt_project(&u, "p", p[4]);
	r = it_post("/api/projects", u.access, "{\"name\": \"no\"}");
	pt_expect_quota(r, "projects", 5, 5);
	it_free(r);
	expect_notices(&u, "projects", 1, 1);
	/* one change reaching both thresholds: two notices (1 of 1 agent) */
	pt_agent(&u, "only", NULL, a);
	expect_notices(&u, "agents", 1, 1);

	/* the emails: one per notice, however often the thresholds were crossed */
	pt_mail_wait(u.email, "80% of your projects", 1);
	pt_mail_wait(u.email, "100% of your projects", 1);
	pt_mail_wait(u.email, "80% of your agents", 1);
	pt_mail_wait(u.email, "100% of your agents", 1);
	pt_mail_barrier(&u);
	ck_assert_int_eq(pt_mail_count(u.email, "80% of your projects"), 1);
	ck_assert_int_eq(pt_mail_count(u.email, "100% of your projects"), 1);
	ck_assert_int_eq(pt_mail_count(u.email, "of your agents"), 2);
	ck_assert_int_eq(pt_mail_count(u.email, "You have used"), 4);
}
END_TEST

START_TEST(no_email_when_usage_warnings_are_off)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-quiet", NULL, 2, -1, -1, -1);
	struct it_req q = {.method = "PUT", .path = "/api/profile/notification-preferences", .bearer = u.access,
			   .json = "{\"product_updates\": true, \"usage_warnings\": false, \"billing\": true, \"security\": true}"};
	struct it_resp *r = it_do(&q);
	it_expect(r, 200, NULL);
	it_free(r);
	char p[64];
	pt_project(&u, "p", p);
	pt_project(&u, "p", p); /* 50 %, then 100 %: both thresholds */
	expect_notices(&u, "projects", 1, 1);
	pt_mail_barrier(&u);
	ck_assert_int_eq(pt_mail_count(u.email, "You have used"), 0);
	/* the in-app notices are there, unread, with a link */
	json_object *items = pt_notifications(&u, "usage_warning");
	ck_assert_int_eq(json_object_array_length(items), 2);
	for (size_t i = 0; i < 2; i++) {
		json_object *n = json_object_array_get_idx(items, i);
		ck_assert_ptr_null(jget(n, "read_at"));
		ck_assert(jstr(n, "link") && *jstr(n, "link"));
	}
	json_object_put(items);
}
END_TEST

START_TEST(downgrade_keeps_everything_and_refuses_creates)
{
	struct it_user u;
	char code[40];
	pt_user_on_plan(&u, "pt-down", code, 5, -1, 3, -1);
	char p[5][64], d[64], a[3][64];
	for (int i = 0; i < 5; i++)
		pt_project(&u, "p", p[i]);
	pt_document(&u, p[0], "kept", "words that stay", d);
	for (int i = 0; i < 3; i++)
		pt_agent(&u, "a", NULL, a[i]);
	/* the subscription ends: back on the free plan (3 projects, 1 agent) */
	sql_exec("UPDATE subscriptions SET status = 'canceled', canceled_at = now(), ended_at = now()"
		 " WHERE user_id = '%s' AND plan_code = '%s'",
		 u.id, code);
	long long lp = it_sql_long("SELECT limit_projects FROM plans WHERE code = 'free'");
	long long la = it_sql_long("SELECT limit_agents FROM plans WHERE code = 'free'");
	ck_assert_msg(lp < 5 && la < 3, "the free plan's limits (%lld projects, %lld agents) make no downgrade", lp, la);
	struct it_resp *r = it_get("/api/usage", u.access);
	expect_str(r, "plan", "free");
	ck_assert_int_eq(it_int(r, "metrics.projects.used"), 5);
	ck_assert_int_eq(it_int(r, "metrics.projects.limit"), lp);
	ck_assert_msg(json_object_get_double(it_at(r, "metrics.projects.percent")) > 100.0, "over the limit: %s", r->body);
	it_free(r);
	/* nothing deleted, all readable */
	r = pt_list(&u, "/api/projects");
	ck_assert_int_eq(it_int(r, "total"), 5);
	it_free(r);
	r = pt_list(&u, "/api/agents");
	ck_assert_int_eq(it_int(r, "total"), 3);
	it_free(r);
	r = pt_req("GET", u.access, NULL, "/api/projects/%s/documents/%s", p[0], d);
	it_expect(r, 200, NULL);
	expect_str(r, "content", "words that stay");
	it_free(r);
	/* editable */
	r = pt_req("PATCH", u.access, "{\"name\": \"renamed after the downgrade\"}", "/api/projects/%s", p[1]);
	it_expect(r, 200, NULL);
	it_free(r);
	r = pt_req("PATCH", u.access, "{\"name\": \"agent renamed\"}", "/api/agents/%s", a[2]);
	it_expect(r, 200, NULL);
	it_free(r);
	r = pt_req("PATCH", u.access, "{\"content\": \"edited after the downgrade\"}", "/api/projects/%s/documents/%s",
		   p[0], d);
	it_expect(r, 200, NULL);
	it_free(r);
	/* creates refused until under the new limit */
	r = it_post("/api/projects", u.access, "{\"name\": \"new\"}");
	pt_expect_quota(r, "projects", 5, lp);
	it_free(r);
	r = it_post("/api/agents", u.access, "{\"name\": \"new\", \"model\": \"" PT_MODEL "\"}");
	pt_expect_quota(r, "agents", 3, la);
	it_free(r);
	/* deletable; at the limit still refused, under it accepted */
	int n = 5;
	while (n > lp) {
		r = pt_req("DELETE", u.access, NULL, "/api/projects/%s", p[--n]);
		it_expect(r, 204, NULL);
		it_free(r);
	}
	r = it_post("/api/projects", u.access, "{\"name\": \"new\"}");
	pt_expect_quota(r, "projects", lp, lp);
	it_free(r);
	r = pt_req("DELETE", u.access, NULL, "/api/projects/%s", p[--n]);
	it_expect(r, 204, NULL);
	it_free(r);
	pt_project(&u, "under the limit again", p[n]);
	for (int i = 2; i >= la - 1; i--) {
		r = pt_req("DELETE", u.access, NULL, "/api/agents/%s", a[i]);
		it_expect(r, 204, NULL);
		it_free(r);
	}
	char na[64];
	pt_agent(&u, "new", NULL, na);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM documents WHERE id = '%s'", d), 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("product_quotas");
	TCase *tc = product_tcase(s, "limits", 90);
	tcase_add_test(tc, parallel_creates_at_the_limit_make_exactly_one);
	tcase_add_test(tc, usage_shape_and_periods);
	tcase_add_test(tc, downgrade_keeps_everything_and_refuses_creates);
	tc = product_tcase(s, "notices", 90);
	tcase_add_test(tc, notices_at_80_and_100_once_each);
	tcase_add_test(tc, no_email_when_usage_warnings_are_off);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
