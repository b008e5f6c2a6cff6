/* settings.c — the settings table and the per-worker cache kept fresh by LISTEN/NOTIFY. */
#include "tollgate/settings.h"
#include "tollgate/arena.h"
#include "tollgate/db.h"
#include "tollgate/log.h"
#include "tollgate/mem.h"
#include "tollgate/status.h"

#include <stdlib.h>
#include <string.h>

enum { S_ALL, S_PUT, S_STMT__COUNT };
static const char *const sql[S_STMT__COUNT] = {
	[S_ALL] = "SELECT key, value::text FROM settings",
	/* $1 key $2 value (JSON text) */
	[S_PUT] = "INSERT INTO settings (key, value) VALUES ($1, $2::jsonb)"
		  " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
		  " WHERE settings.value IS DISTINCT FROM EXCLUDED.value",
};
/* not static: tests/integration/test_statements.c prepares it */
extern const struct db_stmts settings_stmts;
const struct db_stmts settings_stmts = {"settings", sql, S_STMT__COUNT};

struct settings_cache {
	struct db *db;
	struct settings s;
	char *support_email, *terms_version;
	uint64_t generation; /* the connection the cache was filled from; 0: never */
	bool stale;
};

/* The settings an operator may change, with their JSON type. */
static const struct {
	const char *key;
	json_type type;
	size_t max; /* strings */
} keys[] = {
	{"registration_open", json_type_boolean, 0}, {"maintenance_mode", json_type_boolean, 0},
	{"admin_mfa_required", json_type_boolean, 0}, {"support_email", json_type_string, 254},
	{"terms_version", json_type_string, 64},
};

static void on_notify(void *ud, const char *channel, const char *payload)
{
	(void)payload;
	struct settings_cache *c = ud;
	if (!strcmp(channel, SETTINGS_CHANNEL))
		c->stale = true;
}

struct settings_cache *settings_cache_new(struct db *db)
{
	struct settings_cache *c = mem_calloc(1, sizeof(*c));
	c->db = db;
	c->s.registration_open = true;
	c->s.support_email = c->s.terms_version = "";
	db_listen(db, SETTINGS_CHANNEL, on_notify, c);
	return c;
}

void settings_cache_free(struct settings_cache *c)
{
	if (!c)
		return;
	free(c->support_email);
	free(c->terms_version);
	free(c);
}


static void set_string(char **slot, const char **view, json_object *v)
{
	free(*slot);
	*slot = mem_strdup(json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "");
	*view = *slot;
}

static int reload(struct settings_cache *c)
{
	PGresult *r;
	int rc = db_exec(c->db, NULL, &settings_stmts, S_ALL, 0, NULL, &r);
	if (rc != TG_OK)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *key = db_value(r, i, 0);
		json_object *v = json_tokener_parse(db_value(r, i, 1));
		bool b = v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
		if (!strcmp(key, "registration_open"))
			c->s.registration_open = b;
		else if (!strcmp(key, "maintenance_mode"))
			c->s.maintenance_mode = b;
		else if (!strcmp(key, "admin_mfa_required"))
			c->s.admin_mfa_required = b;
		else if (!strcmp(key, "support_email"))
			set_string(&c->support_email, &c->s.support_email, v);
		else if (!strcmp(key, "terms_version"))
			set_string(&c->terms_version, &c->s.terms_version, v);
		json_object_put(v);
	}
	PQclear(r);
	c->generation = db_generation(c->db);
	c->stale = false;
	return TG_OK;
}

int settings_get(struct settings_cache *c, const struct settings **out)
{
	static const struct settings none = {.support_email = "", .terms_version = ""};
	*out = &none;
	if (!c) /* a process without a database (tools, fuzz targets) */
		return TG_EUNAVAIL;
	*out = &c->s;
	db_notifications(c->db);
	if (!c->stale && c->generation && c->generation == db_generation(c->db))
		return TG_OK;
	int rc = reload(c);
	if (rc != TG_OK && c->generation) {
		/* the database is down: the last known settings are better than none */
		c->generation = 0;
		return TG_OK;
	}
	return rc;
}

json_object *settings_json(const struct settings *s)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "registration_open", json_object_new_boolean(s->registration_open));
	json_object_object_add(o, "maintenance_mode", json_object_new_boolean(s->maintenance_mode));
	json_object_object_add(o, "support_email", json_object_new_string(s->support_email));
	json_object_object_add(o, "terms_version", json_object_new_string(s->terms_version));
	json_object_object_add(o, "admin_mfa_required", json_object_new_boolean(s->admin_mfa_required));
	return o;
}

json_object *settings_check(json_object *changes)
{
	json_object *errors = NULL;
	json_object_object_foreach(changes, key, v)
	{
		const char *why = "is not a setting";
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strcmp(keys[i].key, key))
				continue;
			why = NULL;
			if (!json_object_is_type(v, keys[i].type))
				why = keys[i].type == json_type_boolean ? "must be a boolean" : "must be a string";
			else if (keys[i].max && (size_t)json_object_get_string_len(v) > keys[i].max)
				why = "is too long";
			else if (!strcmp(key, "terms_version") && json_object_get_string_len(v) == 0)
				why = "must not be empty";
			else if (!strcmp(key, "support_email") && json_object_get_string_len(v) &&
				 !strchr(json_object_get_string(v), '@'))
				why = "must be an email address";
		}
		if (why) {
			if (!errors)
				errors = json_object_new_object();
			json_object_object_add(errors, key, json_object_new_string(why));
		}
	}
	return errors;
}

int settings_put(struct db *db, struct arena *a, json_object *changes)
{
	json_object_object_foreach(changes, key, v)
	{
		const char *p[] = {key, arena_strdup(a, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN))};
		int rc = db_exec(db, a, &settings_stmts, S_PUT, 2, p, NULL);
		if (rc != TG_OK)
			return rc;
	}
	return TG_OK;
}
