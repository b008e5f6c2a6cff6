/* test_email_outbox.c — the durable outbox and its jobs workers (API.md: emails go to an outbox in
 * PostgreSQL and a background worker delivers them, retrying with backoff; none is lost). Each case is
 * destructive and runs in its own TCase with an unchecked teardown that restores the stack: the SMTP
 * server is stopped and started again (backoff, give-up, then the email arrives exactly once); the
 * master's jobs worker is paused while an extra `tollgate jobs` with a non-ASCII app name sends
 * (encoded headers) and while one with forgot_email_limit = 2 drops the extra reset emails; the
 * master's jobs worker is SIGKILLed mid-burst (nothing lost); a second `tollgate jobs` process runs
 * next to the master's (each of 60 emails arrives exactly once).
 *
 * scripts/stack leaves mail_retry_base at its default (60 s): the SMTP test brings the planned retry
 * forward with SQL instead of waiting. */
#include "email_helpers.h"
#include "itest.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *stack_script_dir(void)
{
	return it_stack_dir();
}

/* ---- SMTP server down and back */

/* Polls (bounded) until the SQL count is at least want; returns the last value. */
static long sql_wait_ge(long want, int timeout_ms, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static long sql_wait_ge(long want, int timeout_ms, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *q = NULL;
	int n = vasprintf(&q, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	int64_t deadline = it_now_ms() + timeout_ms;
	long v;
	for (;;) {
		v = it_sql_long("%s", q);
		if (v >= want || it_now_ms() >= deadline)
			break;
		it_sleep_ms(100);
	}
	free(q);
	return v;
}

/* Seconds until the planned next attempt of addr's password_reset email. */
static double retry_in(const char *addr)
{
	const char *out = it_sql("SELECT extract(epoch FROM next_attempt_at - now()) FROM email_outbox"
				 " WHERE to_address = '%s' AND kind = 'password_reset'",
				 addr);
	char *end;
	double d = strtod(out, &end);
	ck_assert_msg(*out && *end == '\0', "no outbox row for %s: '%s'", addr, out);
	return d;
}

static void smtp_restore(void)
{
	/* idempotent: does nothing when the server runs */
	if (it_sh("scripts/stack smtp-start '%s' >/dev/null 2>&1", stack_script_dir()) != 0)
		fprintf(stderr, "test_email_outbox: scripts/stack smtp-start failed\n");
}

START_TEST(smtp_down_then_up)
{
	struct it_user u, g;
	it_register(&u, "smtp");
	it_register(&g, "giveup");
	mail_free(mail_wait_one(u.email, SUBJ_VERIFY, 1));
	mail_free(mail_wait_one(g.email, SUBJ_VERIFY, 1));

	ck_assert_int_eq(it_sh("scripts/stack smtp-stop '%s'", stack_script_dir()), 0);
	int64_t t0 = it_now_ms();
	expect_forgot_accepted(u.email);

	/* the worker tries, fails, records the error and plans a retry */
	long attempts = sql_wait_ge(1, 8000,
				    "SELECT coalesce(max(attempts), 0) FROM email_outbox WHERE to_address = '%s'"
				    " AND kind = 'password_reset' AND status = 'pending' AND last_error IS NOT NULL",
				    u.email);
	ck_assert_msg(attempts >= 1, "no failed attempt recorded while the SMTP server is down; outbox:\n%s",
		      outbox_state(u.email));
	double d1 = retry_in(u.email);
	ck_assert_msg(d1 >= 1, "the retry is not deferred (%.1f s); outbox:\n%s", d1, outbox_state(u.email));

	/* backoff grows: bring the retry forward, it fails again and waits longer */
	it_sql("UPDATE email_outbox SET next_attempt_at = now() WHERE to_address = '%s' AND kind = 'password_reset'", u.email);
	attempts = sql_wait_ge(2, 8000,
			       "SELECT attempts FROM email_outbox WHERE to_address = '%s' AND kind = 'password_reset'",
			       u.email);
	ck_assert_msg(attempts == 2, "no second attempt; outbox:\n%s", outbox_state(u.email));
	double d2 = retry_in(u.email);
	ck_assert_msg(d2 > 1.5 * d1, "no exponential backoff: first retry in %.1f s, second in %.1f s", d1, d2);

	/* an email that has failed for longer than the give-up age is marked failed, its vars cleared */
	expect_forgot_accepted(g.email);
	ck_assert_int_ge(sql_wait_ge(1, 8000,
				     "SELECT count(*) FROM email_outbox WHERE to_address = '%s' AND kind = 'password_reset'"
				     " AND attempts >= 1",
				     g.email),
			 1);
	it_sql("UPDATE email_outbox SET created_at = now() - interval '25 hours', next_attempt_at = now()"
	       " WHERE to_address = '%s' AND kind = 'password_reset'",
	       g.email);
	ck_assert_msg(sql_wait_ge(1, 8000,
				  "SELECT count(*) FROM email_outbox WHERE to_address = '%s' AND kind = 'password_reset'"
				  " AND status = 'failed' AND vars = '{}'::jsonb AND last_error IS NOT NULL",
				  g.email) == 1,
		      "an email older than the give-up age is not marked failed; outbox:\n%s", outbox_state(g.email));

	if (it_now_ms() - t0 < 3000)
		it_sleep_ms((long)(3000 - (it_now_ms() - t0)));
	ck_assert_int_eq(mailbox_count(u.email, SUBJ_RESET), 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address = '%s' AND kind = 'password_reset'"
				  " AND status = 'pending'",
				  u.email),
			 1);

	ck_assert_int_eq(it_sh("scripts/stack smtp-start '%s'", stack_script_dir()), 0);
	/* The stack keeps mail_retry_base at its default (60 s): bring the planned retry forward. */
	it_sql("UPDATE email_outbox SET next_attempt_at = now() WHERE status = 'pending'");

	struct mail *r = mail_wait_one(u.email, SUBJ_RESET, 1);
	char tok[128];
	mail_link_token(r, "/reset-password", tok, sizeof(tok));
	mail_free(r);
	mail_expect_count_after(u.email, SUBJ_RESET, 1, 2500);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address = '%s' AND kind = 'password_reset'"
				  " AND status = 'sent' AND attempts = 3 AND vars = '{}'::jsonb AND last_error IS NULL",
				  u.email),
			 1);
	/* the given-up email never arrives */
	ck_assert_int_eq(mailbox_count(g.email, SUBJ_RESET), 0);
	/* and the link in the late email still works */
	struct it_resp *rr = reset(tok, "Late-Quartz-Pass-1");
	it_expect(rr, 204, NULL);
	it_free(rr);
}
END_TEST

/* ---- extra jobs workers */

#define EXTRA_USERS 30

static void extra_paths(char *pidfile, char *logfile, size_t cap)
{
	snprintf(pidfile, cap, "%s/itest-extra-jobs.pid", it_stack_dir());
	snprintf(logfile, cap, "%s/itest-extra-jobs.log", it_stack_dir());
}

/* Starts `tollgate --config $TG_CONFIG jobs` in its own session (so Check's clean-up of the test's
 * process group does not reach it); the pid goes to a file for the unchecked teardown. */
static pid_t extra_jobs_start(const char *const *env)
{
	char pidfile[1024], logfile[1024];
	extra_paths(pidfile, logfile, sizeof(pidfile));
	const char *cfg = getenv("TG_CONFIG");
	ck_assert_msg(cfg && *cfg, "TG_CONFIG is not set");
	const char *bin = it_tollgate_bin();
	ck_assert_msg(access(bin, X_OK) == 0, "no tollgate binary at %s", bin);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setsid();
		for (int i = 0; env && env[i]; i += 2)
			setenv(env[i], env[i + 1], 1);
		int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0) {
			dup2(nul, 0);
			close(nul);
		}
		execl(bin, bin, "--config", cfg, "jobs", (char *)NULL);
		_exit(127);
	}
	FILE *f = fopen(pidfile, "w");
	if (f) {
		fprintf(f, "%d\n", (int)pid);
		fclose(f);
	}
	return pid;
}

/* SIGTERM, bounded wait, SIGKILL; returns the wait status (or -1 when not our child). */
static int extra_jobs_stop(pid_t pid, bool is_child)
{
	int status = -1;
	kill(pid, SIGTERM);
	int64_t deadline = it_now_ms() + 10000;
	for (;;) {
		if (is_child) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid)
				break;
		} else if (kill(pid, 0) != 0) {
			break;
		}
		if (it_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			if (is_child)
				waitpid(pid, &status, 0);
			break;
		}
		it_sleep_ms(50);
	}
	char pidfile[1024], logfile[1024];
	extra_paths(pidfile, logfile, sizeof(pidfile));
	unlink(pidfile);
	return status;
}

/* Unchecked teardown: ends a worker left behind by a failed or timed-out test. */
static void extra_jobs_cleanup(void)
{
	char pidfile[1024], logfile[1024];
	extra_paths(pidfile, logfile, sizeof(pidfile));
	FILE *f = fopen(pidfile, "r");
	if (!f)
		return;
	int pid = 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid > 1) {
		char proc[64], cmd[512] = "";
		snprintf(proc, sizeof(proc), "/proc/%d/cmdline", pid);
		FILE *c = fopen(proc, "r");
		if (c) {
			size_t n = fread(cmd, 1, sizeof(cmd) - 1, c);
			fclose(c);
			for (size_t i = 0; i < n; i++)
				if (!cmd[i])
					cmd[i] = ' ';
			cmd[n] = '\0';
		}
		if (strstr(cmd, "tollgate") && strstr(cmd, " jobs")) {
			fprintf(stderr, "test_email_outbox: stopping the extra jobs worker %d left behind\n", pid);
			extra_jobs_stop(pid, false);
		}
	}
	unlink(pidfile);
}

static int count_lines_with(const char *file, const char *needle)
{
	char *s = read_all(file);
	if (!s)
		return 0;
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(s);
	return n;
}

/* Starts the extra jobs worker and waits (bounded) until it says it runs. */
static pid_t extra_jobs_start_wait(const char *const *env)
{
	char pidfile[1024], logfile[1024];
	extra_paths(pidfile, logfile, sizeof(pidfile));
	int started_before = count_lines_with(logfile, "jobs worker started");
	pid_t pid = extra_jobs_start(env);
	int64_t deadline = it_now_ms() + 10000;
	for (;;) {
		if (count_lines_with(logfile, "jobs worker started") > started_before)
			return pid;
		int st;
		ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "the extra jobs worker exited at once; see %s", logfile);
		ck_assert_msg(it_now_ms() < deadline, "the extra jobs worker did not start; see %s", logfile);
		it_sleep_ms(50);
	}
}

/* ---- pausing the master's jobs worker(s), so that only the extra worker sends */

static const char *paused_file(void)
{
	static char path[1024];
	snprintf(path, sizeof(path), "%s/itest-paused-jobs.pids", it_stack_dir());
	return path;
}

static long ppid_of(long pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	char *st = read_all(path);
	if (!st)
		return -1;
	long pp = -1;
	const char *rp = strrchr(st, ')'); /* "pid (comm) state ppid ..." */
	if (rp)
		sscanf(rp + 1, " %*c %ld", &pp);
	free(st);
	return pp;
}

/* The live jobs workers of the stack's master, found by the pid on their "jobs worker started"
 * log lines (and checked to be the master's children). */
static int master_jobs_pids(long *pids, int max)
{
	const char *pf = getenv("TG_MASTER_PID_FILE"), *lf = getenv("TG_LOG_FILE");
	ck_assert_msg(pf && lf, "TG_MASTER_PID_FILE / TG_LOG_FILE not set");
	char *mp = read_all(pf);
	ck_assert_msg(mp != NULL, "cannot read %s", pf);
	long master = strtol(mp, NULL, 10);
	free(mp);
	char *log = read_all(lf);
	ck_assert_msg(log != NULL, "cannot read %s", lf);
	int n = 0;
	for (char *line = log; line && *line;) {
		char *eol = strchr(line, '\n');
		if (eol)
			*eol = '\0';
		const char *pp = strstr(line, "\"pid\":");
		if (strstr(line, "jobs worker started") && pp) {
			long pid = strtol(pp + 6, NULL, 10);
			bool dup = false;
			for (int i = 0; i < n; i++)
				dup |= pids[i] == pid;
			if (!dup && pid > 1 && ppid_of(pid) == master && n < max)
				pids[n++] = pid;
		}
		line = eol ? eol + 1 : NULL;
	}
	free(log);
	return n;
}

/* SIGSTOPs every jobs worker of the master; their pids go to a file so the unchecked teardown
 * always resumes them. Returns how many were paused. */
static int pause_master_jobs(void)
{
	long pids[64];
	int n = master_jobs_pids(pids, 64);
	FILE *f = fopen(paused_file(), "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%ld\n", pids[i]);
	fclose(f);
	for (int i = 0; i < n; i++)
		kill((pid_t)pids[i], SIGSTOP);
	return n;
}

/* Resumes what pause_master_jobs stopped (idempotent; also the unchecked teardown). */
static void resume_master_jobs(void)
{
	FILE *f = fopen(paused_file(), "r");
	if (!f)
		return;
	long pid;
	while (fscanf(f, "%ld", &pid) == 1)
		if (pid > 1)
			kill((pid_t)pid, SIGCONT);
	fclose(f);
	unlink(paused_file());
}

static void utf8_teardown(void)
{
	resume_master_jobs();
	extra_jobs_cleanup();
}

/* A long non-ASCII app name: subjects become RFC 2047 encoded words, folded over several lines. */
#define UTF8_APP "Tollg\xc3\xa4te \xe2\x9c\x93 \xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xc3\x89" "dition \xe2\x80\x94 t\xc3\xa9st"

START_TEST(non_ascii_subject_and_from)
{
	struct it_user u;
	it_register(&u, "u8s");
	mail_free(mail_wait_one(u.email, SUBJ_VERIFY, 1));

	/* only a worker configured with a non-ASCII app name and sender name may send this one */
	int paused = pause_master_jobs();
	ck_assert_msg(paused >= 1, "found no jobs worker of the master in %s", getenv("TG_LOG_FILE"));
	static const char *const env[] = {"TOLLGATE_APP_NAME", UTF8_APP, "TOLLGATE_MAIL_FROM",
					  "Tollg\xc3\xa4te \"Bot\" <no-reply@localhost>", NULL};
	pid_t pid = extra_jobs_start_wait(env);
	expect_forgot_accepted(u.email);
	struct mail *m = mail_wait_one(u.email, SUBJ_RESET, 1);
	int st = extra_jobs_stop(pid, true);
	resume_master_jobs();
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the extra jobs worker did not exit cleanly");

	const char *raw_subject = hget(&m->h, "Subject");
	ck_assert_msg(!strncasecmp(raw_subject, "=?UTF-8?", 8), "Subject is not RFC 2047-encoded: %s", raw_subject);
	ck_assert_msg(strstr(m->raw, "\r\nSubject: =?") && strstr(m->raw, "?=\r\n "),
		      "the long Subject is not folded into several encoded words:\n%.600s", m->raw);
	ck_assert_str_eq(m->subject, "Reset your " UTF8_APP " password");
	int bad = 0;
	char *from = rfc2047_decode(hget(&m->h, "From"), &bad);
	ck_assert_int_eq(bad, 0);
	ck_assert_msg(strstr(from, "Tollg\xc3\xa4te") && strstr(from, "<no-reply@localhost>"), "From decodes to '%s'", from);
	free(from);
	ck_assert_msg(strstr(m->text, UTF8_APP) != NULL, "the text part lacks the app name:\n%s", m->text);
	char tok[128];
	mail_link_token(m, "/reset-password", tok, sizeof(tok));
	mail_free(m);
	struct it_resp *r = reset(tok, "Utf8-Quartz-Pass-3");
	it_expect(r, 204, NULL);
	it_free(r);
}
END_TEST

/* Review finding: forgot-password was limited only per IP, so one address could be flooded with
 * reset links. A worker configured with forgot_email_limit = 2 sends two, drops the rest, and
 * the requester sees the same 202 every time. */
START_TEST(reset_emails_limited_per_address)
{
	struct it_user u;
	it_register(&u, "rlim");
	mail_free(mail_wait_one(u.email, SUBJ_VERIFY, 1));
	int paused = pause_master_jobs();
	ck_assert_msg(paused >= 1, "found no jobs worker of the master in %s", getenv("TG_LOG_FILE"));
	static const char *const env[] = {"TOLLGATE_FORGOT_EMAIL_LIMIT", "2", NULL};
	pid_t pid = extra_jobs_start_wait(env);
	for (int i = 0; i < 4; i++)
		expect_forgot_accepted(u.email);
	struct mails got = {0};
	mail_wait(u.email, SUBJ_RESET, 2, 10000, &got);
	mails_free(&got);
	/* the other two jobs are done (dropped), not waiting */
	ck_assert_int_eq(sql_wait_ge(0, 5000, "SELECT -count(*) FROM jobs WHERE kind = 'password_reset'"), 0);
	mail_expect_count_after(u.email, SUBJ_RESET, 2, 1500);
	int st = extra_jobs_stop(pid, true);
	resume_master_jobs();
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the extra jobs worker did not exit cleanly");
}
END_TEST

/* ---- a jobs worker killed, two jobs workers */

#define KILL_USERS 15

START_TEST(jobs_worker_killed_loses_nothing)
{
	char tag[48];
	snprintf(tag, sizeof(tag), "kill%d%04x", (int)getpid(), (unsigned)rand() & 0xffff);
	static struct it_user users[KILL_USERS];
	for (int i = 0; i < KILL_USERS; i++)
		it_register(&users[i], tag);
	for (int i = 0; i < KILL_USERS; i++) {
		struct mails ms;
		mail_wait(users[i].email, SUBJ_VERIFY, 1, MAIL_WAIT_MS, &ms);
		mails_free(&ms);
	}
	long pids[64];
	int n = master_jobs_pids(pids, 64);
	ck_assert_msg(n >= 1, "found no jobs worker of the master in %s", getenv("TG_LOG_FILE"));
	for (int i = 0; i < KILL_USERS; i++)
		expect_forgot_accepted(users[i].email);
	/* kill the jobs worker(s) while they work through the burst; the master starts new ones */
	it_sleep_ms(15);
	for (int i = 0; i < n; i++)
		kill((pid_t)pids[i], SIGKILL);

	int64_t deadline = it_now_ms() + 30000;
	int dups = 0;
	for (int i = 0; i < KILL_USERS; i++) {
		int left = (int)(deadline - it_now_ms());
		struct mails ms;
		mail_wait(users[i].email, SUBJ_RESET, 1, left > 1000 ? left : 1000, &ms);
		mails_free(&ms);
	}
	it_sleep_ms(1500);
	for (int i = 0; i < KILL_USERS; i++) {
		struct mails ms;
		mailbox_collect(users[i].email, SUBJ_RESET, &ms);
		/* at most a resend of a message the server had accepted just before the kill, and then
		 * with the same Message-ID */
		ck_assert_msg(ms.n >= 1 && ms.n <= 2, "%s received %d reset emails", users[i].email, ms.n);
		if (ms.n == 2) {
			dups++;
			ck_assert_str_eq(hget(&ms.v[0]->h, "Message-ID"), hget(&ms.v[1]->h, "Message-ID"));
		}
		mails_free(&ms);
	}
	fprintf(stderr, "jobs worker killed: %d of %d reset emails were sent twice (same Message-ID)\n", dups, KILL_USERS);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address LIKE '%s-%%' AND kind = 'password_reset'"
				  " AND status = 'sent'",
				  tag),
			 KILL_USERS);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM jobs WHERE payload->>'email' LIKE '%s-%%'", tag), 0);
	/* the replacement worker is up */
	ck_assert_int_ge(master_jobs_pids(pids, 64), 1);
}
END_TEST

START_TEST(two_jobs_workers_send_once)
{
	char pidfile[1024], logfile[1024];
	extra_paths(pidfile, logfile, sizeof(pidfile));
	int delivered_before = count_lines_with(logfile, ") delivered");
	pid_t pid = extra_jobs_start_wait(NULL);
	int64_t deadline;

	/* 30 users (30 verification emails), then 30 reset requests in a burst */
	char tag[48];
	snprintf(tag, sizeof(tag), "dual%d%04x", (int)getpid(), (unsigned)rand() & 0xffff);
	static struct it_user users[EXTRA_USERS];
	for (int i = 0; i < EXTRA_USERS; i++)
		it_register(&users[i], tag);
	for (int i = 0; i < EXTRA_USERS; i++)
		expect_forgot_accepted(users[i].email);

	/* every reset email arrives */
	deadline = it_now_ms() + 30000;
	for (int i = 0; i < EXTRA_USERS; i++) {
		int left = (int)(deadline - it_now_ms());
		struct mails ms;
		mail_wait(users[i].email, SUBJ_RESET, 1, left > 1000 ? left : 1000, &ms);
		mails_free(&ms);
	}
	it_sleep_ms(3000);

	/* exactly once each, verification and reset alike; Message-IDs all distinct */
	static char mids[2 * EXTRA_USERS][256];
	int nm = 0;
	for (int i = 0; i < EXTRA_USERS; i++) {
		struct mails ms;
		mailbox_collect(users[i].email, NULL, &ms);
		int resets = 0, verifies = 0;
		for (int k = 0; k < ms.n; k++) {
			mail_expect_ok(ms.v[k], users[i].email);
			resets += strstr(ms.v[k]->subject, SUBJ_RESET) != NULL;
			verifies += strstr(ms.v[k]->subject, SUBJ_VERIFY) != NULL;
			const char *mid = hget(&ms.v[k]->h, "Message-ID");
			for (int j = 0; j < nm; j++)
				ck_assert_msg(strcmp(mids[j], mid), "Message-ID %s used twice", mid);
			if (nm < 2 * EXTRA_USERS)
				snprintf(mids[nm++], sizeof(mids[0]), "%s", mid);
		}
		int total = ms.n;
		mails_free(&ms);
		ck_assert_msg(resets == 1 && verifies == 1 && total == 2,
			      "%s received %d reset, %d verification, %d in all (expected 1, 1, 2); outbox:\n%s", users[i].email,
			      resets, verifies, total, outbox_state(users[i].email));
	}
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address LIKE '%s-%%' AND kind = 'password_reset'"
				  " AND status = 'sent' AND vars = '{}'::jsonb AND attempts = 1",
				  tag),
			 EXTRA_USERS);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address LIKE '%s-%%'", tag), 2 * EXTRA_USERS);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address LIKE '%s-%%'"
				  " AND (status <> 'sent' OR vars <> '{}'::jsonb)",
				  tag),
			 0);

	int delivered = count_lines_with(logfile, ") delivered") - delivered_before;
	fprintf(stderr, "two jobs workers: the extra worker delivered %d of the %d emails\n", delivered, 2 * EXTRA_USERS);

	int st = extra_jobs_stop(pid, true);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the extra jobs worker did not exit cleanly (status %d)",
		      st);
	ck_assert_int_eq(count_lines_with(logfile, "Sanitizer"), 0);
	ck_assert_int_eq(count_lines_with(logfile, "runtime error:"), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("email_outbox");

	TCase *smtp_tc = tcase_create("smtp_down");
	tcase_set_timeout(smtp_tc, 60);
	tcase_add_unchecked_fixture(smtp_tc, NULL, smtp_restore);
	tcase_add_test(smtp_tc, smtp_down_then_up);
	suite_add_tcase(s, smtp_tc);

	TCase *utf8_tc = tcase_create("utf8_headers");
	tcase_set_timeout(utf8_tc, 60);
	tcase_add_unchecked_fixture(utf8_tc, NULL, utf8_teardown);
	tcase_add_test(utf8_tc, non_ascii_subject_and_from);
	tcase_add_test(utf8_tc, reset_emails_limited_per_address);
	suite_add_tcase(s, utf8_tc);

	TCase *kill_tc = tcase_create("jobs_worker_killed");
	tcase_set_timeout(kill_tc, 90);
	tcase_add_test(kill_tc, jobs_worker_killed_loses_nothing);
	suite_add_tcase(s, kill_tc);

	TCase *dual_tc = tcase_create("two_jobs_workers");
	tcase_set_timeout(dual_tc, 90);
	tcase_add_unchecked_fixture(dual_tc, NULL, extra_jobs_cleanup);
	tcase_add_test(dual_tc, two_jobs_workers_send_once);
	suite_add_tcase(s, dual_tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
