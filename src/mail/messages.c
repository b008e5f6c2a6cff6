/* messages.c — the product's messages: what each one says and which tokens it carries. */
#include "tollgate/account.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/mail.h"
#include "tollgate/notify.h"
#include "tollgate/status.h"

json_object *mail_vars(const struct tg_config *cfg, const struct account_user *u)
{
	json_object *v = json_object_new_object();
	json_object_object_add(v, "app_name", json_object_new_string(cfg->app_name));
	json_object_object_add(v, "origin", json_object_new_string(cfg->public_origin));
	json_object_object_add(v, "email", json_object_new_string(u->email));
	json_object_object_add(v, "name", json_object_new_string(u->name && *u->name ? u->name : u->email));
	return v;
}

static int queue_with_link(struct db *db, struct arena *a, const struct tg_config *cfg,
			   const struct account_user *u, const char *kind, const char *link)
{
	json_object *v = mail_vars(cfg, u);
	if (link)
		json_object_object_add(v, "link", json_object_new_string(link));
	int rc = mail_enqueue(db, a, kind, u->email, u->id, v);
	json_object_put(v);
	return rc;
}

static int queue_token_link(struct db *db, struct arena *a, const struct tg_config *cfg,
			    const struct account_user *u, const char *token_kind, int ttl, const char *page,
			    const char *mail_kind)
{
	char *token;
	int rc = account_token_issue(db, a, u->id, token_kind, ttl, &token);
	if (rc != TG_OK)
		return rc;
	char *link = arena_printf(a, "%s/%s?token=%s", cfg->public_origin, page, token);
	if (!link)
		return TG_ENOMEM;
	return queue_with_link(db, a, cfg, u, mail_kind, link);
}

int mail_queue_verification(struct db *db, struct arena *a, const struct tg_config *cfg,
			    const struct account_user *u)
{
	return queue_token_link(db, a, cfg, u, ACCOUNT_TOKEN_VERIFY, cfg->verify_token_ttl, "verify-email",
				MAIL_VERIFY_EMAIL);
}

int mail_queue_password_reset(struct db *db, struct arena *a, const struct tg_config *cfg,
			      const struct account_user *u)
{
	return queue_token_link(db, a, cfg, u, ACCOUNT_TOKEN_RESET, cfg->reset_token_ttl, "reset-password",
				MAIL_PASSWORD_RESET);
}

int mail_queue_password_changed(struct db *db, struct arena *a, const struct tg_config *cfg,
				const struct account_user *u)
{
	char *link = arena_printf(a, "%s/forgot-password", cfg->public_origin);
	int rc = queue_with_link(db, a, cfg, u, MAIL_PASSWORD_CHANGED, link);
	if (rc != TG_OK)
		return rc;
	return notify_create(db, a, u->id, "password_changed", "Your password was changed",
			     "If this wasn't you, reset your password now and review your sessions.", "/profile");
}

int mail_queue_welcome(struct db *db, struct arena *a, const struct tg_config *cfg, const struct account_user *u)
{
	char *title = arena_printf(a, "Welcome to %s", cfg->app_name);
	int rc = notify_create(db, a, u->id, "welcome", title ? title : "Welcome",
			       "Your email is verified. Pick a plan or start with the free one.", "/app");
	if (rc != TG_OK)
		return rc;
	struct notify_prefs prefs;
	if ((rc = notify_prefs_get(db, a, u->id, &prefs)) != TG_OK)
		return rc;
	if (!prefs.product_updates)
		return TG_OK;
	char *link = arena_printf(a, "%s/app", cfg->public_origin);
	return queue_with_link(db, a, cfg, u, MAIL_WELCOME, link);
}
