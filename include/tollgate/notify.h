/* notify.h — in-app notifications and per-user notification preferences. */
#ifndef TOLLGATE_NOTIFY_H
#define TOLLGATE_NOTIFY_H

#include <json.h>
#include <stdbool.h>

struct arena;
struct db;

struct notify_prefs {
	bool product_updates, usage_warnings, billing; /* security is always on */
};

/* Creates an in-app notification (link may be NULL). */
int notify_create(struct db *db, struct arena *a, const char *user_id, const char *kind, const char *title,
		  const char *body, const char *link);
/* A page of the user's notifications (items array, caller owns; pg->total set) and the count of
 * unread ones. */
struct page;
int notify_list(struct db *db, struct arena *a, const char *user_id, bool unread_only, struct page *pg,
		json_object **out, long long *unread);
/* Marks one read. TG_ENOTFOUND when it is not the user's. */
int notify_mark_read(struct db *db, struct arena *a, const char *user_id, const char *id);
int notify_mark_all_read(struct db *db, struct arena *a, const char *user_id);

int notify_prefs_get(struct db *db, struct arena *a, const char *user_id, struct notify_prefs *p);
int notify_prefs_put(struct db *db, struct arena *a, const char *user_id, const struct notify_prefs *p);
/* {"product_updates", "usage_warnings", "billing", "security": true} */
json_object *notify_prefs_json(const struct notify_prefs *p);

#endif
