/* master.c — bind once, fork the pools, reap and restart, reload on SIGHUP, drain on SIGTERM.
 *
 * The master handles signals synchronously (sigtimedwait), so it has no handlers at all. */
#include "tollgate/config.h"
#include "tollgate/mem.h"
#include "tollgate/log.h"
#include "tollgate/server.h"
#include "tollgate/status.h"
#include "tollgate/timeutil.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 600
#define CRASH_WINDOW_US 1000000       /* a child that dies sooner than this is "dying at once" */
#define BACKOFF_MAX_US 10000000

struct child {
	pid_t pid;
	enum pool_kind kind;
	int slot;
	int generation;
	int64_t started_us;
	int64_t restart_at_us;  /* when pid == 0: restart due */
	int64_t backoff_us;
	bool used;
};

struct master {
	const char *config_path;
	struct tg_config cfg;
	int fds[POOL_JOBS];         /* the listening socket of each FastCGI pool */
	int generation;
	struct child children[MAX_CHILDREN];
	bool stopping;
	int64_t drain_deadline_us;
};

static int server_listen(const char *addr, int backlog, const char *mode)
{
	bool is_path = strchr(addr, '/') != NULL;
	if (is_path)
		unlink(addr);
	int fd = FCGX_OpenSocket(addr, backlog);
	if (fd < 0)
		return -1;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		close(fd);
		return -1;
	}
	if (is_path && mode && *mode) {
		long m = strtol(mode, NULL, 8);
		if (chmod(addr, (mode_t)m) != 0)
			log_warn("chmod %s: %s", addr, strerror(errno));
	}
	return fd;
}

static int pool_size(const struct tg_config *cfg, enum pool_kind kind)
{
	switch (kind) {
	case POOL_MAIN: return config_main_workers(cfg);
	case POOL_PASSWORD: return cfg->password_workers;
	case POOL_CHAT: return cfg->chat_workers;
	case POOL_JOBS: return cfg->jobs_workers;
	}
	return 0;
}

static const char *kind_name(enum pool_kind k)
{
	static const char *const names[] = {[POOL_MAIN] = "main", [POOL_PASSWORD] = "password", [POOL_CHAT] = "chat",
					    [POOL_JOBS] = "jobs"};
	return names[k];
}

/* The address a FastCGI pool listens on. */
static char **pool_listen(struct tg_config *cfg, enum pool_kind k)
{
	return k == POOL_MAIN ? &cfg->listen : k == POOL_PASSWORD ? &cfg->password_listen : &cfg->chat_listen;
}

static pid_t spawn(struct master *m, struct child *c)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork failed: %s", strerror(errno));
		c->pid = 0;
		c->restart_at_us = time_mono_us() + 1000000;
		return -1;
	}
	if (pid == 0) {
		/* Keep the stop signals blocked until the child has its own handlers: the inherited
		 * ones are libfcgi's (installed by FCGX_Init), which would swallow a SIGTERM sent by a
		 * quick second reload. The child delivers a pending one at its first idle wait. */
		sigset_t keep;
		sigemptyset(&keep);
		sigaddset(&keep, SIGTERM);
		sigaddset(&keep, SIGINT);
		sigaddset(&keep, SIGHUP);
		sigprocmask(SIG_SETMASK, &keep, NULL);
		for (int k = 0; k < POOL_JOBS; k++)
			if (k != (int)c->kind)
				close(m->fds[k]);
		int code = c->kind == POOL_JOBS ? server_jobs(&m->cfg) : server_worker(&m->cfg, c->kind, m->fds[c->kind]);
		/* exit, not _exit: the child is a whole process (coverage and leak reports are written at
		 * exit); the master never leaves buffered stdio behind a fork */
		exit(code);
	}
	c->pid = pid;
	c->started_us = time_mono_us();
	c->restart_at_us = 0;
	return pid;
}

static struct child *free_slot(struct master *m)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (!m->children[i].used)
			return &m->children[i];
	return NULL;
}

static void spawn_generation(struct master *m)
{
	m->generation++;
	static const enum pool_kind kinds[] = {POOL_MAIN, POOL_PASSWORD, POOL_CHAT, POOL_JOBS};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int n = pool_size(&m->cfg, kinds[k]);
		for (int i = 0; i < n; i++) {
			struct child *c = free_slot(m);
			if (!c) {
				log_error("too many children");
				return;
			}
			memset(c, 0, sizeof(*c));
			c->used = true;
			c->kind = kinds[k];
			c->slot = i;
			c->generation = m->generation;
			spawn(m, c);
		}
	}
}

static void signal_generation_older(struct master *m, int sig)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		struct child *c = &m->children[i];
		if (c->used && c->generation < m->generation && c->pid > 0)
			kill(c->pid, sig);
	}
}

static void reap(struct master *m)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *c = NULL;
		for (int i = 0; i < MAX_CHILDREN; i++)
			if (m->children[i].used && m->children[i].pid == pid)
				c = &m->children[i];
		if (!c)
			continue;
		int64_t now = time_mono_us();
		bool planned = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (m->stopping || c->generation < m->generation) {
			c->used = false;
			continue;
		}
		if (planned) {
			log_info("%s worker %d exited (recycled); restarting", kind_name(c->kind), (int)pid);
			c->backoff_us = 0;
			c->pid = 0;
			c->restart_at_us = now;
			continue;
		}
		if (WIFSIGNALED(status))
			log_warn("%s worker %d killed by signal %d; restarting", kind_name(c->kind), (int)pid,
				 WTERMSIG(status));
		else
			log_warn("%s worker %d exited with %d; restarting", kind_name(c->kind), (int)pid,
				 WEXITSTATUS(status));
		if (now - c->started_us < CRASH_WINDOW_US) {
			c->backoff_us = c->backoff_us ? c->backoff_us * 2 : 100000;
			if (c->backoff_us > BACKOFF_MAX_US)
				c->backoff_us = BACKOFF_MAX_US;
		} else {
			c->backoff_us = 0;
		}
		c->pid = 0;
		c->restart_at_us = now + c->backoff_us;
	}
}

static void restart_due(struct master *m)
{
	int64_t now = time_mono_us();
	for (int i = 0; i < MAX_CHILDREN; i++) {
		struct child *c = &m->children[i];
		if (!c->used || c->pid != 0)
			continue;
		if (c->generation < m->generation)
			c->used = false; /* replaced by a reload while waiting to restart */
		else if (c->restart_at_us <= now)
			spawn(m, c);
	}
}

static int live_children(const struct master *m)
{
	int n = 0;
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (m->children[i].used && m->children[i].pid > 0)
			n++;
	return n;
}

static void reload(struct master *m)
{
	struct tg_config fresh;
	char err[2048];
	if (config_load(&fresh, m->config_path, err, sizeof(err)) != TG_OK ||
	    config_validate(&fresh, err, sizeof(err)) != TG_OK) {
		log_error("reload refused, keeping the running configuration: %s", err);
		config_free(&fresh);
		return;
	}
	/* keep the sockets we have; everything else comes from the new file */
	for (int k = 0; k < POOL_JOBS; k++) {
		char **now = pool_listen(&m->cfg, (enum pool_kind)k), **next = pool_listen(&fresh, (enum pool_kind)k);
		if (strcmp(*now, *next))
			log_warn("%s_listen changed: it takes effect at the next restart", kind_name((enum pool_kind)k));
		free(*next);
		*next = mem_strdup(*now);
	}
	config_free(&m->cfg);
	m->cfg = fresh;
	/* New workers first, then the old ones finish their request and leave. */
	spawn_generation(m);
	signal_generation_older(m, SIGTERM);
	log_info("configuration reloaded; workers replaced (generation %d)", m->generation);
}

int server_master(const char *config_path, struct tg_config *cfg)
{
	static struct master m; /* large (children table): not on the stack */
	memset(&m, 0, sizeof(m));
	m.config_path = config_path;
	m.cfg = *cfg;

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return 1;
	}
	for (int k = 0; k < POOL_JOBS; k++) {
		const char *addr = *pool_listen(&m.cfg, (enum pool_kind)k);
		m.fds[k] = server_listen(addr, m.cfg.listen_backlog, m.cfg.socket_mode);
		if (m.fds[k] < 0) {
			log_error("cannot listen on %s: %s", addr, strerror(errno));
			return 1;
		}
	}
	log_info("tollgate %s master started: main pool %d on %s, password pool %d on %s, chat pool %d on %s, jobs %d",
		 TOLLGATE_VERSION, config_main_workers(&m.cfg), m.cfg.listen, m.cfg.password_workers,
		 m.cfg.password_listen, m.cfg.chat_workers, m.cfg.chat_listen, m.cfg.jobs_workers);
	spawn_generation(&m);

	for (;;) {
		struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
		siginfo_t info;
		int sig = sigtimedwait(&set, &info, &tick);
		if (sig == SIGCHLD)
			reap(&m);
		else if (sig == SIGHUP && !m.stopping)
			reload(&m);
		else if ((sig == SIGTERM || sig == SIGINT) && !m.stopping) {
			log_info("stopping: draining workers (up to %d s)", m.cfg.drain_timeout);
			m.stopping = true;
			m.drain_deadline_us = time_mono_us() + (int64_t)m.cfg.drain_timeout * 1000000;
			m.generation++; /* every child is now "old" */
			signal_generation_older(&m, SIGTERM);
		}
		reap(&m);
		if (m.stopping) {
			if (live_children(&m) == 0)
				break;
			if (time_mono_us() > m.drain_deadline_us) {
				log_warn("drain timeout: killing %d workers", live_children(&m));
				signal_generation_older(&m, SIGKILL);
				m.drain_deadline_us = INT64_MAX;
			}
			continue;
		}
		restart_due(&m);
	}
	for (int k = 0; k < POOL_JOBS; k++) {
		const char *addr = *pool_listen(&m.cfg, (enum pool_kind)k);
		close(m.fds[k]);
		if (strchr(addr, '/'))
			unlink(addr);
	}
	log_info("stopped");
	*cfg = m.cfg;
	return 0;
}
