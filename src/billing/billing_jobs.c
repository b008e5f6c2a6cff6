/* billing_jobs.c — the billing area's job kinds and periodic tasks (server/ assembles the table). */
#include "tollgate/billing.h"
#include "tollgate/config.h"
#include "tollgate/deadline.h"
#include "tollgate/jobs.h"
#include "tollgate/litellm.h"
#include "tollgate/log.h"
#include "tollgate/stripe.h"
#include "tollgate/status.h"
#include "tollgate/timeutil.h"
#include "billing_sql.h"

static int job_litellm_sync(const struct jobs_ctx *ctx, json_object *payload)
{
	const char *user = stripe_str(payload, "user_id");
	if (!user)
		return TG_EINPUT;
	if (!litellm_configured(ctx->cfg))
		return TG_OK; /* nothing to keep in line; the reconcile task catches up once configured */
	return litellm_sync_user(ctx->db, ctx->arena, ctx->cfg, user);
}

static int job_litellm_delete(const struct jobs_ctx *ctx, json_object *payload)
{
	const char *key = stripe_str(payload, "key_ciphertext");
	if (!key)
		return TG_EINPUT;
	return litellm_delete_key(ctx->arena, ctx->cfg, key);
}

static int task_stripe_events(const struct jobs_ctx *ctx)
{
	return billing_retry_events(ctx->db, ctx->arena, ctx->cfg);
}

static int task_checkout_recovery(const struct jobs_ctx *ctx)
{
	struct deadline dl = deadline_at(time_mono_us(), (long)ctx->cfg->stripe_timeout * 3000);
	return billing_recover_checkouts(ctx->db, ctx->arena, ctx->cfg, &dl);
}

static int task_litellm_reconcile(const struct jobs_ctx *ctx)
{
	int n = litellm_reconcile(ctx->db, ctx->arena, ctx->cfg);
	if (n > 0)
		log_info("litellm reconcile: %d keys brought in line", n);
	return n;
}

static int task_stripe_prices(const struct jobs_ctx *ctx)
{
	int rc = billing_sync_prices(ctx->db, ctx->arena, ctx->cfg);
	return rc == TG_OK ? 0 : -rc;
}

const struct jobs_kind billing_jobs[] = {
	{.name = BILLING_JOB_SUBSCRIPTION_REFRESH, .run = billing_job_subscription_refresh, .max_attempts = 30,
	 .retry_base = 10, .retry_max = 3600},
	{.name = LITELLM_JOB_SYNC, .run = job_litellm_sync, .retry_base = 5, .retry_max = 3600},
	{.name = LITELLM_JOB_DELETE, .run = job_litellm_delete, .max_attempts = 50, .retry_base = 5,
	 .retry_max = 3600},
	{0},
};

const struct jobs_task billing_tasks[] = {
	{.name = "stripe_prices", .run = task_stripe_prices, .every = 3600},
	{.name = "stripe_events", .run = task_stripe_events, .every = 0},
	{.name = "checkout_recovery", .run = task_checkout_recovery, .every = 60},
	{.name = "litellm_reconcile", .run = task_litellm_reconcile, .every = 600},
	{0},
};
