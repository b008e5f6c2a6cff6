/* consent.c — the site's public settings, acceptance of the terms, the account's data export. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/settings.h"
#include "tollgate/status.h"

#include <string.h>
#include <time.h>

/* The sign-in providers configured ({id, name} each); none until sign-in with Google, GitHub and
 * OIDC lands. */
static json_object *site_providers(struct app *app)
{
	(void)app;
	return json_object_new_array();
}

/* Public: what the pages need before anyone signs in (and in maintenance mode, for the banner). */
HANDLER(api_site)
{
	const struct settings *st;
	int rc = settings_get(app->settings, &st);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "app_name", json_object_new_string(app->cfg->app_name ? app->cfg->app_name : ""));
	json_object_object_add(o, "support_email", json_object_new_string(st->support_email));
	json_object_object_add(o, "terms_version", json_object_new_string(st->terms_version));
	json_object_object_add(o, "registration_open",
			       json_object_new_boolean(app->cfg->registration_open && st->registration_open));
	json_object_object_add(o, "maintenance_mode", json_object_new_boolean(st->maintenance_mode));
	json_object_object_add(o, "providers", site_providers(app));
	/* the operator, as the legal pages name it */
	const struct {
		const char *name, *value;
	} legal[] = {
		{"company_name", app->cfg->company_name},
		{"company_address", app->cfg->company_address},
		{"contact_email", app->cfg->contact_email},
		{"legal_effective_date", app->cfg->legal_effective_date},
		{"legal_jurisdiction", app->cfg->legal_jurisdiction},
	};
	for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
		json_object_object_add(o, legal[i].name, json_object_new_string(legal[i].value ? legal[i].value : ""));
	http_res_header(res, req->arena, "Cache-Control", "no-cache");
	http_res_json(res, req->arena, 200, o);
}

const struct valid_field api_accept_terms_fields[] = {
	{.name = "version", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_TRIM, .max = 64},
	{0},
};

/* Only the current version can be accepted: accepting an older one (a page open since an admin
 * raised it) would record consent to text the user is no longer shown. */
HANDLER(api_accept_terms)
{
	const char *version = req->values[0].str;
	const char *current = arena_strdup(req->arena, api_terms_version(app));
	if (!current[0] || strcmp(version, current))
		return api_field_error(res, req, "version", arena_printf(req->arena, "must be the current terms version (%s)", current));
	struct account_client cl = api_client(req);
	int rc = account_accept_terms(app->db, req->arena, req->user_id, version, cl.ip);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	struct account_user u = *app->me;
	u.terms_version = current;
	http_res_json(res, req->arena, 200, api_user_json(app, &u));
}

HANDLER(api_export)
{
	const char *doc;
	size_t len;
	int rc = account_export(app->db, req->arena, req->user_id, &doc, &len);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	char day[16];
	time_t now = time(NULL);
	struct tm tm;
	strftime(day, sizeof(day), "%Y-%m-%d", gmtime_r(&now, &tm));
	http_res_header(res, req->arena, "Content-Disposition",
			arena_printf(req->arena, "attachment; filename=\"account-export-%s.json\"", day));
	api_no_store(res, req);
	http_res_json_text(res, 200, doc, len);
}
