/* quota.h — plan limits and usage: counted resources (projects, documents, agents), monthly tokens
 * with reservations, the usage period, and the 80 %/100 % notices.
 *
 * Exact under concurrency without a count-then-insert race: a create takes its (user, metric)
 * counter with one conditional UPDATE inside the create's transaction (PostgreSQL re-evaluates the
 * condition on the row version it waited for, so twenty parallel creates at limit − 1 make exactly
 * one); tokens are reserved the same way on the period's row. Deletes give back through triggers. */
#ifndef TOLLGATE_QUOTA_H
#define TOLLGATE_QUOTA_H

#include <json.h>
#include <stdbool.h>

#include "tollgate/jobs.h"

struct arena;
struct db;
struct tg_config;
struct mail_recipient;

enum quota_metric { QUOTA_PROJECTS, QUOTA_DOCUMENTS, QUOTA_AGENTS, QUOTA_TOKENS };

/* The metric's name as API.md spells it ("projects", …, "monthly_tokens"). */
const char *quota_metric_name(enum quota_metric m);

/* What a refusal says: 402 quota_exceeded with metric, used and limit. */
struct quota_refusal {
	enum quota_metric metric;
	long long used, limit;
	bool budget; /* LiteLLM refused for the key's USD budget (used and limit: the plan's tokens) */
};

/* Who the notices go to, and how to reach them. */
struct quota_ctx {
	struct db *db;
	struct arena *a;
	const struct tg_config *cfg;
	const struct mail_recipient *user; /* user_id, email, name */
};

/* Inside the create's transaction: counts one more of m, or refuses (TG_ELIMIT, *refusal filled)
 * when the plan's limit is reached. Sends the 80 %/100 % notices the new count reaches. */
int quota_take(const struct quota_ctx *q, enum quota_metric m, struct quota_refusal *refusal);

/* Reserves tokens for a chat in the current period (its own short transaction). TG_ELIMIT with
 * *refusal when used + reserved + tokens would pass the limit (the 100 % notice is sent then).
 * *reservation: the id to settle. */
int quota_reserve_tokens(const struct quota_ctx *q, long long tokens, const char **reservation,
			 struct quota_refusal *refusal);
/* Settles a reservation to the tokens actually used (its own short transaction), sending the
 * notices the new total reaches. Unknown (expired, settled) reservations settle nothing. */
int quota_settle_tokens(const struct quota_ctx *q, const char *reservation, long long used_tokens);

/* The current period's tokens (used + reserved, and the limit) as a refusal says them: for a chat
 * LiteLLM refused for its budget. */
int quota_tokens_refusal(const struct quota_ctx *q, struct quota_refusal *refusal);

/* GET /api/usage: {period, plan, metrics, warnings}. */
int quota_usage_json(struct db *db, struct arena *a, const char *user_id, json_object **out);

/* Gives back reservations a crash left past their expiry (a jobs task). */
extern const struct jobs_task quota_tasks[];

#endif
