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

enum { PREF_PRODUCT, PREF_USAGE, PREF_BILLING, PREF_SECURITY };
const struct valid_field api_prefs_fields[] = {
	[PREF_PRODUCT] = {.name = "product_updates", .type = VALID_BOOL},
	[PREF_USAGE] = {.name = "usage_warnings", .type = VALID_BOOL},
	[PREF_BILLING] = {.name = "billing", .type = VALID_BOOL},
	[PREF_SECURITY] = {.name = "security", .type = VALID_BOOL},
	{0},
};

/* PUT with the whole shape; a member not sent keeps its value. */
HANDLER(api_prefs_put)
{
	const struct valid_value *v = req->values;
	if (v[PREF_SECURITY].present && !v[PREF_SECURITY].yes)
		return api_field_error(res, req, "security", "security emails cannot be turned off");
	struct notify_prefs p;
	int rc = notify_prefs_get(app->db, req->arena, req->user_id, &p);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	bool *slots[] = {[PREF_PRODUCT] = &p.product_updates, [PREF_USAGE] = &p.usage_warnings,
			 [PREF_BILLING] = &p.billing};
	for (int i = PREF_PRODUCT; i <= PREF_BILLING; i++)
		if (v[i].present)
			*slots[i] = v[i].yes;
	if ((rc = notify_prefs_put(app->db, req->arena, req->user_id, &p)) != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 200, notify_prefs_json(&p));
}

enum { NOTIF_UNREAD = API_F_LIST_NEXT };
const struct valid_field api_notifications_fields[] = {
	API_PAGE_FIELDS,
	[NOTIF_UNREAD] = {.name = "unread", .type = VALID_BOOL, .flags = VALID_QUERY},
	{0},
};

HANDLER(api_notifications_list)
{
	struct page pg;
	api_page(req, &pg);
	json_object *items;
	long long unread;
	int rc = notify_list(app->db, req->arena, req->user_id, req->values[NOTIF_UNREAD].yes, &pg, &items, &unread);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	json_object *o = api_list(&pg, items);
	json_object_object_add(o, "unread", json_object_new_int64(unread));
	http_res_json(res, req->arena, 200, o);
}

HANDLER(api_notification_read)
{
	int rc = notify_mark_read(app->db, req->arena, req->user_id, http_req_param(req, "id"));

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
