/* admin_billing.c — the admin API: plans, subscriptions, refunds, webhook events (API.md, Admin). */
#include "handlers.h"

const struct route api_admin_billing_routes[] = {
	{0},
};
