/* billing.c — plans, checkout, portal, subscription, invoices, and the Stripe webhook. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/billing.h"
#include "tollgate/config.h"
#include "tollgate/crypto.h"
#include "tollgate/db.h"
#include "tollgate/log.h"
#include "tollgate/status.h"
#include "tollgate/stripe.h"

#include <string.h>
#include <time.h>

#define WEBHOOK_TOLERANCE 300

/* 503 billing_unavailable; Retry-After only when it is an outage that passes (not configuration). */
static void billing_unavailable(struct http_res *res, struct http_req *req, bool outage, const char *detail)
{
	if (outage)
		http_res_header(res, req->arena, "Retry-After", "60");
	http_res_problem(res, req, 503, "billing_unavailable", detail);
}

/* Answers a failed Stripe call: an outage is 503, anything else a 502-like internal error. */
static void stripe_failed(struct http_res *res, struct http_req *req, int rc)
{
	if (rc == TG_EUNAVAIL)
		return billing_unavailable(res, req, true, "Our payment provider is not reachable right now; try again shortly.");
	http_res_problem(res, req, 500, "internal", "The payment provider refused the request.");
}

HANDLER(api_billing_plans)
{
	json_object *o;
	int rc = billing_plans(app->db, req->arena, &o);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_header(res, req->arena, "Cache-Control", "public, max-age=60");
	http_res_json(res, req->arena, 200, o);
}

/* The user's Stripe customer, created once: the Idempotency-Key is derived from the user, so
 * two racing checkouts (or a retry) get the same customer from Stripe. */
static int ensure_customer(struct app *app, struct http_req *req, const char **customer)
{
	int rc = billing_customer(app->db, req->arena, req->user_id, customer);
	if (rc != TG_ENOTFOUND)
		return rc;
	struct account_user *me = req->principal;
	struct stripe_form *f = stripe_form_new(req->arena);
	stripe_form_add(f, "email", me->email);
	if (me->name && *me->name)
		stripe_form_add(f, "name", me->name);
	stripe_form_add(f, "metadata[user_id]", me->id);
	char *key = arena_printf(req->arena, "tollgate-customer-%s", me->id);
	json_object *obj;
	struct stripe_error err;
	if ((rc = stripe_call(app->cfg, req->arena, "POST", "/v1/customers", f, key, &obj, &err)) != TG_OK)
		return rc;
	*customer = stripe_str(obj, "id");
	if (!*customer)
		return TG_EUPSTREAM;
	return billing_customer_save(app->db, req->arena, me->id, customer);
}

/* Expires the customer's open Checkout Sessions: a new checkout replaces them, so the customer
 * can never complete two and pay for two subscriptions. */
static int expire_open_sessions(struct app *app, struct http_req *req, const char *customer)
{
	struct stripe_form *f = stripe_form_new(req->arena);
	stripe_form_add(f, "customer", customer);
	stripe_form_add(f, "status", "open");
	stripe_form_add(f, "limit", "20");
	json_object *list, *data;
	struct stripe_error err;
	int rc = stripe_call(app->cfg, req->arena, "GET", "/v1/checkout/sessions", f, NULL, &list, &err);
	if (rc != TG_OK)
		return rc;
	if (!json_object_object_get_ex(list, "data", &data) || !json_object_is_type(data, json_type_array))
		return TG_OK;
	for (size_t i = 0; i < json_object_array_length(data); i++) {
		const char *sid = stripe_str(json_object_array_get_idx(data, i), "id");
		if (!sid)
			continue;
		char *path = arena_printf(req->arena, "/v1/checkout/sessions/%s/expire", sid);
		char *key = arena_printf(req->arena, "tollgate-expire-%s", sid);
		json_object *done;
		rc = stripe_call(app->cfg, req->arena, "POST", path, NULL, key, &done, &err);
		if (rc == TG_EINPUT)
			rc = TG_OK; /* completed or expired meanwhile: nothing to expire */
		if (rc != TG_OK)
			return rc;
	}
	return TG_OK;
}

/* The Stripe side of a checkout, run while the user's checkout lock is held. On success *session
 * is the new Checkout Session; on a refusal the response is answered and TG_OK is returned with
 * *session NULL; other failures are returned. */
static int start_checkout(struct app *app, struct http_req *req, struct http_res *res, const char *plan,
			  const char *price_id, json_object **session)
{
	*session = NULL;
	bool live;
	int rc = billing_has_live_subscription(app->db, req->arena, req->user_id, &live);
	if (rc != TG_OK)
		return rc;
	if (live) {
		http_res_problem(res, req, 409, "already_subscribed",
				 "You already have a subscription; change it from the billing portal.");
		return TG_OK;
	}
	const char *customer;
	if ((rc = ensure_customer(app, req, &customer)) == TG_OK)
		rc = expire_open_sessions(app, req, customer);
	if (rc != TG_OK) {
		if (rc == TG_EUNAVAIL || rc == TG_EINPUT || rc == TG_EUPSTREAM || rc == TG_ECONFLICT) {
			stripe_failed(res, req, rc);
			return TG_OK;
		}
		return rc;
	}
	struct stripe_form *f = stripe_form_new(req->arena);
	const char *origin = app->cfg->public_origin;
	stripe_form_add(f, "mode", "subscription");
	stripe_form_add(f, "customer", customer);
	stripe_form_add(f, "client_reference_id", req->user_id);
	stripe_form_add(f, "line_items[0][price]", price_id);
	stripe_form_add(f, "line_items[0][quantity]", "1");
	stripe_form_add(f, "success_url",
			arena_printf(req->arena, "%s/checkout-success?session_id={CHECKOUT_SESSION_ID}", origin));
	stripe_form_add(f, "cancel_url", arena_printf(req->arena, "%s/pricing?checkout=canceled", origin));
	stripe_form_add(f, "subscription_data[metadata][user_id]", req->user_id);
	stripe_form_add(f, "subscription_data[metadata][plan]", plan);
	stripe_form_add(f, "metadata[user_id]", req->user_id);
	/* The key names this checkout request: the client's retries of the call reuse it; a new
	 * request is a new session (the open ones were just expired). */
	unsigned char rnd[12];
	char hex[25];
	if (crypto_random(rnd, sizeof(rnd)) != 0)
		return TG_EINTERNAL;
	crypto_hex(rnd, sizeof(rnd), hex);
	char *key = arena_printf(req->arena, "tollgate-checkout-%s-%s", req->user_id, hex);
	struct stripe_error err;
	rc = stripe_call(app->cfg, req->arena, "POST", "/v1/checkout/sessions", f, key, session, &err);
	if (rc != TG_OK) {
		*session = NULL;
		stripe_failed(res, req, rc);
		return TG_OK;
	}
	return TG_OK;
}

HANDLER(api_billing_checkout)
{
	json_object *body;
	http_req_json(req, &body);
	const char *plan, *interval;
	json_object *errors = json_object_new_object();
	if (!api_json_string(body, "plan", &plan) || !plan || !*plan)
		json_object_object_add(errors, "plan", json_object_new_string("is required"));
	if (!api_json_string(body, "interval", &interval))
		json_object_object_add(errors, "interval", json_object_new_string("must be \"month\" or \"year\""));
	if (!interval)
		interval = "month";
	else if (strcmp(interval, "month") && strcmp(interval, "year"))
		json_object_object_add(errors, "interval", json_object_new_string("must be \"month\" or \"year\""));
	struct billing_price price = {0};
	int rc;
	if (json_object_object_length(errors) == 0) {
		if ((rc = billing_price(app->db, req->arena, plan, interval, &price)) != TG_OK) {
			json_object_put(errors);
			return api_fail(res, req, rc);
		}
		if (!price.plan_exists)
			json_object_object_add(errors, "plan", json_object_new_string("is not a plan"));
		else if (!price.has_price)
			json_object_object_add(errors, "plan", json_object_new_string(
				!strcmp(plan, "free") ? "is free: no checkout needed" : "is not sold at this interval"));
	}
	if (json_object_object_length(errors)) {
		http_res_invalid(res, req, errors);
		return;
	}
	json_object_put(errors);
	if (!stripe_configured(app->cfg))
		return billing_unavailable(res, req, false, "Billing is not configured on this server.");
	if (!price.stripe_price_id)
		return billing_unavailable(res, req, false, "This plan has no Stripe price configured yet.");
	/* One checkout at a time per user, so that two cannot both end in a subscription. */
	if ((rc = db_begin(app->db)) != TG_OK)
		return api_fail(res, req, rc);
	json_object *session = NULL;
	rc = billing_lock_user(app->db, req->arena, req->user_id);
	if (rc == TG_OK)
		rc = start_checkout(app, req, res, plan, price.stripe_price_id, &session);
	rc = db_finish(app->db, rc);
	if (!session) {
		if (rc != TG_OK)
			api_fail(res, req, rc);
		return; /* answered */
	}
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	const char *url = stripe_str(session, "url"), *sid = stripe_str(session, "id");
	if (!url || !sid)
		return stripe_failed(res, req, TG_EUPSTREAM);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "url", json_object_new_string(url));
	json_object_object_add(o, "session_id", json_object_new_string(sid));
	http_res_json(res, req->arena, 200, o);
}

HANDLER(api_billing_portal)
{
	if (!stripe_configured(app->cfg))
		return billing_unavailable(res, req, false, "Billing is not configured on this server.");
	const char *customer;
	int rc = billing_customer(app->db, req->arena, req->user_id, &customer);
	if (rc == TG_ENOTFOUND)
		return http_res_problem(res, req, 409, "no_customer", "You have no billing account yet; subscribe first.");
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	struct stripe_form *f = stripe_form_new(req->arena);
	stripe_form_add(f, "customer", customer);
	stripe_form_add(f, "return_url", arena_printf(req->arena, "%s/billing", app->cfg->public_origin));
	char *key = arena_printf(req->arena, "tollgate-portal-%s-%ld", req->user_id, (long)(time(NULL) / 60));
	json_object *session;
	struct stripe_error err;
	if ((rc = stripe_call(app->cfg, req->arena, "POST", "/v1/billing_portal/sessions", f, key, &session, &err)) != TG_OK)
		return stripe_failed(res, req, rc);
	const char *url = stripe_str(session, "url");
	if (!url)
		return stripe_failed(res, req, TG_EUPSTREAM);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "url", json_object_new_string(url));
	http_res_json(res, req->arena, 200, o);
}

HANDLER(api_billing_subscription)
{
	json_object *o;
	int rc = billing_subscription(app->db, req->arena, req->user_id, &o);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 200, o);
}

HANDLER(api_billing_invoices)
{
	struct page pg;
	if (!api_pagination(req, res, &pg))
		return;
	json_object *o;
	int rc = billing_invoices(app->db, req->arena, req->user_id, &pg, &o);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 200, o);
}

HANDLER(api_stripe_webhook)
{
	const char *secrets = app->cfg->stripe_webhook_secrets;
	if (!secrets || !*secrets)
		return billing_unavailable(res, req, false, "Webhooks are not configured on this server.");
	const char *sig = http_req_header(req, "HTTP_STRIPE_SIGNATURE");
	if (!stripe_verify_signature(sig, req->body ? req->body : "", req->body_len, secrets, time(NULL),
				     WEBHOOK_TOLERANCE))
		return http_res_problem(res, req, 400, "invalid_signature",
					"The Stripe-Signature header is missing, invalid or outside the tolerance.");
	json_object *event;
	if (http_req_json(req, &event) != TG_OK)
		return http_res_problem(res, req, 400, "invalid_json", "The event is not a JSON object.");
	bool duplicate;
	int rc = billing_event_ingest(app->db, req->arena, app->cfg, event, req->body, &duplicate);
	if (rc == TG_EINPUT)
		return http_res_problem(res, req, 400, "bad_request", "The event has no id, type or created time.");
	if (rc != TG_OK)
		return api_fail(res, req, rc); /* not stored: Stripe retries */
	json_object *o = json_object_new_object();
	json_object_object_add(o, "received", json_object_new_boolean(1));
	if (duplicate)
		json_object_object_add(o, "duplicate", json_object_new_boolean(1));
	http_res_json(res, req->arena, 200, o);
}
