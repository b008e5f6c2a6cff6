/* profile.c — name, password change, account deletion. */
#include "handlers.h"
#include "tollgate/billing.h"
#include "tollgate/db.h"
#include "tollgate/litellm.h"
#include "tollgate/mail.h"
#include "tollgate/password.h"
#include "tollgate/status.h"

#include <string.h>

/* Names are trimmed; at most 100 characters, no control characters (account.h). */
static const char *normal_name(struct arena *a, const char **v)
{
	char *clean;
	const char *why = account_normalize_name(a, *v, &clean);
	if (!why)
		*v = clean;
	return why;
}

const struct valid_field api_profile_fields[] = {
	{.name = "name", .type = VALID_STRING, .check = normal_name},
	{0},
};

/* PATCH: a field not sent is kept, so {} answers the profile unchanged. */
HANDLER(api_profile_update)
{
	const struct valid_value *name = &req->values[0];
	if (!name->present)
		return http_res_json(res, req->arena, 200, account_user_json(app->me));
	struct account_client cl = api_client(req);
	struct account_user u;
	int rc = account_update_name(app->db, req->arena, req->user_id, name->str, &cl, &u);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 200, account_user_json(&u));
}


enum { CHANGE_CURRENT, CHANGE_NEW };
const struct valid_field api_change_password_fields[] = {
	[CHANGE_CURRENT] = {.name = "current_password", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW},
	[CHANGE_NEW] = {.name = "new_password", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW},
	{0},
};

HANDLER(api_change_password)
{
	const char *current = req->values[CHANGE_CURRENT].str, *fresh = req->values[CHANGE_NEW].str;
	const struct account_user *me = app->me;
	const char *why = password_check_rules(fresh, me->email);
	if (why)
		return api_field_error(res, req, "new_password", why);
	const char *email;
	if (!api_recheck_password(app, req, res, "current_password", current, &email))
		return;
	if (!strcmp(current, fresh))
		return api_field_error(res, req, "new_password", "must differ from the current password");
	char *hash;
	if (password_hash(api_hasher(app), req->arena, fresh, &hash) != TG_OK)
		return api_fail(res, req, TG_EINTERNAL);
	struct account_client cl = api_client(req);
	int rc = db_begin(app->db);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	rc = account_change_password(app->db, req->arena, req->user_id, hash, req->session_id, &cl);
	if (rc == TG_OK)
		rc = mail_queue_password_changed(app->db, req->arena, app->cfg, account_recipient(req->arena, me));
	rc = db_finish(app->db, rc);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_empty(res, 204);
}

const struct valid_field api_delete_account_fields[] = {
	{.name = "password", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_RAW},
	{0},
};

HANDLER(api_delete_account)
{
	const char *password = req->values[0].str;
	const char *email;
	if (!api_recheck_password(app, req, res, "password", password, &email))
		return;
	/* Stop the billing first: an account must never be gone while its subscription goes on. */
	struct deadline dl = api_deadline(app, req);
	int rc = billing_cancel_all(app->db, req->arena, app->cfg, &dl, req->user_id);
	if (rc == TG_EUNAVAIL) {
		http_res_header(res, req->arena, "Retry-After", "60");
		return http_res_problem(res, req, 503, "billing_unavailable",
					"Your subscription could not be canceled right now; nothing was deleted. Try again shortly.");
	}
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	struct account_client cl = api_client(req);
	if ((rc = db_begin(app->db)) != TG_OK)
		return api_fail(res, req, rc);
	rc = litellm_queue_delete(app->db, req->arena, req->user_id);
	if (rc == TG_OK)
		rc = mail_forget_user(app->db, req->arena, req->user_id);
	if (rc == TG_OK)
		rc = account_delete(app->db, req->arena, req->user_id, &cl);
	rc = db_finish(app->db, rc == TG_ENOTFOUND ? TG_OK : rc); /* already gone: done */
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	api_clear_refresh_cookie(res, req);
	http_res_empty(res, 204);
}
