/* server.h — the process model: master, worker pools, jobs worker, subcommands. */
#ifndef TOLLGATE_SERVER_H
#define TOLLGATE_SERVER_H

#include <signal.h>

struct tg_config;
struct app;

/* The FastCGI pools, then the jobs worker (which listens on nothing): POOL_JOBS is also their count. */
enum pool_kind { POOL_MAIN, POOL_PASSWORD, POOL_CHAT, POOL_JOBS };

/* Runs the master until SIGTERM/SIGINT; returns the process exit code. config_path may be NULL. */
int server_master(const char *config_path, struct tg_config *cfg);
/* Body of a worker process: serves listen_fd until told to stop or recycled. Returns exit code. */
int server_worker(const struct tg_config *cfg, enum pool_kind kind, int listen_fd);
/* Body of the jobs worker process. Returns exit code. */
int server_jobs(const struct tg_config *cfg);
/* Sets up app for this process (database, router, area state). */
int server_app_init(struct app *app, const struct tg_config *cfg, const char *pool);
void server_app_free(struct app *app);

/* The jobs of every area (jobs_process.c). */
struct jobs_table;
extern const struct jobs_table server_jobs_table;

/* Set by the child signal handlers; checked between requests. */
extern volatile sig_atomic_t server_stop_requested;

#endif
