/* test_backup.c — scripts/backup and scripts/restore proven end to end.
 *
 * "roundtrip" fills the running test stack through the API (users registered, logged in, renamed,
 * a failed login, a password change with its notification and email, preferences, a forgot-password
 * job, a Stripe checkout completed at the stand-in so that signed webhook events create the
 * customer, subscription, invoice and, through the jobs worker, the LiteLLM key) plus a pending
 * email and a job planned for tomorrow (SQL); then:
 *   - scripts/backup --config $TG_CONFIG writes the dump (mode 600); the source's per-table sums are
 *     taken before and after it and must agree (else the backup is taken again), so they describe
 *     the state the dump holds even though the stack's jobs worker keeps running;
 *   - a second stack (scripts/stack start in a temporary directory: its own PostgreSQL cluster,
 *     migrated; no stand-ins, file mail transport, the source's JWT secret as a replacement host
 *     would have it) is the target. scripts/restore refuses while its tollgate is connected; with
 *     tollgate stopped, a restore whose pg_restore dies right after the first row of `users`
 *     (a stand-in pg_restore on PATH) changes nothing; then the real restore into that MIGRATED
 *     database succeeds;
 *   - every table of the public schema (listed from information_schema, so later tables are
 *     covered without touching this file) has the same row count and md5 of its sorted rows in
 *     both databases, every sequence the same state, and `pg_dump --schema-only` the same text;
 *   - the second stack starts on the restored database: the access and refresh tokens issued by
 *     the source before the backup still work, a user created before the backup logs in with its
 *     password and /api/auth/me shows its new name, the subscriber's plan is still pro.
 * The second stack is destroyed by an unchecked teardown (parent process), also when the test fails.
 * "scripts" checks that backup passes the database password through the environment, never the
 * command line, and leaves no file when pg_dump fails, and that a missing --config is an error.
 * Every wait is bounded. */
#include "itest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 20000 /* background work (outbox, jobs, webhooks, LiteLLM key) settles within this */

/* Tables this suite fills: each must hold rows in the source, or the comparison proves little.
 * Tables added later are compared as well; when empty they are only reported. */
static const char *const filled_tables[] = {
	"audit_log", "auth_tokens", "email_outbox", "invoices", "jobs", "litellm_keys", "login_throttle",
	"notification_preferences", "notifications", "plan_prices", "plans", "rate_limits", "refresh_tokens",
	"schema_migrations", "sessions", "settings", "stripe_customers", "stripe_events", "subscriptions", "users",
};

/* ------------------------------------------------------------------ helpers */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	return s;
}

static const char *env_need(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v && *v, "%s is not set (source the stack's stack.env)", name);
	return v;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* The suite's scratch directory (made in the parent by the fixture): the dump, logs, stand-ins,
 * and the second stack in WORK/stack. Traversable by others, so user postgres reaches the cluster. */
static char work[256];
static char stack2[300];

static void work_setup(void)
{
	snprintf(work, sizeof(work), "/tmp/itest-backup.XXXXXX");
	if (!mkdtemp(work)) {
		fprintf(stderr, "test_backup: mkdtemp: %s\n", strerror(errno));
		work[0] = '\0';
		return;
	}
	chmod(work, 0711);
	snprintf(stack2, sizeof(stack2), "%s/stack", work);
}

/* Rows the roundtrip plans for tomorrow in the source (they would be sent / run by a stack that
 * lives that long); deleted at the end of the test and, should it fail, by the teardown. */
#define PROBE_MESSAGE_ID "<backup-probe@tollgate.test>"
#define PROBE_JOB "backup_probe"
#define UNFILL_SQL                                                                                                     \
	"DELETE FROM email_outbox WHERE message_id = '" PROBE_MESSAGE_ID "'; DELETE FROM jobs WHERE kind = '" PROBE_JOB "'"

static void work_teardown(void)
{
	if (!work[0])
		return;
	char *cmd = xprintf("scripts/stack psql '%s' -qtAc \"%s\" >/dev/null 2>&1;"
			    " if [ -d '%s' ]; then scripts/stack destroy '%s' >/dev/null 2>&1 ||"
			    " echo 'test_backup: could not destroy %s' >&2; fi; rm -rf -- '%s'",
			    it_stack_dir(), UNFILL_SQL, stack2, stack2, stack2, work);
	if (system(cmd) != 0)
		fprintf(stderr, "test_backup: cleanup of %s failed\n", work);
	free(cmd);
	work[0] = '\0';
}

/* Runs a bash command from the repository root (written to WORK/<log>.sh, so no quoting for
 * system()'s sh), its output in WORK/<log>.log; returns the exit status. On a failure the caller
 * shows out_of(log). */
static int run(const char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(const char *log, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = NULL;
	int n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	char *script = xprintf("%s/%s.sh", work, log);
	char *text = xprintf("set -o pipefail\n%s\n", cmd);
	write_file(script, text, 0644);
	int rc = it_sh("bash '%s' >'%s/%s.log' 2>&1", script, work, log);
	free(text);
	free(script);
	free(cmd);
	return rc;
}

static const char *out_of(const char *log)
{
	return it_sh_out("tail -n 40 '%s/%s.log'", work, log);
}

/* One SQL script against the database of the stack in dir; returns its trimmed output (malloc'd). */
static char *stack_sql(const char *dir, const char *sql)
{
	char *path = xprintf("%s/query.sql", work);
	write_file(path, sql, 0644);
	char *out = strdup(it_sh_out("scripts/stack psql '%s' -v ON_ERROR_STOP=1 -qtA -f '%s' 2>&1", dir, path));
	ck_assert_ptr_nonnull(out);
	free(path);
	return out;
}

/* A variable of the stack.env of the stack in dir (malloc'd). */
static char *stack_var(const char *dir, const char *name)
{
	char *v = strdup(it_sh_out(". '%s/stack.env' && printf %%s \"$%s\"", dir, name));
	ck_assert_msg(v && *v, "no %s in %s/stack.env", name, dir);
	return v;
}

/* Waits (bounded) until sql counts 0; returns the last count. */
static long long wait_sql_zero(const char *sql, int ms)
{
	int64_t deadline = now_ms() + ms;
	long long n;
	while ((n = it_sql_long("%s", sql)) != 0 && now_ms() < deadline)
		it_sleep_ms(200);
	return n;
}

/* Lets the jobs worker finish what is due, so that the backup does not race it (the sums taken
 * around the backup are the real guard: this only makes a retry unlikely). */
static void settle(const char *what, const char *sql)
{
	long long n = wait_sql_zero(sql, 5000);
	if (n)
		fprintf(stderr, "roundtrip: note: still %lld %s\n", n, what);
}

/* Per-object sums of a database, one sorted line each:
 *   table NAME ROWS MD5        (md5 of the rows as text, sorted bytewise, '|'-separated)
 *   sequence NAME LAST_VALUE   ("unused" before the first nextval; identity columns' too)
 * Tables are listed from information_schema, sequences from pg_sequences (information_schema leaves
 * out those of identity columns), so every one of the public schema is covered.
 * query_to_xml runs the per-table query without creating a function in the database. The row
 * text depends on these settings, so both sides use the same. */
static const char sums_sql[] =
	"SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';\n"
	"SET extra_float_digits = 1; SET bytea_output = 'hex';\n"
	"SELECT string_agg(line, E'\\n' ORDER BY line COLLATE \"C\") FROM (\n"
	"  SELECT format('table %s %s %s', table_name, (xpath('/row/n/text()', x))[1], (xpath('/row/h/text()', x))[1])\n"
	"         AS line\n"
	"    FROM (SELECT table_name, query_to_xml(format('SELECT count(*) AS n, md5(coalesce(string_agg(t::text, %L\n"
	"                 ORDER BY t::text COLLATE \"C\"), %L)) AS h FROM %I.%I t', '|', '', table_schema, table_name),\n"
	"                 false, true, '') AS x\n"
	"            FROM information_schema.tables\n"
	"           WHERE table_schema = 'public' AND table_type = 'BASE TABLE') t\n"
	"  UNION ALL\n"
	"  SELECT format('sequence %s %s', sequencename, coalesce(last_value::text, 'unused'))\n"
	"    FROM pg_sequences WHERE schemaname = 'public'\n"
	") l;\n";

static char *db_sums(const char *dir)
{
	char *s = stack_sql(dir, sums_sql);
	ck_assert_msg(!strncmp(s, "sequence ", 9) || !strncmp(s, "table ", 6), "sums of %s: %s", dir, s);
	return s;
}

/* Rows of table in a sums text, -1 when the table is not listed. */
static long long sums_rows(const char *sums, const char *table)
{
	char *needle = xprintf("table %s ", table);
	long long n = -1;
	for (const char *p = sums; p && *p;) {
		if (!strncmp(p, needle, strlen(needle))) {
			n = strtoll(p + strlen(needle), NULL, 10);
			break;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	free(needle);
	return n;
}

static int count_lines_starting(const char *text, const char *prefix)
{
	int n = 0;
	for (const char *p = text; p && *p;) {
		n += !strncmp(p, prefix, strlen(prefix));
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

/* The schema of the stack in dir as pg_dump prints it (comments and psql's \restrict lines
 * dropped: they carry versions and a random key), into WORK/schema-<tag>.sql. */
static void dump_schema(const char *dir, const char *tag)
{
	int rc = run("schema", "source scripts/db-url.sh && parse_db_args --stack '%s' &&"
			       " pg_dump --schema-only --no-owner --dbname=\"$DB_URL\" |"
			       " grep -v -e '^--' -e '^\\\\restrict ' -e '^\\\\unrestrict ' >'%s/schema-%s.sql'",
		     dir, work, tag);
	ck_assert_msg(rc == 0, "pg_dump --schema-only of %s failed:\n%s", dir, out_of("schema"));
}

static struct it_resp *post_fmt(const char *path, const char *bearer, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static struct it_resp *post_fmt(const char *path, const char *bearer, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *body = NULL;
	int n = vasprintf(&body, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	struct it_resp *r = it_post(path, bearer, body);
	free(body);
	return r;
}

static void expect_me(const char *access, const struct it_user *u, const char *name, const char *plan)
{
	struct it_resp *r = it_get("/api/auth/me", access);
	it_expect(r, 200, NULL);
	ck_assert_msg(it_str(r, "id") && !strcmp(it_str(r, "id"), u->id), "me: wrong id in %s", r->body);
	ck_assert_msg(it_str(r, "email") && !strcmp(it_str(r, "email"), u->email), "me: wrong email in %s", r->body);
	if (name)
		ck_assert_msg(it_str(r, "name") && !strcmp(it_str(r, "name"), name), "me: name should be %s: %s", name,
			      r->body);
	if (plan)
		ck_assert_msg(it_str(r, "plan") && !strcmp(it_str(r, "plan"), plan), "me: plan should be %s: %s", plan,
			      r->body);
	it_free(r);
}

/* ------------------------------------------------------------------ the data */

#define NEW_NAME "Restored Zoë Ünal"

struct fill {
	struct it_user a, b, c, d; /* a: renamed, two sessions; b: a failed login; c: new password; d: pro */
};

static void fill_source(struct fill *f)
{
	it_register(&f->a, "bk-a");
	it_register(&f->b, "bk-b");
	it_register(&f->c, "bk-c");

	struct it_req q = {.method = "PATCH", .path = "/api/profile", .bearer = f->a.access,
			   .json = "{\"name\":\"" NEW_NAME "\"}"};
	struct it_resp *r = it_do(&q);
	it_expect(r, 200, NULL);
	it_free(r);
	struct it_user a2 = f->a;
	ck_assert_int_eq(it_login(&a2), 200); /* a second session of a */

	/* a failed login leaves a throttle row */
	r = post_fmt("/api/auth/login", NULL, "{\"email\":\"%s\",\"password\":\"wrong-%s\",\"session\":\"body\"}",
		     f->b.email, f->b.password);
	it_expect(r, 401, "invalid_credentials");
	it_free(r);

	/* a notification, a "password changed" email, preferences */
	char fresh[sizeof(f->c.password)];
	snprintf(fresh, sizeof(fresh), "%.40s-new", f->c.password);
	r = post_fmt("/api/profile/change-password", f->c.access,
		     "{\"current_password\":\"%s\",\"new_password\":\"%s\"}", f->c.password, fresh);
	it_expect(r, 204, NULL);
	it_free(r);
	memcpy(f->c.password, fresh, sizeof(fresh));
	q = (struct it_req){.method = "PUT", .path = "/api/profile/notification-preferences", .bearer = f->c.access,
			    .json = "{\"product_updates\":false,\"usage_warnings\":true,\"billing\":true}"};
	r = it_do(&q);
	it_expect(r, 200, NULL);
	it_free(r);

	/* a forgot-password job (run by the jobs worker: a reset token and email) */
	r = post_fmt("/api/auth/forgot-password", NULL, "{\"email\":\"%s\"}", f->a.email);
	it_expect(r, 202, NULL);
	it_free(r);

	/* billing: checkout, completed at the Stripe stand-in, which signs and delivers the events */
	it_register(&f->d, "bk-d");
	r = it_post("/api/billing/checkout", f->d.access, "{\"plan\":\"pro\",\"interval\":\"month\"}");
	it_expect(r, 200, NULL);
	ck_assert_msg(it_str(r, "session_id") != NULL, "no session_id: %s", r->body);
	char *sid = strdup(it_str(r, "session_id"));
	it_free(r);
	int rc = run("complete", "curl -sS -f --noproxy '*' -m 30 -X POST '%s/_control/complete/%s'",
		     env_need("TG_STRIPE_URL"), sid);
	ck_assert_msg(rc == 0, "the Stripe stand-in did not complete %s:\n%s", sid, out_of("complete"));
	free(sid);
	char *sql = xprintf("SELECT 3 - (EXISTS (SELECT FROM subscriptions WHERE user_id = '%s' AND status = 'active'))::int"
			    " - (EXISTS (SELECT FROM invoices WHERE user_id = '%s'))::int"
			    " - (EXISTS (SELECT FROM litellm_keys WHERE user_id = '%s'))::int",
			    f->d.id, f->d.id, f->d.id);
	long long missing = wait_sql_zero(sql, WAIT_MS);
	ck_assert_msg(missing == 0, "the subscriber's subscription, invoice and LiteLLM key: %lld missing after %d ms",
		      missing, WAIT_MS);
	free(sql);

	/* work planned for tomorrow: an email and a job (stable rows of those tables in the dump) */
	const char *out = it_sql("INSERT INTO email_outbox (kind, to_address, user_id, vars, message_id, next_attempt_at)"
				 " VALUES ('welcome', '%s', '%s', '{\"name\": \"Zoë\", \"n\": 1.5}', '" PROBE_MESSAGE_ID "',"
				 " now() + interval '1 day')",
				 f->a.email, f->a.id);
	ck_assert_msg(!*out, "outbox insert: %s", out);
	out = it_sql("INSERT INTO jobs (kind, payload, run_at) VALUES ('" PROBE_JOB "', '{\"user\": \"%s\"}',"
		     " now() + interval '1 day')",
		     f->a.id);
	ck_assert_msg(!*out, "jobs insert: %s", out);
}

static void unfill_source(void)
{
	const char *out = it_sql("%s", UNFILL_SQL);
	ck_assert_msg(!*out, "cleanup: %s", out);
}

/* ------------------------------------------------------------------ roundtrip */

START_TEST(backup_restore_roundtrip)
{
	ck_assert_msg(work[0], "no scratch directory");
	int64_t t0 = now_ms(), t;
	struct fill f;
	fill_source(&f);

	/* nothing due: the dump and the sums should not race the jobs worker */
	settle("due emails", "SELECT count(*) FROM email_outbox WHERE status = 'pending' AND next_attempt_at <= now()");
	settle("due jobs", "SELECT count(*) FROM jobs WHERE run_at <= now()");
	settle("due webhook events", "SELECT count(*) FROM stripe_events WHERE processed_at IS NULL"
				     " AND next_attempt_at <= now()");
	fprintf(stderr, "roundtrip: source filled in %lld ms\n", (long long)(now_ms() - t0));

	/* ---- backup, with the source's sums taken around it */
	char *dump = xprintf("%s/tollgate.dump", work);
	char *src = NULL;
	t = now_ms();
	for (int attempt = 1;; attempt++) {
		char *before = db_sums(it_stack_dir());
		int rc = run("backup", "env -u TOLLGATE_DATABASE_URL -u TOLLGATE_CONFIG scripts/backup --config '%s' '%s'",
			     env_need("TG_CONFIG"), dump);
		ck_assert_msg(rc == 0, "scripts/backup failed:\n%s", out_of("backup"));
		char *after = db_sums(it_stack_dir());
		bool same = !strcmp(before, after);
		free(before);
		if (same) {
			src = after;
			break;
		}
		free(after);
		ck_assert_msg(attempt < 5, "the source kept changing during 5 backups");
		fprintf(stderr, "roundtrip: the source changed during backup %d: taking it again\n", attempt);
		it_sleep_ms(1000);
	}
	fprintf(stderr, "roundtrip: backup in %lld ms (%s)\n", (long long)(now_ms() - t), out_of("backup"));
	struct stat st;
	ck_assert_int_eq(stat(dump, &st), 0);
	ck_assert_msg((st.st_mode & 0777) == 0600, "the dump is mode %o, not 600", (unsigned)(st.st_mode & 0777));
	char *partial = xprintf("%s.partial", dump);
	ck_assert_msg(access(partial, F_OK) != 0, "%s left behind", partial);
	free(partial);
	for (size_t i = 0; i < sizeof(filled_tables) / sizeof(filled_tables[0]); i++)
		ck_assert_msg(sums_rows(src, filled_tables[i]) > 0, "table %s is empty in the source:\n%s", filled_tables[i],
			      src);
	int tables = count_lines_starting(src, "table ");
	for (const char *p = src; p && *p;) {
		long long rows;
		char name[128];
		if (sscanf(p, "table %127s %lld", name, &rows) == 2 && rows == 0)
			fprintf(stderr, "roundtrip: note: table %s is empty: its restore only shows it exists\n", name);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	dump_schema(it_stack_dir(), "source");

	/* ---- a second stack: a new cluster, migrated, with the source's JWT secret */
	t = now_ms();
	char *secrets = xprintf("%s/secrets", stack2);
	ck_assert_int_eq(it_sh("mkdir -p '%s' && chmod 700 '%s' && cp '%s/secrets/jwt_secret' '%s/' && chmod 600 '%s/jwt_secret'",
			       secrets, secrets, it_stack_dir(), secrets, secrets),
			 0);
	free(secrets);
	int rc = run("stack2", "env -u TG_STRIPE_URL -u TG_LITELLM_URL -u TG_HTTPS_PORT -u TG_HTTP_PORT"
			       " -u TG_MAIL_FILE_DIR TG_STANDINS=0 TG_MAIL_TRANSPORT=file TG_WORKERS=1 TG_PASSWORD_WORKERS=1"
			       " TOLLGATE_BIN='%s' scripts/stack start '%s'",
		     it_tollgate_bin(), stack2);
	ck_assert_msg(rc == 0, "the second stack did not start:\n%s", out_of("stack2"));
	fprintf(stderr, "roundtrip: second stack started in %lld ms\n", (long long)(now_ms() - t));
	char *fresh = db_sums(stack2);
	ck_assert_msg(sums_rows(fresh, "users") == 0, "the second stack is not empty:\n%s", fresh);
	ck_assert_msg(sums_rows(fresh, "schema_migrations") == sums_rows(src, "schema_migrations"),
		      "the second stack is not migrated like the source:\n%s", fresh);
	char *conf2 = xprintf("%s/tollgate.conf", stack2);

	/* ---- refused while the second stack's tollgate is connected */
	rc = run("restore-busy", "env -u TOLLGATE_DATABASE_URL scripts/restore --config '%s' --yes '%s'", conf2, dump);
	ck_assert_msg(rc != 0, "restore ran while tollgate was connected:\n%s", out_of("restore-busy"));
	ck_assert_msg(strstr(out_of("restore-busy"), "stop tollgate first"), "no reason given:\n%s", out_of("restore-busy"));
	ck_assert_int_eq(run("stop2", "scripts/stack stop '%s' && scripts/stack pg-start '%s'", stack2, stack2), 0);

	/* ---- a restore that breaks after the first row of users changes nothing: scripts/restore
	 * converts the dump with `pg_restore --file=-` into psql's one transaction; the stand-in cuts that
	 * stream at a row boundary (no SQL error: only the missing COMMIT keeps the data out) and fails */
	char *shimdir = xprintf("%s/shim", work);
	ck_assert_int_eq(mkdir(shimdir, 0755), 0);
	char *real = strdup(it_sh_out("command -v pg_restore"));
	ck_assert_msg(real[0] == '/', "pg_restore not found: %s", real);
	char *shim = xprintf("#!/bin/bash\n"
			     "# pg_restore that stops converting right after the first row of users\n"
			     "for a in \"$@\"; do\n"
			     "  if [[ $a == --file=- ]]; then\n"
			     "    '%s' \"$@\" | awk '{ print } c { exit } /^COPY public\\.users /{ c = 1 }'\n"
			     "    exit 1\n"
			     "  fi\n"
			     "done\n"
			     "exec '%s' \"$@\"\n",
			     real, real);
	char *shimpath = xprintf("%s/pg_restore", shimdir);
	write_file(shimpath, shim, 0755);
	rc = run("restore-broken", "PATH='%s':\"$PATH\" scripts/restore --config '%s' --yes '%s'", shimdir, conf2, dump);
	ck_assert_msg(rc != 0, "a broken restore succeeded:\n%s", out_of("restore-broken"));
	char *after_broken = db_sums(stack2);
	ck_assert_msg(!strcmp(after_broken, fresh), "a broken restore changed the database:\nbefore:\n%s\nafter:\n%s", fresh,
		      after_broken);
	free(after_broken);
	free(shim);
	free(shimpath);
	free(real);
	free(shimdir);

	/* ---- the restore, into the migrated database */
	t = now_ms();
	rc = run("restore", "env -u TOLLGATE_DATABASE_URL scripts/restore --config '%s' --yes '%s'", conf2, dump);
	ck_assert_msg(rc == 0, "scripts/restore failed:\n%s", out_of("restore"));
	fprintf(stderr, "roundtrip: restore in %lld ms\n", (long long)(now_ms() - t));

	/* ---- every table, every sequence, the schema */
	char *dst = db_sums(stack2);
	ck_assert_msg(!strcmp(src, dst), "the restored database differs from the source:\nsource:\n%s\nrestored:\n%s", src,
		      dst);
	dump_schema(stack2, "restored");
	rc = run("schema-diff", "diff -u '%s/schema-source.sql' '%s/schema-restored.sql'", work, work);
	ck_assert_msg(rc == 0, "the restored schema differs:\n%s", out_of("schema-diff"));
	fprintf(stderr, "roundtrip: %d tables and %d sequences identical\n", tables, count_lines_starting(src, "sequence "));

	/* ---- the second stack serves the restored data */
	t = now_ms();
	rc = run("start2", "env -u TG_STRIPE_URL -u TG_LITELLM_URL -u TG_HTTPS_PORT -u TG_HTTP_PORT"
			   " -u TG_MAIL_FILE_DIR TG_STANDINS=0 TG_MAIL_TRANSPORT=file TG_WORKERS=1 TG_PASSWORD_WORKERS=1"
			   " TOLLGATE_BIN='%s' scripts/stack start '%s'",
		 it_tollgate_bin(), stack2);
	ck_assert_msg(rc == 0, "the second stack did not start on the restored database:\n%s", out_of("start2"));
	char *url2 = stack_var(stack2, "TG_URL");
	ck_assert_msg(strcmp(url2, it_url()), "the second stack has the source's URL %s", url2);
	setenv("TG_URL", url2, 1); /* this forked test only: the it_* helpers now talk to the second stack */
	free(url2);

	expect_me(f.a.access, &f.a, NEW_NAME, "free"); /* a token issued by the source before the backup */
	struct it_resp *r = post_fmt("/api/auth/refresh", NULL, "{\"refresh_token\":\"%s\",\"session\":\"body\"}",
				     f.b.refresh);
	it_expect(r, 200, NULL);
	it_free(r);
	struct it_user a = f.a;
	a.access[0] = '\0';
	ck_assert_int_eq(it_login(&a), 200);
	expect_me(a.access, &f.a, NEW_NAME, "free");
	struct it_user c = f.c;
	ck_assert_int_eq(it_login(&c), 200); /* the password changed before the backup */
	struct it_user d = f.d;
	ck_assert_int_eq(it_login(&d), 200);
	expect_me(d.access, &f.d, NULL, "pro");
	fprintf(stderr, "roundtrip: logins on the restored stack in %lld ms; total %lld ms\n",
		(long long)(now_ms() - t), (long long)(now_ms() - t0));

	unfill_source();
	free(dst);
	free(fresh);
	free(conf2);
	free(src);
	free(dump);
}
END_TEST

/* ------------------------------------------------------------------ the scripts alone */

START_TEST(backup_password_not_on_command_line)
{
	ck_assert_msg(work[0], "no scratch directory");
	/* a pg_dump that records what it was given, writes half a file and fails */
	char *dir = xprintf("%s/fake", work);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	char *fake = xprintf("#!/bin/bash\n"
			     "printf '%%s\\n' \"$@\" >'%s/argv'\n"
			     "printf '%%s' \"${PGPASSWORD:-}\" >'%s/password'\n"
			     "for a in \"$@\"; do [[ $a == --file=* ]] && echo partial >\"${a#--file=}\"; done\n"
			     "exit 1\n",
			     dir, dir);
	char *path = xprintf("%s/pg_dump", dir);
	write_file(path, fake, 0755);
	char *out = xprintf("%s/never.dump", work);
	int rc = run("fake-backup", "PATH='%s':\"$PATH\" env -u TOLLGATE_DATABASE_URL scripts/backup --config '%s' '%s'", dir,
		     env_need("TG_CONFIG"), out);
	ck_assert_msg(rc != 0, "backup succeeded although pg_dump failed:\n%s", out_of("fake-backup"));
	ck_assert_msg(access(out, F_OK) != 0, "%s exists after a failed backup", out);
	ck_assert_int_eq(it_sh("ls '%s'* >/dev/null 2>&1", out), 2); /* no .partial either */

	/* the stack's database password: postgresql://tollgate:PASSWORD@host:port/db */
	const char *url = env_need("TG_DATABASE_URL");
	const char *colon = strchr(url + strlen("postgresql://"), ':'), *at = strchr(url, '@');
	ck_assert_msg(colon && at && colon < at, "no password in TG_DATABASE_URL");
	char *pw = strndup(colon + 1, (size_t)(at - colon - 1));
	const char *argv = it_sh_out("cat '%s/argv'", dir);
	ck_assert_msg(strstr(argv, "--dbname=postgresql://tollgate@") != NULL, "pg_dump got no database: %s", argv);
	ck_assert_msg(strstr(argv, pw) == NULL, "the password is on pg_dump's command line: %s", argv);
	ck_assert_str_eq(it_sh_out("cat '%s/password'", dir), pw);
	free(pw);
	free(out);
	free(path);
	free(fake);
	free(dir);
}
END_TEST

START_TEST(named_config_must_exist)
{
	ck_assert_msg(work[0], "no scratch directory");
	char *out = xprintf("%s/none.dump", work);
	int rc = run("noconf", "env -u TOLLGATE_DATABASE_URL scripts/backup --config '%s/missing.conf' '%s'", work, out);
	ck_assert_msg(rc != 0, "backup ran without its configuration:\n%s", out_of("noconf"));
	ck_assert_msg(strstr(out_of("noconf"), "cannot read the configuration"), "%s", out_of("noconf"));
	ck_assert_msg(access(out, F_OK) != 0, "%s written", out);
	rc = run("noconf-restore", "env -u TOLLGATE_DATABASE_URL scripts/restore --config '%s/missing.conf' --yes '%s'",
		 work, out);
	ck_assert_msg(rc != 0, "restore ran without its configuration:\n%s", out_of("noconf-restore"));
	free(out);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("backup");
	TCase *tc = tcase_create("scripts");
	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, work_setup, work_teardown);
	tcase_add_test(tc, backup_password_not_on_command_line);
	tcase_add_test(tc, named_config_must_exist);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 240);
	tcase_add_unchecked_fixture(tc, work_setup, work_teardown);
	tcase_add_test(tc, backup_restore_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
