/* settings.h — the operators' settings (admin panel): kept in PostgreSQL, read by every worker from
 * a cache that PostgreSQL keeps fresh: a trigger on the settings table sends NOTIFY
 * tollgate_settings, and the worker, before it serves a request, reads the notifications its
 * connection has already received (no round trip). A reconnect reloads the cache (notifications may
 * have been missed meanwhile). */
#ifndef TOLLGATE_SETTINGS_H
#define TOLLGATE_SETTINGS_H

#include <json.h>
#include <stdbool.h>
#include <stdint.h>

struct arena;
struct db;

#define SETTINGS_CHANNEL "tollgate_settings"

struct settings {
	bool registration_open;
	bool maintenance_mode;    /* everyone but admins gets 503 maintenance (but a few routes) */
	bool admin_mfa_required;  /* admin routes refuse an admin without 2FA */
	const char *support_email;
	const char *terms_version;
};

struct settings_cache;
/* A cache for db's connection (LISTENs on it). Caller frees. */
struct settings_cache *settings_cache_new(struct db *db);
void settings_cache_free(struct settings_cache *c);
/* The current settings (valid until the next call). TG_EUNAVAIL when they were never loaded and the
 * database is down. */
int settings_get(struct settings_cache *c, const struct settings **out);

/* {"registration_open", "maintenance_mode", "support_email", "terms_version", "admin_mfa_required"} */
json_object *settings_json(const struct settings *s);
/* Checks the members of changes (any subset of the keys above). NULL when all are acceptable, else
 * the reasons as {"key": "reason"} (caller owns). */
json_object *settings_check(json_object *changes);
/* Stores changes (checked) in the caller's transaction; the trigger announces them. */
int settings_put(struct db *db, struct arena *a, json_object *changes);

#endif
