/* jobs.h — the background jobs worker: outbox delivery, retries, periodic cleanup. */
#ifndef TOLLGATE_JOBS_H
#define TOLLGATE_JOBS_H

#include <json.h>
#include <signal.h>

struct app;
struct arena;
struct db;

/* Job kinds queued by requests. */
#define JOB_PASSWORD_RESET "password_reset" /* payload {"email"}: look up, issue, email */
#define JOB_LITELLM_SYNC "litellm_sync"     /* payload {"user_id"}: key in line with the plan */
#define JOB_LITELLM_DELETE "litellm_delete" /* payload {"key_ciphertext"}: a deleted user's key */

/* Queues a job (payload not consumed), to run as soon as a jobs worker is free. */
int jobs_enqueue(struct db *db, struct arena *a, const char *kind, json_object *payload);

/* Runs jobs until *stop becomes non-zero. Sleeps between rounds with signals unblocked
 * through idle_mask. Returns the process exit code. */
int jobs_run(struct app *app, volatile sig_atomic_t *stop, const void *idle_mask);
/* Runs one round of every due job (for tests and `tollgate jobs run-once`). Returns the
 * number of items processed, or a negative status. */
int jobs_run_once(struct app *app);

#endif
