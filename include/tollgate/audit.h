/* audit.h — the audit log: who changed what, when, from where, and what it was before and after.
 * Entries outlive the users they name (no foreign keys). */
#ifndef TOLLGATE_AUDIT_H
#define TOLLGATE_AUDIT_H

#include <json.h>

struct arena;
struct db;

struct audit_entry {
	const char *actor_id;     /* the user who acted (NULL: the system) */
	const char *action;       /* "admin.user.suspend", … */
	const char *target_type;  /* "user", "plan", "subscription", "invoice", "settings", "webhook_event" */
	const char *target_id;
	json_object *before, *after; /* not consumed; NULL when not applicable */
	const char *request_id;
	const char *ip;
};

/* Writes one entry (in the caller's transaction, with the change it describes). */
int audit_write(struct db *db, struct arena *a, const struct audit_entry *e);

#endif
