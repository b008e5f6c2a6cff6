/* app.h — what one worker process holds for its whole life, handed to every handler. */
#ifndef TOLLGATE_APP_H
#define TOLLGATE_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct arena;
struct db;
struct router;
struct tg_config;
struct http_req;
struct http_res;
struct route;

struct app {
	const struct tg_config *cfg;
	struct db *db;
	struct router *router;
	struct arena *arena;        /* the current request's arena */
	int migrations_expected;    /* files in data_dir/sql at start */
	time_t started_at;
	const char *pool;           /* "main", "password" or "jobs" */
	struct auth_state *auth;    /* password hashing scratch, JWT key */
	long long last_periodic_us;  /* jobs worker: when the periodic jobs last ran */
};

/* Creates the process's router and area state. Returns TG_OK or a status. */
int api_init(struct app *app);
void api_free(struct app *app);
/* The API's route table (static storage) and its length in *n: what api_init compiles, for
 * tools and tests that route without a worker. */
const struct route *api_routes(size_t *n);
/* Runs one request: CORS, routing, method/content-type/auth checks, the handler. */
void api_dispatch(struct app *app, struct http_req *req, struct http_res *res);

#define TOLLGATE_VERSION_STRING TOLLGATE_VERSION

#endif
