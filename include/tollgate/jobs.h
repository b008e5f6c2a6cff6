/* jobs.h — the durable job queue and the jobs worker loop. It knows no area: each area exports
 * its job kinds and its periodic tasks as tables, and server/ assembles them.
 *
 * Two kinds of job, by what their handler does:
 * - transactional (database only): the handler runs inside one transaction with the job's
 *   deletion, so its effects happen exactly once;
 * - outbound (calls Stripe, LiteLLM, SMTP): the handler runs with no transaction open (network
 *   I/O never holds a transaction), at least once, so it must be idempotent. The job is leased
 *   while it runs: a worker that dies leaves it to be taken again when the lease ends. */
#ifndef TOLLGATE_JOBS_H
#define TOLLGATE_JOBS_H

#include <json.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct arena;
struct db;
struct tg_config;

/* What a handler gets: the jobs worker's connection, a scratch arena (reset after each job) and
 * the configuration. */
struct jobs_ctx {
	struct db *db;
	struct arena *arena;
	const struct tg_config *cfg;
};

/* A job kind. run returns TG_OK (done: the job is deleted), TG_EINPUT (the payload can never
 * work: dropped, logged), or another status (retried with backoff; after max_attempts it is set
 * aside as failed, kept for operators). */
struct jobs_kind {
	const char *name;
	int (*run)(const struct jobs_ctx *ctx, json_object *payload);
	bool transactional;
	int max_attempts;  /* 0 = no limit */
	int retry_base;    /* seconds before the first retry; doubles per attempt */
	int retry_max;     /* seconds: the longest wait */
};

/* A periodic task of the worker's round: run returns the items it handled or -status. */
struct jobs_task {
	const char *name;
	int (*run)(const struct jobs_ctx *ctx);
	int every;         /* seconds between runs; 0 = every round */
};

/* The tables an area exports end with an entry whose name is NULL. */
struct jobs_table {
	const struct jobs_kind *const *kinds; /* NULL-terminated list of NULL-terminated arrays */
	const struct jobs_task *const *tasks;
};

/* Queues a job (payload not consumed), due now; call inside the transaction of its cause. */
int jobs_enqueue(struct db *db, struct arena *a, const char *kind, json_object *payload);

/* Runs the table until *stop becomes non-zero, sleeping between rounds with signals unblocked
 * through idle_mask; a new job or outbox row wakes it (LISTEN tollgate_jobs). Returns the exit code. */
int jobs_run(const struct jobs_ctx *ctx, const struct jobs_table *t, volatile sig_atomic_t *stop,
	     const void *idle_mask);

#endif
