/* test_foundation_process.c — the operational promises, through nginx: a killed worker is replaced
 * without losing the service, PostgreSQL going away and coming back is survived without a restart,
 * and SIGHUP replaces every worker under load without a failed request.
 *
 * These cases are destructive: each runs in its own TCase, with bounded waits; the PostgreSQL case
 * restarts the database from an unchecked fixture (run in the parent process) so a failing or
 * timed-out test never leaves the stack without its database, and the reload cases end with an
 * unchecked fixture that brings the pool back to its configured size. */
#include "foundation_helpers.h"
#include "itest.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------- a worker killed with SIGKILL ---------- */

START_TEST(worker_killed_is_replaced)
{
	pid_t master = master_pid();
	pid_t before[MAX_KIDS];
	int n0 = children(master, before);
	ck_assert_msg(n0 >= 2, "master %d has %d children", (int)master, n0);

	/* the victim: the main-pool worker that served a health request (from its log line) */
	struct it_resp *r = it_get("/api/health", NULL);
	it_expect(r, 200, NULL);
	char id[64];
	it_expect_request_id(r, id);
	it_free(r);
	pid_t victim = worker_of(id);
	if (!pid_in(victim, before, n0))
		victim = before[0];
	ck_assert_int_eq(kill(victim, SIGKILL), 0);

	/* the service goes on: at most the request in flight may fail, none after it */
	int64_t t0 = it_now_ms();
	int failures = 0, last_failure = -1;
	char why[600] = "";
	for (int i = 0; i < 50; i++) {
		r = it_get("/api/health", NULL);
		if (r->status != 200) {
			failures++;
			last_failure = i;
			snprintf(why, sizeof(why), "request %d: %ld %.400s", i, r->status, r->body);
		}
		it_free(r);
	}
	int64_t took = it_now_ms() - t0;
	ck_assert_msg(failures == 0 || (failures == 1 && last_failure == 0),
		      "%d of 50 requests after the kill failed (last: %s)", failures, why);
	if (it_timing_checked("50 health requests after the kill within 15 s"))
		ck_assert_msg(took < 15000, "50 health requests after the kill took %lld ms", (long long)took);

	/* the master replaces the worker: same number of children, the victim gone, a new pid */
	pid_t after[MAX_KIDS];
	int n = 0;
	bool replaced = false;
	int64_t deadline = it_now_ms() + 3000;
	do {
		n = children(master, after);
		bool has_new = false;
		for (int i = 0; i < n; i++)
			if (!pid_in(after[i], before, n0))
				has_new = true;
		replaced = n == n0 && !pid_in(victim, after, n) && has_new;
		if (!replaced)
			it_sleep_ms(100);
	} while (!replaced && it_now_ms() < deadline);
	char b1[2048], b2[2048];
	format_pids(b1, sizeof(b1), before, n0);
	format_pids(b2, sizeof(b2), after, n);
	ck_assert_msg(replaced, "worker %d not replaced within 3 s: before [%s], now [%s]", (int)victim, b1, b2);
	ck_assert_int_eq(master_pid(), master);
}
END_TEST

/* ---------- PostgreSQL stopped and started again ---------- */

static bool pg_up(void)
{
	return it_sh("scripts/stack psql '%s' -qtAc 'SELECT 1' >/dev/null 2>&1", it_stack_dir()) == 0;
}

/* Unchecked teardown (runs in the parent, even when the test failed or timed out). */
static void pg_restore(void)
{
	if (pg_up())
		return;
	fprintf(stderr, "test_foundation_process: PostgreSQL was left stopped; starting it again\n");
	if (it_sh("scripts/stack pg-start '%s' >&2", it_stack_dir()) != 0)
		fprintf(stderr, "test_foundation_process: pg-start failed\n");
}

START_TEST(postgres_down_and_back)
{
	pid_t master = master_pid();
	pid_t before[MAX_KIDS];
	int n0 = children(master, before);
	struct it_resp *r = it_get("/api/ready", NULL);
	it_expect(r, 200, NULL);
	it_free(r);

	ck_assert_msg(it_sh("scripts/stack pg-stop '%s' >/dev/null 2>&1", it_stack_dir()) == 0, "pg-stop failed");
	ck_assert_msg(!pg_up(), "PostgreSQL still answers after pg-stop");

	/* several requests, so that more than one worker notices */
	for (int i = 0; i < 8; i++) {
		r = it_get("/api/ready", NULL);
		ck_assert_msg(r->status == 503, "ready #%d with PostgreSQL down: %ld %.300s", i, r->status, r->body);
		it_expect_problem(r, 503, "unavailable");
		const char *ra = it_header(r, "Retry-After");
		ck_assert_msg(ra && strtol(ra, NULL, 10) > 0, "503 without a positive Retry-After: '%s'", ra ? ra : "(none)");
		ck_assert_msg(it_header_count(r, "Retry-After") == 1, "Retry-After repeated:\n%s", r->headers);
		it_free(r);
		r = it_get("/api/health", NULL);
		ck_assert_msg(r->status == 200, "health with PostgreSQL down: %ld %.300s", r->status, r->body);
		it_free(r);
	}
	/* a route that needs the database (on the password pool) answers 503 too, not 500 */
	for (int i = 0; i < 3; i++) {
		r = it_post("/api/auth/login", NULL, login_body());
		ck_assert_msg(r->status == 503, "login with PostgreSQL down: %ld %.300s", r->status, r->body);
		it_expect_problem(r, 503, "unavailable");
		it_free(r);
	}

	ck_assert_msg(it_sh("scripts/stack pg-start '%s' >/dev/null 2>&1", it_stack_dir()) == 0, "pg-start failed");
	int64_t t0 = it_now_ms();
	int streak = 0;
	long last = 0;
	char last_body[400] = "";
	while (streak < 12 && it_now_ms() - t0 < 15000) {
		r = it_get("/api/ready", NULL);
		last = r->status;
		snprintf(last_body, sizeof(last_body), "%s", r->body);
		streak = r->status == 200 ? streak + 1 : 0;
		it_free(r);
		if (streak == 0)
			it_sleep_ms(200);
	}
	ck_assert_msg(streak >= 12, "ready did not come back within 15 s of pg-start (last %ld: %s)", last, last_body);
	fprintf(stderr, "test_foundation_process: ready again %lld ms after pg-start\n", (long long)(it_now_ms() - t0));
	/* the password pool is back as well: an unknown user is refused, not 503 */
	for (int i = 0; i < 4; i++) {
		r = it_post("/api/auth/login", NULL, login_body());
		it_expect_problem(r, 401, "invalid_credentials");
		it_free(r);
	}

	/* without restarting tollgate: same master, and the workers recovered by themselves */
	ck_assert_int_eq(master_pid(), master);
	pid_t after[MAX_KIDS];
	int n = children(master, after);
	char b1[2048], b2[2048];
	format_pids(b1, sizeof(b1), before, n0);
	format_pids(b2, sizeof(b2), after, n);
	ck_assert_msg(n == n0 && !memcmp(before, after, sizeof(pid_t) * (size_t)n),
		      "workers were restarted: before [%s], after [%s]", b1, b2);
}
END_TEST

/* ---------- SIGHUP under load ---------- */

struct loader {
	pthread_t thread;
	int64_t deadline_ms;
	bool fresh_connections;
	int ok, bad_status, transport_errors;
	char first_problem[512];
	char body[512];
	size_t body_len;
};

static size_t keep_head(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct loader *l = ud;
	size_t n = size * nmemb;
	size_t room = sizeof(l->body) - 1 - l->body_len;
	size_t take = n < room ? n : room;
	memcpy(l->body + l->body_len, ptr, take);
	l->body_len += take;
	l->body[l->body_len] = '\0';
	return n;
}

static void *load_loop(void *p)
{
	struct loader *l = p;
	CURL *c = curl_easy_init();
	if (!c) {
		l->transport_errors++;
		snprintf(l->first_problem, sizeof(l->first_problem), "curl_easy_init failed");
		return NULL;
	}
	char url[1024];
	snprintf(url, sizeof(url), "%s/api/health", it_url());
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_head);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, l);
	if (l->fresh_connections)
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	while (it_now_ms() < l->deadline_ms) {
		l->body_len = 0;
		l->body[0] = '\0';
		CURLcode cc = curl_easy_perform(c);
		long status = 0;
		if (cc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cc != CURLE_OK) {
			if (!l->transport_errors++ && !l->bad_status)
				snprintf(l->first_problem, sizeof(l->first_problem), "transport: %s",
					 curl_easy_strerror(cc));
		} else if (status != 200) {
			if (!l->bad_status++ && !l->transport_errors)
				snprintf(l->first_problem, sizeof(l->first_problem), "status %ld: %.400s", status, l->body);
		} else {
			l->ok++;
		}
	}
	curl_easy_cleanup(c);
	return NULL;
}

/* Waits (up to timeout_ms) until master has want children, none of them in old[nold]. */
static bool wait_new_generation(pid_t master, const pid_t *old, int nold, int want, int timeout_ms,
				pid_t now[MAX_KIDS], int *n)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	for (;;) {
		*n = children(master, now);
		bool fresh = *n == want;
		for (int i = 0; fresh && i < *n; i++)
			if (pid_in(now[i], old, nold))
				fresh = false;
		if (fresh)
			return true;
		if (it_now_ms() > deadline)
			return false;
		it_sleep_ms(100);
	}
}

START_TEST(sighup_under_load)
{
	pid_t master = master_pid();
	pid_t before[MAX_KIDS];
	int n0 = children(master, before);
	int want = configured_children(master);
	ck_assert_msg(want >= 2, "cannot tell the configured pool size from master %d's start line", (int)master);

	enum { THREADS = 8 };
	struct loader l[THREADS];
	memset(l, 0, sizeof(l));
	int64_t start = it_now_ms();
	for (int i = 0; i < THREADS; i++) {
		l[i].deadline_ms = start + 4000;
		l[i].fresh_connections = i % 2;
		ck_assert_int_eq(pthread_create(&l[i].thread, NULL, load_loop, &l[i]), 0);
	}
	it_sleep_ms(1000);
	int k1 = kill(master, SIGHUP);
	it_sleep_ms(1300);
	int k2 = kill(master, SIGHUP);
	for (int i = 0; i < THREADS; i++)
		pthread_join(l[i].thread, NULL);
	ck_assert_int_eq(k1, 0);
	ck_assert_int_eq(k2, 0);

	int ok = 0, bad = 0, errs = 0;
	const char *first = NULL;
	for (int i = 0; i < THREADS; i++) {
		ok += l[i].ok;
		bad += l[i].bad_status;
		errs += l[i].transport_errors;
		if (!first && l[i].first_problem[0])
			first = l[i].first_problem;
	}
	fprintf(stderr, "test_foundation_process: reload under load: %d ok, %d non-200, %d transport errors in %lld ms\n",
		ok, bad, errs, (long long)(it_now_ms() - start));
	ck_assert_msg(bad == 0 && errs == 0, "reload lost requests: %d non-200, %d transport errors of %d (first: %s)",
		      bad, errs, ok + bad + errs, first ? first : "");
	if (it_timing_checked("at least 100 requests in the 4 s of load"))
		ck_assert_msg(ok >= 100, "only %d requests in 4 s: the load did not happen", ok);
	else
		ck_assert_msg(ok >= 1, "no request succeeded in 4 s: the load did not happen");

	/* a new generation replaced every child; same count; same master */
	pid_t after[MAX_KIDS];
	int n = 0;
	bool fresh = wait_new_generation(master, before, n0, want, 10000, after, &n);
	char b1[2048], b2[2048];
	format_pids(b1, sizeof(b1), before, n0);
	format_pids(b2, sizeof(b2), after, n);
	ck_assert_msg(fresh, "after two SIGHUPs: want %d new children, before [%s], now [%s]", want, b1, b2);
	ck_assert_int_eq(master_pid(), master);
	struct it_resp *r = it_get("/api/ready", NULL);
	it_expect(r, 200, NULL);
	it_free(r);
}
END_TEST

/* Two reloads back to back (a config tool that reloads twice, two operators): every old child goes
 * away and the pool converges on the configured size. The second SIGHUP arrives while the first
 * generation is still being forked, so its children get their SIGTERM within moments of fork(). */
START_TEST(sighup_twice_back_to_back)
{
	pid_t master = master_pid();
	int want = configured_children(master);
	ck_assert_msg(want >= 2, "cannot tell the configured pool size from master %d's start line", (int)master);
	static const long gap_us[] = {0, 200, 500, 1000, 2000};
	int64_t t0 = it_now_ms();
	for (int round = 0; round < 30; round++) {
		pid_t cur[MAX_KIDS];
		int nc = children(master, cur);
		ck_assert_int_eq(kill(master, SIGHUP), 0);
		if (gap_us[round % 5])
			usleep((useconds_t)gap_us[round % 5]);
		ck_assert_int_eq(kill(master, SIGHUP), 0);
		/* no traffic while waiting: a child that missed its SIGTERM stays visible */
		pid_t after[MAX_KIDS];
		int n = 0;
		bool fresh = wait_new_generation(master, cur, nc, want, 5000, after, &n);
		char b1[2048], b2[2048];
		format_pids(b1, sizeof(b1), cur, nc);
		format_pids(b2, sizeof(b2), after, n);
		ck_assert_msg(fresh,
			      "round %d (SIGHUPs %ld us apart): 5 s later the pool is not %d new children: before [%s], "
			      "now [%s] (old children that ignored SIGTERM?)",
			      round, gap_us[round % 5], want, b1, b2);
	}
	fprintf(stderr, "test_foundation_process: 30 double reloads converged in %lld ms\n", (long long)(it_now_ms() - t0));
	struct it_resp *r = it_get("/api/health", NULL);
	it_expect(r, 200, NULL);
	it_free(r);
	ck_assert_int_eq(master_pid(), master);
}
END_TEST

/* Unchecked teardown of the reload cases (parent process, also after a failure): one more, lone
 * SIGHUP, so that children left over by a failed case get a SIGTERM they can act on and the pool is
 * back to its configured size for the suites that run after this one. */
static void reload_settle(void)
{
	const char *file = getenv("TG_MASTER_PID_FILE");
	FILE *f = file ? fopen(file, "r") : NULL;
	long pid = 0;
	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	if (pid <= 1 || kill((pid_t)pid, 0) != 0)
		return;
	int want = configured_children((pid_t)pid);
	pid_t kids[MAX_KIDS];
	if (want > 0 && children((pid_t)pid, kids) == want)
		return;
	fprintf(stderr, "test_foundation_process: pool is not at its configured size; one more SIGHUP\n");
	kill((pid_t)pid, SIGHUP);
	for (int i = 0; i < 50 && children((pid_t)pid, kids) != want; i++)
		it_sleep_ms(100);
}

static Suite *suite(void)
{
	Suite *s = suite_create("foundation_process");

	TCase *kill_tc = tcase_create("worker_killed");
	tcase_set_timeout(kill_tc, 60);
	tcase_add_test(kill_tc, worker_killed_is_replaced);
	suite_add_tcase(s, kill_tc);

	TCase *pg = tcase_create("postgres_restart");
	tcase_set_timeout(pg, 90);
	tcase_add_unchecked_fixture(pg, NULL, pg_restore);
	tcase_add_test(pg, postgres_down_and_back);
	suite_add_tcase(s, pg);

	TCase *reload = tcase_create("reload");
	tcase_set_timeout(reload, 180);
	tcase_add_unchecked_fixture(reload, NULL, reload_settle);
	tcase_add_test(reload, sighup_under_load);
	tcase_add_test(reload, sighup_twice_back_to_back);
	suite_add_tcase(s, reload);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
