/* jobs_sql.h — private to src/jobs: the statement table of the job queue. */
#ifndef TOLLGATE_JOBS_SQL_H
#define TOLLGATE_JOBS_SQL_H

#include "tollgate/db.h"

enum jobs_stmt { JOBS_ENQUEUE, JOBS_DUE, JOBS_TAKE, JOBS_DONE, JOBS_RETRY, JOBS_FAILED, JOBS_STMT__COUNT };

extern const struct db_stmts jobs_stmts;

#endif
