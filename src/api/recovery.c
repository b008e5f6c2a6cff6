/* recovery.c — forgot/reset password, email verification, resend. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/mail.h"
#include "tollgate/password.h"
#include "tollgate/status.h"

#include <string.h>

static void invalid_token(struct http_res *res, struct http_req *req)
{
	http_res_problem(res, req, 400, "invalid_token", "This link is invalid, expired or already used.");
}

static const char *normal_email(struct arena *a, const char **v)
{
	char *e = account_normalize_email(a, *v);
	if (!e)
		return "must be a valid email address";
	*v = e;
	return NULL;
}

const struct valid_field api_forgot_fields[] = {
	{.name = "email", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_TRIM, .check = normal_email},
	{0},
};

HANDLER(api_forgot_password)
{
	const char *email = req->values[0].str;
	int retry;
	char *key = arena_printf(req->arena, "forgot:%s", req->client_ip);
	int rc = account_rate_limit(app->db, req->arena, key, app->cfg->forgot_ip_limit, 3600, &retry);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	if (retry > 0)
		return api_too_many(res, req, retry, "Too many reset requests from this address; try again later.");
	/* Known or not, the request only queues a job: same answer, same cost. */
	rc = account_queue_reset_request(app->db, req->arena, email);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("accepted"));
	json_object_object_add(o, "message",
			       json_object_new_string("If an account exists for this email, a reset link is on its way."));
	http_res_json(res, req->arena, 202, o);
}

enum { RESET_TOKEN, RESET_PASSWORD };
const struct valid_field api_reset_fields[] = {
	[RESET_TOKEN] = {.name = "token", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW},
	[RESET_PASSWORD] = {.name = "password", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW},
	{0},
};

HANDLER(api_reset_password)
{
	const char *token = req->values[RESET_TOKEN].str, *password = req->values[RESET_PASSWORD].str;
	struct account_user u;
	int rc = account_token_user(app->db, req->arena, ACCOUNT_TOKEN_RESET, token, &u);
	if (rc == TG_ENOTFOUND)
		return invalid_token(res, req);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	const char *why = password_check_rules(password, u.email);
	if (why)
		return api_field_error(res, req, "password", why);
	char *hash;
	if (password_hash(api_hasher(app), req->arena, password, &hash) != TG_OK)
		return api_fail(res, req, TG_EINTERNAL);
	struct account_client cl = api_client(req);
	if ((rc = db_begin(app->db)) != TG_OK)
		return api_fail(res, req, rc);
	bool verified_now = false;
	rc = account_reset_password(app->db, req->arena, token, hash, &cl, &u, &verified_now);
	if (rc == TG_OK)
		rc = mail_queue_password_changed(app->db, req->arena, app->cfg, account_recipient(req->arena, &u));
	if (rc == TG_OK && verified_now) /* proving the mailbox through a reset verifies it too */
		rc = mail_queue_welcome(app->db, req->arena, app->cfg, account_recipient(req->arena, &u));
	rc = db_finish(app->db, rc);
	if (rc == TG_ENOTFOUND)
		return invalid_token(res, req); /* used by a concurrent request in between */
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	req->user_id = u.id;
	api_clear_refresh_cookie(res, req);
	http_res_empty(res, 204);
}

const struct valid_field api_reset_check_fields[] = {
	{.name = "token", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW},
	{0},
};

/* Whether a reset link still works, before the user types a new password; consumes nothing. */
HANDLER(api_reset_check)
{
	struct account_user u;
	int rc = account_token_user(app->db, req->arena, ACCOUNT_TOKEN_RESET, req->values[0].str, &u);
	if (rc == TG_ENOTFOUND)
		return invalid_token(res, req);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_empty(res, 204);
}

const struct valid_field api_verify_fields[] = {
	{.name = "token", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW},
	{0},
};

HANDLER(api_verify_email)
{
	const char *token = req->values[0].str;
	struct account_client cl = api_client(req);
	struct account_user u;
	bool fresh;
	int rc = db_begin(app->db);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	rc = account_verify_email(app->db, req->arena, token, &cl, &u, &fresh);
	if (rc == TG_OK && fresh)
		rc = mail_queue_welcome(app->db, req->arena, app->cfg, account_recipient(req->arena, &u));
	rc = db_finish(app->db, rc);
	if (rc == TG_ENOTFOUND)
		return invalid_token(res, req);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	req->user_id = u.id;
	api_no_store(res, req);
	http_res_json(res, req->arena, 200, api_user_json(app, &u));
}

HANDLER(api_resend_verification)
{
	const struct account_user *me = app->me;
	if (me->email_verified)
		return http_res_problem(res, req, 409, "conflict", "This email address is already verified.");
	int retry;
	char *key = arena_printf(req->arena, "resend:%s", me->id);
	int rc = account_rate_limit(app->db, req->arena, key, 1, app->cfg->resend_interval, &retry);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	if (retry > 0)
		return api_too_many(res, req, retry, "A verification email was just sent; try again in a minute.");
	if ((rc = db_begin(app->db)) != TG_OK)
		return api_fail(res, req, rc);
	rc = account_queue_verification(app->db, req->arena, app->cfg, me);
	rc = db_finish(app->db, rc);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("accepted"));
	http_res_json(res, req->arena, 202, o);
}
