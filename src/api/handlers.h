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

#include "tollgate/valid.h"

#define HANDLER(name) void name(struct app *app, struct http_req *req, struct http_res *res)
/* The fields a route takes (valid.h), declared next to its handler. */
#define FIELDS(name) extern const struct valid_field name[]

/* Every list route's fields start with these two; api_page reads them. */
#define API_PAGE_FIELDS                                                                         \
	{.name = "page", .type = VALID_INT, .flags = VALID_QUERY, .min = 1, .max = 1000000, .dflt = 1}, \
	{.name = "per_page", .type = VALID_INT, .flags = VALID_QUERY, .min = 1, .max = 200, .dflt = 50}
enum { API_F_PAGE, API_F_PER_PAGE, API_F_LIST_NEXT };
/* The page asked for by a list route's checked fields. */
void api_page(const struct http_req *req, struct page *pg);
/* API.md's list envelope {items, page, per_page, total} (takes items). */
json_object *api_list(const struct page *pg, json_object *items);
/* The checked value of field i of the route. */
#define API_VALUE(req, i) (&(req)->values[(i)])

FIELDS(api_register_fields);
FIELDS(api_login_fields);
FIELDS(api_refresh_fields);
FIELDS(api_logout_fields);
FIELDS(api_profile_fields);
FIELDS(api_change_password_fields);
FIELDS(api_delete_account_fields);
FIELDS(api_forgot_fields);
FIELDS(api_reset_fields);
FIELDS(api_reset_check_fields);
FIELDS(api_verify_fields);
FIELDS(api_prefs_fields);
FIELDS(api_notifications_fields);
FIELDS(api_list_fields);
FIELDS(api_checkout_fields);

/* mfa.c */
FIELDS(api_mfa_setup_fields);
FIELDS(api_mfa_enable_fields);
FIELDS(api_mfa_change_fields);
FIELDS(api_login_mfa_fields);
HANDLER(api_mfa_setup);
HANDLER(api_mfa_enable);
HANDLER(api_mfa_disable);
HANDLER(api_mfa_recovery_codes);
HANDLER(api_login_mfa);
/* Answers a right password of a user with 2FA on: 200 {mfa_required, mfa_token, methods}. */
void api_mfa_challenge(struct app *app, struct http_req *req, struct http_res *res, const struct account_user *u);

/* consent.c */
FIELDS(api_accept_terms_fields);
HANDLER(api_site);
HANDLER(api_accept_terms);
HANDLER(api_export);

/* The route tables of the admin API (admin_*.c), listed in routes.c. */
extern const struct route api_admin_users_routes[];
extern const struct route api_admin_billing_routes[];
extern const struct route api_admin_ops_routes[];

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
	struct principal_cache *principals; /* the sessions this worker has checked (principal.h) */
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
/* Checks password against the signed-in user's stored hash, counted by the login throttle (an
 * access token must not become a way to guess the password). Answers and returns false when the
 * account is throttled (429) or the password is wrong (422 on field). *email: the user's. */
bool api_recheck_password(struct app *app, struct http_req *req, struct http_res *res, const char *field,
			  const char *password, const char **email);
/* The User object of u, terms_accepted against the current settings. */
json_object *api_user_json(struct app *app, const struct account_user *u);
/* The current terms version (settings), "" when the settings cannot be read. */
const char *api_terms_version(struct app *app);
/* Clears the refresh cookie. */
void api_clear_refresh_cookie(struct http_res *res, struct http_req *req);

/* Authenticates the bearer token of req: sets app->me and req->user_id, session_id, user_role.
 * Returns TG_OK, TG_EAUTH or TG_EUNAVAIL/TG_EDB. */
int api_authenticate(struct app *app, struct http_req *req);

int api_auth_init(struct app *app);
void api_auth_free(struct app *app);

/* recovery.c, notifications.c */
HANDLER(api_forgot_password);
HANDLER(api_reset_password);
HANDLER(api_reset_check);
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

/* product.c, chat.c */
FIELDS(api_project_create_fields);
FIELDS(api_project_update_fields);
FIELDS(api_document_create_fields);
FIELDS(api_document_update_fields);
FIELDS(api_documents_list_fields);
FIELDS(api_agent_create_fields);
FIELDS(api_agent_update_fields);
FIELDS(api_chat_fields);
HANDLER(api_projects_create);
HANDLER(api_projects_list);
HANDLER(api_project_get);
HANDLER(api_project_update);
HANDLER(api_project_delete);
HANDLER(api_documents_create);
HANDLER(api_documents_list);
HANDLER(api_document_get);
HANDLER(api_document_update);
HANDLER(api_document_delete);
HANDLER(api_models);
HANDLER(api_agents_create);
HANDLER(api_agents_list);
HANDLER(api_agent_get);
HANDLER(api_agent_update);
HANDLER(api_agent_delete);
HANDLER(api_conversations_list);
HANDLER(api_conversation_get);
HANDLER(api_conversation_delete);
HANDLER(api_usage);
HANDLER(api_chat);
struct quota_refusal;
struct quota_ctx;
/* 402 quota_exceeded with metric, used and limit. */
void api_quota_exceeded(struct http_res *res, struct http_req *req, const struct quota_refusal *r);
/* The quota context of the signed-in user of req. */
struct quota_ctx api_quota(struct app *app, struct http_req *req);

/* 422 validation_failed with one field's reason. */
void api_field_error(struct http_res *res, struct http_req *req, const char *field, const char *why);
/* 429 rate_limited with Retry-After. */
void api_too_many(struct http_res *res, struct http_req *req, int retry_after, const char *detail);

/* Answers a status through the one table of dispatch.c (TG_ENOTFOUND 404, TG_ECONFLICT 409,
 * TG_EUNAVAIL 503 with Retry-After, …; ours 500). Handlers answer their own contract codes. */
void api_fail(struct http_res *res, struct http_req *req, int status);
/* The deadline of req's outbound calls: outbound_deadline after the request started, no sleeps. */
#include "tollgate/deadline.h"
struct deadline api_deadline(const struct app *app, const struct http_req *req);
/* Sets Cache-Control: no-store. */
void api_no_store(struct http_res *res, struct http_req *req);

#endif
