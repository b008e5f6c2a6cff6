/* test_accounts_principal.c — the bearer check answered from each worker's memory stays exactly
 * as true as the database (principal.h): a session revoked, a user suspended, renamed or given a
 * plan, is seen by every worker at once, whichever path made the change (the API or plain SQL:
 * the triggers announce it); a worker whose database connection was cut trusts nothing it cached
 * before. The requests run in parallel so that several workers serve them (checked in the log). */
#include "accounts_helpers.h"
#include "itest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
#define PER_THREAD 6

struct burst {
	const char *access;
	long status[PER_THREAD];
	char name[PER_THREAD][128], plan[PER_THREAD][32], request_id[PER_THREAD][64];
};

static void *burst_run(void *arg)
{
	struct burst *b = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		struct it_resp *r = it_get("/api/auth/me", b->access);
		b->status[i] = r->status;
		snprintf(b->name[i], sizeof(b->name[i]), "%s", it_str(r, "name") ? it_str(r, "name") : "");
		snprintf(b->plan[i], sizeof(b->plan[i]), "%s", it_str(r, "plan") ? it_str(r, "plan") : "");
		const char *id = it_header(r, "X-Request-Id");
		snprintf(b->request_id[i], sizeof(b->request_id[i]), "%s", id ? id : "");
		it_free(r);
	}
	return NULL;
}

/* THREADS × PER_THREAD parallel GET /api/auth/me with access. */
static void burst(const char *access, struct burst out[THREADS])
{
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].access = access;
		ck_assert_int_eq(pthread_create(&t[i], NULL, burst_run, &out[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
}

/* How many distinct worker processes served the burst (the log line of each request id). */
static int workers_seen(const struct burst b[THREADS])
{
	char pids[THREADS * PER_THREAD][16];
	int n = 0;
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < PER_THREAD; j++) {
			const char *pid = it_sh_out("grep -a -m1 '\"request_id\":\"%s\"' '%s/tollgate.log' | sed -n "
						    "'s/.*\"pid\":\\([0-9]*\\).*/\\1/p'",
						    b[i].request_id[j], it_stack_dir());
			bool known = !*pid;
			for (int k = 0; k < n && !known; k++)
				known = !strcmp(pids[k], pid);
			if (!known)
				snprintf(pids[n++], sizeof(pids[0]), "%s", pid);
		}
	return n;
}

/* PostgreSQL hands a notification to every listening connection at commit; a worker reads it
 * before its next request. Between the two there is a moment (microseconds when idle, more on a
 * loaded machine): the bound for a change to reach every worker is 100 ms. */
static void settle(void)
{
	it_sleep_ms(100);
}

static void expect_all(const struct burst b[THREADS], long status)
{
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < PER_THREAD; j++)
			ck_assert_msg(b[i].status[j] == status, "request %s answered %ld, not %ld", b[i].request_id[j],
				      b[i].status[j], status);
}

/* Warms every worker's cache with the session of access, and checks several served it. */
static void warm(const char *access)
{
	struct burst b[THREADS];
	burst(access, b);
	expect_all(b, 200);
	burst(access, b);
	expect_all(b, 200);
	ck_assert_msg(workers_seen(b) >= 2, "one worker served the whole burst: the test proves nothing");
}

START_TEST(revoked_session_refused_by_every_worker_at_once)
{
	struct it_user u;
	it_register(&u, "principal-revoke");
	struct sess other;
	login_session(&u, NULL, &other);
	warm(u.access);
	/* revoked from another session, through the API: the very next requests are refused */
	char path[128];
	char sid[64];
	token_sid(u.access, sid, sizeof(sid));
	snprintf(path, sizeof(path), "/api/auth/sessions/%s", sid);
	struct it_resp *r = req_json("DELETE", path, other.access, NULL);
	it_expect(r, 204, NULL);
	it_free(r);
	settle();
	struct burst b[THREADS];
	burst(u.access, b);
	expect_all(b, 401);
	/* the other session still works */
	r = it_get("/api/auth/me", other.access);
	it_expect(r, 200, NULL);
	it_free(r);
}
END_TEST

START_TEST(changes_made_in_sql_reach_every_worker)
{
	struct it_user u;
	it_register(&u, "principal-sql");
	warm(u.access);
	struct burst b[THREADS];

	/* renamed outside the API */
	sql_exec("UPDATE users SET name = 'Renamed in SQL' WHERE id = '%s'", u.id);
	settle();
	burst(u.access, b);
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < PER_THREAD; j++)
			ck_assert_str_eq(b[i].name[j], "Renamed in SQL");

	/* given a plan (a subscription row, as a webhook writes it) */
	sql_exec("INSERT INTO subscriptions (user_id, stripe_subscription_id, stripe_customer_id, plan_code, status, interval,"
		 " current_period_start, current_period_end) SELECT '%s', 'sub_principal_' || md5(random()::text), 'cus_principal',"
		 " code, 'active', 'month', now(), now() + interval '30 days' FROM plans WHERE code <> 'free'"
		 " ORDER BY code LIMIT 1",
		 u.id);
	char *plan = xstrdup(it_sql("SELECT user_plan('%s')", u.id));
	ck_assert_str_ne(plan, "free");
	settle();
	burst(u.access, b);
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < PER_THREAD; j++)
			ck_assert_str_eq(b[i].plan[j], plan);
	free(plan);

	/* suspended outside the API: refused at once */
	sql_exec("UPDATE users SET status = 'suspended' WHERE id = '%s'", u.id);
	settle();
	burst(u.access, b);
	expect_all(b, 401);
	sql_exec("UPDATE users SET status = 'active' WHERE id = '%s'", u.id);
	settle();
	burst(u.access, b);
	expect_all(b, 200);

	/* revoked outside the API */
	char sid[64];
	token_sid(u.access, sid, sizeof(sid));
	sql_exec("UPDATE sessions SET revoked_at = now() WHERE id = '%s'", sid);
	settle();
	burst(u.access, b);
	expect_all(b, 401);
}
END_TEST

START_TEST(a_cut_connection_trusts_nothing_it_cached)
{
	struct it_user u;
	it_register(&u, "principal-cut");
	warm(u.access);
	/* every worker's connection is cut, then the session revoked while nobody listens */
	sql_exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
		 " WHERE application_name = 'tollgate' AND pid <> pg_backend_pid()");
	char sid[64];
	token_sid(u.access, sid, sizeof(sid));
	sql_exec("UPDATE sessions SET revoked_at = now() WHERE id = '%s'", sid);
	/* no worker may answer from what it cached over the lost connection */
	struct burst b[THREADS];
	burst(u.access, b);
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < PER_THREAD; j++)
			ck_assert_msg(b[i].status[j] == 401 || b[i].status[j] == 503, "request %s answered %ld after the cut",
				      b[i].request_id[j], b[i].status[j]);
	/* and once reconnected, it is a plain 401 */
	burst(u.access, b);
	expect_all(b, 401);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accounts_principal");
	TCase *tc = tcase_create("principal");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, revoked_session_refused_by_every_worker_at_once);
	tcase_add_test(tc, changes_made_in_sql_reach_every_worker);
	tcase_add_test(tc, a_cut_connection_trusts_nothing_it_cached);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
