/* billing_helpers.h — helpers of the billing suites (test_billing_*.c): the Billing section of
 * API.md, black-box through nginx over HTTPS, against the stack's Stripe and LiteLLM stand-ins
 * (tests/fixtures/stripe_standin.py, tests/fixtures/litellm_standin.py; started by
 * tests/fixtures/stack-extra.sh, which exports TG_STRIPE_URL, TG_STRIPE_SECRET_KEY,
 * TG_STRIPE_WEBHOOK_SECRET, TG_LITELLM_URL ... into stack.env).
 *
 * The stand-ins' control APIs (plain HTTP under /_control/) are driven with libcurl directly. Events
 * the tests craft themselves are signed here with OpenSSL HMAC-SHA256 over "<t>.<body>" keyed with
 * $TG_STRIPE_WEBHOOK_SECRET, as Stripe does.
 *
 * Every test uses fresh users; nothing depends on another test's state. Failure modes of the
 * stand-ins (/_control/fail, /_control/webhook, LiteLLM /_control/down) are reset by unchecked
 * fixtures (billing_tcase), which run in the parent process, so a failing (forked) test cannot leave
 * them set. Every wait is bounded. */
#ifndef TOLLGATE_BILLING_HELPERS_H
#define TOLLGATE_BILLING_HELPERS_H

#include "itest.h"

#include <json.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define STRIPE_VERSION "2025-02-24.acacia"
#define KEY_WAIT_MS 15000   /* the jobs worker polls every second in the test stack */
#define EVENT_WAIT_MS 10000 /* an asynchronously delivered event must be applied within this */
#define MAIL_WAIT_MS 15000

/* ---- small helpers */

/* The environment variable name; fails the test when it is unset. */
const char *env_need(const char *name);
char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A random lowercase-alphanumeric token of n characters. */
void rand_token(char *out, size_t n);
void copy_to(char *dst, size_t cap, const char *src);
/* it_sql into a caller-owned copy. */
char *sql_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool is_rfc3339(const char *s);
time_t parse_rfc3339(const char *s);
void expect_rfc3339(const struct it_resp *r, const char *path);
/* The key at path exists and is JSON null. */
void expect_null(const struct it_resp *r, const char *path);
void expect_str(const struct it_resp *r, const char *path, const char *want);
const char *jstr(json_object *o, const char *key);
json_object *jget(json_object *o, const char *key);

/* ---- the stand-ins (plain HTTP) */

/* The Stripe stand-in's control API (no auth, JSON). */
struct it_resp *stripe_ctl(const char *method, const char *path, const char *json);
/* As stripe_ctl, asserting 200 JSON; returns a new reference to the body. */
json_object *stripe_ctl_ok(const char *method, const char *path, const char *json);
/* The Stripe API of the stand-in with the secret key, as an SDK would call it. form: urlencoded. */
struct it_resp *stripe_api(const char *method, const char *path, const char *form);
struct it_resp *litellm_ctl(const char *method, const char *path, const char *json);
/* Waits until the stand-in's background deliveries (events caused by API requests) are done. */
void stripe_drain(void);
/* Resets the failure modes of both stand-ins (never their objects: the stack mirrors them). */
void standins_normal(void);
void fixture_normal(void);
/* A TCase of s whose unchecked fixtures reset the stand-ins before and after. */
TCase *billing_tcase(Suite *s, const char *name, int timeout);
/* The stand-in's stored event evt, an object through its API, its API request log ("data"):
 * new references. */
json_object *standin_event(const char *evt);
json_object *stripe_object(const char *path);
json_object *stripe_requests(const char *path_prefix);
const char *param_of(json_object *req, const char *key);
/* Customers at the stand-in with this email (GET /v1/customers?email=). */
int customers_with_email(const char *email);

/* ---- webhooks */

void hmac_hex(const char *secret, long long t, const char *body, size_t body_len, char out[65]);
const char *webhook_secret(void);
/* POSTs body to the webhook with the given Stripe-Signature header value (NULL: no header). */
struct it_resp *post_webhook(const char *body, const char *sig);
/* POSTs body signed now with the stack's webhook secret. */
struct it_resp *post_signed(const char *body);
/* A new event (unique id) wrapping obj (taken over). */
json_object *make_event(const char *type, json_object *obj, long long created, char *id_out, size_t id_cap);
const char *event_text(json_object *ev);
/* Posts ev signed; asserts 200 {"received": true} and the duplicate flag. */
void post_event_expect(json_object *ev, bool duplicate);
long long stored_count(const char *event_id);

/* ---- billing flows */

/* Everything one completed checkout made. */
struct paid {
	struct it_user u;
	char session[128];
	char customer[64];
	char subscription[64];
	char invoice[64];
	char charge[64];
	char events[8][64];
	int nevents;
};

struct it_resp *checkout_req(const struct it_user *u, const char *plan, const char *interval);
/* POST /api/billing/checkout → 200 {url, session_id} with url on the stand-in; the session id in sid. */
void checkout_ok(const struct it_user *u, const char *plan, const char *interval, char *sid, size_t cap);
/* Completes a session at the stand-in (as the Subscribe button); fills p; asserts every event was
 * delivered with a 2xx when delivery is expected. */
void complete_session(struct paid *p, bool expect_delivered);
/* register → checkout pro/month → complete at the stand-in → events delivered. */
void subscribe(struct paid *p, const char *prefix);
struct it_resp *get_sub(const struct it_user *u);
void expect_sub(const struct it_user *u, const char *plan, const char *status);
/* Waits (bounded) until the subscription shows status: an event stamped with the same second as
 * the state it follows is settled by a job that asks Stripe (no call inside the webhook's
 * transaction), a moment after the webhook is acknowledged. */
void wait_sub_status(const struct it_user *u, const char *status);
void expect_me_plan(const struct it_user *u, const char *plan);
/* The LiteLLM stand-in's live key of user (a new reference), or NULL; *deleted tells whether a
 * deleted key of that user is listed. */
json_object *litellm_key(const char *user_id, bool *deleted);
/* Waits (bounded) until user's key exists and has blocked == want_blocked; returns it. */
json_object *wait_key(const char *user_id, bool want_blocked);
/* Our public id (a UUID) of the invoice with Stripe id inv, or "" when it is not stored. */
const char *invoice_public_id(const char *inv);
/* The invoice with Stripe id inv of u's list (a new reference), or NULL. */
json_object *find_invoice(const struct it_user *u, const char *inv);
long long invoice_refunded(const struct it_user *u, const char *inv);
/* A snapshot of everything the server stores about a user's subscription and invoices. */
char *billing_snapshot(const char *user_id);
/* Whether a saved message to addr whose Subject contains needle (case-insensitive) exists. */
bool mail_to_exists(const char *addr, const char *needle);

#endif
