/* jobs_process.c — the jobs worker process: signals, the jobs table of every area, jobs_run. */
#include "tollgate/account.h"
#include "tollgate/app.h"
#include "tollgate/billing.h"
#include "tollgate/jobs.h"
#include "tollgate/mail.h"
#include "tollgate/quota.h"
#include "tollgate/log.h"
#include "tollgate/server.h"
#include "tollgate/status.h"

#include <signal.h>
#include <string.h>

static void on_stop(int sig)
{
	(void)sig;
	server_stop_requested = 1;
}

/* Every area's job kinds and periodic tasks. */
static const struct jobs_kind *const kinds[] = {account_jobs, mail_jobs, billing_jobs, NULL};
static const struct jobs_task *const tasks[] = {account_tasks, mail_tasks, billing_tasks, quota_tasks, NULL};
const struct jobs_table server_jobs_table = {kinds, tasks};

int server_jobs(const struct tg_config *cfg)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigset_t block, idle;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &idle);
	sigdelset(&idle, SIGTERM);
	sigdelset(&idle, SIGINT);

	struct app app;
	if (server_app_init(&app, cfg, "jobs") != TG_OK) {
		log_error("jobs worker initialisation failed");
		return 1;
	}
	struct jobs_ctx ctx = {.db = app.db, .arena = app.arena, .cfg = cfg};
	int code = jobs_run(&ctx, &server_jobs_table, &server_stop_requested, &idle);
	server_app_free(&app);
	return code;
}
