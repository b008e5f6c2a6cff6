/* jobs_sql.c — every SQL statement of the job queue. A job being run is held by a session-level
 * advisory lock of its worker (db_try_lock): no transaction stays open while an outbound job
 * calls out, and a worker that dies releases it at once. */
#include "jobs_sql.h"

static const char *const sql[JOBS_STMT__COUNT] = {
	/* $1 kind $2 payload $3 seconds before it is due */
	[JOBS_ENQUEUE] =
		"INSERT INTO jobs (kind, payload, run_at) VALUES ($1, $2::jsonb, now() + make_interval(secs => $3))",

	/* Due jobs, oldest first: candidates; a worker runs one after taking its advisory lock. */
	[JOBS_DUE] =
		"SELECT id FROM jobs WHERE run_at <= now() AND failed_at IS NULL ORDER BY run_at, id LIMIT 20",

	/* $1 id, once its lock is ours: still due (another worker may have finished it between the
	 * two statements)? attempts counts this run. */
	[JOBS_TAKE] =
		"UPDATE jobs SET attempts = attempts + 1"
		" WHERE id = $1 AND run_at <= now() AND failed_at IS NULL"
		" RETURNING kind, payload::text, attempts",

	[JOBS_DONE] = "DELETE FROM jobs WHERE id = $1",

	/* $1 id $2 error $3 seconds */
	[JOBS_RETRY] =
		"UPDATE jobs SET last_error = $2, run_at = now() + make_interval(secs => $3) WHERE id = $1",

	/* $1 id $2 error: no more attempts; kept for operators */
	[JOBS_FAILED] = "UPDATE jobs SET last_error = $2, failed_at = now() WHERE id = $1",
};

const struct db_stmts jobs_stmts = {"jobs", sql, JOBS_STMT__COUNT};
