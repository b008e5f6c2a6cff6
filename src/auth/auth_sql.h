/* auth_sql.h — private to src/auth: the area's statement table. */
#ifndef TOLLGATE_AUTH_SQL_H
#define TOLLGATE_AUTH_SQL_H

#include "tollgate/db.h"

/* The User object's columns, in account_user_from_row order, for a users row aliased u. */
#define USER_COLUMNS                                                                                  \
	"u.id, u.email, u.name, u.role, u.email_verified_at IS NOT NULL, u.mfa_enabled, user_plan(u.id), " \
	"rfc3339(u.created_at)"
#define USER_NCOLUMNS 8

enum auth_stmt {
	AUTH_PRINCIPAL,
	AUTH_REGISTER,
	AUTH_LOGIN_LOOKUP,
	AUTH_LOGIN_FAILED,
	AUTH_LOGIN_SUCCEEDED,
	AUTH_REFRESH_LOOKUP,
	AUTH_REFRESH_ROTATE,
	AUTH_REFRESH_REUSED,
	AUTH_LOGOUT_TOKEN,
	AUTH_SESSION_REVOKE,
	AUTH_SESSION_REVOKE_ALL,
	AUTH_SESSION_LIST,
	AUTH_PASSWORD_OF,
	AUTH_UPDATE_NAME,
	AUTH_CHANGE_PASSWORD,
	AUTH_DELETE_USER,
	AUTH_CREATE_USER,
	AUTH_RATE_LIMIT,
	AUTH_TOKEN_ISSUE,
	AUTH_TOKEN_LOOKUP,
	AUTH_RESET_PASSWORD,
	AUTH_VERIFY_EMAIL,
	AUTH_FIND_BY_EMAIL,
	AUTH_FIND_BY_ID,
	AUTH_CLEANUP,
	AUTH_THROTTLE_ATTEMPT,
	AUTH_THROTTLE_CLEAR,
	AUTH_STMT__COUNT
};

extern const struct db_stmts auth_stmts;

struct arena;
struct account_user;
/* Runs stmt, which returns the user columns first; fills u from its only row. TG_ENOTFOUND when
 * it returns no row. *r (may be NULL) keeps the result for the columns after the user's. */
int auth_user_query(struct db *db, struct arena *a, int stmt, int n, const char *const *p,
		    struct account_user *u, PGresult **r);

#endif
