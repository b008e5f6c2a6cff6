/* jobs.c — the job queue and the jobs worker loop. Jobs are taken with FOR UPDATE SKIP LOCKED
 * and leased, so any number of jobs workers on any number of hosts never run one job at once. */
#include "tollgate/jobs.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/log.h"
#include "tollgate/status.h"
#include "tollgate/timeutil.h"
#include "jobs_sql.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define QUEUE_BATCH 50
#define MAX_TASKS 32

static int enqueue_in(struct db *db, struct arena *a, const char *kind, json_object *payload, int delay)
{
	const char *text = arena_strdup(a, json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN));
	const char *when = arena_printf(a, "%d", delay > 0 ? delay : 0);
	const char *p[] = {kind, text, when};
	return db_exec(db, a, &jobs_stmts, JOBS_ENQUEUE, 3, p, NULL);
}

int jobs_enqueue(struct db *db, struct arena *a, const char *kind, json_object *payload)
{
	return enqueue_in(db, a, kind, payload, 0);
}

static const struct jobs_kind *find_kind(const struct jobs_table *t, const char *name)
{
	for (const struct jobs_kind *const *set = t->kinds; set && *set; set++)
		for (const struct jobs_kind *k = *set; k->name; k++)
			if (!strcmp(k->name, name))
				return k;
	return NULL;
}

/* Runs the handler: a transactional one inside one transaction with the job's deletion. */
static int run_handler(const struct jobs_ctx *ctx, const struct jobs_kind *k, json_object *payload, const char *id)
{
	const char *p[] = {id};
	if (!k->transactional) {
		int rc = k->run(ctx, payload);
		return rc == TG_OK ? db_exec(ctx->db, ctx->arena, &jobs_stmts, JOBS_DONE, 1, p, NULL) : rc;
	}
	int rc = db_begin(ctx->db);
	if (rc != TG_OK)
		return rc;
	rc = k->run(ctx, payload);
	if (rc == TG_OK)
		rc = db_exec(ctx->db, ctx->arena, &jobs_stmts, JOBS_DONE, 1, p, NULL);
	return db_finish(ctx->db, rc);
}

/* Records a failed run: retry after the kind's backoff, or set it aside after its last attempt. */
static int record_failure(const struct jobs_ctx *ctx, const struct jobs_kind *k, const char *id, int attempts,
			  int rc)
{
	char wait[24], err[128];
	snprintf(err, sizeof(err), "%s", tg_strerror(rc));
	if (k->max_attempts > 0 && attempts >= k->max_attempts) {
		log_error("job %s (%s) failed %d times: %s; set aside", id, k->name, attempts, err);
		const char *p[] = {id, err};
		return db_exec(ctx->db, ctx->arena, &jobs_stmts, JOBS_FAILED, 2, p, NULL);
	}
	long delay = time_backoff_seconds(attempts, k->retry_base, k->retry_max);
	snprintf(wait, sizeof(wait), "%ld", delay);
	if (rc != TG_EUNAVAIL)
		log_warn("job %s (%s) failed: %s; retrying in %s s", id, k->name, err, wait);
	const char *p[] = {id, err, wait};
	return db_exec(ctx->db, ctx->arena, &jobs_stmts, JOBS_RETRY, 3, p, NULL);
}

/* Runs one job whose lock is ours. Returns TG_OK, or the database's failure. */
static int run_one(const struct jobs_ctx *ctx, const struct jobs_table *t, const char *id, bool *ran)
{
	const char *p[] = {id};
	PGresult *r;
	int rc = db_exec(ctx->db, ctx->arena, &jobs_stmts, JOBS_TAKE, 1, p, &r);
	if (rc != TG_OK || PQntuples(r) == 0)
		return rc; /* done by another worker meanwhile */
	*ran = true;
	const char *name = db_value(r, 0, 0);
	int attempts = (int)db_int(r, 0, 2);
	json_object *payload = arena_own_json(ctx->arena, json_tokener_parse(db_value(r, 0, 1)));
	const struct jobs_kind *k = find_kind(t, name);
	rc = k && payload ? run_handler(ctx, k, payload, id) : TG_EINPUT;
	if (rc == TG_OK)
		return TG_OK;
	if (rc == TG_EINPUT) {
		log_error("job %s (%s): %s; set aside", id, name, k ? "its payload cannot be handled" : "unknown kind");
		const char *fp[] = {id, "cannot be handled"};
		return db_exec(ctx->db, ctx->arena, &jobs_stmts, JOBS_FAILED, 2, fp, NULL);
	}
	/* The other jobs go on when one's dependency is down; when rescheduling fails too, it is
	 * the database that is down and the round ends. */
	return record_failure(ctx, k, id, attempts, rc);
}

/* Runs due jobs, one at a time. Returns how many were handled, or -status when the database is
 * the problem. */
static int run_queue(const struct jobs_ctx *ctx, const struct jobs_table *t)
{
	int handled = 0;
	bool more = true;
	while (more && handled < QUEUE_BATCH) {
		PGresult *due;
		int rc = db_exec(ctx->db, NULL, &jobs_stmts, JOBS_DUE, 0, NULL, &due);
		if (rc != TG_OK)
			return -rc;
		more = false;
		for (int i = 0; i < PQntuples(due) && rc == TG_OK; i++) {
			const char *id = db_value(due, i, 0);
			bool got, ran = false;
			if ((rc = db_try_lock(ctx->db, ctx->arena, DB_LOCK_JOB, id, &got)) != TG_OK || !got)
				continue; /* another worker runs it */
			rc = run_one(ctx, t, id, &ran);
			db_unlock(ctx->db, ctx->arena, DB_LOCK_JOB, id);
			arena_reset(ctx->arena);
			if (ran) {
				handled++;
				more = true;
			}
		}
		PQclear(due);
		if (rc != TG_OK)
			return -rc;
	}
	return handled;
}

struct task_clock {
	int64_t last_us[MAX_TASKS];
};

static int run_tasks(const struct jobs_ctx *ctx, const struct jobs_table *t, struct task_clock *clock)
{
	int total = 0, i = 0;
	int64_t now = time_mono_us();
	for (const struct jobs_task *const *set = t->tasks; set && *set; set++) {
		for (const struct jobs_task *task = *set; task->name; task++, i++) {
			if (i >= MAX_TASKS)
				return total;
			if (task->every && clock->last_us[i] && now - clock->last_us[i] < (int64_t)task->every * 1000000)
				continue;
			clock->last_us[i] = now;
			int n = task->run(ctx);
			arena_reset(ctx->arena);
			if (n < 0) {
				if (n != -TG_EUNAVAIL)
					log_warn("job task %s failed: %s", task->name, tg_strerror(-n));
				continue;
			}
			total += n;
		}
	}
	return total;
}

static int round_with(const struct jobs_ctx *ctx, const struct jobs_table *t, struct task_clock *clock)
{
	int n = run_queue(ctx, t);
	arena_reset(ctx->arena);
	if (n < 0) {
		if (n != -TG_EUNAVAIL)
			log_warn("job queue: %s", tg_strerror(-n));
		n = 0;
	}
	return n + run_tasks(ctx, t, clock);
}

/* LISTEN on the jobs connection so a new outbox row or job wakes us at once; polling every
 * jobs_poll_interval covers retries that come due and a lost connection. */
static int listening_socket(struct db *db, PGconn **listening_on)
{
	PGconn *c = db_conn(db);
	if (!c || PQstatus(c) != CONNECTION_OK)
		return -1;
	if (c != *listening_on) {
		PGresult *r = PQexec(c, "LISTEN tollgate_jobs");
		bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok)
			return -1;
		*listening_on = c;
	}
	return PQsocket(c);
}

static void drain_notifications(struct db *db)
{
	PGconn *c = db_conn(db);
	if (!c)
		return;
	PQconsumeInput(c);
	PGnotify *n;
	while ((n = PQnotifies(c)))
		PQfreemem(n);
}

int jobs_run(const struct jobs_ctx *ctx, const struct jobs_table *t, volatile sig_atomic_t *stop,
	     const void *idle_mask)
{
	log_info("jobs worker started");
	struct task_clock clock = {{0}};
	PGconn *listening_on = NULL;
	while (!*stop) {
		db_ensure(ctx->db);
		int fd = listening_socket(ctx->db, &listening_on);
		drain_notifications(ctx->db);
		int n = round_with(ctx, t, &clock);
		if (*stop)
			break;
		if (n > 0)
			continue; /* more may be waiting */
		struct timespec tick = {.tv_sec = ctx->cfg->jobs_poll_interval > 0 ? ctx->cfg->jobs_poll_interval : 1};
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ppoll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, &tick, (const sigset_t *)idle_mask);
	}
	log_info("jobs worker stopped");
	return 0;
}
