/* quota.c — counted resources, tokens per period, usage, and the 80 %/100 % notices. */
#include "tollgate/quota.h"
#include "tollgate/arena.h"
#include "tollgate/db.h"
#include "tollgate/mail.h"
#include "tollgate/status.h"
#include "quota_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[] = {
	[QUOTA_PROJECTS] = "projects",
	[QUOTA_DOCUMENTS] = "documents",
	[QUOTA_AGENTS] = "agents",
	[QUOTA_TOKENS] = "monthly_tokens",
};

const char *quota_metric_name(enum quota_metric m)
{
	return metric_names[m];
}

static long long num_or(const PGresult *r, int row, int col, long long dflt)
{
	const char *v = db_value(r, row, col);
	return v ? strtoll(v, NULL, 10) : dflt;
}

/* Sends the notices that used of limit reaches for the first time this period (in-app, and by
 * email as the usage_warnings preference allows), inside the caller's transaction. */
static int notify_reached(const struct quota_ctx *q, enum quota_metric m, long long used, long long limit)
{
	if (limit <= 0 || used * 100 < 80 * limit)
		return TG_OK;
	char used_s[24], limit_s[24];
	snprintf(used_s, sizeof(used_s), "%lld", used);
	snprintf(limit_s, sizeof(limit_s), "%lld", limit);
	const char *p[] = {q->user->user_id, metric_names[m], used_s, limit_s};
	PGresult *r;
	int rc = db_exec(q->db, q->a, &quota_stmts, Q_NOTICE, 4, p, &r);
	for (int i = 0; rc == TG_OK && i < PQntuples(r); i++)
		rc = mail_queue_usage_warning(q->db, q->a, q->cfg, q->user, metric_names[m], (int)db_int(r, i, 0), used,
					      limit);
	return rc;
}

int quota_take(const struct quota_ctx *q, enum quota_metric m, struct quota_refusal *refusal)
{
	const char *p[] = {q->user->user_id, metric_names[m]};
	PGresult *r;
	int rc = db_exec(q->db, q->a, &quota_stmts, Q_TAKE, 2, p, &r);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(r) == 1)
		return notify_reached(q, m, db_int(r, 0, 0), num_or(r, 0, 1, -1));
	if ((rc = db_exec_row(q->db, q->a, &quota_stmts, Q_COUNT, 2, p, &r)) != TG_OK)
		return rc;
	*refusal = (struct quota_refusal){.metric = m, .used = db_int(r, 0, 0), .limit = num_or(r, 0, 1, -1)};
	return TG_ELIMIT;
}

int quota_reserve_tokens(const struct quota_ctx *q, long long tokens, const char **reservation,
			 struct quota_refusal *refusal)
{
	char tok[24];
	snprintf(tok, sizeof(tok), "%lld", tokens > 0 ? tokens : 1);
	const char *p1[] = {q->user->user_id};
	const char *p2[] = {q->user->user_id, tok};
	PGresult *r;
	int rc = db_begin(q->db);
	if (rc != TG_OK)
		return rc;
	if ((rc = db_exec(q->db, q->a, &quota_stmts, Q_TOKENS_ROW, 1, p1, NULL)) == TG_OK &&
	    (rc = db_exec(q->db, q->a, &quota_stmts, Q_GIVE_BACK_USER, 1, p1, NULL)) == TG_OK &&
	    (rc = db_exec(q->db, q->a, &quota_stmts, Q_RESERVE, 2, p2, &r)) == TG_OK) {
		if (PQntuples(r) == 1) {
			*reservation = db_value(r, 0, 0);
			rc = notify_reached(q, QUOTA_TOKENS, db_int(r, 0, 1) + db_int(r, 0, 2), num_or(r, 0, 3, -1));
		} else if ((rc = db_exec_row(q->db, q->a, &quota_stmts, Q_TOKENS_STATE, 1, p1, &r)) == TG_OK) {
			long long limit = num_or(r, 0, 2, -1);
			*refusal = (struct quota_refusal){.metric = QUOTA_TOKENS, .used = db_int(r, 0, 0) + db_int(r, 0, 1),
							  .limit = limit};
			/* a chat refused for tokens has reached 100 %, whatever the sum says */
			rc = notify_reached(q, QUOTA_TOKENS, limit, limit);
			if (rc == TG_OK)
				rc = db_commit(q->db);
			return rc == TG_OK ? TG_ELIMIT : rc;
		}
	}
	return db_finish(q->db, rc);
}

int quota_settle_tokens(const struct quota_ctx *q, const char *reservation, long long used_tokens)
{
	char used_s[24];
	snprintf(used_s, sizeof(used_s), "%lld", used_tokens > 0 ? used_tokens : 0);
	const char *p[] = {reservation, used_s};
	PGresult *r;
	int rc = db_begin(q->db);
	if (rc != TG_OK)
		return rc;
	if ((rc = db_exec(q->db, q->a, &quota_stmts, Q_SETTLE, 2, p, &r)) == TG_OK && PQntuples(r) == 0) {
		/* the reservation expired meanwhile: what was used still counts */
		const char *ap[] = {q->user->user_id, used_s};
		rc = db_exec(q->db, q->a, &quota_stmts, Q_ADD_USED, 2, ap, &r);
	}
	if (rc == TG_OK && PQntuples(r) == 1)
		rc = notify_reached(q, QUOTA_TOKENS, db_int(r, 0, 0) + db_int(r, 0, 1), num_or(r, 0, 2, -1));
	return db_finish(q->db, rc);
}

int quota_tokens_refusal(const struct quota_ctx *q, struct quota_refusal *refusal)
{
	const char *p[] = {q->user->user_id};
	PGresult *r;
	int rc = db_exec_row(q->db, q->a, &quota_stmts, Q_TOKENS_STATE, 1, p, &r);
	if (rc == TG_OK)
		*refusal = (struct quota_refusal){.metric = QUOTA_TOKENS, .used = db_int(r, 0, 0) + db_int(r, 0, 1),
						  .limit = num_or(r, 0, 2, -1)};
	return rc;
}

/* {used, limit, percent} (and reserved for tokens); limit and percent null when unlimited. */
static json_object *metric_json(long long used, const char *limit_text, const long long *reserved)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "used", json_object_new_int64(used));
	if (reserved)
		json_object_object_add(o, "reserved", json_object_new_int64(*reserved));
	long long limit = limit_text ? strtoll(limit_text, NULL, 10) : -1;
	json_object_object_add(o, "limit", limit >= 0 ? json_object_new_int64(limit) : NULL);
	long long counted = used + (reserved ? *reserved : 0);
	json_object *pct = NULL;
	if (limit >= 0) {
		/* one decimal, written as such (a double would print 33.299999999999997) */
		long long tenths = limit > 0 ? counted * 1000 / limit : (counted > 0 ? 1000 : 0);
		char text[32];
		snprintf(text, sizeof(text), "%lld.%lld", tenths / 10, tenths % 10);
		pct = json_object_new_double_s((double)tenths / 10.0, text);
	}
	json_object_object_add(o, "percent", pct);
	return o;
}

int quota_usage_json(struct db *db, struct arena *a, const char *user_id, json_object **out)
{
	const char *p[] = {user_id};
	PGresult *r;
	int rc = db_exec_row(db, a, &quota_stmts, Q_USAGE, 1, p, &r);
	if (rc != TG_OK)
		return rc;
	json_object *o = json_object_new_object();
	json_object *period = json_object_new_object();
	json_object_object_add(period, "start", json_object_new_string(db_value(r, 0, 1)));
	json_object_object_add(period, "end", json_object_new_string(db_value(r, 0, 2)));
	json_object_object_add(o, "period", period);
	json_object_object_add(o, "plan", json_object_new_string(db_value(r, 0, 0)));
	json_object *metrics = json_object_new_object();
	long long reserved = db_int(r, 0, 11);
	json_object_object_add(metrics, "monthly_tokens", metric_json(db_int(r, 0, 10), db_value(r, 0, 6), &reserved));
	json_object_object_add(metrics, "projects", metric_json(db_int(r, 0, 7), db_value(r, 0, 3), NULL));
	json_object_object_add(metrics, "documents", metric_json(db_int(r, 0, 8), db_value(r, 0, 4), NULL));
	json_object_object_add(metrics, "agents", metric_json(db_int(r, 0, 9), db_value(r, 0, 5), NULL));
	json_object_object_add(o, "metrics", metrics);
	json_object *warnings = json_tokener_parse(db_value(r, 0, 12));
	json_object_object_add(o, "warnings", warnings ? warnings : json_object_new_array());
	*out = o;
	return TG_OK;
}

static int task_give_back(const struct jobs_ctx *ctx)
{
	PGresult *r;
	int rc = db_exec_row(ctx->db, ctx->arena, &quota_stmts, Q_GIVE_BACK_EXPIRED, 0, NULL, &r);
	return rc == TG_OK ? (int)db_int(r, 0, 0) : -rc;
}

const struct jobs_task quota_tasks[] = {
	{.name = "token_reservations_expired", .run = task_give_back, .every = 60},
	{0},
};
