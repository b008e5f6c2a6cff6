/* quota_sql.c — every SQL statement of the quota area. */
#include "quota_sql.h"

/* The plan limit of metric $2 for user $1 (NULL: unlimited). */
#define COUNT_LIMIT                                                                                  \
	"(SELECT CASE $2 WHEN 'projects' THEN p.limit_projects WHEN 'documents' THEN p.limit_documents" \
	" WHEN 'agents' THEN p.limit_agents END FROM plans p WHERE p.code = user_plan($1::uuid))"
#define TOKEN_LIMIT "(SELECT p.limit_monthly_tokens FROM plans p WHERE p.code = user_plan($1::uuid))"

static const char *const sql[Q_STMT__COUNT] = {
	/* $1 user $2 metric. One more, unless that passes the limit: the WHERE is re-checked on the row
	 * a concurrent create just committed, so the limit holds exactly. */
	[Q_TAKE] =
		"WITH lim AS (SELECT " COUNT_LIMIT " AS l)"
		" UPDATE usage_counts SET used = used + 1 WHERE user_id = $1 AND metric = $2"
		" AND ((SELECT l FROM lim) IS NULL OR used < (SELECT l FROM lim))"
		" RETURNING used, (SELECT l FROM lim)",

	/* $1 user $2 metric: what a refusal reports */
	[Q_COUNT] =
		"SELECT coalesce((SELECT used FROM usage_counts WHERE user_id = $1 AND metric = $2), 0), " COUNT_LIMIT,

	/* $1 user $2 metric name $3 used $4 limit: the thresholds reached for the first time this period
	 * (the primary key keeps each to once) */
	[Q_NOTICE] =
		"INSERT INTO usage_notices (user_id, metric, period_start, threshold)"
		" SELECT $1, $2, per.period_start, t FROM usage_period($1::uuid) per, unnest(ARRAY[80, 100]) t"
		" WHERE $4::bigint > 0 AND $3::bigint * 100 >= t * $4::bigint"
		" ON CONFLICT DO NOTHING RETURNING threshold",

	/* $1 user: the current period's row exists */
	[Q_TOKENS_ROW] =
		"INSERT INTO token_usage (user_id, period_start, period_end)"
		" SELECT $1, per.period_start, per.period_end FROM usage_period($1::uuid) per ON CONFLICT DO NOTHING",

	/* $1 user: reservations a crash left past their expiry are given back */
	[Q_GIVE_BACK_USER] =
		"WITH gone AS (DELETE FROM token_reservations WHERE user_id = $1 AND expires_at < now()"
		"   RETURNING period_start, tokens)"
		" UPDATE token_usage t SET reserved = greatest(t.reserved - g.tokens, 0)"
		" FROM (SELECT period_start, sum(tokens) AS tokens FROM gone GROUP BY period_start) g"
		" WHERE t.user_id = $1 AND t.period_start = g.period_start",

	/* $1 user $2 tokens: reserved on the current period unless used + reserved would pass the limit */
	[Q_RESERVE] =
		"WITH per AS (SELECT period_start FROM usage_period($1::uuid)),"
		" up AS (UPDATE token_usage t SET reserved = t.reserved + $2"
		"   WHERE t.user_id = $1 AND t.period_start = (SELECT period_start FROM per)"
		"   AND (" TOKEN_LIMIT " IS NULL OR t.used + t.reserved + $2 <= " TOKEN_LIMIT ")"
		"   RETURNING t.period_start, t.used, t.reserved)"
		" INSERT INTO token_reservations (user_id, period_start, tokens)"
		" SELECT $1, up.period_start, $2 FROM up"
		" RETURNING id, (SELECT used FROM up), (SELECT reserved FROM up), " TOKEN_LIMIT,

	/* $1 user: used, reserved and limit of the current period */
	[Q_TOKENS_STATE] =
		"SELECT coalesce(t.used, 0), coalesce(t.reserved, 0), " TOKEN_LIMIT
		" FROM usage_period($1::uuid) per"
		" LEFT JOIN token_usage t ON t.user_id = $1 AND t.period_start = per.period_start",

	/* $1 reservation $2 tokens used: the reservation becomes usage */
	[Q_SETTLE] =
		"WITH r AS (DELETE FROM token_reservations WHERE id = $1 RETURNING user_id, period_start, tokens)"
		" UPDATE token_usage t SET reserved = greatest(t.reserved - r.tokens, 0), used = t.used + $2 FROM r"
		" WHERE t.user_id = r.user_id AND t.period_start = r.period_start"
		" RETURNING t.used, t.reserved, (SELECT p.limit_monthly_tokens FROM plans p WHERE p.code = user_plan(t.user_id))",

	/* $1 user $2 tokens: usage whose reservation is gone (expired): counted all the same */
	[Q_ADD_USED] =
		"UPDATE token_usage t SET used = t.used + $2 FROM usage_period($1::uuid) per"
		" WHERE t.user_id = $1 AND t.period_start = per.period_start"
		" RETURNING t.used, t.reserved, " TOKEN_LIMIT,

	/* Every user's reservations past their expiry, a batch at a time (the jobs task). */
	[Q_GIVE_BACK_EXPIRED] =
		"WITH gone AS (DELETE FROM token_reservations WHERE id IN (SELECT id FROM token_reservations"
		"   WHERE expires_at < now() LIMIT 500 FOR UPDATE SKIP LOCKED) RETURNING user_id, period_start, tokens),"
		" g AS (SELECT user_id, period_start, sum(tokens) AS tokens FROM gone GROUP BY 1, 2),"
		" up AS (UPDATE token_usage t SET reserved = greatest(t.reserved - g.tokens, 0) FROM g"
		"   WHERE t.user_id = g.user_id AND t.period_start = g.period_start RETURNING 1)"
		" SELECT count(*) FROM gone",

	/* $1 user: GET /api/usage in one round trip */
	[Q_USAGE] =
		"SELECT user_plan($1::uuid), rfc3339(per.period_start), rfc3339(per.period_end),"
		" p.limit_projects, p.limit_documents, p.limit_agents, p.limit_monthly_tokens,"
		" coalesce((SELECT used FROM usage_counts WHERE user_id = $1 AND metric = 'projects'), 0),"
		" coalesce((SELECT used FROM usage_counts WHERE user_id = $1 AND metric = 'documents'), 0),"
		" coalesce((SELECT used FROM usage_counts WHERE user_id = $1 AND metric = 'agents'), 0),"
		" coalesce((SELECT used FROM token_usage WHERE user_id = $1 AND period_start = per.period_start), 0),"
		" (SELECT coalesce(sum(tokens), 0) FROM token_reservations r"
		"   WHERE r.user_id = $1 AND r.period_start = per.period_start AND r.expires_at > now()),"
		" (SELECT coalesce(json_agg(json_build_object('metric', n.metric, 'threshold', n.threshold,"
		"   'at', rfc3339(n.created_at)) ORDER BY n.created_at, n.threshold), '[]') FROM usage_notices n"
		"   WHERE n.user_id = $1 AND n.period_start = per.period_start)::text"
		" FROM usage_period($1::uuid) per JOIN plans p ON p.code = user_plan($1::uuid)",
};

const struct db_stmts quota_stmts = {"quota", sql, Q_STMT__COUNT};
