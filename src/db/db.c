/* db.c — connection, reconnect with backoff, lazily prepared statements. */
#include "tollgate/db.h"
#include "tollgate/mem.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/log.h"
#include "tollgate/status.h"
#include "tollgate/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_MAX_SETS 32
#define DB_MAX_LISTENS 8
#define BACKOFF_MIN_US 100000
#define BACKOFF_MAX_US 5000000

struct prepared_set {
	const struct db_stmts *set;
	unsigned char *prepared; /* one flag per statement, for the current connection */
};

struct db {
	PGconn *conn;
	char *conninfo;
	char options[160];
	char connect_timeout[16];
	struct prepared_set sets[DB_MAX_SETS];
	int nsets;
	bool in_tx;
	int64_t next_attempt_us;
	int64_t backoff_us;
	char sqlstate[6];
	uint64_t generation;                      /* connections made so far */
	struct {
		const char *channel; /* LISTENed on every connection (a static name) */
		db_notify_fn fn;
		void *ud;
	} listens[DB_MAX_LISTENS];
	int nlistens;
};

static void forget_prepared(struct db *db)
{
	for (int i = 0; i < db->nsets; i++)
		memset(db->sets[i].prepared, 0, (size_t)db->sets[i].set->count);
}

/* LISTEN channel on the current connection (channel names are ours, never input). */
static void listen_now(struct db *db, const char *channel)
{
	char sql[96];
	snprintf(sql, sizeof(sql), "LISTEN %s", channel);
	PGresult *r = PQexec(db->conn, sql);
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
		log_warn("LISTEN %s failed: %s", channel, db->conn ? PQerrorMessage(db->conn) : "no connection");
	PQclear(r);
}

static int connect_now(struct db *db)
{
	if (db->conn) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	const char *const kw[] = {"dbname", "connect_timeout", "options", "application_name", NULL};
	const char *const val[] = {db->conninfo, db->connect_timeout, db->options, "tollgate", NULL};
	db->conn = PQconnectdbParams(kw, val, 1);
	db->in_tx = false;
	forget_prepared(db);
	if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
		const char *msg = db->conn ? PQerrorMessage(db->conn) : "out of memory";
		char line[256];
		snprintf(line, sizeof(line), "%s", msg);
		line[strcspn(line, "\n")] = '\0';
		log_warn("database connection failed: %s", line);
		if (db->conn) {
			PQfinish(db->conn);
			db->conn = NULL;
		}
		db->backoff_us = db->backoff_us ? db->backoff_us * 2 : BACKOFF_MIN_US;
		if (db->backoff_us > BACKOFF_MAX_US)
			db->backoff_us = BACKOFF_MAX_US;
		db->next_attempt_us = time_mono_us() + db->backoff_us;
		return TG_EUNAVAIL;
	}
	db->backoff_us = 0;
	db->next_attempt_us = 0;
	db->generation++;
	for (int i = 0; i < db->nlistens; i++)
		listen_now(db, db->listens[i].channel);
	return TG_OK;
}

int db_open(struct db **out, const struct tg_config *cfg)
{
	struct db *db = mem_calloc(1, sizeof(*db));
	db->conninfo = mem_strdup(cfg->database_url);
	snprintf(db->options, sizeof(db->options), "-c statement_timeout=%d -c TimeZone=UTC",
		 cfg->db_statement_timeout_ms);
	snprintf(db->connect_timeout, sizeof(db->connect_timeout), "%d", cfg->db_connect_timeout);
	*out = db;
	return connect_now(db);
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->conn)
		PQfinish(db->conn);
	for (int i = 0; i < db->nsets; i++)
		free(db->sets[i].prepared);
	free(db->conninfo);
	free(db);
}

int db_ensure(struct db *db)
{
	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		return TG_OK;
	if (db->in_tx)
		return TG_EUNAVAIL; /* a lost transaction cannot be resumed */
	if (time_mono_us() < db->next_attempt_us)
		return TG_EUNAVAIL;
	return connect_now(db);
}

void db_listen(struct db *db, const char *channel, db_notify_fn fn, void *ud)
{
	bool listening = false;
	for (int i = 0; i < db->nlistens; i++)
		listening = listening || !strcmp(db->listens[i].channel, channel);
	if (db->nlistens == DB_MAX_LISTENS) {
		log_error("db_listen: more than %d listeners (raise DB_MAX_LISTENS)", DB_MAX_LISTENS);
		abort(); /* a programming error, found by the first test that starts a worker */
	}
	db->listens[db->nlistens].channel = channel;
	db->listens[db->nlistens].fn = fn;
	db->listens[db->nlistens].ud = ud;
	db->nlistens++;
	if (!listening && db->conn && PQstatus(db->conn) == CONNECTION_OK && !db->in_tx)
		listen_now(db, channel);
}

int db_notifications(struct db *db)
{
	if (!db->conn)
		return 0;
	if (!db->in_tx && (PQconsumeInput(db->conn) == 0 || PQstatus(db->conn) != CONNECTION_OK)) {
		/* The server went away (restart, terminated backend): what was built from this
		 * connection's notifications may be stale; the generation changes with the next one. */
		PQfinish(db->conn);
		db->conn = NULL;
		forget_prepared(db);
		return 0;
	}
	int n = 0;
	PGnotify *note;
	while ((note = PQnotifies(db->conn))) {
		for (int i = 0; i < db->nlistens; i++)
			if (!strcmp(db->listens[i].channel, note->relname))
				db->listens[i].fn(db->listens[i].ud, note->relname, note->extra);
		PQfreemem(note);
		n++;
	}
	return n;
}

uint64_t db_generation(const struct db *db)
{
	return db->conn ? db->generation : 0;
}

void db_disconnect(struct db *db)
{
	if (!db->conn || db->in_tx)
		return;
	PQfinish(db->conn);
	db->conn = NULL;
	forget_prepared(db);
}

bool db_connected(const struct db *db)
{
	return db->conn != NULL;
}

PGconn *db_conn(struct db *db)
{
	return db->conn;
}

static struct prepared_set *find_set(struct db *db, const struct db_stmts *set)
{
	for (int i = 0; i < db->nsets; i++)
		if (db->sets[i].set == set)
			return &db->sets[i];
	if (db->nsets == DB_MAX_SETS)
		return NULL;
	struct prepared_set *ps = &db->sets[db->nsets];
	ps->prepared = mem_calloc((size_t)set->count, 1);
	ps->set = set;
	db->nsets++;
	return ps;
}

static bool connection_lost(struct db *db)
{
	return !db->conn || PQstatus(db->conn) != CONNECTION_OK;
}

static void note_error(struct db *db, const PGresult *r, const char *what)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
	if (state && !strcmp(state, "23505"))
		return; /* unique violation: an expected outcome, the caller answers 409 */
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg)
		msg = db->conn ? PQerrorMessage(db->conn) : "no connection";
	char line[300];
	snprintf(line, sizeof(line), "%s", msg);
	line[strcspn(line, "\n")] = '\0';
	log_error("database %s failed (sqlstate %s): %s", what, state ? state : "-", line);
}

static void pqclear_cb(void *p)
{
	PQclear(p);
}

static int run(struct db *db, struct prepared_set *ps, int id, int nparams, const char *const *params,
	       PGresult **res)
{
	char name[48];
	snprintf(name, sizeof(name), "%s_%d", ps->set->area, id);
	if (!ps->prepared[id]) {
		PGresult *p = PQprepare(db->conn, name, ps->set->sql[id], 0, NULL);
		if (!p || PQresultStatus(p) != PGRES_COMMAND_OK) {
			if (!connection_lost(db))
				note_error(db, p, name);
			PQclear(p);
			return connection_lost(db) ? TG_EUNAVAIL : TG_EDB;
		}
		PQclear(p);
		ps->prepared[id] = 1;
	}
	PGresult *r = PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*res = r;
		return TG_OK;
	}
	if (connection_lost(db)) {
		PQclear(r);
		return TG_EUNAVAIL;
	}
	note_error(db, r, name);
	int rc = !strcmp(db->sqlstate, "23505") ? TG_ECONFLICT : TG_EDB;
	PQclear(r);
	return rc;
}

int db_exec(struct db *db, struct arena *a, const struct db_stmts *set, int id, int nparams,
	    const char *const *params, PGresult **out)
{
	db->sqlstate[0] = '\0';
	if (id < 0 || id >= set->count)
		return TG_EINTERNAL;
	int rc = db_ensure(db);
	if (rc != TG_OK)
		return rc;
	struct prepared_set *ps = find_set(db, set);
	if (!ps)
		return TG_ENOMEM;
	PGresult *r = NULL;
	rc = run(db, ps, id, nparams, params, &r);
	if (rc == TG_EUNAVAIL && !db->in_tx) {
		/* The server may have restarted since our last statement: one fresh attempt. */
		db->next_attempt_us = 0;
		if (connect_now(db) == TG_OK)
			rc = run(db, ps, id, nparams, params, &r);
	}
	if (rc == TG_EUNAVAIL)
		db->in_tx = false;
	if (rc != TG_OK)
		return rc;
	if (!out)
		PQclear(r);
	else {
		*out = r;
		if (a)
			arena_on_reset(a, pqclear_cb, r);
	}
	return TG_OK;
}

int db_exec_row(struct db *db, struct arena *a, const struct db_stmts *set, int id, int nparams,
		const char *const *params, PGresult **out)
{
	PGresult *r;
	int rc = db_exec(db, a, set, id, nparams, params, &r);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(r) < 1) {
		if (!a)
			PQclear(r);
		return TG_ENOTFOUND;
	}
	if (out)
		*out = r;
	else if (!a)
		PQclear(r);
	return TG_OK;
}

/* Session-level advisory locks: held by the connection, not by a transaction. */
enum { DB_TRY_LOCK, DB_UNLOCK, DB_STMT__COUNT };
static const char *const lock_sql[DB_STMT__COUNT] = {
	[DB_TRY_LOCK] = "SELECT pg_try_advisory_lock($1::int, hashtext($2))",
	[DB_UNLOCK] = "SELECT pg_advisory_unlock($1::int, hashtext($2))",
};
static const struct db_stmts lock_stmts = {"db", lock_sql, DB_STMT__COUNT};

int db_try_lock(struct db *db, struct arena *a, enum db_lock_space space, const char *key, bool *got)
{
	*got = false;
	char sp[12];
	snprintf(sp, sizeof(sp), "%d", (int)space);
	const char *p[] = {sp, key};
	PGresult *r;
	int rc = db_exec_row(db, a, &lock_stmts, DB_TRY_LOCK, 2, p, &r);
	if (rc == TG_OK)
		*got = db_bool(r, 0, 0);
	return rc;
}

void db_unlock(struct db *db, struct arena *a, enum db_lock_space space, const char *key)
{
	char sp[12];
	snprintf(sp, sizeof(sp), "%d", (int)space);
	const char *p[] = {sp, key};
	/* a lost connection has released it already */
	db_exec(db, a, &lock_stmts, DB_UNLOCK, 2, p, NULL);
}

static int simple(struct db *db, const char *sql)
{
	PGresult *r = PQexec(db->conn, sql);
	bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok && !connection_lost(db))
		note_error(db, r, sql);
	PQclear(r);
	if (ok)
		return TG_OK;
	return connection_lost(db) ? TG_EUNAVAIL : TG_EDB;
}

int db_begin(struct db *db)
{
	int rc = db_ensure(db);
	if (rc != TG_OK)
		return rc;
	rc = simple(db, "BEGIN");
	if (rc == TG_EUNAVAIL) {
		db->next_attempt_us = 0;
		if (connect_now(db) == TG_OK)
			rc = simple(db, "BEGIN");
	}
	db->in_tx = rc == TG_OK;
	return rc;
}

int db_commit(struct db *db)
{
	if (!db->in_tx)
		return TG_EINTERNAL;
	int rc = simple(db, "COMMIT");
	db->in_tx = false;
	return rc;
}

int db_finish(struct db *db, int rc)
{
	if (rc == TG_OK)
		return db_commit(db);
	db_rollback(db);
	return rc;
}

int db_savepoint(struct db *db)
{
	return db->in_tx ? simple(db, "SAVEPOINT tg_sp") : TG_EINTERNAL;
}

int db_rollback_to_savepoint(struct db *db)
{
	return db->in_tx ? simple(db, "ROLLBACK TO SAVEPOINT tg_sp") : TG_EINTERNAL;
}

void db_rollback(struct db *db)
{
	if (!db->in_tx)
		return;
	db->in_tx = false;
	if (!connection_lost(db))
		(void)simple(db, "ROLLBACK");
}

const char *db_value(const PGresult *r, int row, int col)
{
	if (row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
		return NULL;
	return PQgetvalue(r, row, col);
}

bool db_bool(const PGresult *r, int row, int col)
{
	const char *v = db_value(r, row, col);
	return v && v[0] == 't';
}

long long db_int(const PGresult *r, int row, int col)
{
	const char *v = db_value(r, row, col);
	return v ? strtoll(v, NULL, 10) : 0;
}
