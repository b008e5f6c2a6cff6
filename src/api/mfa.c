/* mfa.c — two-factor sign-in: TOTP setup, enable, disable, recovery codes, and the login's code
 * step (API.md, "Two-factor"). Every change emails a security notice. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/mail.h"
#include "tollgate/mfa.h"
#include "tollgate/qr.h"
#include "tollgate/status.h"

#include <string.h>
#include <time.h>

#define MFA_CODE_FIELD(n) {.name = n, .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_TRIM, .max = 32}
#define MFA_PASSWORD_FIELD {.name = "password", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW}

static bool configured(struct app *app, struct http_req *req, struct http_res *res)
{
	if (mfa_configured(app->cfg))
		return true;
	http_res_problem(res, req, 503, "unavailable", "Two-factor sign-in is not configured on this server.");
	return false;
}

/* The security notice of a change, in the change's transaction. */
static int notice(struct app *app, struct http_req *req, const char *change)
{
	return mail_queue_security_notice(app->db, req->arena, app->cfg, account_recipient(req->arena, app->me), change);
}

static void send_codes(struct http_res *res, struct http_req *req, json_object *codes)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "recovery_codes", codes);
	api_no_store(res, req);
	http_res_json(res, req->arena, 200, o);
}

const struct valid_field api_mfa_setup_fields[] = {
	MFA_PASSWORD_FIELD,
	{0},
};

HANDLER(api_mfa_setup)
{
	if (!configured(app, req, res))
		return;
	const char *email;
	if (!api_recheck_password(app, req, res, "password", req->values[0].str, &email))
		return;
	char *secret, *uri;
	int rc = mfa_setup(app->db, req->arena, app->cfg, req->user_id, email, &secret, &uri);
	if (rc == TG_ECONFLICT)
		return http_res_problem(res, req, 409, "conflict", "Two-factor sign-in is already on; turn it off first.");
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "secret", json_object_new_string(secret));
	json_object_object_add(o, "otpauth_uri", json_object_new_string(uri));
	char *svg = qr_svg(req->arena, uri);
	json_object_object_add(o, "qr_svg", svg ? json_object_new_string(svg) : NULL);
	api_no_store(res, req);
	http_res_json(res, req->arena, 200, o);
}

const struct valid_field api_mfa_enable_fields[] = {
	MFA_CODE_FIELD("code"),
	{0},
};

HANDLER(api_mfa_enable)
{
	if (!configured(app, req, res))
		return;
	json_object *codes = NULL;
	int rc = db_begin(app->db);
	if (rc == TG_OK) {
		rc = mfa_enable(app->db, req->arena, app->cfg, req->user_id, req->values[0].str, time(NULL), &codes);
		if (rc == TG_OK)
			rc = notice(app, req, "two-factor sign-in was turned on");
		rc = db_finish(app->db, rc);
	}
	if (rc != TG_OK)
		json_object_put(codes);
	if (rc == TG_EINPUT)
		return api_field_error(res, req, "code", "is not the current code of your authenticator app");
	if (rc == TG_ENOTFOUND)
		return http_res_problem(res, req, 409, "conflict", "Start the setup first.");
	if (rc == TG_ECONFLICT)
		return http_res_problem(res, req, 409, "conflict", "Two-factor sign-in is already on.");
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	send_codes(res, req, codes);
}

const struct valid_field api_mfa_change_fields[] = {
	MFA_PASSWORD_FIELD,
	MFA_CODE_FIELD("code"),
	{0},
};

/* Disabling or renewing takes the password and the current code: the change runs after both are
 * checked, in one transaction with its notice. */
static void change_with_code(struct app *app, struct http_req *req, struct http_res *res, bool disable)
{
	const char *email;
	if (!configured(app, req, res) || !api_recheck_password(app, req, res, "password", req->values[0].str, &email))
		return;
	json_object *codes = NULL;
	int rc = db_begin(app->db);
	if (rc == TG_OK) {
		rc = mfa_verify(app->db, req->arena, app->cfg, req->user_id, req->values[1].str, false, time(NULL));
		if (rc == TG_OK)
			rc = disable ? mfa_disable(app->db, req->arena, req->user_id)
				     : mfa_new_recovery_codes(app->db, req->arena, req->user_id, &codes);
		if (rc == TG_OK)
			rc = notice(app, req, disable ? "two-factor sign-in was turned off" : "new recovery codes were made");
		rc = db_finish(app->db, rc);
	}
	if (rc != TG_OK)
		json_object_put(codes);
	if (rc == TG_EAUTH)
		return api_field_error(res, req, "code", "is not the current code of your authenticator app");
	if (rc == TG_ENOTFOUND)
		return http_res_problem(res, req, 409, "conflict", "Two-factor sign-in is off.");
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	if (disable)
		return http_res_empty(res, 204);
	send_codes(res, req, codes);
}

HANDLER(api_mfa_disable)
{
	change_with_code(app, req, res, true);
}

HANDLER(api_mfa_recovery_codes)
{
	change_with_code(app, req, res, false);
}

/* --- the login's second step --- */

enum { MFA_LOGIN_TOKEN, MFA_LOGIN_CODE, MFA_LOGIN_RECOVERY, MFA_LOGIN_SESSION };
static const char *const session_modes[] = {"cookie", "body", NULL};
const struct valid_field api_login_mfa_fields[] = {
	[MFA_LOGIN_TOKEN] = {.name = "mfa_token", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW, .max = 128},
	[MFA_LOGIN_CODE] = {.name = "code", .type = VALID_STRING, .flags = VALID_TRIM | VALID_NULLABLE, .max = 32},
	[MFA_LOGIN_RECOVERY] = {.name = "recovery_code", .type = VALID_STRING, .flags = VALID_TRIM | VALID_NULLABLE,
				.max = 32},
	[MFA_LOGIN_SESSION] = {.name = "session", .type = VALID_ENUM, .choices = session_modes},
	{0},
};

void api_mfa_challenge(struct app *app, struct http_req *req, struct http_res *res, const struct account_user *u)
{
	char *token;
	int rc = mfa_challenge_new(app->db, req->arena, u->id, &token);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "mfa_required", json_object_new_boolean(1));
	json_object_object_add(o, "mfa_token", json_object_new_string(token));
	json_object *methods = json_object_new_array();
	json_object_array_add(methods, json_object_new_string("totp"));
	json_object_array_add(methods, json_object_new_string("recovery_code"));
	json_object_object_add(o, "methods", methods);
	api_no_store(res, req);
	http_res_json(res, req->arena, 200, o);
}

HANDLER(api_login_mfa)
{
	const struct valid_value *v = req->values;
	const char *code = v[MFA_LOGIN_CODE].str, *recovery = v[MFA_LOGIN_RECOVERY].str;
	if ((code && *code) == (recovery && *recovery)) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "code", json_object_new_string("send a code or a recovery_code"));
		return http_res_invalid(res, req, e);
	}
	if (!configured(app, req, res))
		return;
	const char *token = v[MFA_LOGIN_TOKEN].str, *user_id;
	int rc = mfa_challenge_user(app->db, req->arena, token, &user_id);
	if (rc == TG_ENOTFOUND)
		return http_res_problem(res, req, 401, "unauthorized", "The sign-in has expired; start again with your password.");
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	struct account_user u;
	bool active;
	if ((rc = account_find_by_id(app->db, req->arena, user_id, &u, &active)) != TG_OK)
		return api_fail(res, req, rc == TG_ENOTFOUND ? TG_EAUTH : rc);
	if (!active)
		return http_res_problem(res, req, 403, "account_suspended", "This account is suspended.");
	/* every code tried counts toward the account's login throttle, like a password */
	struct account_throttle th = api_throttle(app);
	int locked = 0;
	if ((rc = account_throttle_attempt(app->db, req->arena, u.email, &th, &locked)) != TG_OK)
		return api_fail(res, req, rc);
	if (locked > 0)
		return api_too_many(res, req, locked, "Too many wrong codes; try again later.");
	struct account_client cl = api_client(req);
	struct account_tokens t;
	if ((rc = db_begin(app->db)) != TG_OK)
		return api_fail(res, req, rc);
	rc = mfa_verify(app->db, req->arena, app->cfg, u.id, code && *code ? code : recovery, !(code && *code), time(NULL));
	if (rc == TG_OK)
		rc = mfa_challenge_use(app->db, req->arena, token);
	if (rc == TG_OK)
		rc = account_login_succeeded(app->db, req->arena, u.id, u.email, NULL, app->cfg->refresh_token_ttl, &cl, &t);
	if (rc == TG_OK && !(code && *code))
		rc = mail_queue_security_notice(app->db, req->arena, app->cfg, account_recipient(req->arena, &u),
						"a recovery code was used to sign in");
	rc = db_finish(app->db, rc);
	if (rc == TG_EAUTH) {
		account_login_failed(app->db, req->arena, u.email, u.id, &cl);
		return http_res_problem(res, req, 401, "invalid_code", "The code is not right; try the current one.");
	}
	if (rc == TG_ENOTFOUND) /* the challenge was used by a parallel attempt */
		return http_res_problem(res, req, 401, "unauthorized", "The sign-in has expired; start again with your password.");
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	req->user_id = u.id;
	bool body_mode = v[MFA_LOGIN_SESSION].str && !strcmp(v[MFA_LOGIN_SESSION].str, "body");
	api_send_tokens(app, req, res, 200, &u, &t, body_mode);
}
