/* routes.c — the route table of the whole API. */
#include "handlers.h"
#include "tollgate/status.h"

static const struct route routes[] = {
	{HTTP_GET, "/api/health", ROUTE_PUBLIC, api_health},
	{HTTP_GET, "/api/ready", ROUTE_PUBLIC, api_ready},
};

int api_init(struct app *app)
{
	app->router = router_new(routes, sizeof(routes) / sizeof(routes[0]));
	return app->router ? TG_OK : TG_ENOMEM;
}

void api_free(struct app *app)
{
	router_free(app->router);
	app->router = NULL;
}

int api_authenticate(struct app *app, struct http_req *req)
{
	(void)app;
	(void)req;
	return TG_EAUTH;
}
