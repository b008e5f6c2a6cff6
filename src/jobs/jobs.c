/* jobs.c — the jobs worker loop. Each job kind takes its work with FOR UPDATE SKIP LOCKED,
 * so any number of jobs workers on any number of hosts never do one item twice. */
#include "tollgate/jobs.h"
#include "tollgate/app.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/log.h"
#include "tollgate/status.h"

#include <poll.h>
#include <signal.h>
#include <time.h>

typedef int (*job_fn)(struct app *app);

/* The job kinds, run in order each round. Each returns items processed or a negative status. */
static const struct {
	const char *name;
	job_fn run;
} job_kinds[] = {
	{NULL, NULL},
};

int jobs_run_once(struct app *app)
{
	int total = 0;
	for (size_t i = 0; i < sizeof(job_kinds) / sizeof(job_kinds[0]); i++) {
		if (!job_kinds[i].run)
			continue;
		int n = job_kinds[i].run(app);
		if (n < 0) {
			if (n != -TG_EUNAVAIL)
				log_warn("job %s failed: %s", job_kinds[i].name, tg_strerror(-n));
			continue;
		}
		total += n;
	}
	return total;
}

int jobs_run(struct app *app, volatile sig_atomic_t *stop, const void *idle_mask)
{
	log_info("jobs worker started");
	while (!*stop) {
		int n = jobs_run_once(app);
		arena_reset(app->arena);
		if (*stop)
			break;
		if (n > 0)
			continue; /* more may be waiting */
		struct timespec tick = {.tv_sec = app->cfg->jobs_poll_interval};
		ppoll(NULL, 0, &tick, (const sigset_t *)idle_mask);
	}
	log_info("jobs worker stopped");
	return 0;
}
