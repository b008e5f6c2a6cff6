/* accounts.c — register, login, refresh, logout, logout-all, me. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/log.h"
#include "tollgate/mail.h"
#include "tollgate/password.h"
#include "tollgate/session.h"
#include "tollgate/settings.h"
#include "tollgate/status.h"

#include <stdio.h>
#include <string.h>

#define REFRESH_COOKIE "tg_refresh"

static const char *const session_modes[] = {"cookie", "body", NULL};
#define SESSION_FIELD {.name = "session", .type = VALID_ENUM, .choices = session_modes}

/* Email addresses are stored trimmed and lower-cased. */
static const char *normal_email(struct arena *a, const char **v)
{
	char *e = account_normalize_email(a, *v);
	if (!e)
		return "must be a valid email address";
	*v = e;
	return NULL;
}

static const char *normal_name(struct arena *a, const char **v)
{
	char *clean;
	const char *why = account_normalize_name(a, *v, &clean);
	if (!why)
		*v = clean;
	return why;
}

enum { REG_EMAIL, REG_PASSWORD, REG_NAME, REG_SESSION };
const struct valid_field api_register_fields[] = {
	[REG_EMAIL] = {.name = "email", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_TRIM, .check = normal_email},
	[REG_PASSWORD] = {.name = "password", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW},
	[REG_NAME] = {.name = "name", .type = VALID_STRING, .flags = VALID_NULLABLE, .check = normal_name},
	[REG_SESSION] = SESSION_FIELD,
	{0},
};

/* The session mode of a token response: the one asked for, else dflt_body. */
static bool body_mode_of(const struct valid_value *v, bool dflt_body)
{
	return v->str ? !strcmp(v->str, "body") : dflt_body;
}

HANDLER(api_register)
{
	const struct valid_value *v = req->values;
	const struct settings *st;
	int rc = settings_get(app->settings, &st);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	if (!app->cfg->registration_open || !st->registration_open)
		return http_res_problem(res, req, 403, "registration_closed", "Registration is currently closed.");
	const char *email = v[REG_EMAIL].str, *password = v[REG_PASSWORD].str;
	const char *why = password_check_rules(password, email);
	if (why)
		return api_field_error(res, req, "password", why);

	struct account_client cl = api_client(req);
	int retry;
	char *key = arena_printf(req->arena, "register:%s", cl.ip);
	if ((rc = account_rate_limit(app->db, req->arena, key, app->cfg->register_ip_limit, 3600, &retry)) != TG_OK)
		return api_fail(res, req, rc);
	if (retry > 0)
		return api_too_many(res, req, retry, "Too many registrations from this address; try again later.");

	char *hash;
	if (password_hash(api_hasher(app), req->arena, password, &hash) != TG_OK)
		return api_fail(res, req, TG_EINTERNAL);
	struct account_user u;
	struct account_tokens t;
	if ((rc = db_begin(app->db)) != TG_OK)
		return api_fail(res, req, rc);
	rc = account_register(app->db, req->arena, email, v[REG_NAME].str ? v[REG_NAME].str : "", hash,
			      app->cfg->refresh_token_ttl, &cl, &u, &t);
	if (rc == TG_OK)
		rc = account_queue_verification(app->db, req->arena, app->cfg, &u);
	rc = db_finish(app->db, rc);
	if (rc == TG_ECONFLICT)
		return http_res_problem(res, req, 409, "email_taken", "An account with this email already exists.");
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	req->user_id = u.id;
	api_send_tokens(app, req, res, 201, &u, &t, body_mode_of(&v[REG_SESSION], false));
}

enum { LOGIN_EMAIL, LOGIN_PASSWORD, LOGIN_SESSION };
const struct valid_field api_login_fields[] = {
	/* no address check here: a malformed one answers like a wrong password */
	[LOGIN_EMAIL] = {.name = "email", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW},
	[LOGIN_PASSWORD] = {.name = "password", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW},
	[LOGIN_SESSION] = SESSION_FIELD,
	{0},
};

HANDLER(api_login)
{
	const struct valid_value *v = req->values;
	const char *email_in = v[LOGIN_EMAIL].str, *password = v[LOGIN_PASSWORD].str;
	bool body_mode = body_mode_of(&v[LOGIN_SESSION], false);
	struct password_hasher *h = api_hasher(app);

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
	if (lg.user.mfa_enabled) {
		/* the password was right: the code step follows; wrong codes count toward the throttle */
		if ((rc = account_throttle_clear(app->db, req->arena, email)) != TG_OK)
			return api_fail(res, req, rc);
		return api_mfa_challenge(app, req, res, &lg.user);
	}

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

enum { REFRESH_TOKEN, REFRESH_SESSION };
const struct valid_field api_refresh_fields[] = {
	[REFRESH_TOKEN] = {.name = "refresh_token", .type = VALID_STRING, .flags = VALID_NULLABLE | VALID_RAW},
	[REFRESH_SESSION] = SESSION_FIELD,
	{0},
};
const struct valid_field api_logout_fields[] = {
	[REFRESH_TOKEN] = {.name = "refresh_token", .type = VALID_STRING, .flags = VALID_NULLABLE | VALID_RAW},
	{0},
};

/* The refresh token of a refresh/logout call: the body's, else the cookie's. A cookie is only
 * accepted when the request's Origin (if any) is our own. */
static bool refresh_token_of(struct app *app, struct http_req *req, struct http_res *res, const char **token,
			     bool *from_cookie)
{
	*from_cookie = false;
	*token = req->values[REFRESH_TOKEN].str;
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
	const char *token;
	bool from_cookie;
	if (!refresh_token_of(app, req, res, &token, &from_cookie))
		return;
	/* a token sent in the body comes back in the body (an API client has no cookie jar) */
	bool body_mode = body_mode_of(&req->values[REFRESH_SESSION], !from_cookie && token);
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
	const char *token;
	bool from_cookie;
	if (!refresh_token_of(app, req, res, &token, &from_cookie))
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
	http_res_json(res, req->arena, 200, account_user_json(app->me));
}
