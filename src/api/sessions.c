/* sessions.c — a user's list of sessions and revoking one. */
#include "handlers.h"
#include "tollgate/session.h"
#include "tollgate/status.h"

HANDLER(api_sessions_list)
{
	json_object *items;
	int rc = session_list(app->db, req->arena, req->user_id, req->session_id, &items);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	size_t n = json_object_array_length(items);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "items", items);
	json_object_object_add(o, "page", json_object_new_int(1));
	json_object_object_add(o, "per_page", json_object_new_int(200));
	json_object_object_add(o, "total", json_object_new_int((int)n));
	http_res_json(res, req->arena, 200, o);
}

HANDLER(api_session_revoke)
{
	struct account_client cl = api_client(req);
	int rc = session_revoke(app->db, req->arena, req->user_id, http_req_param(req, "id"), "session.revoked", &cl);
	if (rc == TG_ENOTFOUND)
		return http_res_problem(res, req, 404, "not_found", "No such session.");
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_empty(res, 204);
}
