/* billing.h — plans, customers, subscriptions, invoices and the Stripe webhook events.
 *
 * Stripe is the source of truth: we mirror what we need from its webhook events. Each event
 * is stored (deduplicated on its id) and applied in one transaction; an event older than the
 * last one applied to the same subscription or invoice never rolls its state back. */
#ifndef TOLLGATE_BILLING_H
#define TOLLGATE_BILLING_H

#include <json.h>
#include "tollgate/jobs.h"
#include <stdbool.h>

struct arena;
struct db;
struct tg_config;

/* Public plans: {"items":[{code, name, description, prices, limits, features}]}. */
int billing_plans(struct db *db, struct arena *a, json_object **out);

struct billing_price {
	bool plan_exists;
	bool has_price;            /* the plan sells at this interval */
	const char *stripe_price_id; /* NULL when not configured */
};
int billing_price(struct db *db, struct arena *a, const char *plan, const char *interval, struct billing_price *p);

/* The user's Stripe customer id (TG_ENOTFOUND when none). */
int billing_customer(struct db *db, struct arena *a, const char *user_id, const char **customer_id);
/* Remembers the customer of a user; keeps the first one when two race. *customer_id is the kept one. */
int billing_customer_save(struct db *db, struct arena *a, const char *user_id, const char **customer_id);
/* True when the user has a subscription that is not over (checkout would double-bill). */
int billing_has_live_subscription(struct db *db, struct arena *a, const char *user_id, bool *live);
/* {plan, status, interval, current_period_start, current_period_end, cancel_at_period_end, canceled_at} */
int billing_subscription(struct db *db, struct arena *a, const char *user_id, json_object **out);
/* A page of the user's invoices (items array; pg->total set). */
struct page;
int billing_invoices(struct db *db, struct arena *a, const char *user_id, struct page *pg, json_object **out);
/* Stripe subscription ids of the user that are not over (for cancellation on deletion). */
int billing_live_subscription_ids(struct db *db, struct arena *a, const char *user_id, json_object **ids);

/* --- event shapes (events.c): what an event and its object carry, read without the database.
 * Strings are borrowed from the JSON or live in the arena; NULL when absent. --- */
enum billing_event_kind {
	BILLING_EVENT_OTHER,          /* stored and acknowledged, nothing to apply */
	BILLING_EVENT_CHECKOUT,       /* checkout.session.completed */
	BILLING_EVENT_SUBSCRIPTION,   /* customer.subscription.created/updated/deleted */
	BILLING_EVENT_INVOICE,        /* invoice.paid/payment_succeeded/finalized/updated */
	BILLING_EVENT_INVOICE_FAILED, /* invoice.payment_failed */
	BILLING_EVENT_REFUND,         /* charge.refunded */
};
struct billing_event_shape {
	const char *id, *type;
	long long created;            /* -1 when absent or not an integer */
	enum billing_event_kind kind;
	json_object *object;          /* data.object */
};
/* Reads an event. TG_EINPUT when it has no type or no data.object. */
int billing_event_shape(json_object *event, struct billing_event_shape *out);

/* A Subscription (acacia's period on the object, basil's on its first item); the numbers as text. */
struct billing_subscription_shape {
	const char *id, *customer, *status;  /* required */
	const char *user_id;                 /* metadata.user_id when a valid UUID */
	const char *plan, *interval, *price; /* metadata.plan, first item's price */
	const char *period_start, *period_end, *canceled_at, *ended_at; /* unix seconds; NULL when 0 */
	bool cancel_at_period_end;
};
/* TG_EINPUT when id, customer or status is missing. */
int billing_subscription_shape(struct arena *a, json_object *sub, struct billing_subscription_shape *out);

/* An Invoice (acacia's subscription/charge/payment_intent, or basil's parent). */
struct billing_invoice_shape {
	const char *id, *customer; /* required */
	const char *subscription, *charge, *payment_intent, *number, *hosted_invoice_url, *invoice_pdf;
	const char *status, *currency, *amount_due, *amount_paid; /* defaults "open", "usd", "0", "0" */
	const char *period_start, *period_end, *created;         /* unix seconds; NULL when 0 */
};
/* TG_EINPUT when id or customer is missing. */
int billing_invoice_shape(struct arena *a, json_object *inv, struct billing_invoice_shape *out);

/* A refunded Charge. */
struct billing_refund_shape {
	const char *id; /* required */
	const char *invoice, *payment_intent, *amount_refunded; /* amount default "0" */
};
/* TG_EINPUT when id is missing. */
int billing_refund_shape(struct arena *a, json_object *charge, struct billing_refund_shape *out);

/* A completed Checkout Session: true when it is one of ours (a subscription with our user's
 * UUID as client_reference_id and a customer). */
struct billing_checkout_shape {
	const char *user_id, *customer;
};
bool billing_checkout_shape(json_object *session, struct billing_checkout_shape *out);

/* Stores a verified event and applies it in the same transaction. raw is the body as received
 * (NULL: event is serialised). *duplicate is true when the id was already stored (nothing is
 * done). An event that fails to apply is stored with its error for the jobs worker to retry;
 * that is still TG_OK (the event is safe). */
int billing_event_ingest(struct db *db, struct arena *a, const struct tg_config *cfg, json_object *event,
			 const char *raw, bool *duplicate);
/* Retries stored events that failed to apply (jobs worker). Returns handled count or -status. */
int billing_retry_events(struct db *db, struct arena *a, const struct tg_config *cfg);
/* Whether event id is stored and applied. */
int billing_event_applied(struct db *db, struct arena *a, const char *id, bool *stored, bool *applied);
/* Writes the configured stripe_prices ("plan:interval:price_id …") into plan_prices. */
int billing_sync_prices(struct db *db, struct arena *a, const struct tg_config *cfg);
/* --- Stripe calls of a request (checkout.c): never inside a transaction, under deadline dl --- */
struct deadline;
struct billing_checkout_in {
	const char *user_id, *email, *name;
	const char *plan, *interval, *price_id;
};
enum billing_checkout_result {
	BILLING_CHECKOUT_STARTED,    /* url and session_id are set (when TG_OK) */
	BILLING_CHECKOUT_SUBSCRIBED, /* the user already has a live subscription */
	BILLING_CHECKOUT_BUSY,       /* another checkout of the user is being started */
};
struct billing_checkout_out {
	enum billing_checkout_result result;
	const char *url, *session_id;
};
/* Starts a Stripe Checkout for in (one at a time per user; open Sessions of the customer are
 * expired first). TG_EUNAVAIL: Stripe unreachable or the deadline passed; TG_EINPUT/TG_EUPSTREAM/
 * TG_ECONFLICT: Stripe refused. */
int billing_checkout(struct db *db, struct arena *a, const struct tg_config *cfg, const struct deadline *dl,
		     const struct billing_checkout_in *in, struct billing_checkout_out *out);
/* A Customer Portal URL (arena). TG_ENOTFOUND when the user has no Stripe customer. */
int billing_portal(struct db *db, struct arena *a, const struct tg_config *cfg, const struct deadline *dl,
		   const char *user_id, const char **url);
/* Cancels every live subscription of user_id at Stripe at once (account deletion). */
int billing_cancel_all(struct db *db, struct arena *a, const struct tg_config *cfg, const struct deadline *dl,
		       const char *user_id);
/* Expires the Sessions of checkouts a crash left pending (a jobs task). Returns count or -status. */
int billing_recover_checkouts(struct db *db, struct arena *a, const struct tg_config *cfg, const struct deadline *dl);

/* --- jobs (billing_jobs.c) --- */
#define BILLING_JOB_SUBSCRIPTION_REFRESH "stripe_subscription_refresh" /* {subscription, created} */
extern const struct jobs_kind billing_jobs[];
extern const struct jobs_task billing_tasks[];

#endif
