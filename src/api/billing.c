/* billing.c — plans, checkout, portal, subscription, invoices, and the Stripe webhook. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/billing.h"
#include "tollgate/config.h"
#include "tollgate/deadline.h"
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

/* Answers a failed Stripe call: an outage (or the deadline) is 503; a refusal is Stripe's
 * disagreeing with us, a 500 of ours; the database is api_fail's. */
static void stripe_failed(struct http_res *res, struct http_req *req, int rc)
{
	if (rc == TG_EUNAVAIL)
		return billing_unavailable(res, req, true, "Our payment provider is not reachable right now; try again shortly.");
	if (rc == TG_EDB || rc == TG_ENOMEM)
		return api_fail(res, req, rc);
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

static const char *const intervals[] = {"month", "year", NULL};
enum { CHECKOUT_PLAN, CHECKOUT_INTERVAL };
const struct valid_field api_checkout_fields[] = {
	[CHECKOUT_PLAN] = {.name = "plan", .type = VALID_STRING, .flags = VALID_REQUIRED, .max = 32},
	[CHECKOUT_INTERVAL] = {.name = "interval", .type = VALID_ENUM, .choices = intervals},
	{0},
};

HANDLER(api_billing_checkout)
{
	const char *plan = req->values[CHECKOUT_PLAN].str;
	const char *interval = req->values[CHECKOUT_INTERVAL].str ? req->values[CHECKOUT_INTERVAL].str : "month";
	struct billing_price price;
	int rc = billing_price(app->db, req->arena, plan, interval, &price);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	if (!price.plan_exists)
		return api_field_error(res, req, "plan", "is not a plan");
	if (!price.has_price)
		return api_field_error(res, req, "plan",
				       !strcmp(plan, "free") ? "is free: no checkout needed" : "is not sold at this interval");
	if (!stripe_configured(app->cfg))
		return billing_unavailable(res, req, false, "Billing is not configured on this server.");
	if (!price.stripe_price_id)
		return billing_unavailable(res, req, false, "This plan has no Stripe price configured yet.");
	const struct account_user *me = app->me;
	struct billing_checkout_in in = {.user_id = me->id, .email = me->email, .name = me->name, .plan = plan,
					 .interval = interval, .price_id = price.stripe_price_id};
	struct billing_checkout_out out;
	struct deadline dl = api_deadline(app, req);
	rc = billing_checkout(app->db, req->arena, app->cfg, &dl, &in, &out);
	if (rc == TG_OK && out.result == BILLING_CHECKOUT_SUBSCRIBED)
		return http_res_problem(res, req, 409, "already_subscribed",
					"You already have a subscription; change it from the billing portal.");
	if (rc == TG_OK && out.result == BILLING_CHECKOUT_BUSY) {
		http_res_header(res, req->arena, "Retry-After", "2");
		return http_res_problem(res, req, 409, "conflict", "A checkout is already being started; try again in a moment.");
	}
	if (rc != TG_OK)
		return stripe_failed(res, req, rc);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "url", json_object_new_string(out.url));
	json_object_object_add(o, "session_id", json_object_new_string(out.session_id));
	http_res_json(res, req->arena, 200, o);
}

HANDLER(api_billing_portal)
{
	if (!stripe_configured(app->cfg))
		return billing_unavailable(res, req, false, "Billing is not configured on this server.");
	const char *url;
	struct deadline dl = api_deadline(app, req);
	int rc = billing_portal(app->db, req->arena, app->cfg, &dl, req->user_id, &url);
	if (rc == TG_ENOTFOUND)
		return http_res_problem(res, req, 409, "no_customer", "You have no billing account yet; subscribe first.");
	if (rc != TG_OK)
		return stripe_failed(res, req, rc);
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
	api_page(req, &pg);
	json_object *items;
	int rc = billing_invoices(app->db, req->arena, req->user_id, &pg, &items);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 200, api_list(&pg, items));
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
