/* notifications.c — in-app notifications and notification preferences. */
#include "handlers.h"
#include "tollgate/notify.h"
#include "tollgate/status.h"

#include <stdlib.h>
#include <string.h>

HANDLER(api_prefs_get)
{
	struct notify_prefs p;
	int rc = notify_prefs_get(app->db, req->arena, req->user_id, &p);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 200, notify_prefs_json(&p));
}

/* Reads an optional boolean member into *out (unchanged when absent). */
static bool bool_member(json_object *body, const char *key, bool *out)
{
	json_object *v;
	if (!json_object_object_get_ex(body, key, &v))
		return true;
	if (!json_object_is_type(v, json_type_boolean))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

HANDLER(api_prefs_put)
{
	json_object *body;
	http_req_json(req, &body);
	struct notify_prefs p;
	int rc = notify_prefs_get(app->db, req->arena, req->user_id, &p);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	json_object *errors = json_object_new_object();
	static const char *const keys[] = {"product_updates", "usage_warnings", "billing"};
	bool *slots[] = {&p.product_updates, &p.usage_warnings, &p.billing};
	for (size_t i = 0; i < 3; i++)
		if (!bool_member(body, keys[i], slots[i]))
			json_object_object_add(errors, keys[i], json_object_new_string("must be a boolean"));
	bool security = true;
	if (!bool_member(body, "security", &security) || !security)
		json_object_object_add(errors, "security", json_object_new_string("security emails cannot be turned off"));
	if (json_object_object_length(errors)) {
		http_res_invalid(res, req, errors);
		return;
	}
	json_object_put(errors);
	if ((rc = notify_prefs_put(app->db, req->arena, req->user_id, &p)) != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 200, notify_prefs_json(&p));
}

HANDLER(api_notifications_list)
{
	struct page pg;
	if (!api_pagination(req, res, &pg))
		return;
	const char *unread;
	if (http_req_query(req, "unread", &unread) != TG_OK ||
	    (unread && strcmp(unread, "1") && strcmp(unread, "true") && strcmp(unread, "0") && strcmp(unread, "false")))
		return api_field_error(res, req, "unread", "must be 1, true, 0 or false");
	bool only_unread = unread && (!strcmp(unread, "1") || !strcmp(unread, "true"));
	json_object *o;
	int rc = notify_list(app->db, req->arena, req->user_id, only_unread, &pg, &o);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 200, o);
}

HANDLER(api_notification_read)
{
	int rc = notify_mark_read(app->db, req->arena, req->user_id, http_req_param(req, "id"));
	if (rc == TG_ENOTFOUND)
		return http_res_problem(res, req, 404, "not_found", "No such notification.");
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_empty(res, 204);
}

HANDLER(api_notifications_read_all)
{
	int rc = notify_mark_all_read(app->db, req->arena, req->user_id);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_empty(res, 204);
}
