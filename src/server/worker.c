/* worker.c — a prefork worker: wait for a connection, serve one request, repeat. */
#include "tollgate/app.h"
#include "tollgate/mem.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/http.h"
#include "tollgate/log.h"
#include "tollgate/migrate.h"
#include "tollgate/router.h"
#include "tollgate/server.h"
#include "tollgate/status.h"
#include "tollgate/timeutil.h"

#include <errno.h>
#include <fcgiapp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHAT_IDLE_DISCONNECT_US (30LL * 1000000)

volatile sig_atomic_t server_stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	server_stop_requested = 1;
}

/* Signals stay blocked while a request runs (no EINTR inside libpq, libcurl or libfcgi);
 * they are delivered only inside ppoll while the worker is idle. */
static void child_signals(sigset_t *idle_mask)
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
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, idle_mask);
	sigdelset(idle_mask, SIGTERM);
	sigdelset(idle_mask, SIGINT);
}

int server_app_init(struct app *app, const struct tg_config *cfg, const char *pool)
{
	memset(app, 0, sizeof(*app));
	app->cfg = cfg;
	app->pool = pool;
	app->started_at = time(NULL);
	enum log_level lvl;
	if (log_parse_level(cfg->log_level, &lvl) == 0)
		log_set_level(lvl);
	char *sqldir = mem_printf("%s/sql", cfg->data_dir);
	struct migration *list;
	size_t n;
	if (migrate_list(sqldir, &list, &n) == TG_OK) {
		app->migrations_expected = (int)n;
		migrate_list_free(list, n);
	} else {
		log_warn("cannot read migrations in %s", sqldir);
	}
	free(sqldir);
	app->arena = arena_new(64 * 1024);
	if (!app->arena)
		return TG_ENOMEM;
	int rc = db_open(&app->db, cfg);
	if (rc == TG_ENOMEM)
		return rc;
	if (rc != TG_OK)
		log_warn("database unavailable at start; will retry");
	return api_init(app);
}

void server_app_free(struct app *app)
{
	api_free(app);
	db_close(app->db);
	arena_destroy(app->arena);
	memset(app, 0, sizeof(*app));
}

/* Reads the body into the arena. Over the limit: discards it (so nginx never sees a
 * half-read request) and reports too_large. */
static int read_body(FCGX_Request *r, struct http_req *req, long long max, bool *too_large)
{
	*too_large = false;
	long long declared = req->content_length;
	if (declared > max) {
		*too_large = true;
		char sink[16384];
		while (FCGX_GetStr(sink, sizeof(sink), r->in) > 0)
			;
		return TG_OK;
	}
	size_t cap = declared >= 0 ? (size_t)declared : 4096;
	char *buf = arena_alloc(req->arena, cap + 1);
	if (!buf)
		return TG_ENOMEM;
	size_t len = 0;
	for (;;) {
		if (len == cap) {
			if (declared >= 0)
				break;
			if ((long long)cap >= max) {
				*too_large = true;
				char sink[16384];
				while (FCGX_GetStr(sink, sizeof(sink), r->in) > 0)
					;
				return TG_OK;
			}
			size_t ncap = cap * 2 > (size_t)max ? (size_t)max : cap * 2;
			char *nb = arena_alloc(req->arena, ncap + 1);
			if (!nb)
				return TG_ENOMEM;
			memcpy(nb, buf, len);
			buf = nb;
			cap = ncap;
		}
		int want = (int)((cap - len) > 65536 ? 65536 : cap - len);
		int got = FCGX_GetStr(buf + len, want, r->in);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	req->body = buf;
	req->body_len = len;
	return TG_OK;
}

static int fcgi_write(void *ctx, const char *data, size_t len)
{
	FCGX_Stream *out = ctx;
	if (len && FCGX_PutStr(data, (int)len, out) < 0)
		return -1;
	return FCGX_FFlush(out);
}

static void serve_one(struct app *app, FCGX_Request *r)
{
	int64_t t0 = time_mono_us();
	struct http_req req;
	struct http_res res;
	http_res_init(&res);
	struct http_stream stream = {.write = fcgi_write, .ctx = r->out};
	res.stream = &stream;
	if (http_req_init(&req, app->arena, r->envp, app->cfg->trusted_proxies, app->cfg->json_max_depth) != TG_OK) {
		FCGX_PutS("Status: 500 Internal Server Error\r\n\r\n", r->out);
		return;
	}
	bool too_large = false;
	long long limit = api_body_limit(app, &req);
	if (read_body(r, &req, limit, &too_large) != TG_OK)
		http_res_problem(&res, &req, 500, "internal", "Out of memory.");
	else if (too_large) {
		char *detail = arena_printf(app->arena, "The body is larger than %lld bytes.", limit);
		http_res_problem(&res, &req, 413, "payload_too_large", detail);
	} else
		api_dispatch(app, &req, &res);

	char *out;
	size_t out_len;
	if (res.streamed) {
		/* the handler wrote it all */
	} else if (http_res_serialize(&res, app->arena, req.request_id, &out, &out_len) == 0) {
		if (req.method == HTTP_HEAD) {
			char *end = strstr(out, "\r\n\r\n");
			if (end)
				out_len = (size_t)(end - out) + 4;
		}
		if (FCGX_PutStr(out, (int)out_len, r->out) < 0)
			log_debug("client went away before the response was written");
	} else {
		FCGX_PutS("Status: 500 Internal Server Error\r\n\r\n", r->out);
	}
	struct log_request lr = {
		.request_id = req.request_id, .method = req.method_name, .path = req.path,
		.user_id = req.user_id, .client_ip = req.client_ip, .problem = res.problem_code,
		.status = res.status, .duration_us = time_mono_us() - t0,
	};
	log_request(&lr);
}

int server_worker(const struct tg_config *cfg, enum pool_kind kind, int listen_fd)
{
	sigset_t idle_mask;
	if (FCGX_Init() != 0)
		return 1;
	child_signals(&idle_mask);
	struct app app;
	static const char *const pools[] = {[POOL_MAIN] = "main", [POOL_PASSWORD] = "password", [POOL_CHAT] = "chat"};
	if (server_app_init(&app, cfg, pools[kind]) != TG_OK) {
		log_error("worker initialisation failed");
		return 1;
	}
	FCGX_Request r;
	if (FCGX_InitRequest(&r, listen_fd, 0) != 0) {
		server_app_free(&app);
		return 1;
	}
	long served = 0;
	int accept_errors = 0;
	int64_t idle_since = time_mono_us();
	while (!server_stop_requested && (cfg->max_requests == 0 || served < cfg->max_requests)) {
		struct pollfd pfd = {.fd = listen_fd, .events = POLLIN};
		struct timespec tick = {.tv_sec = 1};
		int pr = ppoll(&pfd, 1, &tick, &idle_mask);
		if (server_stop_requested)
			break;
		/* A chat worker idle for a while gives its connection back: dozens of them must not hold
		 * PostgreSQL's connections while nobody chats (README, sizing). */
		if (kind == POOL_CHAT && time_mono_us() - idle_since > CHAT_IDLE_DISCONNECT_US && db_connected(app.db))
			db_disconnect(app.db);
		if (pr <= 0 || !(pfd.revents & POLLIN))
			continue;
		int rc = FCGX_Accept_r(&r);
		if (rc < 0) {
			if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR)
				continue; /* another worker took it */
			log_error("FastCGI accept failed: %s", strerror(-rc));
			if (++accept_errors > 100)
				break;
			continue;
		}
		accept_errors = 0;
		serve_one(&app, &r);
		FCGX_Finish_r(&r);
		arena_reset(app.arena);
		served++;
		idle_since = time_mono_us();
	}
	FCGX_Free(&r, 1);
	server_app_free(&app);
	return 0;
}
