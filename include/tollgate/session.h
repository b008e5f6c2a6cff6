/* session.h — server-side sessions, rotating refresh tokens, and the per-request check. */
#ifndef TOLLGATE_SESSION_H
#define TOLLGATE_SESSION_H

#include "tollgate/account.h"

#include <json.h>

struct arena;
struct db;

enum session_refresh_result {
	SESSION_REFRESHED,
	SESSION_INVALID,     /* unknown, expired or revoked token */
	SESSION_REUSED,      /* rotated token replayed after the grace interval: session revoked */
	SESSION_SUSPENDED,   /* the user is suspended */
};
/* Rotates refresh_token: a new token for the same session. The new token is derived from the
 * old one with a key made from secret (HMAC), so a replay within reuse_interval seconds of the
 * rotation (concurrent tabs) gets the very same new token and the session never forks; a replay
 * later revokes the session. */
int session_refresh(struct db *db, struct arena *a, const unsigned char *secret, size_t secret_len,
		    const char *refresh_token, int refresh_ttl, int reuse_interval, const struct account_client *cl,
		    enum session_refresh_result *result, struct account_user *u, struct account_tokens *t);
/* Revokes the session holding refresh_token (logout). Unknown tokens are not an error. */
int session_logout_token(struct db *db, struct arena *a, const char *refresh_token,
			 const struct account_client *cl);
/* Revokes one session of user_id. TG_ENOTFOUND when it is not a live session of that user. */
int session_revoke(struct db *db, struct arena *a, const char *user_id, const char *session_id,
		   const char *action, const struct account_client *cl);
/* Revokes every session of user_id. */
int session_revoke_all(struct db *db, struct arena *a, const char *user_id, const struct account_client *cl);
/* A page of the live sessions of user_id: {items:[{id, created_at, last_used_at, user_agent, ip,
 * current}], page, per_page, total}. */
struct page;
int session_list(struct db *db, struct arena *a, const char *user_id, const char *current_session_id,
		 struct page *pg, json_object **out);

#endif
