/* notify.c — in-app notifications and notification preferences. */
#include "tollgate/notify.h"
#include "tollgate/arena.h"
#include "tollgate/db.h"
#include "tollgate/page.h"
#include "tollgate/status.h"
#include "tollgate/uuid.h"
#include "mail_sql.h"

#include <stdio.h>

int notify_create(struct db *db, struct arena *a, const char *user_id, const char *kind, const char *title,
		  const char *body, const char *link)
{
	const char *p[] = {user_id, kind, title, body ? body : "", link};
	return db_exec(db, a, &mail_stmts, NOTIFY_CREATE, 5, p, NULL);
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

int notify_list(struct db *db, struct arena *a, const char *user_id, bool unread_only, struct page *pg,
		json_object **out, long long *unread)
{
	const char *p[] = {user_id, unread_only ? "true" : "false", pg->limit, pg->offset};
	PGresult *r;
	int rc = db_exec(db, a, &mail_stmts, NOTIFY_LIST, 4, p, &r);
	if (rc != TG_OK)
		return rc;
	json_object *items = json_object_new_array();
	*unread = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		pg->total = db_int(r, i, 7);
		*unread = db_int(r, i, 8);
		if (!db_value(r, i, 0))
			continue; /* past the last page: only the counts */
		json_object *o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(db_value(r, i, 0)));
		json_object_object_add(o, "kind", json_object_new_string(db_value(r, i, 1)));
		json_object_object_add(o, "title", json_object_new_string(db_value(r, i, 2)));
		json_object_object_add(o, "body", json_object_new_string(db_value(r, i, 3)));
		json_object_object_add(o, "link", str_or_null(db_value(r, i, 4)));
		json_object_object_add(o, "created_at", json_object_new_string(db_value(r, i, 5)));
		json_object_object_add(o, "read_at", str_or_null(db_value(r, i, 6)));
		json_object_array_add(items, o);
	}
	*out = items;
	return TG_OK;
}

int notify_mark_read(struct db *db, struct arena *a, const char *user_id, const char *id)
{
	if (!uuid_valid(id))
		return TG_ENOTFOUND;
	const char *p[] = {id, user_id};
	return db_exec_row(db, a, &mail_stmts, NOTIFY_READ, 2, p, NULL);
}

int notify_mark_all_read(struct db *db, struct arena *a, const char *user_id)
{
	const char *p[] = {user_id};
	return db_exec(db, a, &mail_stmts, NOTIFY_READ_ALL, 1, p, NULL);
}

int notify_prefs_get(struct db *db, struct arena *a, const char *user_id, struct notify_prefs *pr)
{
	const char *p[] = {user_id};
	PGresult *r;
	int rc = db_exec(db, a, &mail_stmts, NOTIFY_PREFS_GET, 1, p, &r);
	if (rc != TG_OK)
		return rc;
	pr->product_updates = db_bool(r, 0, 0);
	pr->usage_warnings = db_bool(r, 0, 1);
	pr->billing = db_bool(r, 0, 2);
	return TG_OK;
}

int notify_prefs_put(struct db *db, struct arena *a, const char *user_id, const struct notify_prefs *pr)
{
	const char *p[] = {user_id, pr->product_updates ? "true" : "false", pr->usage_warnings ? "true" : "false",
			   pr->billing ? "true" : "false"};
	return db_exec(db, a, &mail_stmts, NOTIFY_PREFS_PUT, 4, p, NULL);
}

json_object *notify_prefs_json(const struct notify_prefs *p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "product_updates", json_object_new_boolean(p->product_updates));
	json_object_object_add(o, "usage_warnings", json_object_new_boolean(p->usage_warnings));
	json_object_object_add(o, "billing", json_object_new_boolean(p->billing));
	json_object_object_add(o, "security", json_object_new_boolean(1));
	return o;
}
