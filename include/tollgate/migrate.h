/* migrate.h — applies sql/NNNN_name.sql in order, once each, under an advisory lock. */
#ifndef TOLLGATE_MIGRATE_H
#define TOLLGATE_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

struct migration {
	char *name;      /* "0001_accounts.sql" */
	char *sql;       /* file contents */
	size_t len;
	char sha256[65];
};

/* Lists dir's migrations sorted by name. Names must be NNNN_word.sql; anything else is ignored.
 * Returns TG_OK, TG_EIO (dir unreadable) or TG_EINPUT (duplicate number). Caller frees. */
int migrate_list(const char *dir, struct migration **out, size_t *n);
void migrate_list_free(struct migration *m, size_t n);
/* True when name has the form NNNN_word.sql. */
int migrate_name_valid(const char *name);
/* Applies every pending migration of dir on conn; reports progress on report (may be NULL).
 * Refuses (TG_ECONFLICT) when an applied file's SHA-256 changed or an applied file is missing.
 * Returns TG_OK, TG_ECONFLICT, TG_EIO, TG_EINPUT or TG_EDB; err gets the reason. */
int migrate_apply(PGconn *conn, const char *dir, FILE *report, char *err, size_t errlen);

struct db;
/* Number of rows in schema_migrations on a worker's connection (0 when the table is missing).
 * Returns TG_OK, TG_EUNAVAIL or TG_EDB. */
int migrate_applied_count(struct db *db, int *out);

#endif
