/* sessions.c — a user's list of sessions and revoking one. */
#include "handlers.h"
#include "tollgate/session.h"
#include "tollgate/status.h"

HANDLER(api_sessions_list)
{
	struct page pg;
	if (!api_pagination(req, res, &pg))
		return;
	json_object *o;
	int rc = session_list(app->db, req->arena, req->user_id, req->session_id, &pg, &o);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
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
