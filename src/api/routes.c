/* routes.c — the route table of the whole API. */
#include "handlers.h"
#include "tollgate/status.h"

static const struct route routes[] = {
	{HTTP_GET, "/api/health", ROUTE_PUBLIC, api_health},
	{HTTP_GET, "/api/ready", ROUTE_PUBLIC, api_ready},

	{HTTP_POST, "/api/auth/register", ROUTE_BODY | ROUTE_PASSWORD, api_register},
	{HTTP_POST, "/api/auth/login", ROUTE_BODY | ROUTE_PASSWORD, api_login},
	{HTTP_POST, "/api/auth/refresh", ROUTE_BODY | ROUTE_BODY_OPTIONAL, api_refresh},
	{HTTP_POST, "/api/auth/logout", ROUTE_BODY | ROUTE_BODY_OPTIONAL, api_logout},
	{HTTP_POST, "/api/auth/logout-all", ROUTE_USER, api_logout_all},
	{HTTP_GET, "/api/auth/me", ROUTE_USER, api_me},
	{HTTP_GET, "/api/auth/sessions", ROUTE_USER, api_sessions_list},
	{HTTP_DELETE, "/api/auth/sessions/{id}", ROUTE_USER, api_session_revoke},
	{HTTP_PATCH, "/api/profile", ROUTE_USER | ROUTE_BODY, api_profile_update},
	{HTTP_POST, "/api/profile/change-password", ROUTE_USER | ROUTE_BODY | ROUTE_PASSWORD, api_change_password},
	{HTTP_POST, "/api/profile/delete-account", ROUTE_USER | ROUTE_BODY | ROUTE_PASSWORD, api_delete_account},

	{HTTP_POST, "/api/auth/forgot-password", ROUTE_BODY, api_forgot_password},
	{HTTP_POST, "/api/auth/reset-password", ROUTE_BODY | ROUTE_PASSWORD, api_reset_password},
	{HTTP_POST, "/api/auth/verify-email", ROUTE_BODY, api_verify_email},
	{HTTP_POST, "/api/auth/resend-verification", ROUTE_USER, api_resend_verification},
	{HTTP_GET, "/api/profile/notification-preferences", ROUTE_USER, api_prefs_get},
	{HTTP_PUT, "/api/profile/notification-preferences", ROUTE_USER | ROUTE_BODY, api_prefs_put},
	{HTTP_GET, "/api/notifications", ROUTE_USER, api_notifications_list},
	{HTTP_POST, "/api/notifications/read-all", ROUTE_USER, api_notifications_read_all},
	{HTTP_POST, "/api/notifications/{id}/read", ROUTE_USER, api_notification_read},

	{HTTP_GET, "/api/billing/plans", ROUTE_PUBLIC, api_billing_plans},
	{HTTP_POST, "/api/billing/checkout", ROUTE_USER | ROUTE_BODY, api_billing_checkout},
	{HTTP_POST, "/api/billing/portal", ROUTE_USER, api_billing_portal},
	{HTTP_GET, "/api/billing/subscription", ROUTE_USER, api_billing_subscription},
	{HTTP_GET, "/api/billing/invoices", ROUTE_USER, api_billing_invoices},
	{HTTP_POST, "/api/webhooks/stripe", ROUTE_BODY | ROUTE_RAW, api_stripe_webhook},
};

const struct route *api_routes(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

int api_init(struct app *app)
{
	size_t n;
	const struct route *table = api_routes(&n);
	app->router = router_new(table, n);
	if (!app->router)
		return TG_ENOMEM;
	return api_auth_init(app);
}

void api_free(struct app *app)
{
	api_auth_free(app);
	router_free(app->router);
	app->router = NULL;
}
