/* routes.c — the route table of the whole API. nginx/tollgate-api.conf repeats what nginx must
 * know of it (ROUTE_PASSWORD, ROUTE_CREDENTIAL); tests/unit/test_nginx_routes.c keeps the two in
 * step. */
#include "handlers.h"
#include "tollgate/mem.h"
#include "tollgate/settings.h"
#include "tollgate/status.h"

static const struct route core_routes[] = {
	{HTTP_GET, "/api/health", ROUTE_PUBLIC | ROUTE_ANYTIME, api_health, NULL},
	{HTTP_GET, "/api/ready", ROUTE_PUBLIC | ROUTE_ANYTIME, api_ready, NULL},
	{HTTP_GET, "/api/site", ROUTE_PUBLIC | ROUTE_ANYTIME, api_site, NULL},

	{HTTP_POST, "/api/auth/register", ROUTE_BODY | ROUTE_PASSWORD | ROUTE_CREDENTIAL, api_register, api_register_fields},
	{HTTP_POST, "/api/auth/login", ROUTE_BODY | ROUTE_PASSWORD | ROUTE_CREDENTIAL | ROUTE_ANYTIME, api_login, api_login_fields},
	{HTTP_POST, "/api/auth/login/mfa", ROUTE_BODY | ROUTE_CREDENTIAL | ROUTE_ANYTIME, api_login_mfa, api_login_mfa_fields},
	{HTTP_POST, "/api/auth/mfa/totp/setup", ROUTE_USER | ROUTE_BODY | ROUTE_PASSWORD | ROUTE_CREDENTIAL, api_mfa_setup, api_mfa_setup_fields},
	{HTTP_POST, "/api/auth/mfa/totp/enable", ROUTE_USER | ROUTE_BODY | ROUTE_CREDENTIAL, api_mfa_enable, api_mfa_enable_fields},
	{HTTP_POST, "/api/auth/mfa/totp/disable", ROUTE_USER | ROUTE_BODY | ROUTE_PASSWORD | ROUTE_CREDENTIAL, api_mfa_disable, api_mfa_change_fields},
	{HTTP_POST, "/api/auth/mfa/recovery-codes", ROUTE_USER | ROUTE_BODY | ROUTE_PASSWORD | ROUTE_CREDENTIAL, api_mfa_recovery_codes, api_mfa_change_fields},
	{HTTP_POST, "/api/auth/refresh", ROUTE_BODY | ROUTE_BODY_OPTIONAL | ROUTE_CREDENTIAL | ROUTE_ANYTIME, api_refresh, api_refresh_fields},
	{HTTP_POST, "/api/auth/logout", ROUTE_BODY | ROUTE_BODY_OPTIONAL | ROUTE_CREDENTIAL | ROUTE_ANYTIME, api_logout, api_logout_fields},
	{HTTP_POST, "/api/auth/logout-all", ROUTE_USER, api_logout_all, NULL},
	{HTTP_GET, "/api/auth/me", ROUTE_USER, api_me, NULL},
	{HTTP_GET, "/api/auth/sessions", ROUTE_USER, api_sessions_list, api_list_fields},
	{HTTP_DELETE, "/api/auth/sessions/{id}", ROUTE_USER, api_session_revoke, NULL},
	{HTTP_PATCH, "/api/profile", ROUTE_USER | ROUTE_BODY, api_profile_update, api_profile_fields},
	{HTTP_POST, "/api/profile/change-password", ROUTE_USER | ROUTE_BODY | ROUTE_PASSWORD, api_change_password, api_change_password_fields},
	{HTTP_POST, "/api/profile/accept-terms", ROUTE_USER | ROUTE_BODY, api_accept_terms, api_accept_terms_fields},
	{HTTP_GET, "/api/profile/export", ROUTE_USER, api_export, NULL},
	{HTTP_POST, "/api/profile/delete-account", ROUTE_USER | ROUTE_BODY | ROUTE_PASSWORD, api_delete_account, api_delete_account_fields},

	{HTTP_POST, "/api/auth/forgot-password", ROUTE_BODY | ROUTE_CREDENTIAL, api_forgot_password, api_forgot_fields},
	{HTTP_POST, "/api/auth/reset-password", ROUTE_BODY | ROUTE_PASSWORD | ROUTE_CREDENTIAL, api_reset_password, api_reset_fields},
	{HTTP_POST, "/api/auth/reset-password/check", ROUTE_BODY | ROUTE_CREDENTIAL, api_reset_check, api_reset_check_fields},
	{HTTP_POST, "/api/auth/verify-email", ROUTE_BODY | ROUTE_CREDENTIAL, api_verify_email, api_verify_fields},
	{HTTP_POST, "/api/auth/resend-verification", ROUTE_USER | ROUTE_CREDENTIAL, api_resend_verification, NULL},
	{HTTP_GET, "/api/profile/notification-preferences", ROUTE_USER, api_prefs_get, NULL},
	{HTTP_PUT, "/api/profile/notification-preferences", ROUTE_USER | ROUTE_BODY, api_prefs_put, api_prefs_fields},
	{HTTP_GET, "/api/notifications", ROUTE_USER, api_notifications_list, api_notifications_fields},
	{HTTP_POST, "/api/notifications/read-all", ROUTE_USER, api_notifications_read_all, NULL},
	{HTTP_POST, "/api/notifications/{id}/read", ROUTE_USER, api_notification_read, NULL},

	{HTTP_GET, "/api/billing/plans", ROUTE_PUBLIC, api_billing_plans, NULL},
	{HTTP_POST, "/api/billing/checkout", ROUTE_USER | ROUTE_BODY, api_billing_checkout, api_checkout_fields},
	{HTTP_POST, "/api/billing/portal", ROUTE_USER, api_billing_portal, NULL},
	{HTTP_GET, "/api/billing/subscription", ROUTE_USER, api_billing_subscription, NULL},
	{HTTP_GET, "/api/billing/invoices", ROUTE_USER, api_billing_invoices, api_list_fields},
	{HTTP_GET, "/api/models", ROUTE_USER, api_models, NULL},
	{HTTP_GET, "/api/usage", ROUTE_USER, api_usage, NULL},
	{HTTP_GET, "/api/projects", ROUTE_USER, api_projects_list, api_list_fields},
	{HTTP_POST, "/api/projects", ROUTE_USER | ROUTE_BODY, api_projects_create, api_project_create_fields},
	{HTTP_GET, "/api/projects/{id}", ROUTE_USER, api_project_get, NULL},
	{HTTP_PATCH, "/api/projects/{id}", ROUTE_USER | ROUTE_BODY, api_project_update, api_project_update_fields},
	{HTTP_DELETE, "/api/projects/{id}", ROUTE_USER, api_project_delete, NULL},
	{HTTP_GET, "/api/projects/{id}/documents", ROUTE_USER, api_documents_list, api_documents_list_fields},
	{HTTP_POST, "/api/projects/{id}/documents", ROUTE_USER | ROUTE_BODY | ROUTE_LARGE_BODY, api_documents_create, api_document_create_fields},
	{HTTP_GET, "/api/projects/{id}/documents/{doc_id}", ROUTE_USER, api_document_get, NULL},
	{HTTP_PATCH, "/api/projects/{id}/documents/{doc_id}", ROUTE_USER | ROUTE_BODY | ROUTE_LARGE_BODY, api_document_update, api_document_update_fields},
	{HTTP_DELETE, "/api/projects/{id}/documents/{doc_id}", ROUTE_USER, api_document_delete, NULL},
	{HTTP_GET, "/api/agents", ROUTE_USER, api_agents_list, api_list_fields},
	{HTTP_POST, "/api/agents", ROUTE_USER | ROUTE_BODY, api_agents_create, api_agent_create_fields},
	{HTTP_GET, "/api/agents/{id}", ROUTE_USER, api_agent_get, NULL},
	{HTTP_PATCH, "/api/agents/{id}", ROUTE_USER | ROUTE_BODY, api_agent_update, api_agent_update_fields},
	{HTTP_DELETE, "/api/agents/{id}", ROUTE_USER, api_agent_delete, NULL},
	{HTTP_GET, "/api/agents/{id}/conversations", ROUTE_USER, api_conversations_list, api_list_fields},
	{HTTP_POST, "/api/agents/{id}/chat", ROUTE_USER | ROUTE_BODY | ROUTE_CHAT, api_chat, api_chat_fields},
	{HTTP_GET, "/api/conversations/{id}", ROUTE_USER, api_conversation_get, NULL},
	{HTTP_DELETE, "/api/conversations/{id}", ROUTE_USER, api_conversation_delete, NULL},

	{HTTP_POST, "/api/webhooks/stripe", ROUTE_BODY | ROUTE_RAW | ROUTE_ANYTIME, api_stripe_webhook, NULL},
	{0},
};

/* Every table of routes, each in the file of its handlers and ending with an entry without a
 * pattern. */
static const struct route *const tables[] = {core_routes, api_admin_users_routes, api_admin_billing_routes,
					     api_admin_ops_routes};

const struct route *api_routes(size_t *n)
{
	static struct route *all;
	static size_t count;
	if (!all) {
		for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
			for (const struct route *r = tables[t]; r->pattern; r++)
				count++;
		all = mem_calloc(count ? count : 1, sizeof(*all));
		size_t i = 0;
		for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
			for (const struct route *r = tables[t]; r->pattern; r++)
				all[i++] = *r;
	}
	*n = count;
	return all;
}

int api_init(struct app *app)
{
	size_t n;
	const struct route *table = api_routes(&n);
	app->router = router_new(table, n);
	if (!app->router)
		return TG_ENOMEM;
	app->settings = settings_cache_new(app->db);
	return api_auth_init(app);
}

void api_free(struct app *app)
{
	settings_cache_free(app->settings);
	app->settings = NULL;
	api_auth_free(app);
	router_free(app->router);
	app->router = NULL;
}
