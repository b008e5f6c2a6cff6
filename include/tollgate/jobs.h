/* jobs.h — the background jobs worker: outbox delivery, retries, periodic cleanup. */
#ifndef TOLLGATE_JOBS_H
#define TOLLGATE_JOBS_H

#include <signal.h>

struct app;

/* Runs jobs until *stop becomes non-zero. Sleeps between rounds with signals unblocked
 * through idle_mask. Returns the process exit code. */
int jobs_run(struct app *app, volatile sig_atomic_t *stop, const void *idle_mask);
/* Runs one round of every due job (for tests and `tollgate jobs run-once`). Returns the
 * number of items processed, or a negative status. */
int jobs_run_once(struct app *app);

#endif
