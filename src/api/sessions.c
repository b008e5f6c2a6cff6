/* sessions.c — a user's list of sessions and revoking one. */
#include "handlers.h"
#include "tollgate/session.h"
#include "tollgate/status.h"

/* The fields of a list route that takes nothing but the page. */
const struct valid_field api_list_fields[] = {
	API_PAGE_FIELDS,
	{0},
};

HANDLER(api_sessions_list)
{
	struct page pg;
	api_page(req, &pg);
	json_object *items;
	int rc = session_list(app->db, req->arena, req->user_id, req->session_id, &pg, &items);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 200, api_list(&pg, items));
}

HANDLER(api_session_revoke)
{
	struct account_client cl = api_client(req);
	int rc = session_revoke(app->db, req->arena, req->user_id, http_req_param(req, "id"), "session.revoked", &cl);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_empty(res, 204);
}
