/* principal.h — the bearer check without a query: each worker keeps the sessions it has checked
 * (session id → the User object, the session's end), bounded in entries. PostgreSQL keeps it true:
 * triggers on sessions, users and subscriptions send NOTIFY tollgate_principal ("s:<session id>",
 * "u:<user id>") in the transaction that changes them, and the worker reads the notifications its
 * connection already holds (no round trip) before it trusts an entry. A lost or new connection
 * empties the cache (notifications may have been missed); entries also end after a TTL. */
#ifndef TOLLGATE_PRINCIPAL_H
#define TOLLGATE_PRINCIPAL_H

#include <stdint.h>

struct account_user;
struct arena;
struct db;

#define PRINCIPAL_CHANNEL "tollgate_principal"

struct principal_cache;
/* A cache of up to entries sessions (rounded up to a power of two; 0: every check queries),
 * each trusted for at most ttl seconds. Caller frees. */
struct principal_cache *principal_cache_new(struct db *db, int entries, int ttl);
void principal_cache_free(struct principal_cache *c);

/* The user of a live session (session_principal's answer), from the cache when it holds a fresh
 * entry, else from PostgreSQL. u's strings are arena copies. TG_EAUTH when the session is not live
 * or the user not active. */
int principal_get(struct principal_cache *c, struct arena *a, const char *session_id, const char *user_id,
		  struct account_user *u);

struct principal_stats {
	uint64_t hits, misses, evictions, flushes;
	int entries;
};
void principal_stats(const struct principal_cache *c, struct principal_stats *out);

#endif
