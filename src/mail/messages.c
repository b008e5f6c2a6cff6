/* messages.c — the product's messages: what each one says and which tokens it carries. */
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/jobs.h"
#include "tollgate/mail.h"
#include "tollgate/notify.h"
#include "tollgate/status.h"

#include <string.h>

static json_object *mail_vars(const struct tg_config *cfg, const struct mail_recipient *u)
{
	json_object *v = json_object_new_object();
	json_object_object_add(v, "app_name", json_object_new_string(cfg->app_name));
	json_object_object_add(v, "origin", json_object_new_string(cfg->public_origin));
	json_object_object_add(v, "email", json_object_new_string(u->email));
	json_object_object_add(v, "name", json_object_new_string(u->name && *u->name ? u->name : u->email));
	return v;
}

int mail_queue_link(struct db *db, struct arena *a, const struct tg_config *cfg, const char *kind,
		    const struct mail_recipient *u, const char *link)
{
	json_object *v = mail_vars(cfg, u);
	if (link)
		json_object_object_add(v, "link", json_object_new_string(link));
	int rc = mail_enqueue(db, a, kind, u->email, u->user_id, v);
	json_object_put(v);
	return rc;
}

int mail_queue_password_changed(struct db *db, struct arena *a, const struct tg_config *cfg,
				const struct mail_recipient *u)
{
	char *link = arena_printf(a, "%s/forgot-password", cfg->public_origin);
	int rc = mail_queue_link(db, a, cfg, MAIL_PASSWORD_CHANGED, u, link);
	if (rc != TG_OK)
		return rc;
	return notify_create(db, a, u->user_id, "password_changed", "Your password was changed",
			     "If this wasn't you, reset your password now and review your sessions.", "/profile");
}

int mail_queue_welcome(struct db *db, struct arena *a, const struct tg_config *cfg, const struct mail_recipient *u)
{
	char *title = arena_printf(a, "Welcome to %s", cfg->app_name);
	int rc = notify_create(db, a, u->user_id, "welcome", title ? title : "Welcome",
			       "Your email is verified. Pick a plan or start with the free one.", "/app");
	if (rc != TG_OK)
		return rc;
	struct notify_prefs prefs;
	if ((rc = notify_prefs_get(db, a, u->user_id, &prefs)) != TG_OK)
		return rc;
	if (!prefs.product_updates)
		return TG_OK;
	char *link = arena_printf(a, "%s/app", cfg->public_origin);
	return mail_queue_link(db, a, cfg, MAIL_WELCOME, u, link);
}

int mail_queue_usage_warning(struct db *db, struct arena *a, const struct tg_config *cfg, const struct mail_recipient *u,
			     const char *metric, int threshold, long long used, long long limit)
{
	static const struct {
		const char *metric, *label;
	} labels[] = {{"projects", "projects"}, {"documents", "documents"}, {"agents", "agents"},
		      {"monthly_tokens", "monthly tokens"}};
	const char *label = metric;
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (!strcmp(labels[i].metric, metric))
			label = labels[i].label;
	char *title = threshold >= 100 ? arena_printf(a, "You have reached your plan's %s limit", label)
				       : arena_printf(a, "You have used %d%% of your plan's %s", threshold, label);
	char *body = arena_printf(a, "%lld of %lld %s used this period. Upgrade your plan for more.", used, limit, label);
	int rc = notify_create(db, a, u->user_id, "usage_warning", title, body, "/usage");
	struct notify_prefs prefs;
	if (rc != TG_OK || (rc = notify_prefs_get(db, a, u->user_id, &prefs)) != TG_OK || !prefs.usage_warnings)
		return rc;
	json_object *v = mail_vars(cfg, u);
	json_object_object_add(v, "metric", json_object_new_string(label));
	json_object_object_add(v, "percent", json_object_new_int(threshold));
	json_object_object_add(v, "used", json_object_new_int64(used));
	json_object_object_add(v, "limit", json_object_new_int64(limit));
	json_object_object_add(v, "link", json_object_new_string(arena_printf(a, "%s/usage", cfg->public_origin)));
	rc = mail_enqueue(db, a, MAIL_USAGE_WARNING, u->email, u->user_id, v);
	json_object_put(v);
	return rc;
}

int mail_queue_security_notice(struct db *db, struct arena *a, const struct tg_config *cfg,
				const struct mail_recipient *u, const char *change)
{
	int rc = notify_create(db, a, u->user_id, "security", "A security setting changed", change, "/profile");
	if (rc != TG_OK)
		return rc;
	json_object *v = mail_vars(cfg, u);
	json_object_object_add(v, "change", json_object_new_string(change));
	json_object_object_add(v, "link", json_object_new_string(arena_printf(a, "%s/forgot-password", cfg->public_origin)));
	rc = mail_enqueue(db, a, MAIL_SECURITY_NOTICE, u->email, u->user_id, v);
	json_object_put(v);
	return rc;
}

/* The payment_failed job (billing enqueues it; what the user is told is said here). */
static int job_payment_failed(const struct jobs_ctx *ctx, json_object *payload)
{
	struct mail_recipient u = {.user_id = mail_payload_str(payload, "user_id"),
				   .email = mail_payload_str(payload, "email"),
				   .name = mail_payload_str(payload, "name")};
	if (!u.user_id || !u.email)
		return TG_EINPUT;
	struct db *db = ctx->db;
	struct arena *a = ctx->arena;
	int rc = notify_create(db, a, u.user_id, "payment_failed", "Your payment failed",
			       "We could not collect your subscription payment. Update your payment method to keep your plan.",
			       "/billing");
	if (rc != TG_OK)
		return rc == TG_EDB ? TG_EINPUT : rc; /* the user is gone (foreign key): nothing to tell */
	struct notify_prefs prefs;
	if ((rc = notify_prefs_get(db, a, u.user_id, &prefs)) != TG_OK || !prefs.billing)
		return rc;
	return mail_queue_link(db, a, ctx->cfg, MAIL_PAYMENT_FAILED, &u,
			       arena_printf(a, "%s/billing", ctx->cfg->public_origin));
}

int mail_queue_payment_failed(struct db *db, struct arena *a, const struct mail_recipient *u)
{
	json_object *p = json_object_new_object();
	json_object_object_add(p, "user_id", json_object_new_string(u->user_id));
	json_object_object_add(p, "email", json_object_new_string(u->email));
	json_object_object_add(p, "name", json_object_new_string(u->name ? u->name : ""));
	int rc = jobs_enqueue(db, a, MAIL_JOB_PAYMENT_FAILED, p);
	json_object_put(p);
	return rc;
}

const char *mail_payload_str(json_object *payload, const char *key)
{
	json_object *v;
	if (!payload || !json_object_object_get_ex(payload, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int task_outbox(const struct jobs_ctx *ctx)
{
	return mail_deliver_due(ctx->db, ctx->arena, ctx->cfg);
}

const struct jobs_kind mail_jobs[] = {
	{.name = MAIL_JOB_PAYMENT_FAILED, .run = job_payment_failed, .transactional = true, .max_attempts = 20,
	 .retry_base = 30, .retry_max = 3600},
	{0},
};

static int task_outbox_probe(const struct jobs_ctx *ctx)
{
	return mail_wake_if_back(ctx->db, ctx->arena, ctx->cfg);
}

const struct jobs_task mail_tasks[] = {
	{.name = "outbox", .run = task_outbox, .every = 0},
	{.name = "outbox_probe", .run = task_outbox_probe, .every = 5},
	{0},
};
