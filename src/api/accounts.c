/* accounts.c — register, login, refresh, logout, logout-all, me. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/log.h"
#include "tollgate/mail.h"
#include "tollgate/password.h"
#include "tollgate/session.h"
#include "tollgate/status.h"

#include <stdio.h>
#include <string.h>

#define REFRESH_COOKIE "tg_refresh"

/* "session": "cookie" (default) | "body". Returns false (and answers 422) when invalid. */
static bool session_mode(struct http_req *req, struct http_res *res, json_object *body, bool dflt_body,
			 bool *body_mode)
{
	const char *mode;
	*body_mode = dflt_body;
	if (!body)
		return true;
	if (!api_json_string(body, "session", &mode) || (mode && strcmp(mode, "cookie") && strcmp(mode, "body"))) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "session", json_object_new_string("must be \"cookie\" or \"body\""));
		http_res_invalid(res, req, e);
		return false;
	}
	if (mode)
		*body_mode = !strcmp(mode, "body");
	return true;
}

/* Reads a required string field; records "is required" / "must be a string" in errors. */
static const char *required_string(json_object *body, const char *key, json_object *errors)
{
	const char *v;
	if (!api_json_string(body, key, &v)) {
		json_object_object_add(errors, key, json_object_new_string("must be a string"));
		return NULL;
	}
	if (!v || !*v) {
		json_object_object_add(errors, key, json_object_new_string("is required"));
		return NULL;
	}
	return v;
}

/* Answers 422 with errors when it has any entries; takes errors either way. */
static bool reject_if_errors(struct http_res *res, struct http_req *req, json_object *errors)
{
	if (json_object_object_length(errors) == 0) {
		json_object_put(errors);
		return false;
	}
	http_res_invalid(res, req, errors);
	return true;
}

HANDLER(api_register)
{
	json_object *body;
	http_req_json(req, &body);
	bool body_mode;
	if (!session_mode(req, res, body, false, &body_mode))
		return;

	bool open = app->cfg->registration_open;
	int rc = open ? account_registration_open(app->db, &open) : TG_OK;
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	if (!open)
		return http_res_problem(res, req, 403, "registration_closed", "Registration is currently closed.");

	json_object *errors = json_object_new_object();
	const char *email_in = required_string(body, "email", errors);
	const char *password = required_string(body, "password", errors);
	const char *name = NULL;
	char *email = NULL;
	if (email_in && !(email = account_normalize_email(req->arena, email_in)))
		json_object_object_add(errors, "email", json_object_new_string("must be a valid email address"));
	if (password) {
		const char *why = password_check_rules(password, email);
		if (why)
			json_object_object_add(errors, "password", json_object_new_string(why));
	}
	char *clean_name = NULL;
	if (!api_json_string(body, "name", &name))
		json_object_object_add(errors, "name", json_object_new_string("must be a string"));
	else if (name) {
		const char *why = account_normalize_name(req->arena, name, &clean_name);
		if (why)
			json_object_object_add(errors, "name", json_object_new_string(why));
	}
	if (reject_if_errors(res, req, errors))
		return;

	struct account_client cl = api_client(req);
	int retry;
	char *key = arena_printf(req->arena, "register:%s", cl.ip);
	if ((rc = account_rate_limit(app->db, req->arena, key, app->cfg->register_ip_limit, 3600, &retry)) != TG_OK)
		return api_fail(res, req, rc);
	if (retry > 0)
		return api_too_many(res, req, retry, "Too many registrations from this address; try again later.");

	struct password_hasher *h = api_hasher(app);
	char *hash;
	if (!h || password_hash(h, req->arena, password, &hash) != TG_OK)
		return api_fail(res, req, TG_EINTERNAL);
	struct account_user u;
	struct account_tokens t;
	if ((rc = db_begin(app->db)) != TG_OK)
		return api_fail(res, req, rc);
	rc = account_register(app->db, req->arena, email, clean_name ? clean_name : "", hash,
			      app->cfg->refresh_token_ttl, &cl, &u, &t);
	if (rc == TG_OK)
		rc = account_queue_verification(app->db, req->arena, app->cfg, &u);
	rc = db_finish(app->db, rc);
	if (rc == TG_ECONFLICT)
		return http_res_problem(res, req, 409, "email_taken", "An account with this email already exists.");
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	req->user_id = u.id;
	api_send_tokens(app, req, res, 201, &u, &t, body_mode);
}

HANDLER(api_login)
{
	json_object *body;
	http_req_json(req, &body);
	bool body_mode;
	if (!session_mode(req, res, body, false, &body_mode))
		return;
	json_object *errors = json_object_new_object();
	const char *email_in = required_string(body, "email", errors);
	const char *password = required_string(body, "password", errors);
	if (reject_if_errors(res, req, errors))
		return;
	struct password_hasher *h = api_hasher(app);
	if (!h)
		return api_fail(res, req, TG_ENOMEM);

	/* A malformed address cannot belong to anyone: same answer and cost as a wrong password. */
	char *email = account_normalize_email(req->arena, email_in);
	struct account_login lg = {0};
	struct account_throttle th = api_throttle(app);
	int rc;
	if (email && (rc = account_login_lookup(app->db, req->arena, email, &th, &lg)) != TG_OK)
		return api_fail(res, req, rc);
	if (lg.locked_seconds > 0)
		return api_too_many(res, req, lg.locked_seconds, "Too many failed sign-in attempts; try again later.");

	bool ok = lg.found ? password_verify(h, password, lg.password_hash) : (password_verify_dummy(h, password), false);
	struct account_client cl = api_client(req);
	if (!ok) {
		if (email && (rc = account_login_failed(app->db, req->arena, email, lg.found ? lg.user.id : NULL, &cl)) != TG_OK)
			return api_fail(res, req, rc);
		return http_res_problem(res, req, 401, "invalid_credentials", "The email or password is incorrect.");
	}
	if (lg.suspended)
		return http_res_problem(res, req, 403, "account_suspended", "This account is suspended.");

	char *new_hash = NULL;
	if (password_needs_rehash(h, lg.password_hash) && password_hash(h, req->arena, password, &new_hash) != TG_OK)
		new_hash = NULL; /* the old hash still works: upgrade next time */
	struct account_tokens t;
	rc = account_login_succeeded(app->db, req->arena, lg.user.id, email, new_hash, app->cfg->refresh_token_ttl,
				     &cl, &t);
	if (rc != TG_OK) {
		/* the password was right: our failure must not count toward the lockout */
		account_throttle_clear(app->db, req->arena, email);
		return api_fail(res, req, rc);
	}
	req->user_id = lg.user.id;
	api_send_tokens(app, req, res, 200, &lg.user, &t, body_mode);
}

/* The refresh token of a refresh/logout call: the body's, else the cookie's. A cookie is
 * only accepted when the request's Origin (if any) is our own. */
static bool refresh_token_of(struct app *app, struct http_req *req, struct http_res *res, json_object *body,
			     const char **token, bool *from_cookie)
{
	*from_cookie = false;
	*token = NULL;
	if (body && !api_json_string(body, "refresh_token", token)) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "refresh_token", json_object_new_string("must be a string"));
		http_res_invalid(res, req, e);
		return false;
	}
	if (*token && **token)
		return true;
	*token = http_req_cookie(req, REFRESH_COOKIE);
	if (*token && !**token)
		*token = NULL;
	if (*token) {
		*from_cookie = true;
		if (req->origin && strcmp(req->origin, app->cfg->public_origin)) {
			http_res_problem(res, req, 403, "forbidden", "Cross-origin cookie requests are refused.");
			return false;
		}
	}
	return true;
}

HANDLER(api_refresh)
{
	json_object *body = NULL;
	if (req->body_len)
		http_req_json(req, &body);
	const char *token;
	bool from_cookie;
	if (!refresh_token_of(app, req, res, body, &token, &from_cookie))
		return;
	bool body_mode;
	if (!session_mode(req, res, body, !from_cookie && token, &body_mode))
		return;
	api_no_store(res, req);
	if (!token)
		return http_res_problem(res, req, 401, "unauthorized", "No refresh token was presented.");
	enum session_refresh_result result;
	struct account_user u;
	struct account_tokens t;
	struct account_client cl = api_client(req);
	int rc = session_refresh(app->db, req->arena, app->auth->key->secret, app->auth->key->secret_len, token,
				 app->cfg->refresh_token_ttl, app->cfg->refresh_reuse_interval, &cl, &result, &u, &t);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	switch (result) {
	case SESSION_REFRESHED:
		req->user_id = u.id;
		return api_send_tokens(app, req, res, 200, &u, &t, body_mode);
	case SESSION_REUSED:
		log_warn("refresh token reuse detected; session revoked (ip %s)", cl.ip);
		if (from_cookie)
			api_clear_refresh_cookie(res, req);
		return http_res_problem(res, req, 401, "refresh_token_reused",
					"This refresh token was already used; the session has been revoked.");
	case SESSION_SUSPENDED:
		return http_res_problem(res, req, 403, "account_suspended", "This account is suspended.");
	case SESSION_INVALID:
		break;
	}
	if (from_cookie)
		api_clear_refresh_cookie(res, req);
	http_res_problem(res, req, 401, "unauthorized", "The refresh token is invalid or expired.");
}

HANDLER(api_logout)
{
	json_object *body = NULL;
	if (req->body_len)
		http_req_json(req, &body);
	const char *token;
	bool from_cookie;
	if (!refresh_token_of(app, req, res, body, &token, &from_cookie))
		return;
	struct account_client cl = api_client(req);
	int rc = TG_OK;
	if (token) {
		rc = session_logout_token(app->db, req->arena, token, &cl);
	} else if (req->authorization && api_authenticate(app, req) == TG_OK) {
		rc = session_revoke(app->db, req->arena, req->user_id, req->session_id, "user.logout", &cl);
		if (rc == TG_ENOTFOUND)
			rc = TG_OK;
	}
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	api_clear_refresh_cookie(res, req);
	http_res_empty(res, 204);
}

HANDLER(api_logout_all)
{
	struct account_client cl = api_client(req);
	int rc = session_revoke_all(app->db, req->arena, req->user_id, &cl);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	api_clear_refresh_cookie(res, req);
	http_res_empty(res, 204);
}

HANDLER(api_me)
{
	(void)app;
	http_res_json(res, req->arena, 200, account_user_json(req->principal));
}
