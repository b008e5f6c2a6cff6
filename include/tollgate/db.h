/* db.h — one PostgreSQL connection per process, prepared statements, transactions.
 *
 * Each area owns its SQL as a table (`enum` + `const char *const sql[]`, `$n` parameters) and
 * describes it with a `struct db_stmts`. A statement is prepared on its first use on a
 * connection and reused for the connection's life; a reconnect prepares again. */
#ifndef TOLLGATE_DB_H
#define TOLLGATE_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct arena;
struct tg_config;

struct db_stmts {
	const char *area;          /* statement names are "<area>_<index>" */
	const char *const *sql;
	int count;
};

struct db;

/* Creates the handle and tries to connect once. Returns TG_OK, TG_EUNAVAIL (handle still
 * usable: later calls retry with backoff), or TG_ENOMEM. Caller closes. */
int db_open(struct db **out, const struct tg_config *cfg);
void db_close(struct db *db);
/* Makes sure the connection is up, reconnecting (with backoff) when it is not.
 * Returns TG_OK or TG_EUNAVAIL. */
int db_ensure(struct db *db);
/* Runs statement id of set with text parameters (NULL = SQL NULL).
 * On TG_OK and out != NULL, *out is the result: freed when arena a resets (or by the caller
 * with PQclear when a is NULL). Returns TG_OK, TG_ECONFLICT (unique violation),
 * TG_EUNAVAIL (connection lost), TG_EDB (any other error, logged). */
int db_exec(struct db *db, struct arena *a, const struct db_stmts *set, int id, int nparams,
	    const char *const *params, PGresult **out);
/* db_exec for statements that affect or return one row: TG_ENOTFOUND when they return none. */
int db_exec_row(struct db *db, struct arena *a, const struct db_stmts *set, int id, int nparams,
		const char *const *params, PGresult **out);
/* Transactions. begin/commit return TG_OK, TG_EUNAVAIL or TG_EDB; rollback never fails. */
int db_begin(struct db *db);
/* Ends the transaction: commits when rc is TG_OK, else rolls back. Returns rc, or the commit's
 * failure. */
int db_finish(struct db *db, int rc);
int db_commit(struct db *db);
void db_rollback(struct db *db);
/* A savepoint inside the current transaction, and going back to it (work since it is undone,
 * the transaction goes on). */
int db_savepoint(struct db *db);
int db_rollback_to_savepoint(struct db *db);
/* Session-level advisory locks: held by the connection with no transaction open (so a network
 * call may run under one), and released by PostgreSQL the moment the connection ends (a worker
 * that dies never leaves one behind). A space per kind of thing; key is hashed. */
enum db_lock_space { DB_LOCK_JOB = 1, DB_LOCK_OUTBOX = 2, DB_LOCK_CHECKOUT = 3, DB_LOCK_LITELLM_KEY = 4 };
/* *got: the lock is now ours. */
int db_try_lock(struct db *db, struct arena *a, enum db_lock_space space, const char *key, bool *got);
void db_unlock(struct db *db, struct arena *a, enum db_lock_space space, const char *key);

typedef void (*db_notify_fn)(void *ud, const char *channel, const char *payload);
/* Asks for PostgreSQL's notifications on channel (a static name) on this connection and on every
 * one made later; db_notifications hands each to fn. Several listeners may share a channel. */
void db_listen(struct db *db, const char *channel, db_notify_fn fn, void *ud);
/* Hands the notifications that have arrived to their listeners, without waiting and without a
 * round trip (reads what the socket already holds; libpq also keeps those that came with a
 * result). A connection found broken is dropped (db_generation becomes 0). Returns how many. */
int db_notifications(struct db *db);
/* Which connection this is: changes with every reconnect (0 while there is none). A cache filled
 * from one connection's notifications must be dropped when it changes: some may have been missed. */
uint64_t db_generation(const struct db *db);
/* Closes the connection (not inside a transaction); the next statement connects again. For a
 * process that should hold no connection while it waits on something else (a chat's stream). */
void db_disconnect(struct db *db);
bool db_connected(const struct db *db);
/* The raw connection, for the migrations runner and LISTEN. May be NULL. */
PGconn *db_conn(struct db *db);

/* Result helpers: value of (row, col) or NULL when SQL NULL. */
const char *db_value(const PGresult *r, int row, int col);
bool db_bool(const PGresult *r, int row, int col);
long long db_int(const PGresult *r, int row, int col);

#endif
