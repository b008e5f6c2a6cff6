/* account_mail.c — the accounts' emails that carry a one-time token, and the accounts' jobs. */
#include "tollgate/account.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/jobs.h"
#include "tollgate/log.h"
#include "tollgate/mail.h"
#include "tollgate/status.h"

struct mail_recipient *account_recipient(struct arena *a, const struct account_user *u)
{
	struct mail_recipient *r = arena_alloc(a, sizeof(*r));
	*r = (struct mail_recipient){.user_id = u->id, .email = u->email, .name = u->name};
	return r;
}

static int queue_token_link(struct db *db, struct arena *a, const struct tg_config *cfg,
			    const struct account_user *u, const char *token_kind, int ttl, const char *page,
			    const char *mail_kind)
{
	char *token;
	int rc = account_token_issue(db, a, u->id, token_kind, ttl, &token);
	if (rc != TG_OK)
		return rc;
	return mail_queue_link(db, a, cfg, mail_kind, account_recipient(a, u), arena_printf(a, "%s/%s?token=%s", cfg->public_origin, page, token));
}

int account_queue_verification(struct db *db, struct arena *a, const struct tg_config *cfg,
			       const struct account_user *u)
{
	return queue_token_link(db, a, cfg, u, ACCOUNT_TOKEN_VERIFY, cfg->verify_token_ttl, "verify-email",
				MAIL_VERIFY_EMAIL);
}

static int queue_password_reset(struct db *db, struct arena *a, const struct tg_config *cfg,
				 const struct account_user *u)
{
	return queue_token_link(db, a, cfg, u, ACCOUNT_TOKEN_RESET, cfg->reset_token_ttl, "reset-password",
				MAIL_PASSWORD_RESET);
}

/* A reset request: the lookup happens here, not in the request, so the answer's timing never
 * depends on whether the address is known. */
static int job_password_reset(const struct jobs_ctx *ctx, json_object *payload)
{
	const char *email = mail_payload_str(payload, "email");
	if (!email)
		return TG_EINPUT;
	struct account_user u;
	bool active;
	int rc = account_find_by_email(ctx->db, ctx->arena, email, &u, &active);
	if (rc == TG_ENOTFOUND || (rc == TG_OK && !active))
		return TG_OK;
	if (rc != TG_OK)
		return rc;
	/* Nobody's mailbox gets flooded with reset links: beyond the limit the request is dropped
	 * here, where the requester cannot see the difference. */
	int retry;
	char *key = arena_printf(ctx->arena, "forgot-email:%s", u.id);
	if ((rc = account_rate_limit(ctx->db, ctx->arena, key, ctx->cfg->forgot_email_limit, 3600, &retry)) != TG_OK)
		return rc;
	if (retry > 0) {
		log_info("password reset for user %s dropped: %d emails in the last hour", u.id,
			 ctx->cfg->forgot_email_limit);
		return TG_OK;
	}
	return queue_password_reset(ctx->db, ctx->arena, ctx->cfg, &u);
}

int account_queue_reset_request(struct db *db, struct arena *a, const char *email)
{
	json_object *p = json_object_new_object();
	json_object_object_add(p, "email", json_object_new_string(email));
	int rc = jobs_enqueue(db, a, ACCOUNT_JOB_PASSWORD_RESET, p);
	json_object_put(p);
	return rc;
}

static int task_cleanup(const struct jobs_ctx *ctx)
{
	int rc = account_cleanup(ctx->db, ctx->arena);
	return rc == TG_OK ? 0 : -rc;
}

const struct jobs_kind account_jobs[] = {
	{.name = ACCOUNT_JOB_PASSWORD_RESET, .run = job_password_reset, .transactional = true, .max_attempts = 10,
	 .retry_base = 5, .retry_max = 600},
	{0},
};

const struct jobs_task account_tasks[] = {
	{.name = "accounts_cleanup", .run = task_cleanup, .every = 600},
	{0},
};
