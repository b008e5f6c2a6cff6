/* auth_common.c — what every accounts route shares: the bearer check, token responses. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/mem.h"
#include "tollgate/config.h"
#include "tollgate/password.h"
#include "tollgate/principal.h"
#include "tollgate/session.h"
#include "tollgate/settings.h"
#include "tollgate/status.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REFRESH_COOKIE "tg_refresh"
#define REFRESH_COOKIE_PATH "/api/auth"

struct password_hasher *api_hasher(struct app *app)
{
	if (!app->auth->hasher)
		app->auth->hasher = password_hasher_new(app->cfg->bcrypt_cost);
	return app->auth->hasher;
}

struct account_throttle api_throttle(const struct app *app)
{
	struct account_throttle th = {app->cfg->login_max_failures, app->cfg->login_failure_window,
				      app->cfg->login_lockout_base, app->cfg->login_lockout_max};
	return th;
}

struct account_client api_client(const struct http_req *req)
{
	struct account_client cl = {req->client_ip ? req->client_ip : "", req->user_agent ? req->user_agent : ""};
	return cl;
}

int api_authenticate(struct app *app, struct http_req *req)
{
	if (app->me)
		return TG_OK; /* already, for this request */
	const char *h = req->authorization;
	if (!h || strncasecmp(h, "Bearer ", 7))
		return TG_EAUTH;
	const char *tok = h + 7;
	while (*tok == ' ')
		tok++;
	struct token_claims c;
	if (token_verify(app->auth->key, req->arena, tok, time(NULL), &c) != TG_OK)
		return TG_EAUTH;
	struct account_user *u = arena_alloc(req->arena, sizeof(*u));
	int rc = principal_get(app->auth->principals, req->arena, c.sid, c.sub, u);
	if (rc != TG_OK)
		return rc;
	req->user_id = u->id;
	req->session_id = c.sid;
	req->user_role = u->role;
	app->me = u;
	return TG_OK;
}

/* Checks password against the user's stored hash, counted by the login throttle (an access
 * token must not become a way to guess the password). Answers and returns false when it cannot,
 * when the account is throttled (429) or the password is wrong (422 on field). */
bool api_recheck_password(struct app *app, struct http_req *req, struct http_res *res, const char *field,
			     const char *password, const char **email)
{
	const char *hash;
	int rc = account_password_of(app->db, req->arena, req->user_id, &hash, email);
	struct account_throttle th = api_throttle(app);
	int locked = 0;
	if (rc == TG_OK)
		rc = account_throttle_attempt(app->db, req->arena, *email, &th, &locked);
	if (rc != TG_OK) {
		api_fail(res, req, rc);
		return false;
	}
	if (locked > 0) {
		api_too_many(res, req, locked, "Too many wrong passwords; try again later.");
		return false;
	}
	if (!password_verify(api_hasher(app), password, hash)) {
		struct account_client cl = api_client(req);
		account_login_failed(app->db, req->arena, *email, req->user_id, &cl);
		api_field_error(res, req, field, "is incorrect");
		return false;
	}
	if ((rc = account_throttle_clear(app->db, req->arena, *email)) != TG_OK) {
		api_fail(res, req, rc);
		return false;
	}
	return true;
}

void api_clear_refresh_cookie(struct http_res *res, struct http_req *req)
{
	http_res_cookie(res, req->arena, REFRESH_COOKIE, "", REFRESH_COOKIE_PATH, 0);
}

void api_send_tokens(struct app *app, struct http_req *req, struct http_res *res, int status,
		     const struct account_user *u, const struct account_tokens *t, bool body_mode)
{
	char *access = NULL;
	int rc = token_issue(app->auth->key, req->arena, u->id, t->session_id, u->role, time(NULL), &access);
	if (rc != TG_OK) {
		api_fail(res, req, rc);
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "access_token", json_object_new_string(access));
	json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
	json_object_object_add(o, "expires_in", json_object_new_int(app->cfg->access_token_ttl));
	if (body_mode)
		json_object_object_add(o, "refresh_token", json_object_new_string(t->refresh_token));
	else
		http_res_cookie(res, req->arena, REFRESH_COOKIE, t->refresh_token, REFRESH_COOKIE_PATH,
				app->cfg->refresh_token_ttl);
	json_object_object_add(o, "user", api_user_json(app, u));
	api_no_store(res, req);
	http_res_json(res, req->arena, status, o);
}

const char *api_terms_version(struct app *app)
{
	const struct settings *st;
	return settings_get(app->settings, &st) == TG_OK ? st->terms_version : "";
}

json_object *api_user_json(struct app *app, const struct account_user *u)
{
	return account_user_json(u, api_terms_version(app));
}

int api_auth_init(struct app *app)
{
	app->auth = mem_calloc(1, sizeof(*app->auth));
	struct token_key *k = mem_calloc(1, sizeof(*k));
	k->secret = (const unsigned char *)app->cfg->jwt_secret;
	k->secret_len = strlen(app->cfg->jwt_secret);
	k->issuer = app->cfg->jwt_issuer;
	k->audience = app->cfg->jwt_audience;
	k->ttl = app->cfg->access_token_ttl;
	app->auth->key = k;
	app->auth->principals =
		principal_cache_new(app->db, app->cfg->principal_cache_entries, app->cfg->principal_cache_ttl);
	return TG_OK;
}

void api_auth_free(struct app *app)
{
	if (!app->auth)
		return;
	password_hasher_free(app->auth->hasher);
	principal_cache_free(app->auth->principals);
	free(app->auth->key);
	free(app->auth);
	app->auth = NULL;
}
