/* principal.c — the per-worker cache of checked sessions (principal.h). A set-associative table:
 * a session id hashes to a set of PRINCIPAL_WAYS slots, the least recently used slot of a full set
 * is replaced; a user's notification scans the table (rare, and a few thousand slots). */
#include "tollgate/principal.h"
#include "tollgate/account.h"
#include "tollgate/arena.h"
#include "tollgate/db.h"
#include "tollgate/mem.h"
#include "tollgate/status.h"
#include "tollgate/uuid.h"
#include "auth_sql.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PRINCIPAL_WAYS 4
#define UUID_LEN 36

struct slot {
	char sid[UUID_LEN + 1], uid[UUID_LEN + 1];
	time_t until;     /* 0: empty */
	uint64_t used;    /* last use, for replacement */
	char *strings;    /* the User's strings, one allocation */
	struct account_user user; /* pointing into strings */
};

struct principal_cache {
	struct db *db;
	struct slot *slots;
	size_t nsets; /* a power of two */
	int ttl;
	uint64_t generation; /* of the connection whose notifications the entries rely on */
	uint64_t clock;
	struct principal_stats stats;
};

static void slot_clear(struct principal_cache *c, struct slot *s)
{
	if (!s->until)
		return;
	free(s->strings);
	memset(s, 0, sizeof(*s));
	c->stats.entries--;
}

static void flush(struct principal_cache *c)
{
	for (size_t i = 0; i < c->nsets * PRINCIPAL_WAYS; i++)
		slot_clear(c, &c->slots[i]);
	c->stats.flushes++;
}

/* FNV-1a of the session id. */
static struct slot *set_of(struct principal_cache *c, const char *sid)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)sid; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return &c->slots[(h & (c->nsets - 1)) * PRINCIPAL_WAYS];
}

static void on_notify(void *ud, const char *channel, const char *payload)
{
	(void)channel;
	struct principal_cache *c = ud;
	if (!payload || strlen(payload) != 2 + UUID_LEN || payload[1] != ':') {
		flush(c); /* not ours to understand: the safe answer */
		return;
	}
	const char *id = payload + 2;
	if (payload[0] == 's') {
		struct slot *set = set_of(c, id);
		for (int w = 0; w < PRINCIPAL_WAYS; w++)
			if (set[w].until && !strcmp(set[w].sid, id)) {
				slot_clear(c, &set[w]);
				c->stats.evictions++;
			}
	} else if (payload[0] == 'u') {
		for (size_t i = 0; i < c->nsets * PRINCIPAL_WAYS; i++)
			if (c->slots[i].until && !strcmp(c->slots[i].uid, id)) {
				slot_clear(c, &c->slots[i]);
				c->stats.evictions++;
			}
	} else {
		flush(c);
	}
}

struct principal_cache *principal_cache_new(struct db *db, int entries, int ttl)
{
	struct principal_cache *c = mem_calloc(1, sizeof(*c));
	c->db = db;
	c->ttl = ttl;
	if (entries > 0) {
		size_t sets = 1;
		while (sets * PRINCIPAL_WAYS < (size_t)entries)
			sets <<= 1;
		c->nsets = sets;
		c->slots = mem_calloc(sets * PRINCIPAL_WAYS, sizeof(*c->slots));
		db_listen(db, PRINCIPAL_CHANNEL, on_notify, c);
	}
	return c;
}

void principal_cache_free(struct principal_cache *c)
{
	if (!c)
		return;
	if (c->slots)
		flush(c);
	free(c->slots);
	free(c);
}

void principal_stats(const struct principal_cache *c, struct principal_stats *out)
{
	*out = c->stats;
}

/* The strings of u, copied into one allocation that s owns. */
static void slot_fill(struct slot *s, const struct account_user *u)
{
	const char *src[] = {u->id, u->email, u->name, u->role, u->plan, u->created_at, u->terms_version};
	enum { N = sizeof(src) / sizeof(src[0]) };
	size_t len[N], total = 0;
	for (int i = 0; i < N; i++)
		total += (len[i] = src[i] ? strlen(src[i]) + 1 : 0);
	char *p = s->strings = mem_alloc(total ? total : 1);
	const char *dst[N];
	for (int i = 0; i < N; i++) {
		dst[i] = src[i] ? memcpy(p, src[i], len[i]) : NULL;
		p += len[i];
	}
	s->user = (struct account_user){.id = dst[0], .email = dst[1], .name = dst[2], .role = dst[3], .plan = dst[4],
					.created_at = dst[5], .terms_version = dst[6], .email_verified = u->email_verified,
					.mfa_enabled = u->mfa_enabled};
}

static void copy_out(struct arena *a, const struct account_user *from, struct account_user *u)
{
	*u = *from;
	u->id = arena_strdup(a, from->id);
	u->email = arena_strdup(a, from->email);
	u->name = arena_strdup(a, from->name);
	u->role = arena_strdup(a, from->role);
	u->plan = arena_strdup(a, from->plan);
	u->created_at = arena_strdup(a, from->created_at);
	u->terms_version = arena_strdup(a, from->terms_version);
}

static int query(struct principal_cache *c, struct arena *a, const char *sid, const char *uid, struct account_user *u,
		 time_t *until)
{
	const char *p[] = {sid, uid};
	PGresult *r;
	int rc = auth_user_query(c->db, a, AUTH_PRINCIPAL, 2, p, u, &r);
	if (rc == TG_ENOTFOUND)
		return TG_EAUTH;
	if (rc != TG_OK)
		return rc;
	*until = (time_t)db_int(r, 0, USER_NCOLUMNS);
	return TG_OK;
}

/* The text form PostgreSQL gives uuids (and so the notifications): lower case. */
static void lower_uuid(const char *in, char out[UUID_LEN + 1])
{
	for (int i = 0; i <= UUID_LEN; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
}

int principal_get(struct principal_cache *c, struct arena *a, const char *sid_in, const char *uid_in,
		  struct account_user *u)
{
	if (!uuid_valid(sid_in) || !uuid_valid(uid_in))
		return TG_EAUTH;
	char session_id[UUID_LEN + 1], user_id[UUID_LEN + 1];
	lower_uuid(sid_in, session_id);
	lower_uuid(uid_in, user_id);
	time_t now = time(NULL), until = 0;
	if (!c->slots)
		return query(c, a, session_id, user_id, u, &until);

	/* what PostgreSQL has said since the last request, then whether it could have missed some */
	db_notifications(c->db);
	if (db_generation(c->db) != c->generation || !c->generation) {
		if (c->stats.entries)
			flush(c);
		c->generation = db_generation(c->db);
	}
	struct slot *set = set_of(c, session_id);
	for (int w = 0; w < PRINCIPAL_WAYS; w++) {
		struct slot *s = &set[w];
		if (!s->until || strcmp(s->sid, session_id))
			continue;
		if (s->until <= now) {
			slot_clear(c, s);
			break;
		}
		if (strcmp(s->uid, user_id))
			return TG_EAUTH; /* a token naming another user than its session's */
		s->used = ++c->clock;
		c->stats.hits++;
		copy_out(a, &s->user, u);
		return TG_OK;
	}

	c->stats.misses++;
	int rc = query(c, a, session_id, user_id, u, &until);
	if (rc != TG_OK)
		return rc;
	/* A reconnect during the query: entries from the old connection cannot be trusted. */
	uint64_t gen = db_generation(c->db);
	if (gen != c->generation) {
		flush(c);
		c->generation = gen;
	}
	if (!gen)
		return TG_OK;
	if (until <= 0 || until > now + c->ttl)
		until = now + c->ttl;
	struct slot *victim = &set[0];
	for (int w = 0; w < PRINCIPAL_WAYS; w++) {
		if (!set[w].until) {
			victim = &set[w];
			break;
		}
		if (set[w].used < victim->used)
			victim = &set[w];
	}
	slot_clear(c, victim);
	memcpy(victim->sid, session_id, UUID_LEN + 1);
	memcpy(victim->uid, user_id, UUID_LEN + 1);
	slot_fill(victim, u);
	victim->until = until;
	victim->used = ++c->clock;
	c->stats.entries++;
	return TG_OK;
}
