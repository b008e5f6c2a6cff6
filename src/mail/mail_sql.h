/* mail_sql.h — private to src/mail: the area's statement table. */
#ifndef TOLLGATE_MAIL_SQL_H
#define TOLLGATE_MAIL_SQL_H

#include "tollgate/db.h"

enum mail_stmt {
	MAIL_ENQUEUE,
	MAIL_DUE,
	MAIL_TAKE,
	MAIL_SENT,
	MAIL_RETRY,
	MAIL_WAKE,
	MAIL_WAITING,
	MAIL_FAILED,
	MAIL_FORGET_USER,
	NOTIFY_CREATE,
	NOTIFY_LIST,
	NOTIFY_READ,
	NOTIFY_READ_ALL,
	NOTIFY_PREFS_GET,
	NOTIFY_PREFS_PUT,
	MAIL_STMT__COUNT
};

extern const struct db_stmts mail_stmts;

#endif
