/* auth_sql.c — every SQL statement of the accounts area. Parameters only, never built text. */
#include "auth_sql.h"

#define SECS(n) "make_interval(secs => $" #n ")"

static const char *const sql[AUTH_STMT__COUNT] = {
	[AUTH_PRINCIPAL] =
		"SELECT " USER_COLUMNS
		" FROM sessions s JOIN users u ON u.id = s.user_id"
		" WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()"
		" AND u.status = 'active'",

	[AUTH_REGISTRATION_OPEN] =
		"SELECT coalesce((SELECT value = 'true'::jsonb FROM settings WHERE key = 'registration_open'), true)",

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
		" SELECT u.id, u.email, u.name, u.role, u.email_verified_at IS NOT NULL, u.mfa_enabled, 'free',"
		" rfc3339(u.created_at), s.id FROM u JOIN s ON s.user_id = u.id",

	/* Always one row: the user (NULLs when unknown) and the remaining lock in seconds. */
	[AUTH_LOGIN_LOOKUP] =
		"SELECT " USER_COLUMNS ", u.password_hash, u.status,"
		" (SELECT ceil(extract(epoch FROM t.locked_until - now()))::int FROM login_throttle t"
		"   WHERE t.email = $1 AND t.locked_until > now())"
		" FROM (SELECT 1) one LEFT JOIN users u ON u.email = $1",

	/* $1 email $2 max $3 window $4 base $5 cap $6 user id or NULL $7 ip */
	[AUTH_LOGIN_FAILED] =
		"WITH a AS (INSERT INTO audit_log (actor_id, action, target_type, target_id, ip, detail)"
		"   VALUES ($6::uuid, 'user.login_failed', 'user', coalesce($6::text, ''), $7,"
		"   jsonb_build_object('email', $1::text)))"
		" SELECT login_throttle_fail($1, $2, $3, $4, $5)",

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
		"   VALUES ($2, $3, now() + " SECS(4) ")),"
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

	/* $1 user $2 current session */
	[AUTH_SESSION_LIST] =
		"SELECT id, rfc3339(created_at), rfc3339(last_used_at), user_agent, ip, id = $2::uuid"
		" FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()"
		" ORDER BY last_used_at DESC, created_at DESC LIMIT 200",

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
		"WITH d AS (DELETE FROM users WHERE id = $1 RETURNING id, email)"
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
};

const struct db_stmts auth_stmts = {"auth", sql, AUTH_STMT__COUNT};
