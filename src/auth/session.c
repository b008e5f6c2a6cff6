/* session.c — sessions and rotating refresh tokens. */
#include "tollgate/session.h"
#include "tollgate/arena.h"
#include "tollgate/crypto.h"
#include "tollgate/db.h"
#include "tollgate/page.h"
#include "tollgate/status.h"
#include "tollgate/uuid.h"
#include "auth_sql.h"

#include <stdio.h>
#include <string.h>

/* The successor of token: base64url(HMAC-SHA256(K, token)), K = HMAC-SHA256(secret, label). */
static char *successor(struct arena *a, const unsigned char *secret, size_t secret_len, const char *token)
{
	static const char label[] = "tollgate refresh token rotation";
	uint8_t k[CRYPTO_SHA256_LEN], next[CRYPTO_SHA256_LEN];
	if (crypto_hmac_sha256(secret, secret_len, label, sizeof(label) - 1, k) != 0 ||
	    crypto_hmac_sha256(k, sizeof(k), token, strlen(token), next) != 0)
		return NULL;
	char *out = b64url_encode(a, next, sizeof(next));
	explicit_bzero(k, sizeof(k));
	explicit_bzero(next, sizeof(next));
	return out;
}

int session_refresh(struct db *db, struct arena *a, const unsigned char *secret, size_t secret_len,
		    const char *refresh_token, int refresh_ttl, int reuse_interval, const struct account_client *cl,
		    enum session_refresh_result *result, struct account_user *u, struct account_tokens *t)
{
	*result = SESSION_INVALID;
	if (!refresh_token || strlen(refresh_token) > 256)
		return TG_OK;
	char hash[2 * CRYPTO_SHA256_LEN + 1], grace[16], ttl[24];
	crypto_token_hash(refresh_token, hash);
	snprintf(grace, sizeof(grace), "%d", reuse_interval);
	snprintf(ttl, sizeof(ttl), "%d", refresh_ttl);

	int rc = db_begin(db);
	if (rc != TG_OK)
		return rc;
	const char *lp[] = {hash, grace};
	PGresult *r;
	rc = db_exec(db, a, &auth_stmts, AUTH_REFRESH_LOOKUP, 2, lp, &r);
	if (rc != TG_OK)
		goto fail;
	if (PQntuples(r) != 1 || !db_bool(r, 0, 4) || !db_bool(r, 0, 5)) {
		db_rollback(db); /* unknown, expired, or its session is over */
		return TG_OK;
	}
	const char *token_id = db_value(r, 0, 0), *session_id = db_value(r, 0, 1);
	bool rotated = db_bool(r, 0, 2), in_grace = db_bool(r, 0, 3);
	const char *status = db_value(r, 0, 6);
	if (rotated && !in_grace) {
		const char *rp[] = {session_id, cl->ip};
		if ((rc = db_exec(db, a, &auth_stmts, AUTH_REFRESH_REUSED, 2, rp, NULL)) != TG_OK)
			goto fail;
		if ((rc = db_commit(db)) != TG_OK)
			return rc;
		*result = SESSION_REUSED;
		return TG_OK;
	}
	if (!status || strcmp(status, "active")) {
		db_rollback(db);
		*result = SESSION_SUSPENDED;
		return TG_OK;
	}
	/* Rotation and a replay within the grace interval both hand out the same successor. */
	char *token = successor(a, secret, secret_len, refresh_token);
	if (!token) {
		rc = TG_EINTERNAL;
		goto fail;
	}
	char nh[2 * CRYPTO_SHA256_LEN + 1];
	crypto_token_hash(token, nh);
	const char *wp[] = {token_id, session_id, nh, ttl, cl->user_agent ? cl->user_agent : "", cl->ip};
	PGresult *w;
	if ((rc = db_exec(db, a, &auth_stmts, AUTH_REFRESH_ROTATE, 6, wp, &w)) != TG_OK)
		goto fail;
	if (PQntuples(w) != 1) {
		rc = TG_EINTERNAL;
		goto fail;
	}
	if ((rc = db_commit(db)) != TG_OK)
		return rc;
	account_user_from_row(w, 0, 0, u);
	t->session_id = session_id;
	t->refresh_token = token;
	*result = SESSION_REFRESHED;
	return TG_OK;
fail:
	db_rollback(db);
	return rc;
}

int session_logout_token(struct db *db, struct arena *a, const char *refresh_token,
			 const struct account_client *cl)
{
	if (!refresh_token || strlen(refresh_token) > 256)
		return TG_OK;
	char hash[2 * CRYPTO_SHA256_LEN + 1];
	crypto_token_hash(refresh_token, hash);
	const char *p[] = {hash, cl->ip};
	return db_exec(db, a, &auth_stmts, AUTH_LOGOUT_TOKEN, 2, p, NULL);
}

int session_revoke(struct db *db, struct arena *a, const char *user_id, const char *session_id,
		   const char *action, const struct account_client *cl)
{
	if (!uuid_valid(session_id))
		return TG_ENOTFOUND;
	const char *p[] = {session_id, user_id, cl->ip, action};
	return db_exec_row(db, a, &auth_stmts, AUTH_SESSION_REVOKE, 4, p, NULL);
}

int session_revoke_all(struct db *db, struct arena *a, const char *user_id, const struct account_client *cl)
{
	const char *p[] = {user_id, cl->ip};
	return db_exec(db, a, &auth_stmts, AUTH_SESSION_REVOKE_ALL, 2, p, NULL);
}

int session_list(struct db *db, struct arena *a, const char *user_id, const char *current_session_id,
		 struct page *pg, json_object **out)
{
	const char *p[] = {user_id, current_session_id, pg->limit, pg->offset};
	PGresult *r;
	int rc = db_exec(db, a, &auth_stmts, AUTH_SESSION_LIST, 4, p, &r);
	if (rc != TG_OK)
		return rc;
	json_object *arr = json_object_new_array();
	for (int i = 0; i < PQntuples(r); i++) {
		pg->total = db_int(r, i, 6);
		if (!db_value(r, i, 0))
			continue; /* past the last page: only the total */
		json_object *o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(db_value(r, i, 0)));
		json_object_object_add(o, "created_at", json_object_new_string(db_value(r, i, 1)));
		json_object_object_add(o, "last_used_at", json_object_new_string(db_value(r, i, 2)));
		json_object_object_add(o, "user_agent", json_object_new_string(db_value(r, i, 3)));
		json_object_object_add(o, "ip", json_object_new_string(db_value(r, i, 4)));
		json_object_object_add(o, "current", json_object_new_boolean(db_bool(r, i, 5)));
		json_object_array_add(arr, o);
	}
	*out = arr;
	return TG_OK;
}
