/* app.h — what one worker process holds for its whole life, handed to every handler. */
#ifndef TOLLGATE_APP_H
#define TOLLGATE_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct account_user;
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
	const struct account_user *me; /* the current request's signed-in user (NULL when none) */
	int migrations_expected;    /* files in data_dir/sql at start */
	time_t started_at;
	const char *pool;           /* "main", "password" or "jobs" */
	struct auth_state *auth;    /* password hashing scratch, JWT key */
	struct settings_cache *settings; /* the operators' settings, kept fresh by NOTIFY */
};

/* Creates the process's router and area state. Returns TG_OK or a status. */
int api_init(struct app *app);
void api_free(struct app *app);
/* The API's route table (static storage); *n gets its length. */
const struct route *api_routes(size_t *n);
/* A route flagged ROUTE_LARGE_BODY takes bodies up to this (a 1 MiB document in its JSON). */
#define API_LARGE_BODY_BYTES (2LL * 1024 * 1024)
/* The body limit of req's route (max_body_bytes, or more for ROUTE_LARGE_BODY routes). */
long long api_body_limit(struct app *app, struct http_req *req);
/* Runs one request: CORS, routing, method/content-type/auth checks, the handler. */
void api_dispatch(struct app *app, struct http_req *req, struct http_res *res);

#define TOLLGATE_VERSION_STRING TOLLGATE_VERSION

#endif
