/* mail_sql.c — every SQL statement of the email and notifications area. */
#include "mail_sql.h"

static const char *const sql[MAIL_STMT__COUNT] = {
	/* $1 kind $2 to $3 user or NULL $4 vars $5 message id */
	[MAIL_ENQUEUE] =
		"INSERT INTO email_outbox (kind, to_address, user_id, vars, message_id)"
		" VALUES ($1, $2, $3, $4::jsonb, $5)",

	/* Due rows, oldest first: candidates; the jobs worker sends one after taking its advisory
	 * lock (db_try_lock), so no transaction stays open through the SMTP conversation and a
	 * worker that dies mid-send releases it at once (the Message-ID stays the same). */
	[MAIL_DUE] =
		"SELECT id FROM email_outbox WHERE status = 'pending' AND next_attempt_at <= now()"
		" ORDER BY next_attempt_at, id LIMIT 20",

	/* $1 id $2 give-up age in seconds: the row, if it is still due now that its lock is ours. */
	[MAIL_TAKE] =
		"SELECT id, kind, to_address, vars::text, message_id, attempts,"
		" created_at < now() - make_interval(secs => $2)"
		" FROM email_outbox WHERE id = $1 AND status = 'pending' AND next_attempt_at <= now()",

	[MAIL_SENT] =
		"UPDATE email_outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1,"
		" vars = '{}', last_error = NULL WHERE id = $1",

	/* $1 id $2 error $3 seconds until the next attempt */
	[MAIL_RETRY] =
		"UPDATE email_outbox SET attempts = attempts + 1, last_error = $2,"
		" next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",

	/* A delivery just succeeded: the server is back, so up to $1 rows waiting out a backoff are
	 * due now. An outage costs its length, not its length plus the backoff. */
	[MAIL_WAKE] =
		"UPDATE email_outbox SET next_attempt_at = now() WHERE id IN (SELECT id FROM email_outbox"
		" WHERE status = 'pending' AND attempts > 0 AND next_attempt_at > now()"
		" ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)",

	/* Whether any email waits out a backoff after a failure. */
	[MAIL_WAITING] =
		"SELECT EXISTS (SELECT 1 FROM email_outbox WHERE status = 'pending' AND attempts > 0"
		" AND next_attempt_at > now())",

	[MAIL_FAILED] =
		"UPDATE email_outbox SET status = 'failed', attempts = attempts + 1, last_error = $2, vars = '{}'"
		" WHERE id = $1",

	[MAIL_FORGET_USER] = "DELETE FROM email_outbox WHERE user_id = $1",

	/* $1 user $2 kind $3 title $4 body $5 link */
	[NOTIFY_CREATE] =
		"INSERT INTO notifications (user_id, kind, title, body, link) VALUES ($1, $2, $3, $4, $5)",

	/* $1 user $2 unread only $3 limit $4 offset. At least one row: the counts, with NULLs
	 * past the last page. */
	[NOTIFY_LIST] =
		"WITH mine AS (SELECT * FROM notifications WHERE user_id = $1 AND (NOT $2::boolean OR read_at IS NULL))"
		" SELECT p.id, p.kind, p.title, p.body, p.link, rfc3339(p.created_at), rfc3339(p.read_at), c.total,"
		" (SELECT count(*) FROM notifications x WHERE x.user_id = $1 AND x.read_at IS NULL)"
		" FROM (SELECT count(*) AS total FROM mine) c LEFT JOIN LATERAL"
		" (SELECT * FROM mine ORDER BY created_at DESC, id LIMIT $3 OFFSET $4) p ON true",

	[NOTIFY_READ] =
		"UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = $1 AND user_id = $2 RETURNING id",

	[NOTIFY_READ_ALL] = "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL",

	[NOTIFY_PREFS_GET] =
		"SELECT coalesce(p.product_updates, true), coalesce(p.usage_warnings, true), coalesce(p.billing, true)"
		" FROM (SELECT 1) one LEFT JOIN notification_preferences p ON p.user_id = $1",

	/* $1 user $2 product_updates $3 usage_warnings $4 billing */
	[NOTIFY_PREFS_PUT] =
		"INSERT INTO notification_preferences (user_id, product_updates, usage_warnings, billing)"
		" VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET product_updates = $2,"
		" usage_warnings = $3, billing = $4, updated_at = now()",
};

const struct db_stmts mail_stmts = {"mail", sql, MAIL_STMT__COUNT};
