/* migrate.c — the migrations runner: advisory lock, one transaction per file, checksums. */
#include "tollgate/migrate.h"
#include "tollgate/mem.h"
#include "tollgate/crypto.h"
#include "tollgate/db.h"
#include "tollgate/status.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Arbitrary constant shared by every tollgate host: only one migrates at a time. */
#define MIGRATE_LOCK_KEY "727174001"

enum { M_CREATE, M_LOCK, M_UNLOCK, M_APPLIED, M_RECORD };
static const char *const migrate_sql[] = {
	[M_CREATE] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
		     " name text PRIMARY KEY, sha256 text NOT NULL,"
		     " applied_at timestamptz NOT NULL DEFAULT now())",
	[M_LOCK] = "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
	[M_UNLOCK] = "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")",
	[M_APPLIED] = "SELECT name, sha256 FROM schema_migrations ORDER BY name",
	[M_RECORD] = "INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)",
};

int migrate_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 10 || strcmp(name + n - 4, ".sql"))
		return 0;
	for (int i = 0; i < 4; i++)
		if (!isdigit((unsigned char)name[i]))
			return 0;
	if (name[4] != '_')
		return 0;
	for (size_t i = 5; i < n - 4; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return 0;
	return 1;
}

static int cmp_migration(const void *a, const void *b)
{
	return strcmp(((const struct migration *)a)->name, ((const struct migration *)b)->name);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		/* a directory opens too, and ftell() then reports an absurd size */
		fclose(f);
		return NULL;
	}
	char *buf = NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = mem_alloc((size_t)n + 1))) {
			if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
				free(buf);
				buf = NULL;
			} else {
				buf[n] = '\0';
				*len = (size_t)n;
			}
		}
	}
	fclose(f);
	return buf;
}

void migrate_list_free(struct migration *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].sql);
	}
	free(m);
}

int migrate_list(const char *dir, struct migration **out, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return TG_EIO;
	struct migration *list = NULL;
	size_t count = 0, cap = 0;
	int rc = TG_OK;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!migrate_name_valid(e->d_name))
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			list = mem_realloc(list, cap * sizeof(*list));
		}
		struct migration *m = &list[count];
		memset(m, 0, sizeof(*m));
		m->name = mem_strdup(e->d_name);
		char *path = mem_printf("%s/%s", dir, e->d_name);
		m->sql = read_file(path, &m->len);
		free(path);
		count++;
		if (!m->sql) {
			rc = TG_EIO;
			break;
		}
		crypto_sha256_hex(m->sql, m->len, m->sha256);
	}
	closedir(d);
	if (rc == TG_OK && count)
		qsort(list, count, sizeof(*list), cmp_migration);
	for (size_t i = 1; rc == TG_OK && i < count; i++)
		if (!strncmp(list[i - 1].name, list[i].name, 4))
			rc = TG_EINPUT;
	if (rc != TG_OK) {
		migrate_list_free(list, count);
		return rc;
	}
	*out = list;
	*n = count;
	return TG_OK;
}

static bool exec_ok(PGconn *conn, PGresult *r)
{
	(void)conn;
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static int simple(PGconn *conn, const char *sql, int nparams, const char *const *params, PGresult **keep,
		  char *err, size_t errlen)
{
	PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (!exec_ok(conn, r)) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		PQclear(r);
		return TG_EDB;
	}
	if (keep)
		*keep = r;
	else
		PQclear(r);
	return TG_OK;
}

static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* "relation ... already exists, skipping" and the like: not news */
}

int migrate_apply(PGconn *conn, const char *dir, FILE *report, char *err, size_t errlen)
{
	PQsetNoticeProcessor(conn, ignore_notice, NULL);
	struct migration *list = NULL;
	size_t n = 0;
	PGresult *applied = NULL;
	err[0] = '\0';
	int rc = migrate_list(dir, &list, &n);
	if (rc != TG_OK) {
		snprintf(err, errlen, "%s: %s", dir,
			 rc == TG_EINPUT ? "two migrations share a number" : "cannot read the migrations");
		return rc;
	}
	if ((rc = simple(conn, migrate_sql[M_LOCK], 0, NULL, NULL, err, errlen)) != TG_OK)
		goto out_free;
	if ((rc = simple(conn, migrate_sql[M_CREATE], 0, NULL, NULL, err, errlen)) != TG_OK)
		goto out;
	if ((rc = simple(conn, migrate_sql[M_APPLIED], 0, NULL, &applied, err, errlen)) != TG_OK)
		goto out;

	/* Every applied migration must still be here, unchanged. */
	for (int i = 0; i < PQntuples(applied); i++) {
		const char *name = PQgetvalue(applied, i, 0), *sum = PQgetvalue(applied, i, 1);
		struct migration *m = NULL;
		for (size_t j = 0; j < n; j++)
			if (!strcmp(list[j].name, name))
				m = &list[j];
		if (!m) {
			snprintf(err, errlen, "applied migration %s is missing from %s", name, dir);
			rc = TG_ECONFLICT;
			goto out;
		}
		if (strcmp(m->sha256, sum)) {
			snprintf(err, errlen, "applied migration %s has changed (sha256 %s, recorded %s)", name,
				 m->sha256, sum);
			rc = TG_ECONFLICT;
			goto out;
		}
	}
	int done = 0;
	for (size_t j = 0; j < n; j++) {
		bool is_applied = false;
		for (int i = 0; i < PQntuples(applied); i++)
			if (!strcmp(PQgetvalue(applied, i, 0), list[j].name))
				is_applied = true;
		if (is_applied)
			continue;
		if ((rc = simple(conn, "BEGIN", 0, NULL, NULL, err, errlen)) != TG_OK)
			goto out;
		/* Migration files are trusted, multi-statement scripts shipped with the binary. */
		PGresult *r = PQexec(conn, list[j].sql);
		if (!exec_ok(conn, r)) {
			snprintf(err, errlen, "%s: %s", list[j].name, PQerrorMessage(conn));
			PQclear(r);
			PQclear(PQexec(conn, "ROLLBACK"));
			rc = TG_EDB;
			goto out;
		}
		PQclear(r);
		const char *params[] = {list[j].name, list[j].sha256};
		if ((rc = simple(conn, migrate_sql[M_RECORD], 2, params, NULL, err, errlen)) != TG_OK ||
		    (rc = simple(conn, "COMMIT", 0, NULL, NULL, err, errlen)) != TG_OK) {
			PQclear(PQexec(conn, "ROLLBACK"));
			goto out;
		}
		done++;
		if (report)
			fprintf(report, "applied %s\n", list[j].name);
	}
	if (report)
		fprintf(report, "%d applied, %zu total\n", done, n);
out:
	PQclear(applied);
	{
		char ignore[8];
		simple(conn, migrate_sql[M_UNLOCK], 0, NULL, NULL, ignore, sizeof(ignore));
	}
out_free:
	migrate_list_free(list, n);
	(void)errno;
	return rc;
}

enum { MS_COUNT };
static const char *const level_sql[] = {
	[MS_COUNT] = "SELECT (SELECT count(*) FROM schema_migrations)"
		     " WHERE to_regclass('schema_migrations') IS NOT NULL",
};
static const struct db_stmts level_stmts = {"migrate", level_sql, 1};

int migrate_applied_count(struct db *db, int *out)
{
	PGresult *r = NULL;
	int rc = db_exec(db, NULL, &level_stmts, MS_COUNT, 0, NULL, &r);
	if (rc != TG_OK)
		return rc;
	*out = PQntuples(r) ? (int)db_int(r, 0, 0) : 0;
	PQclear(r);
	return TG_OK;
}
