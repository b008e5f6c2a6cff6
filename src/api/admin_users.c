/* admin_users.c — the admin API: users, audit log, settings (API.md, Admin). */
#include "handlers.h"

const struct route api_admin_users_routes[] = {
	{0},
};
