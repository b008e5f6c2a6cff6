/* audit.c — writing audit entries. */
#include "tollgate/audit.h"
#include "tollgate/arena.h"
#include "tollgate/db.h"

enum { AUDIT_WRITE, AUDIT_STMT__COUNT };
static const char *const sql[AUDIT_STMT__COUNT] = {
	/* $1 actor $2 action $3 target type $4 target id $5 before $6 after $7 request id $8 ip */
	[AUDIT_WRITE] = "INSERT INTO audit_log (actor_id, action, target_type, target_id, before, after, request_id, ip)"
			" VALUES ($1, $2, coalesce($3, ''), coalesce($4, ''), $5::jsonb, $6::jsonb, coalesce($7, ''),"
			" coalesce($8, ''))",
};
/* not static: tests/integration/test_statements.c prepares it */
extern const struct db_stmts audit_stmts;
const struct db_stmts audit_stmts = {"audit", sql, AUDIT_STMT__COUNT};

static const char *json_text(struct arena *a, json_object *o)
{
	return o ? arena_strdup(a, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) : NULL;
}

int audit_write(struct db *db, struct arena *a, const struct audit_entry *e)
{
	const char *p[] = {e->actor_id, e->action, e->target_type, e->target_id, json_text(a, e->before),
			   json_text(a, e->after), e->request_id, e->ip};
	return db_exec(db, a, &audit_stmts, AUDIT_WRITE, 8, p, NULL);
}
