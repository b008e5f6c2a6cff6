/* test_accounts_login.c — POST /api/auth/login (API.md, Accounts), black-box through nginx: both
 * session modes, invalid_credentials alike for an unknown email and a wrong password (same body,
 * comparable timing), the per-account throttle (429 with Retry-After, doubling, capped; parallel
 * guesses get no more checks), suspended accounts, bcrypt hashes of other costs and prefixes
 * re-hashed on login, and the password pool: /api/auth/me stays fast during a login storm. */
#include "accounts_helpers.h"
#include "itest.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Retry-After as integer seconds (strictly digits), or -1. */
static long retry_after(const struct it_resp *r)
{
	const char *v = it_header(r, "Retry-After");
	if (!v || !*v)
		return -1;
	for (const char *p = v; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	return strtol(v, NULL, 10);
}

START_TEST(login_both_modes)
{
	struct it_user u;
	it_register(&u, "login-modes");
	char reg_sid[64];
	token_sid(u.access, reg_sid, sizeof(reg_sid));
	struct it_resp *r = login_raw(u.email, u.password, NULL, NULL);
	char *c = expect_token_response(r, 200, false, u.email);
	ck_assert_str_eq(it_str(r, "user.id"), u.id);
	ck_assert_str_eq(it_str(r, "user.name"), "Test login-modes");
	char sid1[64];
	token_sid(it_str(r, "access_token"), sid1, sizeof(sid1));
	ck_assert_str_ne(sid1, reg_sid);
	it_free(r);
	r = login_raw(u.email, u.password, "cookie", NULL);
	free(expect_token_response(r, 200, false, u.email));
	it_free(r);
	r = login_raw(u.email, u.password, "body", NULL);
	char *b = expect_token_response(r, 200, true, u.email);
	char sid2[64];
	token_sid(it_str(r, "access_token"), sid2, sizeof(sid2));
	ck_assert_str_ne(sid2, sid1);
	ck_assert_int_eq(me_status(it_str(r, "access_token")), 200);
	it_free(r);
	r = login_raw(u.email, u.password, "bogus", NULL);
	expect_invalid(r, "session");
	it_free(r);
	/* missing / non-string fields */
	r = it_post("/api/auth/login", NULL, "{}");
	expect_invalid(r, "email");
	expect_invalid(r, "password");
	it_free(r);
	char body[256];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":123456789}", u.email);
	r = it_post("/api/auth/login", NULL, body);
	expect_invalid(r, "password");
	it_free(r);
	ck_assert_int_ge(audit_count("user.login", "target_id", u.id), 3);
	free(c);
	free(b);
}
END_TEST

/* The problem document without request_id, as text. */
static char *problem_sans_id(const struct it_resp *r)
{
	json_object *o = json_tokener_parse(r->body);
	ck_assert_ptr_nonnull(o);
	json_object_object_del(o, "request_id");
	char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

START_TEST(login_invalid_credentials_uniform)
{
	struct it_user u;
	it_register(&u, "login-uniform");
	/* warm the password workers (each hashes its dummy once) */
	for (int i = 0; i < 2; i++)
		it_free(login_raw(it_unique_email("warm"), "Wrong-Pass-1", "body", NULL));

	enum { N = 4 }; /* 4 wrong passwords: under the lockout threshold of 5 */
	double wrong[N], unknown[N];
	char *wrong_body = NULL, *unknown_body = NULL;
	for (int i = 0; i < N; i++) {
		char pw[64];
		snprintf(pw, sizeof(pw), "Wrong-Pass-%d", i);
		struct it_resp *r = login_raw(u.email, pw, "body", NULL);
		it_expect_problem(r, 401, "invalid_credentials");
		wrong[i] = r->seconds;
		if (!wrong_body)
			wrong_body = problem_sans_id(r);
		else {
			char *s = problem_sans_id(r);
			ck_assert_str_eq(s, wrong_body);
			free(s);
		}
		it_free(r);
		char email[128];
		snprintf(email, sizeof(email), "%s", it_unique_email("nobody"));
		r = login_raw(email, pw, "body", NULL);
		it_expect_problem(r, 401, "invalid_credentials");
		unknown[i] = r->seconds;
		if (!unknown_body)
			unknown_body = problem_sans_id(r);
		it_free(r);
	}
	ck_assert_str_eq(unknown_body, wrong_body);
	/* a malformed address answers the same */
	struct it_resp *r = login_raw("not-an-address", "Wrong-Pass-1", "body", NULL);
	it_expect_problem(r, 401, "invalid_credentials");
	char *s = problem_sans_id(r);
	ck_assert_str_eq(s, wrong_body);
	free(s);
	it_free(r);
	double mw = median(wrong, N), mu = median(unknown, N);
	fprintf(stderr, "login timing: wrong password median %.1f ms, unknown email median %.1f ms (cost %ld)\n",
		mw * 1000, mu * 1000, cfg_long("bcrypt_cost", 12));
	if (it_timing_checked("an unknown email takes as long as a wrong password (the dummy hash)"))
		ck_assert_msg(mu >= 0.5 * mw, "unknown email %.1f ms vs wrong password %.1f ms: the dummy hash is missing",
			      mu * 1000, mw * 1000);
	ck_assert_int_ge(audit_count("user.login_failed", "target_id", u.id), N);
	/* still not locked (4 failures), and the right password works */
	ck_assert_int_eq(it_login(&u), 200);
	free(wrong_body);
	free(unknown_body);
}
END_TEST

START_TEST(login_throttle)
{
	long base = cfg_seconds("login_lockout_base", 60);
	long maxf = cfg_long("login_max_failures", 5);
	ck_assert_int_eq(maxf, 5);
	struct it_user t;
	it_register(&t, "throttle");
	char unknown[128];
	snprintf(unknown, sizeof(unknown), "%s", it_unique_email("throttle-ghost"));
	for (int i = 0; i < 5; i++) {
		struct it_resp *r = login_raw(t.email, "Wrong-Pass-1", "body", NULL);
		it_expect_problem(r, 401, "invalid_credentials");
		it_free(r);
		r = login_raw(unknown, "Wrong-Pass-1", "body", NULL);
		it_expect_problem(r, 401, "invalid_credentials");
		it_free(r);
	}
	/* the 6th attempt is refused whatever the password, for a real and an unknown account alike */
	struct it_resp *r = login_raw(t.email, t.password, "body", NULL);
	it_expect_problem(r, 429, "rate_limited");
	long ra_t = retry_after(r);
	char *body_t = problem_sans_id(r);
	it_free(r);
	ck_assert_msg(ra_t >= 1 && ra_t <= base + 1, "Retry-After %ld (base %ld)", ra_t, base);
	r = login_raw(t.email, "Wrong-Pass-1", "body", NULL);
	it_expect_problem(r, 429, "rate_limited");
	it_free(r);
	r = login_raw(unknown, "Wrong-Pass-1", "body", NULL);
	it_expect_problem(r, 429, "rate_limited");
	long ra_u = retry_after(r);
	char *body_u = problem_sans_id(r);
	it_free(r);
	ck_assert_msg(ra_u >= 1 && ra_u <= base + 1, "Retry-After %ld (base %ld)", ra_u, base);
	ck_assert_str_eq(body_u, body_t);
	free(body_t);
	free(body_u);
	/* a differently-cased address is the same account */
	char upper[128];
	snprintf(upper, sizeof(upper), "%s", t.email);
	for (char *p = upper; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	r = login_raw(upper, t.password, "body", NULL);
	it_expect_problem(r, 429, "rate_limited");
	it_free(r);

	if (base > 20) {
		fprintf(stderr, "login_throttle: login_lockout_base is %ld s; not waiting for recovery\n", base);
		return;
	}
	sleep_s((double)(ra_t > ra_u ? ra_t : ra_u) + 1.0);
	/* recovered: the right password works, and a success resets the count */
	r = login_raw(t.email, t.password, "body", NULL);
	free(expect_token_response(r, 200, true, t.email));
	it_free(r);
	r = login_raw(t.email, "Wrong-Pass-1", "body", NULL);
	it_expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	/* the unknown account: one more failure after the lock doubles it */
	r = login_raw(unknown, "Wrong-Pass-1", "body", NULL);
	it_expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	r = login_raw(unknown, "Wrong-Pass-1", "body", NULL);
	it_expect_problem(r, 429, "rate_limited");
	long ra2 = retry_after(r);
	it_free(r);
	ck_assert_msg(ra2 >= 2 * base - 1 && ra2 <= 2 * base + 1, "doubled Retry-After %ld (base %ld)", ra2, base);
}
END_TEST

START_TEST(login_suspended)
{
	struct it_user u;
	it_register(&u, "suspended");
	struct sess s2;
	login_session(&u, NULL, &s2);
	ck_assert_int_eq(me_status(u.access), 200);
	sql_exec("UPDATE users SET status = 'suspended' WHERE id = '%s'", u.id);
	/* the bearer tokens are refused on the very next request */
	ck_assert_int_eq(me_status(u.access), 401);
	ck_assert_int_eq(me_status(s2.access), 401);
	struct it_resp *r = req_json("PATCH", "/api/profile", s2.access, "{\"name\":\"x\"}");
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = login_raw(u.email, u.password, "body", NULL);
	it_expect_problem(r, 403, "account_suspended");
	it_free(r);
	r = login_raw(u.email, "Wrong-Pass-1", "body", NULL);
	it_expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	/* no new access token through the refresh token either */
	r = refresh_body(s2.refresh);
	it_expect_problem(r, 403, "account_suspended");
	ck_assert_ptr_null(it_str(r, "access_token"));
	it_free(r);
}
END_TEST

struct login_thread {
	char body[400];
	long status;
	char code[64];
	pthread_barrier_t *barrier;
};

static void *login_thread_fn(void *arg)
{
	struct login_thread *t = arg;
	pthread_barrier_wait(t->barrier);
	struct it_req q = {.method = "POST", .path = "/api/auth/login", .json = t->body};
	struct it_resp *r = it_do(&q);
	t->status = r->status;
	json_object *c = NULL;
	if (r->json && json_object_object_get_ex(r->json, "code", &c))
		snprintf(t->code, sizeof(t->code), "%s", json_object_get_string(c));
	it_free(r);
	return NULL;
}

/* Parallel guessing gets no more password checks than sequential guessing: of 20 concurrent
 * wrong passwords for one account, exactly 5 are checked (401) and the rest refused (429). */
START_TEST(login_throttle_parallel)
{
	enum { N = 20 };
	long maxf = cfg_long("login_max_failures", 5);
	struct it_user u;
	it_register(&u, "throttle-par");
	static struct login_thread t[N];
	pthread_t th[N];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, N);
	for (int i = 0; i < N; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].barrier = &barrier;
		snprintf(t[i].body, sizeof(t[i].body), "{\"email\":\"%s\",\"password\":\"Guess-%02d-xyz\",\"session\":\"body\"}",
			 u.email, i);
		ck_assert_int_eq(pthread_create(&th[i], NULL, login_thread_fn, &t[i]), 0);
	}
	int checked = 0, refused = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		if (t[i].status == 401 && !strcmp(t[i].code, "invalid_credentials"))
			checked++;
		else if (t[i].status == 429 && !strcmp(t[i].code, "rate_limited"))
			refused++;
		else
			fprintf(stderr, "login_throttle_parallel: %ld %s\n", t[i].status, t[i].code);
	}
	pthread_barrier_destroy(&barrier);
	long failed = audit_count("user.login_failed", "target_id", u.id);
	ck_assert_msg(checked == maxf && refused == N - maxf,
		      "%d concurrent wrong passwords: %d checked (401), %d refused (429), %ld failures audited;"
		      " want %ld checked", N, checked, refused, failed, maxf);
}
END_TEST

/* The lockout doubles up to login_lockout_max (1 h by default) and no further. */
START_TEST(login_throttle_cap)
{
	long cap = cfg_seconds("login_lockout_max", 3600);
	char ghost[128];
	snprintf(ghost, sizeof(ghost), "%s", it_unique_email("throttle-cap"));
	/* five failures lock it; then pretend many more lock periods have passed (40 failures) */
	for (int i = 0; i < 5; i++) {
		struct it_resp *r = login_raw(ghost, "Wrong-Pass-1", "body", NULL);
		it_expect_problem(r, 401, "invalid_credentials");
		it_free(r);
	}
	sql_exec("UPDATE login_throttle SET failures = 40, locked_until = now() - interval '1 second',"
		 " last_failure_at = now() - interval '1 second' WHERE email = '%s'",
		 ghost);
	struct it_resp *r = login_raw(ghost, "Wrong-Pass-1", "body", NULL);
	it_expect_problem(r, 401, "invalid_credentials");
	it_free(r);
	r = login_raw(ghost, "Wrong-Pass-1", "body", NULL);
	it_expect_problem(r, 429, "rate_limited");
	long ra = retry_after(r);
	it_free(r);
	ck_assert_msg(ra >= cap - 60 && ra <= cap, "Retry-After %ld, cap %ld", ra, cap);
}
END_TEST

/* A bcrypt hash of pw at cost with prefix ("$2a$", "$2b$", "$2y$") made by libxcrypt here. */
static void make_bcrypt(const char *pw, int cost, const char *prefix, char *out, size_t outlen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	ck_assert_ptr_nonnull(crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, salt, sizeof(salt)));
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	ck_assert_ptr_nonnull(cd);
	const char *h = crypt_rn(pw, salt, cd, sizeof(*cd));
	ck_assert_msg(h && h[0] == '$' && strlen(h) == 60, "crypt_rn failed");
	snprintf(out, outlen, "%s", h);
	memcpy(out, prefix, 4);
	/* the re-prefixed hash verifies here too */
	const char *v = crypt_rn(pw, out, cd, sizeof(*cd));
	ck_assert_msg(v && !strcmp(v, out), "%s hash does not verify locally", prefix);
	free(cd);
}

START_TEST(login_bcrypt_upgrade)
{
	long cost = cfg_long("bcrypt_cost", 12);
	char want[8];
	snprintf(want, sizeof(want), "$2b$%02ld$", cost);
	struct it_user u;
	it_register(&u, "bcrypt");
	const char *stored = it_sql("SELECT password_hash FROM users WHERE id = '%s'", u.id);
	ck_assert_msg(!strncmp(stored, want, 7), "registration stored %s, want prefix %s", stored, want);
	int other = cost == 4 ? 5 : 4;
	struct {
		const char *prefix;
		int cost;
	} cases[] = {{"$2a$", 4}, {"$2y$", 4}, {"$2b$", other}, {"$2a$", (int)cost}, {"$2y$", (int)cost}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].cost > 12)
			continue;
		char h[128];
		make_bcrypt(u.password, cases[i].cost, cases[i].prefix, h, sizeof(h));
		sql_exec("UPDATE users SET password_hash = '%s' WHERE id = '%s'", h, u.id);
		/* a wrong password neither logs in nor touches the hash */
		struct it_resp *r = login_raw(u.email, "Wrong-Pass-1", "body", NULL);
		it_expect_problem(r, 401, "invalid_credentials");
		it_free(r);
		ck_assert_str_eq(it_sql("SELECT password_hash FROM users WHERE id = '%s'", u.id), h);
		r = login_raw(u.email, u.password, "body", NULL);
		if (r->status != 200)
			ck_abort_msg("%s cost %d: login got %ld %s", cases[i].prefix, cases[i].cost, r->status, r->body);
		free(expect_token_response(r, 200, true, u.email));
		it_free(r);
		stored = it_sql("SELECT password_hash FROM users WHERE id = '%s'", u.id);
		ck_assert_msg(!strncmp(stored, want, 7) && strlen(stored) == 60, "%s cost %d: stored %s after login, want %s…",
			      cases[i].prefix, cases[i].cost, stored, want);
		ck_assert_str_ne(stored, h);
		/* and the upgraded hash works */
		ck_assert_int_eq(it_login(&u), 200);
	}
}
END_TEST

/* ---- latency isolation: the password pool */

struct storm_thread {
	char email[128];
	const char *password;
	long status;
	double t_end;
	pthread_barrier_t *barrier;
};

static void *storm_fn(void *arg)
{
	struct storm_thread *t = arg;
	pthread_barrier_wait(t->barrier);
	char body[300];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"session\":\"body\"}", t->email, t->password);
	struct it_req q = {.method = "POST", .path = "/api/auth/login", .json = body};
	struct it_resp *r = it_do(&q);
	t->status = r->status;
	t->t_end = now_s();
	it_free(r);
	return NULL;
}

/* n sequential GET /api/auth/me: the median latency; the slowest one into *worst. */
static double me_median(const char *access, int n, double *worst)
{
	double v[64];
	ck_assert_int_le(n, 64);
	double w = 0;
	for (int i = 0; i < n; i++) {
		struct it_resp *r = it_get("/api/auth/me", access);
		it_expect(r, 200, NULL);
		v[i] = r->seconds;
		if (v[i] > w)
			w = v[i];
		it_free(r);
	}
	if (worst)
		*worst = w;
	return median(v, (size_t)n);
}

START_TEST(latency_isolation)
{
	enum { LOGINS = 40, SAMPLES = 20 };
	struct it_user u;
	it_register(&u, "latency");
	(void)me_median(u.access, 3, NULL); /* warm-up */
	double quiet = me_median(u.access, SAMPLES, NULL);

	/* 40 accounts sharing one cost-10 hash: every login costs a real bcrypt verification (~90 ms)
	 * whatever the stack's own bcrypt_cost is, so the storm is heavy enough to show queueing */
	const char *pw = "Storm-Trooper-12";
	char hash[128];
	make_bcrypt(pw, 10, "$2b$", hash, sizeof(hash));
	char tag[64];
	snprintf(tag, sizeof(tag), "storm-%d-%x", (int)getpid(), (unsigned)rand());
	sql_exec("INSERT INTO users (email, name, password_hash) SELECT '%s-' || g || '@example.com', 'storm', '%s'"
		 " FROM generate_series(1, %d) g",
		 tag, hash, LOGINS);
	static struct storm_thread t[LOGINS];
	pthread_t th[LOGINS];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, LOGINS + 1);
	for (int i = 0; i < LOGINS; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		snprintf(t[i].email, sizeof(t[i].email), "%s-%d@example.com", tag, i + 1);
		t[i].password = pw;
		t[i].barrier = &barrier;
		ck_assert_int_eq(pthread_create(&th[i], NULL, storm_fn, &t[i]), 0);
	}
	pthread_barrier_wait(&barrier);
	double t_start = now_s();
	sleep_s(0.3); /* let the logins reach the server */
	double worst;
	double busy = me_median(u.access, SAMPLES, &worst);
	double t_sampled = now_s();
	int ok = 0;
	double last_end = 0;
	for (int i = 0; i < LOGINS; i++) {
		pthread_join(th[i], NULL);
		if (t[i].status == 200)
			ok++;
		else
			fprintf(stderr, "latency_isolation: login %d got %ld\n", i, t[i].status);
		if (t[i].t_end > last_end)
			last_end = t[i].t_end;
	}
	pthread_barrier_destroy(&barrier);
	fprintf(stderr,
		"latency_isolation: /me median quiet %.1f ms, during %d logins %.1f ms (%.1fx, slowest %.1f ms);"
		" logins took %.2f s, sampling ended at %.2f s; %d x 200\n",
		quiet * 1000, LOGINS, busy * 1000, busy / quiet, worst * 1000, last_end - t_start, t_sampled - t_start, ok);
	sql_exec("DELETE FROM users WHERE email LIKE '%s-%%'", tag);
	ck_assert_msg(ok == LOGINS, "only %d of %d storm logins succeeded", ok, LOGINS);
	if (!it_timing_checked("/api/auth/me latency during a login storm"))
		return;
	ck_assert_msg(last_end > t_sampled, "the logins were over before the sampling ended: not measured under load");
	ck_assert_msg(busy < 0.200, "/me median %.1f ms during the login storm", busy * 1000);
	/* no single call may wait behind the logins (a shared pool shows up as one call of seconds) */
	ck_assert_msg(worst < 0.250, "slowest /me %.1f ms during the login storm", worst * 1000);
	ck_assert_msg(busy < 5 * (quiet > 0.002 ? quiet : 0.002), "/me median %.1f ms during the storm vs %.1f ms quiet",
		      busy * 1000, quiet * 1000);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accounts_login");
	TCase *tc = tcase_create("login");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, login_both_modes);
	tcase_add_test(tc, login_invalid_credentials_uniform);
	tcase_add_test(tc, login_throttle);
	tcase_add_test(tc, login_throttle_parallel);
	tcase_add_test(tc, login_throttle_cap);
	tcase_add_test(tc, login_suspended);
	tcase_add_test(tc, login_bcrypt_upgrade);
	suite_add_tcase(s, tc);

	tc = tcase_create("isolation");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, latency_isolation);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
