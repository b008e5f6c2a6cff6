/* health.c — liveness and readiness. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/migrate.h"
#include "tollgate/status.h"

HANDLER(api_health)
{
	(void)app;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("ok"));
	json_object_object_add(o, "version", json_object_new_string(TOLLGATE_VERSION_STRING));
	http_res_json(res, req->arena, 200, o);
}

HANDLER(api_ready)
{
	int applied = 0;
	int rc = migrate_applied_count(app->db, &applied);
	if (rc != TG_OK) {
		http_res_header(res, req->arena, "Retry-After", "5");
		http_res_problem(res, req, 503, "unavailable", "The database is unreachable.");
		return;
	}
	if (applied < app->migrations_expected) {
		char *detail = arena_printf(req->arena, "Migrations are behind: %d of %d applied.", applied,
					    app->migrations_expected);
		http_res_header(res, req->arena, "Retry-After", "30");
		http_res_problem(res, req, 503, "unavailable", detail);
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("ready"));
	json_object_object_add(o, "database", json_object_new_string("ok"));
	json_object_object_add(o, "migrations", json_object_new_int(applied));
	http_res_json(res, req->arena, 200, o);
}
