/* account.c — users: the database side of registration, login, profile and deletion. */
#include "tollgate/account.h"
#include "tollgate/arena.h"
#include "tollgate/crypto.h"
#include "tollgate/db.h"
#include "tollgate/status.h"
#include "tollgate/uuid.h"
#include "auth_sql.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define EMAIL_MAX 254
#define NAME_MAX_CHARS 100

char *account_normalize_email(struct arena *a, const char *email)
{
	if (!email)
		return NULL;
	while (isspace((unsigned char)*email))
		email++;
	size_t n = strlen(email);
	while (n && isspace((unsigned char)email[n - 1]))
		n--;
	if (n == 0 || n > EMAIL_MAX)
		return NULL;
	char *e = arena_strndup(a, email, n);
	if (!e)
		return NULL;
	for (char *p = e; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	/* local@domain.tld: one '@', a non-empty local part, a dotted domain, no spaces or controls */
	const char *at = strchr(e, '@');
	if (!at || at == e || strchr(at + 1, '@'))
		return NULL;
	const char *domain = at + 1;
	size_t dl = strlen(domain);
	bool dotted = strchr(domain, '.') != NULL || !strcmp(domain, "localhost");
	if (dl < 3 || !dotted || domain[0] == '.' || domain[dl - 1] == '.' || strstr(domain, ".."))
		return NULL;
	if ((size_t)(at - e) > 64)
		return NULL;
	/* Internationalised addresses need SMTPUTF8 end to end, which we do not promise: ASCII only,
	 * so lower-casing here and PostgreSQL's lower() agree whatever the locale. */
	for (const unsigned char *p = (const unsigned char *)e; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7F || *p == '<' || *p == '>' || *p == '(' || *p == ')' || *p == ',' ||
		    *p == ';' || *p == ':' || *p == '\\' || *p == '"' || *p == '[' || *p == ']')
			return NULL;
	}
	for (const char *p = domain; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return NULL;
	return e;
}

bool account_name_valid(const char *name)
{
	size_t chars = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7F)
			return false;
		if ((*p & 0xC0) != 0x80)
			chars++;
	}
	return chars <= NAME_MAX_CHARS;
}

const char *account_normalize_name(struct arena *a, const char *name, char **out)
{
	while (isspace((unsigned char)*name))
		name++;
	size_t n = strlen(name);
	while (n && isspace((unsigned char)name[n - 1]))
		n--;
	*out = arena_strndup(a, name, n);
	if (!*out)
		return "could not be read";
	for (const unsigned char *p = (const unsigned char *)*out; *p; p++)
		if (*p < 0x20 || *p == 0x7F)
			return "must not contain control characters";
	return account_name_valid(*out) ? NULL : "must be at most 100 characters";
}

int auth_user_query(struct db *db, struct arena *a, int stmt, int n, const char *const *p,
		    struct account_user *u, PGresult **out)
{
	PGresult *r;
	int rc = db_exec(db, a, &auth_stmts, stmt, n, p, &r);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(r) != 1)
		return TG_ENOTFOUND;
	account_user_from_row(r, 0, 0, u);
	if (out)
		*out = r;
	return TG_OK;
}

void account_user_from_row(const PGresult *r, int row, int col0, struct account_user *u)
{
	u->id = db_value(r, row, col0);
	u->email = db_value(r, row, col0 + 1);
	u->name = db_value(r, row, col0 + 2);
	u->role = db_value(r, row, col0 + 3);
	u->email_verified = db_bool(r, row, col0 + 4);
	u->mfa_enabled = db_bool(r, row, col0 + 5);
	u->plan = db_value(r, row, col0 + 6);
	u->created_at = db_value(r, row, col0 + 7);
}

json_object *account_user_json(const struct account_user *u)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(u->id ? u->id : ""));
	json_object_object_add(o, "email", json_object_new_string(u->email ? u->email : ""));
	json_object_object_add(o, "name", json_object_new_string(u->name ? u->name : ""));
	json_object_object_add(o, "role", json_object_new_string(u->role ? u->role : "user"));
	json_object_object_add(o, "email_verified", json_object_new_boolean(u->email_verified));
	json_object_object_add(o, "mfa_enabled", json_object_new_boolean(u->mfa_enabled));
	json_object_object_add(o, "plan", json_object_new_string(u->plan ? u->plan : "free"));
	json_object_object_add(o, "created_at", json_object_new_string(u->created_at ? u->created_at : ""));
	return o;
}

static void itoa_buf(char *buf, size_t n, long long v)
{
	snprintf(buf, n, "%lld", v);
}

int account_register(struct db *db, struct arena *a, const char *email, const char *name, const char *hash,
		     int refresh_ttl, const struct account_client *cl, struct account_user *u,
		     struct account_tokens *t)
{
	char ttl[24], th[2 * CRYPTO_SHA256_LEN + 1];
	itoa_buf(ttl, sizeof(ttl), refresh_ttl);
	char *token = crypto_token(a);
	if (!token)
		return TG_EINTERNAL;
	crypto_token_hash(token, th);
	const char *p[] = {email, name, hash, ttl, cl->user_agent ? cl->user_agent : "", cl->ip, th};
	PGresult *r;
	int rc = db_exec(db, a, &auth_stmts, AUTH_REGISTER, 7, p, &r);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(r) != 1)
		return TG_ECONFLICT;
	account_user_from_row(r, 0, 0, u);
	t->session_id = db_value(r, 0, USER_NCOLUMNS);
	t->refresh_token = token;
	return TG_OK;
}

/* The throttle parameters as statement parameters. */
struct throttle_params {
	char max[16], window[16], base[16], cap[16];
};

static void throttle_params(const struct account_throttle *th, struct throttle_params *tp)
{
	itoa_buf(tp->max, sizeof(tp->max), th->max_failures);
	itoa_buf(tp->window, sizeof(tp->window), th->window);
	itoa_buf(tp->base, sizeof(tp->base), th->lockout_base);
	itoa_buf(tp->cap, sizeof(tp->cap), th->lockout_max);
}

int account_login_lookup(struct db *db, struct arena *a, const char *email, const struct account_throttle *th,
			 struct account_login *out)
{
	memset(out, 0, sizeof(*out));
	struct throttle_params tp;
	throttle_params(th, &tp);
	const char *p[] = {email, tp.max, tp.window, tp.base, tp.cap};
	PGresult *r;
	int rc = db_exec(db, a, &auth_stmts, AUTH_LOGIN_LOOKUP, 5, p, &r);
	if (rc != TG_OK)
		return rc;
	out->found = db_value(r, 0, 0) != NULL;
	if (out->found) {
		account_user_from_row(r, 0, 0, &out->user);
		out->password_hash = db_value(r, 0, USER_NCOLUMNS);
		const char *status = db_value(r, 0, USER_NCOLUMNS + 1);
		out->suspended = status && strcmp(status, "active");
	}
	out->locked_seconds = (int)db_int(r, 0, USER_NCOLUMNS + 2);
	return TG_OK;
}

int account_throttle_attempt(struct db *db, struct arena *a, const char *email, const struct account_throttle *th,
			     int *locked_seconds)
{
	struct throttle_params tp;
	throttle_params(th, &tp);
	const char *p[] = {email, tp.max, tp.window, tp.base, tp.cap};
	PGresult *r;
	int rc = db_exec(db, a, &auth_stmts, AUTH_THROTTLE_ATTEMPT, 5, p, &r);
	if (rc != TG_OK)
		return rc;
	*locked_seconds = (int)db_int(r, 0, 0);
	return TG_OK;
}

int account_throttle_clear(struct db *db, struct arena *a, const char *email)
{
	const char *p[] = {email};
	return db_exec(db, a, &auth_stmts, AUTH_THROTTLE_CLEAR, 1, p, NULL);
}

int account_login_failed(struct db *db, struct arena *a, const char *email, const char *user_id,
			 const struct account_client *cl)
{
	const char *p[] = {email, user_id, cl->ip};
	return db_exec(db, a, &auth_stmts, AUTH_LOGIN_FAILED, 3, p, NULL);
}

int account_login_succeeded(struct db *db, struct arena *a, const char *user_id, const char *email,
			    const char *new_hash, int refresh_ttl, const struct account_client *cl,
			    struct account_tokens *t)
{
	char ttl[24], th[2 * CRYPTO_SHA256_LEN + 1];
	itoa_buf(ttl, sizeof(ttl), refresh_ttl);
	char *token = crypto_token(a);
	if (!token)
		return TG_EINTERNAL;
	crypto_token_hash(token, th);
	const char *p[] = {user_id, ttl, cl->user_agent ? cl->user_agent : "", cl->ip, th, email, new_hash};
	PGresult *r;
	int rc = db_exec(db, a, &auth_stmts, AUTH_LOGIN_SUCCEEDED, 7, p, &r);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(r) != 1)
		return TG_EINTERNAL;
	t->session_id = db_value(r, 0, 0);
	t->refresh_token = token;
	return TG_OK;
}

int account_password_of(struct db *db, struct arena *a, const char *user_id, const char **hash,
			const char **email)
{
	const char *p[] = {user_id};
	PGresult *r;
	int rc = db_exec_row(db, a, &auth_stmts, AUTH_PASSWORD_OF, 1, p, &r);
	if (rc != TG_OK)
		return rc;
	*hash = db_value(r, 0, 0);
	*email = db_value(r, 0, 1);
	return TG_OK;
}

int account_update_name(struct db *db, struct arena *a, const char *user_id, const char *name,
			const struct account_client *cl, struct account_user *u)
{
	const char *p[] = {user_id, name, cl->ip};
	return auth_user_query(db, a, AUTH_UPDATE_NAME, 3, p, u, NULL);
}

int account_change_password(struct db *db, struct arena *a, const char *user_id, const char *hash,
			    const char *keep_session_id, const struct account_client *cl)
{
	const char *p[] = {user_id, hash, keep_session_id, cl->ip};
	return db_exec_row(db, a, &auth_stmts, AUTH_CHANGE_PASSWORD, 4, p, NULL);
}

int account_delete(struct db *db, struct arena *a, const char *user_id, const struct account_client *cl)
{
	const char *p[] = {user_id, cl->ip};
	return db_exec_row(db, a, &auth_stmts, AUTH_DELETE_USER, 2, p, NULL);
}

int account_create(struct db *db, struct arena *a, const char *email, const char *name, const char *hash,
		   const char *role, const char **id)
{
	const char *p[] = {email, name, hash, role};
	PGresult *r;
	int rc = db_exec(db, a, &auth_stmts, AUTH_CREATE_USER, 4, p, &r);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(r) != 1)
		return TG_ECONFLICT;
	*id = db_value(r, 0, 0);
	return TG_OK;
}

int account_rate_limit(struct db *db, struct arena *a, const char *key, int limit, int window,
		       int *retry_after)
{
	*retry_after = 0;
	if (limit <= 0)
		return TG_OK;
	char l[16], w[16];
	itoa_buf(l, sizeof(l), limit);
	itoa_buf(w, sizeof(w), window);
	const char *p[] = {key, l, w};
	PGresult *r;
	int rc = db_exec(db, a, &auth_stmts, AUTH_RATE_LIMIT, 3, p, &r);
	if (rc != TG_OK)
		return rc;
	*retry_after = (int)db_int(r, 0, 0);
	return TG_OK;
}

int account_token_issue(struct db *db, struct arena *a, const char *user_id, const char *kind, int ttl,
			char **token)
{
	char *t = crypto_token(a);
	if (!t)
		return TG_EINTERNAL;
	char th[2 * CRYPTO_SHA256_LEN + 1], ttls[24];
	crypto_token_hash(t, th);
	itoa_buf(ttls, sizeof(ttls), ttl);
	const char *p[] = {user_id, kind, th, ttls};
	int rc = db_exec(db, a, &auth_stmts, AUTH_TOKEN_ISSUE, 4, p, NULL);
	if (rc == TG_OK)
		*token = t;
	return rc;
}

/* Tokens we issue are 43 base64url characters; anything else cannot be live. */
static bool token_shape_ok(const char *token)
{
	return token && strlen(token) >= 16 && strlen(token) <= 128;
}

int account_token_user(struct db *db, struct arena *a, const char *kind, const char *token,
		       struct account_user *u)
{
	if (!token_shape_ok(token))
		return TG_ENOTFOUND;
	char th[2 * CRYPTO_SHA256_LEN + 1];
	crypto_token_hash(token, th);
	const char *p[] = {kind, th};
	return auth_user_query(db, a, AUTH_TOKEN_LOOKUP, 2, p, u, NULL);
}

int account_reset_password(struct db *db, struct arena *a, const char *token, const char *hash,
			   const struct account_client *cl, struct account_user *u, bool *newly_verified)
{
	if (!token_shape_ok(token))
		return TG_ENOTFOUND;
	char th[2 * CRYPTO_SHA256_LEN + 1];
	crypto_token_hash(token, th);
	const char *p[] = {th, hash, cl->ip};
	PGresult *r;
	int rc = auth_user_query(db, a, AUTH_RESET_PASSWORD, 3, p, u, &r);
	if (rc != TG_OK)
		return rc;
	*newly_verified = !db_bool(r, 0, USER_NCOLUMNS);
	return TG_OK;
}

int account_verify_email(struct db *db, struct arena *a, const char *token, const struct account_client *cl,
			 struct account_user *u, bool *newly_verified)
{
	if (!token_shape_ok(token))
		return TG_ENOTFOUND;
	char th[2 * CRYPTO_SHA256_LEN + 1];
	crypto_token_hash(token, th);
	const char *p[] = {th, cl->ip};
	PGresult *r;
	int rc = auth_user_query(db, a, AUTH_VERIFY_EMAIL, 2, p, u, &r);
	if (rc != TG_OK)
		return rc;
	*newly_verified = !db_bool(r, 0, USER_NCOLUMNS);
	return TG_OK;
}

static int find_user(struct db *db, struct arena *a, int stmt, const char *key, struct account_user *u, bool *active)
{
	const char *p[] = {key};
	PGresult *r;
	int rc = auth_user_query(db, a, stmt, 1, p, u, &r);
	if (rc != TG_OK)
		return rc;
	const char *st = db_value(r, 0, USER_NCOLUMNS);
	*active = st && !strcmp(st, "active");
	return TG_OK;
}

int account_find_by_email(struct db *db, struct arena *a, const char *email, struct account_user *u,
			  bool *active)
{
	return find_user(db, a, AUTH_FIND_BY_EMAIL, email, u, active);
}

int account_find_by_id(struct db *db, struct arena *a, const char *id, struct account_user *u, bool *active)
{
	if (!uuid_valid(id))
		return TG_ENOTFOUND;
	return find_user(db, a, AUTH_FIND_BY_ID, id, u, active);
}

int account_cleanup(struct db *db, struct arena *a)
{
	return db_exec(db, a, &auth_stmts, AUTH_CLEANUP, 0, NULL, NULL);
}
