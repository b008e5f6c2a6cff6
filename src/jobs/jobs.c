/* jobs.c — the jobs worker loop. Each job kind takes its work with FOR UPDATE SKIP LOCKED,
 * so any number of jobs workers on any number of hosts never do one item twice. */
#include "tollgate/jobs.h"
#include "tollgate/account.h"
#include "tollgate/billing.h"
#include "tollgate/litellm.h"
#include "tollgate/app.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/log.h"
#include "tollgate/mail.h"
#include "tollgate/status.h"
#include "tollgate/timeutil.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define QUEUE_BATCH 50
#define CLEANUP_EVERY_US (600LL * 1000000)
#define JOB_RETRY_MAX_SECONDS 3600

enum jobs_stmt { JOBS_ENQUEUE, JOBS_CLAIM, JOBS_DONE, JOBS_RETRY, JOBS_STMT__COUNT };
static const char *const jobs_sql[JOBS_STMT__COUNT] = {
	[JOBS_ENQUEUE] = "INSERT INTO jobs (kind, payload) VALUES ($1, $2::jsonb)",
	[JOBS_CLAIM] = "SELECT id, kind, payload::text, attempts FROM jobs WHERE run_at <= now()"
		       " ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
	[JOBS_DONE] = "DELETE FROM jobs WHERE id = $1",
	/* $1 id $2 error $3 seconds */
	[JOBS_RETRY] = "UPDATE jobs SET attempts = attempts + 1, last_error = $2,"
		       " run_at = now() + make_interval(secs => $3) WHERE id = $1",
};
static const struct db_stmts jobs_stmts = {"jobs", jobs_sql, JOBS_STMT__COUNT};

int jobs_enqueue(struct db *db, struct arena *a, const char *kind, json_object *payload)
{
	const char *text = arena_strdup(a, json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN));
	if (!text)
		return TG_ENOMEM;
	const char *p[] = {kind, text};
	return db_exec(db, a, &jobs_stmts, JOBS_ENQUEUE, 2, p, NULL);
}

/* A reset request: the lookup happens here, not in the request, so the answer's timing
 * never depends on whether the address is known. */
static int job_password_reset(struct app *app, json_object *payload)
{
	json_object *e;
	if (!json_object_object_get_ex(payload, "email", &e) || !json_object_is_type(e, json_type_string))
		return TG_OK; /* malformed: nothing to do, drop it */
	struct account_user u;
	bool active;
	int rc = account_find_by_email(app->db, app->arena, json_object_get_string(e), &u, &active);
	if (rc == TG_ENOTFOUND || (rc == TG_OK && !active))
		return TG_OK;
	if (rc != TG_OK)
		return rc;
	/* Nobody's mailbox gets flooded with reset links: beyond the limit the request is dropped
	 * here, where the requester cannot see the difference. */
	int retry;
	char *key = arena_printf(app->arena, "forgot-email:%s", u.id);
	if ((rc = account_rate_limit(app->db, app->arena, key, app->cfg->forgot_email_limit, 3600, &retry)) != TG_OK)
		return rc;
	if (retry > 0) {
		log_info("password reset for user %s dropped: %d emails in the last hour", u.id,
			 app->cfg->forgot_email_limit);
		return TG_OK;
	}
	return mail_queue_password_reset(app->db, app->arena, app->cfg, &u);
}

static int job_litellm_sync(struct app *app, json_object *payload)
{
	json_object *u;
	if (!json_object_object_get_ex(payload, "user_id", &u) || !json_object_is_type(u, json_type_string))
		return TG_OK;
	if (!litellm_configured(app->cfg))
		return TG_OK; /* nothing to keep in line; the reconcile job catches up once configured */
	return litellm_sync_user(app->db, app->arena, app->cfg, json_object_get_string(u));
}

static int job_litellm_delete(struct app *app, json_object *payload)
{
	json_object *k;
	if (!json_object_object_get_ex(payload, "key_ciphertext", &k) || !json_object_is_type(k, json_type_string))
		return TG_OK;
	int rc = litellm_delete_key(app->arena, app->cfg, json_object_get_string(k));
	return rc == TG_EINPUT ? TG_OK : rc;
}

static const struct {
	const char *kind;
	int (*run)(struct app *app, json_object *payload);
} queue_kinds[] = {
	{JOB_PASSWORD_RESET, job_password_reset},
	{JOB_LITELLM_SYNC, job_litellm_sync},
	{JOB_LITELLM_DELETE, job_litellm_delete},
};

/* Runs due jobs, each in its own transaction with its effects, deleted when done. */
static int run_queue(struct app *app)
{
	int handled = 0;
	while (handled < QUEUE_BATCH) {
		int rc = db_begin(app->db);
		if (rc != TG_OK)
			return -rc;
		PGresult *r;
		if ((rc = db_exec(app->db, app->arena, &jobs_stmts, JOBS_CLAIM, 0, NULL, &r)) != TG_OK) {
			db_rollback(app->db);
			return -rc;
		}
		if (PQntuples(r) == 0) {
			db_rollback(app->db);
			break;
		}
		const char *id = db_value(r, 0, 0), *kind = db_value(r, 0, 1);
		int attempts = (int)db_int(r, 0, 3);
		json_object *payload = json_tokener_parse(db_value(r, 0, 2));
		arena_own_json(app->arena, payload);
		rc = TG_EINPUT;
		for (size_t i = 0; i < sizeof(queue_kinds) / sizeof(queue_kinds[0]); i++)
			if (!strcmp(kind, queue_kinds[i].kind))
				rc = queue_kinds[i].run(app, payload);
		if (rc == TG_EINPUT) {
			log_error("job %s has unknown kind %s; dropped", id, kind);
			rc = TG_OK;
		}
		const char *p[] = {id};
		if (rc == TG_OK && (rc = db_exec(app->db, app->arena, &jobs_stmts, JOBS_DONE, 1, p, NULL)) == TG_OK &&
		    (rc = db_commit(app->db)) == TG_OK) {
			handled++;
			continue;
		}
		db_rollback(app->db);
		char wait[24], err[128];
		snprintf(wait, sizeof(wait), "%ld", mail_backoff_seconds(attempts + 1, 5, JOB_RETRY_MAX_SECONDS));
		snprintf(err, sizeof(err), "%s", tg_strerror(rc));
		const char *rp[] = {id, err, wait};
		log_warn("job %s (%s) failed: %s; retrying in %s s", id, kind, err, wait);
		/* Rescheduling needs the database: when that fails it is the database that is down
		 * and the round ends; otherwise (LiteLLM down, say) the other jobs go on. */
		if ((rc = db_exec(app->db, app->arena, &jobs_stmts, JOBS_RETRY, 3, rp, NULL)) != TG_OK)
			return -rc;
		handled++;
	}
	return handled;
}

static int run_outbox(struct app *app)
{
	return mail_deliver_due(app->db, app->arena, app->cfg);
}

static int run_stripe_events(struct app *app)
{
	return billing_retry_events(app->db, app->arena, app->cfg);
}

/* Periodic work, at most once per CLEANUP_EVERY_US: expired rows, key reconciliation. */
static int run_periodic(struct app *app)
{
	int64_t now = time_mono_us();
	if (app->last_periodic_us && now - app->last_periodic_us < CLEANUP_EVERY_US)
		return 0;
	app->last_periodic_us = now;
	int rc = account_cleanup(app->db, app->arena);
	if (rc != TG_OK)
		return -rc;
	int n = litellm_reconcile(app->db, app->arena, app->cfg);
	if (n > 0)
		log_info("litellm reconcile: %d keys brought in line", n);
	return 0;
}

/* The job kinds, run in order each round. Each returns items processed or a negative status. */
static const struct {
	const char *name;
	int (*run)(struct app *app);
} job_kinds[] = {
	{"queue", run_queue},
	{"outbox", run_outbox},
	{"stripe_events", run_stripe_events},
	{"periodic", run_periodic},
};

int jobs_run_once(struct app *app)
{
	int total = 0;
	for (size_t i = 0; i < sizeof(job_kinds) / sizeof(job_kinds[0]); i++) {
		int n = job_kinds[i].run(app);
		arena_reset(app->arena);
		if (n < 0) {
			if (n != -TG_EUNAVAIL)
				log_warn("job %s failed: %s", job_kinds[i].name, tg_strerror(-n));
			continue;
		}
		total += n;
	}
	return total;
}

/* LISTEN on the jobs connection so a new outbox row or job wakes us at once; polling every
 * jobs_poll_interval covers retries that come due and a lost connection. */
static int listening_socket(struct app *app, PGconn **listening_on)
{
	PGconn *c = db_conn(app->db);
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

static void drain_notifications(struct app *app)
{
	PGconn *c = db_conn(app->db);
	if (!c)
		return;
	PQconsumeInput(c);
	PGnotify *n;
	while ((n = PQnotifies(c)))
		PQfreemem(n);
}

int jobs_run(struct app *app, volatile sig_atomic_t *stop, const void *idle_mask)
{
	log_info("jobs worker started");
	if (db_ensure(app->db) == TG_OK && billing_sync_prices(app->db, app->arena, app->cfg) != TG_OK)
		log_warn("could not apply stripe_prices to the plans");
	arena_reset(app->arena);
	PGconn *listening_on = NULL;
	while (!*stop) {
		db_ensure(app->db);
		int fd = listening_socket(app, &listening_on);
		drain_notifications(app);
		int n = jobs_run_once(app);
		if (*stop)
			break;
		if (n > 0)
			continue; /* more may be waiting */
		struct timespec tick = {.tv_sec = app->cfg->jobs_poll_interval};
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ppoll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, &tick, (const sigset_t *)idle_mask);
	}
	log_info("jobs worker stopped");
	return 0;
}
