/* handlers.h — private to src/api: the route handlers and the helpers they share. */
#ifndef TOLLGATE_API_HANDLERS_H
#define TOLLGATE_API_HANDLERS_H

#include "tollgate/app.h"
#include "tollgate/http.h"
#include "tollgate/router.h"

#include "tollgate/account.h"
#include "tollgate/page.h"
#include "tollgate/token.h"

#include <stdbool.h>

#define HANDLER(name) void name(struct app *app, struct http_req *req, struct http_res *res)

/* health.c */
HANDLER(api_health);
HANDLER(api_ready);

/* accounts.c, sessions.c, profile.c */
HANDLER(api_register);
HANDLER(api_login);
HANDLER(api_refresh);
HANDLER(api_logout);
HANDLER(api_logout_all);
HANDLER(api_me);
HANDLER(api_sessions_list);
HANDLER(api_session_revoke);
HANDLER(api_profile_update);
HANDLER(api_change_password);
HANDLER(api_delete_account);

struct password_hasher;
struct account_user;
struct account_tokens;

/* Per-process state of the accounts routes. */
struct auth_state {
	struct password_hasher *hasher; /* created on first use: only password routes need it */
	struct token_key *key;
};

/* The process's hasher, created on first use (NULL when out of memory). */
struct password_hasher *api_hasher(struct app *app);
/* The per-account password throttle as configured. */
struct account_throttle api_throttle(const struct app *app);
/* Client address and user agent of req, for sessions and audit entries. */
struct account_client api_client(const struct http_req *req);
/* Answers with the token response of API.md (status 200 or 201), setting the refresh cookie
 * in cookie mode or putting the refresh token in the body in body mode. */
void api_send_tokens(struct app *app, struct http_req *req, struct http_res *res, int status,
		     const struct account_user *u, const struct account_tokens *t, bool body_mode);
/* Clears the refresh cookie. */
void api_clear_refresh_cookie(struct http_res *res, struct http_req *req);

/* Authenticates the bearer token of req: sets req->user_id, session_id, user_role, principal.
 * Returns TG_OK, TG_EAUTH or TG_EUNAVAIL/TG_EDB. */
int api_authenticate(struct app *app, struct http_req *req);

int api_auth_init(struct app *app);
void api_auth_free(struct app *app);

/* recovery.c, notifications.c */
HANDLER(api_forgot_password);
HANDLER(api_reset_password);
HANDLER(api_verify_email);
HANDLER(api_resend_verification);
HANDLER(api_prefs_get);
HANDLER(api_prefs_put);
HANDLER(api_notifications_list);
HANDLER(api_notification_read);
HANDLER(api_notifications_read_all);

/* billing.c */
HANDLER(api_billing_plans);
HANDLER(api_billing_checkout);
HANDLER(api_billing_portal);
HANDLER(api_billing_subscription);
HANDLER(api_billing_invoices);
HANDLER(api_stripe_webhook);

/* 422 validation_failed with one field's reason. */
void api_field_error(struct http_res *res, struct http_req *req, const char *field, const char *why);
/* 429 rate_limited with Retry-After. */
void api_too_many(struct http_res *res, struct http_req *req, int retry_after, const char *detail);
/* Reads ?page= (default 1) and ?per_page= (default 50, at most 200); answers 422 when invalid. */
bool api_pagination(struct http_req *req, struct http_res *res, struct page *pg);

/* Answers a tg_status that is not a 4xx of the handler's own (503 for TG_EUNAVAIL, else 500). */
void api_fail(struct http_res *res, struct http_req *req, int status);
/* Reads an optional string member; true when present and a string (or absent: *out = NULL). */
bool api_json_string(json_object *obj, const char *key, const char **out);
/* The deadline of req's outbound calls: outbound_deadline after the request started, no sleeps. */
#include "tollgate/deadline.h"
struct deadline api_deadline(const struct app *app, const struct http_req *req);
/* Sets Cache-Control: no-store. */
void api_no_store(struct http_res *res, struct http_req *req);

#endif
