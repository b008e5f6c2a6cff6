/* auth_sql.c — every SQL statement of the accounts area. Parameters only, never built text. */
#include "auth_sql.h"

#define SECS(n) "make_interval(secs => $" #n ")"

static const char *const sql[AUTH_STMT__COUNT] = {
	/* and until when the answer holds without news: the session's end, or a past-due plan's end of
	 * grace (the plan changes then without any write to notify about) */
	[AUTH_PRINCIPAL] =
		"SELECT " USER_COLUMNS ", extract(epoch FROM least(s.expires_at, (SELECT min(g.grace_until)"
		"   FROM subscriptions g WHERE g.user_id = u.id AND g.status = 'past_due' AND g.grace_until > now())))::bigint"
		" FROM sessions s JOIN users u ON u.id = s.user_id"
		" WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()"
		" AND u.status = 'active'",

	/* $1 email $2 name $3 hash $4 ttl $5 user agent $6 ip $7 refresh hash */
	[AUTH_REGISTER] =
		"WITH u AS (INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3)"
		"   ON CONFLICT (email) DO NOTHING RETURNING *),"
		" s AS (INSERT INTO sessions (user_id, expires_at, user_agent, ip)"
		"   SELECT id, now() + " SECS(4) ", $5, $6 FROM u RETURNING id, user_id),"
		" t AS (INSERT INTO refresh_tokens (session_id, token_hash, expires_at)"
		"   SELECT id, $7, now() + " SECS(4) " FROM s),"
		" a AS (INSERT INTO audit_log (actor_id, action, target_type, target_id, ip)"
		"   SELECT id, 'user.register', 'user', id::text, $6 FROM u)"
		/* USER_COLUMNS, but the plan (free: no subscription yet) */
		" SELECT u.id, u.email, u.name, u.role, u.email_verified_at IS NOT NULL, u.mfa_enabled, 'free',"
		" rfc3339(u.created_at), u.terms_version, s.id FROM u JOIN s ON s.user_id = u.id",

	/* Always one row: the attempt is counted first (locked: the seconds left), then the user
	 * (NULLs when unknown). $1 email $2 max $3 window $4 base $5 cap */
	[AUTH_LOGIN_LOOKUP] =
		"SELECT " USER_COLUMNS ", u.password_hash, u.status, t.locked"
		" FROM (SELECT login_throttle_attempt($1, $2, $3, $4, $5) AS locked) t"
		" LEFT JOIN users u ON u.email = $1",

	/* $1 email $2 user id or NULL $3 ip */
	[AUTH_LOGIN_FAILED] =
		"INSERT INTO audit_log (actor_id, action, target_type, target_id, ip, detail)"
		" VALUES ($2::uuid, 'user.login_failed', 'user', coalesce($2::text, ''), $3,"
		" jsonb_build_object('email', $1::text))",

	/* $1 user $2 ttl $3 user agent $4 ip $5 refresh hash $6 email $7 new hash or NULL */
	[AUTH_LOGIN_SUCCEEDED] =
		"WITH d AS (DELETE FROM login_throttle WHERE email = $6),"
		" h AS (UPDATE users SET password_hash = $7, updated_at = now() WHERE id = $1 AND $7::text IS NOT NULL),"
		" s AS (INSERT INTO sessions (user_id, expires_at, user_agent, ip)"
		"   VALUES ($1, now() + " SECS(2) ", $3, $4) RETURNING id),"
		" t AS (INSERT INTO refresh_tokens (session_id, token_hash, expires_at)"
		"   SELECT id, $5, now() + " SECS(2) " FROM s),"
		" a AS (INSERT INTO audit_log (actor_id, action, target_type, target_id, ip)"
		"   VALUES ($1, 'user.login', 'user', $1::text, $4))"
		" SELECT id FROM s",

	/* $1 token hash $2 reuse interval. Locks the token row for the rotation. */
	[AUTH_REFRESH_LOOKUP] =
		"SELECT rt.id, rt.session_id, rt.rotated_at IS NOT NULL,"
		" rt.rotated_at > now() - " SECS(2) ", rt.expires_at > now(),"
		" s.revoked_at IS NULL AND s.expires_at > now(), u.status"
		" FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id JOIN users u ON u.id = s.user_id"
		" WHERE rt.token_hash = $1 FOR UPDATE OF rt",

	/* $1 token id $2 session $3 new hash $4 ttl $5 user agent $6 ip */
	[AUTH_REFRESH_ROTATE] =
		"WITH r AS (UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, now()) WHERE id = $1),"
		" t AS (INSERT INTO refresh_tokens (session_id, token_hash, expires_at)"
		"   VALUES ($2, $3, now() + " SECS(4) ") ON CONFLICT (token_hash) DO NOTHING),"
		" s AS (UPDATE sessions SET last_used_at = now(), expires_at = now() + " SECS(4) ","
		"   user_agent = $5, ip = $6 WHERE id = $2 RETURNING user_id)"
		" SELECT " USER_COLUMNS " FROM s JOIN users u ON u.id = s.user_id",

	/* $1 session $2 ip */
	[AUTH_REFRESH_REUSED] =
		"WITH s AS (UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh_token_reused'"
		"   WHERE id = $1 AND revoked_at IS NULL RETURNING id, user_id)"
		" INSERT INTO audit_log (actor_id, action, target_type, target_id, ip)"
		" SELECT user_id, 'session.refresh_reuse_detected', 'session', id::text, $2 FROM s",

	/* $1 token hash $2 ip */
	[AUTH_LOGOUT_TOKEN] =
		"WITH s AS (UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout'"
		"   WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL"
		"   RETURNING id, user_id)"
		" INSERT INTO audit_log (actor_id, action, target_type, target_id, ip)"
		" SELECT user_id, 'user.logout', 'session', id::text, $2 FROM s",

	/* $1 session $2 user $3 ip $4 action */
	[AUTH_SESSION_REVOKE] =
		"WITH s AS (UPDATE sessions SET revoked_at = now(), revoked_reason = $4"
		"   WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now() RETURNING id)"
		" INSERT INTO audit_log (actor_id, action, target_type, target_id, ip)"
		" SELECT $2, $4, 'session', id::text, $3 FROM s RETURNING id",

	/* $1 user $2 ip */
	[AUTH_SESSION_REVOKE_ALL] =
		"WITH s AS (UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout_all'"
		"   WHERE user_id = $1 AND revoked_at IS NULL RETURNING id)"
		" INSERT INTO audit_log (actor_id, action, target_type, target_id, ip, detail)"
		" VALUES ($1, 'user.logout_all', 'user', $1::text, $2,"
		"   jsonb_build_object('sessions_revoked', (SELECT count(*) FROM s)))",

	/* $1 user $2 current session $3 limit $4 offset. Always one row at least: the total, and
	 * NULLs past the last page. */
	[AUTH_SESSION_LIST] =
		"WITH live AS (SELECT * FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now())"
		" SELECT p.id, rfc3339(p.created_at), rfc3339(p.last_used_at), p.user_agent, p.ip, p.id = $2::uuid,"
		" c.total FROM (SELECT count(*) AS total FROM live) c LEFT JOIN LATERAL"
		" (SELECT * FROM live ORDER BY last_used_at DESC, created_at DESC, id LIMIT $3 OFFSET $4) p ON true",

	[AUTH_PASSWORD_OF] = "SELECT password_hash, email FROM users WHERE id = $1",

	/* $1 user $2 name $3 ip */
	[AUTH_UPDATE_NAME] =
		"WITH u AS (UPDATE users SET name = $2, updated_at = now() WHERE id = $1 RETURNING *),"
		" a AS (INSERT INTO audit_log (actor_id, action, target_type, target_id, ip)"
		"   SELECT id, 'user.profile_updated', 'user', id::text, $3 FROM u)"
		" SELECT " USER_COLUMNS " FROM u",

	/* $1 user $2 hash $3 session to keep $4 ip */
	[AUTH_CHANGE_PASSWORD] =
		"WITH u AS (UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1 RETURNING id),"
		" s AS (UPDATE sessions SET revoked_at = now(), revoked_reason = 'password_changed'"
		"   WHERE user_id = $1 AND id <> $3::uuid AND revoked_at IS NULL RETURNING id),"
		" a AS (INSERT INTO audit_log (actor_id, action, target_type, target_id, ip, detail)"
		"   SELECT id, 'user.password_changed', 'user', id::text, $4,"
		"   jsonb_build_object('sessions_revoked', (SELECT count(*) FROM s)) FROM u)"
		" SELECT id FROM u",

	/* $1 user $2 ip. The audit entry keeps a hash of the email, not the address. */
	[AUTH_DELETE_USER] =
		"WITH d AS (DELETE FROM users WHERE id = $1 RETURNING id, email),"
		" t AS (DELETE FROM login_throttle WHERE email = (SELECT email FROM d))"
		" INSERT INTO audit_log (actor_id, action, target_type, target_id, ip, detail)"
		" SELECT id, 'user.deleted', 'user', id::text, $2,"
		"   jsonb_build_object('email_sha256', encode(sha256(convert_to(email, 'UTF8')), 'hex')) FROM d"
		" RETURNING target_id",

	/* $1 email $2 name $3 hash $4 role */
	[AUTH_CREATE_USER] =
		"WITH u AS (INSERT INTO users (email, name, password_hash, role, email_verified_at)"
		"   VALUES ($1, $2, $3, $4, now()) ON CONFLICT (email) DO NOTHING RETURNING id),"
		" a AS (INSERT INTO audit_log (actor_id, action, target_type, target_id, detail)"
		"   SELECT NULL, 'user.created_by_cli', 'user', id::text, jsonb_build_object('role', $4::text) FROM u)"
		" SELECT id FROM u",

	[AUTH_RATE_LIMIT] = "SELECT rate_limit_hit($1, $2, $3)",

	/* $1 email $2 max $3 window $4 base $5 cap: the login throttle, for other password checks */
	[AUTH_THROTTLE_ATTEMPT] = "SELECT login_throttle_attempt($1, $2, $3, $4, $5)",
	[AUTH_THROTTLE_CLEAR] = "DELETE FROM login_throttle WHERE email = $1",

	/* $1 user $2 kind $3 token hash $4 ttl. A new token kills the older ones of its kind. */
	[AUTH_TOKEN_ISSUE] =
		"WITH k AS (UPDATE auth_tokens SET used_at = now()"
		"   WHERE user_id = $1 AND kind = $2 AND used_at IS NULL)"
		" INSERT INTO auth_tokens (user_id, kind, token_hash, expires_at)"
		" VALUES ($1, $2, $3, now() + " SECS(4) ")",

	/* $1 kind $2 token hash */
	[AUTH_TOKEN_LOOKUP] =
		"SELECT " USER_COLUMNS " FROM auth_tokens t JOIN users u ON u.id = t.user_id"
		" WHERE t.kind = $1 AND t.token_hash = $2 AND t.used_at IS NULL AND t.expires_at > now()"
		" AND u.status = 'active'",

	/* $1 token hash $2 new password hash $3 ip. Single use: the token row is claimed first. */
	[AUTH_RESET_PASSWORD] =
		"WITH t AS (UPDATE auth_tokens SET used_at = now()"
		"   WHERE kind = 'reset' AND token_hash = $1 AND used_at IS NULL AND expires_at > now()"
		"   RETURNING user_id),"
		" u AS (UPDATE users SET password_hash = $2, email_verified_at = coalesce(email_verified_at, now()),"
		"   updated_at = now() WHERE id = (SELECT user_id FROM t) AND status = 'active' RETURNING *),"
		" o AS (UPDATE auth_tokens SET used_at = now() WHERE user_id = (SELECT id FROM u)"
		"   AND kind = 'reset' AND used_at IS NULL AND token_hash <> $1),"
		" s AS (UPDATE sessions SET revoked_at = now(), revoked_reason = 'password_reset'"
		"   WHERE user_id = (SELECT id FROM u) AND revoked_at IS NULL),"
		" d AS (DELETE FROM login_throttle WHERE email = (SELECT email FROM u)),"
		" a AS (INSERT INTO audit_log (actor_id, action, target_type, target_id, ip)"
		"   SELECT id, 'user.password_reset', 'user', id::text, $3 FROM u),"
		/* the pre-statement snapshot: was the email verified before this reset? */
		" prev AS (SELECT id, email_verified_at IS NOT NULL AS verified FROM users"
		"   WHERE id = (SELECT user_id FROM t))"
		" SELECT " USER_COLUMNS ", prev.verified FROM u JOIN prev ON prev.id = u.id",

	/* $1 token hash $2 ip */
	[AUTH_VERIFY_EMAIL] =
		"WITH t AS (UPDATE auth_tokens SET used_at = now()"
		"   WHERE kind = 'verify' AND token_hash = $1 AND used_at IS NULL AND expires_at > now()"
		"   RETURNING user_id),"
		" u AS (UPDATE users SET email_verified_at = coalesce(email_verified_at, now()), updated_at = now()"
		"   WHERE id = (SELECT user_id FROM t) AND status = 'active' RETURNING *),"
		/* CTEs read the snapshot from before the statement: prev is the old state */
		" prev AS (SELECT id, email_verified_at IS NOT NULL AS verified FROM users"
		"   WHERE id = (SELECT user_id FROM t)),"
		" a AS (INSERT INTO audit_log (actor_id, action, target_type, target_id, ip)"
		"   SELECT id, 'user.email_verified', 'user', id::text, $2 FROM u)"
		/* USER_COLUMNS, but verified: the snapshot of u predates the update */
		" SELECT u.id, u.email, u.name, u.role, true, u.mfa_enabled, user_plan(u.id), rfc3339(u.created_at),"
		" u.terms_version, prev.verified FROM u JOIN prev ON prev.id = u.id",

	[AUTH_FIND_BY_EMAIL] = "SELECT " USER_COLUMNS ", u.status FROM users u WHERE u.email = $1",
	[AUTH_FIND_BY_ID] = "SELECT " USER_COLUMNS ", u.status FROM users u WHERE u.id = $1",

	/* $1 user $2 version $3 ip: kept, and the user's current version */
	[AUTH_ACCEPT_TERMS] =
		"WITH t AS (INSERT INTO terms_acceptances (user_id, version, ip) VALUES ($1, $2, $3))"
		" UPDATE users SET terms_version = $2, updated_at = now() WHERE id = $1",

	/* $1 user: everything the account owns, one JSON document (no secret: no hashes, no keys) */
	[AUTH_EXPORT] =
		"SELECT jsonb_build_object("
		" 'exported_at', rfc3339(now()),"
		" 'user', (SELECT jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name, 'role', u.role,"
		"   'status', u.status, 'email_verified', u.email_verified_at IS NOT NULL, 'mfa_enabled', u.mfa_enabled,"
		"   'created_at', rfc3339(u.created_at), 'terms_version', u.terms_version) FROM users u WHERE u.id = $1),"
		" 'terms_acceptances', coalesce((SELECT jsonb_agg(jsonb_build_object('version', t.version, 'ip', t.ip,"
		"   'accepted_at', rfc3339(t.accepted_at)) ORDER BY t.accepted_at) FROM terms_acceptances t WHERE t.user_id = $1), '[]'),"
		" 'sessions', coalesce((SELECT jsonb_agg(jsonb_build_object('id', s.id, 'created_at', rfc3339(s.created_at),"
		"   'last_used_at', rfc3339(s.last_used_at), 'user_agent', s.user_agent, 'ip', s.ip, 'revoked', s.revoked_at IS NOT NULL)"
		"   ORDER BY s.created_at) FROM sessions s WHERE s.user_id = $1), '[]'),"
		/* no row: every preference on */
		" 'notification_preferences', (SELECT jsonb_build_object('product_updates', coalesce(np.product_updates, true),"
		"   'usage_warnings', coalesce(np.usage_warnings, true), 'billing', coalesce(np.billing, true))"
		"   FROM (SELECT 1) one LEFT JOIN notification_preferences np ON np.user_id = $1),"
		" 'notifications', coalesce((SELECT jsonb_agg(jsonb_build_object('kind', n.kind, 'title', n.title, 'body', n.body,"
		"   'created_at', rfc3339(n.created_at), 'read_at', rfc3339(n.read_at)) ORDER BY n.created_at)"
		"   FROM notifications n WHERE n.user_id = $1), '[]'),"
		" 'subscriptions', coalesce((SELECT jsonb_agg(jsonb_build_object('plan', s.plan_code, 'status', s.status,"
		"   'interval', s.interval, 'current_period_start', rfc3339(s.current_period_start),"
		"   'current_period_end', rfc3339(s.current_period_end), 'canceled_at', rfc3339(s.canceled_at),"
		"   'created_at', rfc3339(s.created_at)) ORDER BY s.created_at) FROM subscriptions s WHERE s.user_id = $1), '[]'),"
		" 'invoices', coalesce((SELECT jsonb_agg(jsonb_build_object('number', i.number, 'status', i.status,"
		"   'amount_due', i.amount_due, 'amount_paid', i.amount_paid, 'amount_refunded', i.amount_refunded,"
		"   'currency', i.currency, 'hosted_invoice_url', i.hosted_invoice_url, 'created', rfc3339(i.created))"
		"   ORDER BY i.created) FROM invoices i WHERE i.user_id = $1), '[]'),"
		" 'projects', coalesce((SELECT jsonb_agg(jsonb_build_object('id', p.id, 'name', p.name, 'description', p.description,"
		"   'created_at', rfc3339(p.created_at), 'documents', coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id,"
		"   'title', d.title, 'content', d.content, 'created_at', rfc3339(d.created_at), 'updated_at', rfc3339(d.updated_at))"
		"   ORDER BY d.created_at) FROM documents d WHERE d.project_id = p.id), '[]')) ORDER BY p.created_at)"
		"   FROM projects p WHERE p.user_id = $1), '[]'),"
		" 'agents', coalesce((SELECT jsonb_agg(jsonb_build_object('id', g.id, 'name', g.name, 'model', g.model,"
		"   'system_prompt', g.system_prompt, 'project_id', g.project_id, 'created_at', rfc3339(g.created_at),"
		"   'conversations', coalesce((SELECT jsonb_agg(jsonb_build_object('id', c.id, 'title', c.title,"
		"   'created_at', rfc3339(c.created_at), 'messages', coalesce((SELECT jsonb_agg(jsonb_build_object('role', m.role,"
		"   'content', m.content, 'created_at', rfc3339(m.created_at), 'total_tokens', m.total_tokens) ORDER BY m.seq)"
		"   FROM messages m WHERE m.conversation_id = c.id), '[]')) ORDER BY c.created_at)"
		"   FROM conversations c WHERE c.agent_id = g.id), '[]')) ORDER BY g.created_at)"
		"   FROM agents g WHERE g.user_id = $1), '[]'),"
		" 'token_usage', coalesce((SELECT jsonb_agg(jsonb_build_object('period_start', rfc3339(t.period_start),"
		"   'period_end', rfc3339(t.period_end), 'used', t.used) ORDER BY t.period_start)"
		"   FROM token_usage t WHERE t.user_id = $1), '[]'),"
		" 'audit', coalesce((SELECT jsonb_agg(jsonb_build_object('at', rfc3339(l.at), 'action', l.action, 'ip', l.ip)"
		"   ORDER BY l.at) FROM audit_log l WHERE l.actor_id = $1 OR l.target_id = $1::text), '[]')"
		")::text",

	/* Periodic cleanup of what has expired (bounded per run). */
	[AUTH_CLEANUP] =
		"WITH s AS (DELETE FROM sessions WHERE id IN (SELECT id FROM sessions"
		"   WHERE expires_at < now() - interval '7 days' OR revoked_at < now() - interval '30 days' LIMIT 5000)),"
		" r AS (DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens"
		/* a rotated token stays until it expires: replaying it must still revoke its session */
		"   WHERE expires_at < now() LIMIT 5000)),"
		" t AS (DELETE FROM auth_tokens WHERE id IN (SELECT id FROM auth_tokens"
		"   WHERE expires_at < now() - interval '1 day' LIMIT 5000)),"
		" l AS (DELETE FROM login_throttle WHERE last_failure_at < now() - interval '1 day'"
		"   AND (locked_until IS NULL OR locked_until < now())),"
		" k AS (DELETE FROM rate_limits WHERE window_start < now() - interval '2 days')"
		" SELECT 1",
};

const struct db_stmts auth_stmts = {"auth", sql, AUTH_STMT__COUNT};
