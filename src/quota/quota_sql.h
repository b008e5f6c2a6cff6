/* quota_sql.h — private to src/quota: the area's statement table. */
#ifndef TOLLGATE_QUOTA_SQL_H
#define TOLLGATE_QUOTA_SQL_H

#include "tollgate/db.h"

enum quota_stmt {
	Q_TAKE,
	Q_COUNT,
	Q_NOTICE,
	Q_TOKENS_ROW,
	Q_GIVE_BACK_USER,
	Q_RESERVE,
	Q_TOKENS_STATE,
	Q_SETTLE,
	Q_ADD_USED,
	Q_GIVE_BACK_EXPIRED,
	Q_USAGE,
	Q_STMT__COUNT
};

extern const struct db_stmts quota_stmts;

#endif
