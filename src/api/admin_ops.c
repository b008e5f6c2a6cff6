/* admin_ops.c — the admin API: stats and health (API.md, Admin). */
#include "handlers.h"

const struct route api_admin_ops_routes[] = {
	{0},
};
