/* events.c — Stripe webhook events: store once, apply in order, retry what failed. */
#include "tollgate/account.h"
#include "tollgate/arena.h"
#include "tollgate/billing.h"
#include "tollgate/config.h"
#include "tollgate/deadline.h"
#include "tollgate/jobs.h"
#include "tollgate/db.h"
#include "tollgate/litellm.h"
#include "tollgate/log.h"
#include "tollgate/mail.h"
#include "tollgate/notify.h"
#include "tollgate/status.h"
#include "tollgate/timeutil.h"
#include "tollgate/stripe.h"
#include "tollgate/uuid.h"
#include "billing_sql.h"

#include <stdio.h>
#include <string.h>

#define EVENT_RETRY_MAX 21600 /* 6 h */
#define EVENT_MAX_ATTEMPTS 20 /* ~3 days of retries: then it is set aside, with its error, for an operator */
#define RETRY_BATCH 50

static json_object *member(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && !json_object_is_type(v, json_type_null) ? v : NULL;
}

/* Number as text for a statement parameter, or NULL when absent (0 counts as absent for times). */
static const char *num(struct arena *a, json_object *o, const char *key, bool zero_is_null)
{
	long long v = stripe_int(o, key, -1);
	if (v < 0 || (zero_is_null && v == 0))
		return NULL;
	return arena_printf(a, "%lld", v);
}

static const char *or_default(const char *v, const char *dflt)
{
	return v ? v : dflt;
}

/* The first element of a Stripe list member (subscription "items", invoice "lines"). */
static json_object *first_of(json_object *o, const char *list)
{
	json_object *data = member(member(o, list), "data");
	return data && json_object_is_type(data, json_type_array) && json_object_array_length(data) > 0
		       ? json_object_array_get_idx(data, 0)
		       : NULL;
}

/* ---- shapes: what an event and its object carry, read without the database ---- */

int billing_subscription_shape(struct arena *a, json_object *sub, struct billing_subscription_shape *out)
{
	memset(out, 0, sizeof(*out));
	out->id = stripe_str(sub, "id");
	out->customer = stripe_id(sub, "customer");
	out->status = stripe_str(sub, "status");
	if (!out->id || !out->customer || !out->status)
		return TG_EINPUT;
	json_object *item = first_of(sub, "items"), *price = member(item, "price");
	json_object *meta = member(sub, "metadata");
	out->user_id = stripe_str(meta, "user_id");
	if (out->user_id && !uuid_valid(out->user_id))
		out->user_id = NULL;
	out->plan = stripe_str(meta, "plan"); /* set by our checkout */
	out->interval = stripe_str(member(price, "recurring"), "interval");
	out->price = stripe_str(price, "id");
	/* acacia carries the period on the subscription; basil and later on its items */
	json_object *period_src = stripe_int(sub, "current_period_end", -1) >= 0 ? sub : item;
	out->period_start = num(a, period_src, "current_period_start", true);
	out->period_end = num(a, period_src, "current_period_end", true);
	out->cancel_at_period_end = stripe_bool(sub, "cancel_at_period_end");
	out->canceled_at = num(a, sub, "canceled_at", true);
	out->ended_at = num(a, sub, "ended_at", true);
	return TG_OK;
}

int billing_invoice_shape(struct arena *a, json_object *inv, struct billing_invoice_shape *out)
{
	memset(out, 0, sizeof(*out));
	out->id = stripe_str(inv, "id");
	out->customer = stripe_id(inv, "customer");
	if (!out->id || !out->customer)
		return TG_EINPUT;
	out->subscription = stripe_id(inv, "subscription");
	if (!out->subscription) /* basil and later */
		out->subscription = stripe_id(member(member(inv, "parent"), "subscription_details"), "subscription");
	out->charge = stripe_id(inv, "charge");
	out->payment_intent = stripe_id(inv, "payment_intent");
	out->number = stripe_str(inv, "number");
	out->status = or_default(stripe_str(inv, "status"), "open");
	out->amount_due = or_default(num(a, inv, "amount_due", false), "0");
	out->amount_paid = or_default(num(a, inv, "amount_paid", false), "0");
	out->currency = or_default(stripe_str(inv, "currency"), "usd");
	out->hosted_invoice_url = stripe_str(inv, "hosted_invoice_url");
	out->invoice_pdf = stripe_str(inv, "invoice_pdf");
	/* The service period is on the subscription line; the invoice's own period_start/end
	 * are equal on a first invoice. */
	json_object *period = member(first_of(inv, "lines"), "period");
	out->period_start = period ? num(a, period, "start", true) : num(a, inv, "period_start", true);
	out->period_end = period ? num(a, period, "end", true) : num(a, inv, "period_end", true);
	out->created = num(a, inv, "created", true);
	return TG_OK;
}

int billing_refund_shape(struct arena *a, json_object *charge, struct billing_refund_shape *out)
{
	memset(out, 0, sizeof(*out));
	out->id = stripe_str(charge, "id");
	if (!out->id)
		return TG_EINPUT;
	out->invoice = stripe_id(charge, "invoice");
	out->payment_intent = stripe_id(charge, "payment_intent");
	out->amount_refunded = or_default(num(a, charge, "amount_refunded", false), "0");
	return TG_OK;
}

bool billing_checkout_shape(json_object *session, struct billing_checkout_shape *out)
{
	const char *mode = stripe_str(session, "mode");
	out->user_id = stripe_str(session, "client_reference_id");
	out->customer = stripe_id(session, "customer");
	return !(mode && strcmp(mode, "subscription")) && out->user_id && out->customer &&
	       uuid_valid(out->user_id);
}

int billing_event_shape(json_object *event, struct billing_event_shape *out)
{
	memset(out, 0, sizeof(*out));
	out->id = stripe_str(event, "id");
	out->type = stripe_str(event, "type");
	out->created = stripe_int(event, "created", -1);
	out->object = member(member(event, "data"), "object");
	const char *t = out->type;
	if (!t)
		out->kind = BILLING_EVENT_OTHER;
	else if (!strcmp(t, "checkout.session.completed"))
		out->kind = BILLING_EVENT_CHECKOUT;
	else if (!strcmp(t, "customer.subscription.created") || !strcmp(t, "customer.subscription.updated") ||
		 !strcmp(t, "customer.subscription.deleted"))
		out->kind = BILLING_EVENT_SUBSCRIPTION;
	else if (!strcmp(t, "invoice.paid") || !strcmp(t, "invoice.payment_succeeded") ||
		 !strcmp(t, "invoice.finalized") || !strcmp(t, "invoice.updated"))
		out->kind = BILLING_EVENT_INVOICE;
	else if (!strcmp(t, "invoice.payment_failed"))
		out->kind = BILLING_EVENT_INVOICE_FAILED;
	else if (!strcmp(t, "charge.refunded"))
		out->kind = BILLING_EVENT_REFUND;
	else
		out->kind = BILLING_EVENT_OTHER;
	return out->type && out->object ? TG_OK : TG_EINPUT;
}

/* ---- applying: the shapes into the database ---- */

/* Upserts the subscription object sub as of the event time created. *changed: applied and its
 * plan or status moved; *tie: not applied because the stored state has the same time and another
 * status. */
static int upsert_subscription(struct db *db, struct arena *a, const struct tg_config *cfg, json_object *sub,
			       long long created, bool force, const char **owner, bool *applied, bool *changed, bool *tie)
{
	struct billing_subscription_shape s;
	int rc = billing_subscription_shape(a, sub, &s);
	if (rc != TG_OK)
		return rc;
	char created_s[24];
	snprintf(created_s, sizeof(created_s), "%lld", created);
	const char *p[] = {s.id,
			   s.customer,
			   s.user_id,
			   s.plan,
			   s.interval,
			   s.status,
			   s.period_start,
			   s.period_end,
			   s.cancel_at_period_end ? "true" : "false",
			   s.canceled_at,
			   s.ended_at,
			   created_s,
			   force ? "true" : "false",
			   s.price,
			   arena_printf(a, "%d", cfg->past_due_grace_days)};
	PGresult *r;
	rc = db_exec(db, a, &billing_stmts, B_SUBSCRIPTION_UPSERT, 15, p, &r);
	if (rc != TG_OK)
		return rc;
	if (!db_bool(r, 0, 4)) {
		log_warn("subscription %s has a price that no plan sells", s.id);
		return TG_EINPUT;
	}
	*owner = db_value(r, 0, 0);
	*applied = db_bool(r, 0, 1);
	*changed = *applied && db_bool(r, 0, 2);
	*tie = db_bool(r, 0, 3);
	return TG_OK;
}

static int queue_subscription_refresh(struct db *db, struct arena *a, const char *subscription_id,
				       long long created)
{
	json_object *p = json_object_new_object();
	json_object_object_add(p, "subscription", json_object_new_string(subscription_id));
	json_object_object_add(p, "created", json_object_new_int64(created));
	int rc = jobs_enqueue(db, a, BILLING_JOB_SUBSCRIPTION_REFRESH, p);
	json_object_put(p);
	return rc;
}

static int apply_subscription(struct db *db, struct arena *a, const struct tg_config *cfg, json_object *sub,
			      long long created)
{
	const char *owner;
	bool applied, changed, tie;
	int rc = upsert_subscription(db, a, cfg, sub, created, false, &owner, &applied, &changed, &tie);
	if (rc != TG_OK)
		return rc;
	if (!owner)
		return TG_ENOTFOUND; /* customer not linked to a user yet: retry later */
	if (!applied && tie) {
		/* Two states stamped with the same second: Stripe's current object settles it, asked
		 * by a job (no network call while this transaction holds the row). */
		return queue_subscription_refresh(db, a, stripe_str(sub, "id"), created);
	}
	if (!applied) {
		log_info("subscription %s: event older than the state applied; ignored", stripe_str(sub, "id"));
		return TG_OK;
	}
	/* the key only moves when the plan or the status did */
	return changed ? litellm_queue_sync(db, a, owner) : TG_OK;
}


/* The job: Stripe's current subscription (no transaction open), then applied over the tie. */
int billing_job_subscription_refresh(const struct jobs_ctx *ctx, json_object *payload)
{
	const char *id = stripe_str(payload, "subscription");
	long long created = stripe_int(payload, "created", -1);
	if (!id || created < 0)
		return TG_EINPUT;
	if (!stripe_configured(ctx->cfg))
		return TG_OK; /* nothing to ask: keep what we have */
	struct arena *a = ctx->arena;
	struct deadline dl = deadline_at(time_mono_us(), (long)ctx->cfg->stripe_timeout * 3000);
	json_object *fresh;
	struct stripe_error err;
	int rc = stripe_call(ctx->cfg, a, &dl, "GET", arena_printf(a, "/v1/subscriptions/%s", id), NULL, NULL, &fresh,
			     &err);
	if (rc == TG_EINPUT)
		return TG_OK; /* gone at Stripe: keep what we have */
	if (rc != TG_OK)
		return rc;
	if ((rc = db_begin(ctx->db)) != TG_OK)
		return rc;
	const char *owner;
	bool applied, changed, tie;
	rc = upsert_subscription(ctx->db, a, ctx->cfg, fresh, created, true, &owner, &applied, &changed, &tie);
	if (rc == TG_OK && owner && changed)
		rc = litellm_queue_sync(ctx->db, a, owner);
	return db_finish(ctx->db, rc);
}

static int notify_payment_failed(struct db *db, struct arena *a, const char *customer)
{
	const char *p[] = {customer};
	PGresult *r;
	int rc = db_exec(db, a, &billing_stmts, B_USER_OF_CUSTOMER, 1, p, &r);
	if (rc != TG_OK || PQntuples(r) != 1)
		return rc;
	struct mail_recipient u = {.user_id = db_value(r, 0, 0), .email = db_value(r, 0, 1), .name = db_value(r, 0, 2)};
	return mail_queue_payment_failed(db, a, &u);
}

static int apply_invoice(struct db *db, struct arena *a, json_object *inv, long long created, bool failed)
{
	struct billing_invoice_shape v;
	int rc = billing_invoice_shape(a, inv, &v);
	if (rc != TG_OK)
		return rc;
	char created_s[24];
	snprintf(created_s, sizeof(created_s), "%lld", created);
	const char *p[] = {v.id,          v.customer,   v.subscription,       v.charge,
			   v.payment_intent, v.number,   v.status,             v.amount_due,
			   v.amount_paid, v.currency,   v.hosted_invoice_url, v.invoice_pdf,
			   v.period_start, v.period_end, v.created,           created_s};
	PGresult *r;
	rc = db_exec(db, a, &billing_stmts, B_INVOICE_UPSERT, 16, p, &r);
	if (rc != TG_OK)
		return rc;
	if (!db_value(r, 0, 0))
		return TG_ENOTFOUND; /* unknown customer: retry later */
	if (failed && db_value(r, 0, 1))
		return notify_payment_failed(db, a, v.customer);
	return TG_OK;
}

static int apply_refund(struct db *db, struct arena *a, json_object *charge)
{
	struct billing_refund_shape v;
	int rc = billing_refund_shape(a, charge, &v);
	if (rc != TG_OK)
		return rc;
	const char *p[] = {v.id, v.payment_intent, v.invoice, v.amount_refunded};
	PGresult *r;
	rc = db_exec(db, a, &billing_stmts, B_INVOICE_REFUND, 4, p, &r);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(r) == 0 && v.invoice)
		return TG_ENOTFOUND; /* its invoice has not arrived yet */
	return TG_OK;
}

static int apply_checkout(struct db *db, struct arena *a, json_object *session)
{
	struct billing_checkout_shape v;
	if (!billing_checkout_shape(session, &v))
		return TG_OK; /* not one of ours */
	const char *p[] = {v.user_id, v.customer};
	return db_exec(db, a, &billing_stmts, B_CUSTOMER_LINK, 2, p, NULL);
}

static int billing_event_apply(struct db *db, struct arena *a, const struct tg_config *cfg, json_object *event)
{
	struct billing_event_shape ev;
	if (billing_event_shape(event, &ev) != TG_OK)
		return TG_EINPUT;
	long long created = stripe_int(event, "created", 0);
	switch (ev.kind) {
	case BILLING_EVENT_CHECKOUT:
		return apply_checkout(db, a, ev.object);
	case BILLING_EVENT_SUBSCRIPTION:
		return apply_subscription(db, a, cfg, ev.object, created);
	case BILLING_EVENT_INVOICE:
	case BILLING_EVENT_INVOICE_FAILED:
		return apply_invoice(db, a, ev.object, created, ev.kind == BILLING_EVENT_INVOICE_FAILED);
	case BILLING_EVENT_REFUND:
		return apply_refund(db, a, ev.object);
	case BILLING_EVENT_OTHER:
		break;
	}
	return TG_OK; /* stored and acknowledged, nothing to do */
}

/* The error text and retry delay for a failed application; *give_up after EVENT_MAX_ATTEMPTS. */
static void failure(const struct tg_config *cfg, json_object *event, const char *id, int attempts, int rc,
		    char *err, size_t errlen, char *wait, size_t waitlen, bool *give_up)
{
	long delay = time_backoff_seconds(attempts, cfg->event_retry_base, EVENT_RETRY_MAX);
	snprintf(wait, waitlen, "%ld", delay);
	snprintf(err, errlen, "%s%s", tg_strerror(rc),
		 rc == TG_ENOTFOUND ? ": the customer, subscription or invoice is not known (yet)" : "");
	*give_up = attempts >= EVENT_MAX_ATTEMPTS;
	if (*give_up)
		log_error("stripe event %s (%s) set aside after %d attempts: %s", id, stripe_str(event, "type"),
			  attempts, err);
	else
		log_warn("stripe event %s (%s) not applied: %s; retry in %ld s", id, stripe_str(event, "type"), err,
			 delay);
}

/* Retry path: applies a stored, locked event behind a savepoint, so that a failure is recorded
 * on it and the transaction still commits. */
static int apply_or_record(struct db *db, struct arena *a, const struct tg_config *cfg, json_object *event,
			   const char *id, int attempts)
{
	int rc = db_savepoint(db);
	if (rc != TG_OK)
		return rc;
	rc = billing_event_apply(db, a, cfg, event);
	if (rc == TG_OK) {
		const char *p[] = {id};
		return db_exec(db, a, &billing_stmts, B_EVENT_DONE, 1, p, NULL);
	}
	if (rc == TG_EUNAVAIL)
		return rc;
	int rb = db_rollback_to_savepoint(db);
	if (rb != TG_OK)
		return rb;
	char wait[24], err[160];
	bool give_up;
	failure(cfg, event, id, attempts + 1, rc, err, sizeof(err), wait, sizeof(wait), &give_up);
	const char *p[] = {id, err, wait};
	return db_exec(db, a, &billing_stmts, give_up ? B_EVENT_GIVE_UP : B_EVENT_FAILED, give_up ? 2 : 3, p, NULL);
}

int billing_event_ingest(struct db *db, struct arena *a, const struct tg_config *cfg, json_object *event,
			 const char *raw, bool *duplicate)
{
	*duplicate = false;
	const char *id = stripe_str(event, "id"), *type = stripe_str(event, "type");
	long long created = stripe_int(event, "created", -1);
	if (!id || !type || created < 0)
		return TG_EINPUT;
	/* Stripe redelivers often: a duplicate costs one indexed read, no transaction. */
	const char *sp[] = {id};
	PGresult *seen;
	int rc = db_exec(db, a, &billing_stmts, B_EVENT_SEEN, 1, sp, &seen);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(seen) > 0) {
		*duplicate = true;
		return TG_OK;
	}
	char created_s[24];
	snprintf(created_s, sizeof(created_s), "%lld", created);
	const char *payload = raw ? raw : json_object_to_json_string_ext(event, JSON_C_TO_STRING_PLAIN);
	if ((rc = db_begin(db)) != TG_OK)
		return rc;
	const char *p[] = {id, type, created_s, payload};
	PGresult *r;
	if ((rc = db_exec(db, a, &billing_stmts, B_EVENT_INSERT, 4, p, &r)) != TG_OK) {
		db_rollback(db);
		return rc;
	}
	if (PQntuples(r) == 0) { /* stored by a concurrent delivery since our read */
		*duplicate = true;
		db_rollback(db);
		return TG_OK;
	}
	rc = billing_event_apply(db, a, cfg, event);
	if (rc == TG_OK)
		return db_commit(db);
	db_rollback(db);
	if (rc == TG_EUNAVAIL)
		return rc; /* not stored: Stripe delivers it again */
	/* Store it unapplied, with its error, for the jobs worker to retry. */
	char wait[24], err[160];
	bool give_up;
	failure(cfg, event, id, 1, rc, err, sizeof(err), wait, sizeof(wait), &give_up);
	const char *fp[] = {id, type, created_s, payload, err, wait};
	return db_exec(db, a, &billing_stmts, B_EVENT_INSERT_FAILED, 6, fp, NULL);
}

int billing_retry_events(struct db *db, struct arena *a, const struct tg_config *cfg)
{
	int handled = 0;
	while (handled < RETRY_BATCH) {
		int rc = db_begin(db);
		if (rc != TG_OK)
			return -rc;
		PGresult *r;
		if ((rc = db_exec(db, a, &billing_stmts, B_EVENT_CLAIM, 0, NULL, &r)) != TG_OK) {
			db_rollback(db);
			return -rc;
		}
		if (PQntuples(r) == 0) {
			db_rollback(db);
			break;
		}
		const char *id = db_value(r, 0, 0);
		json_object *event = json_tokener_parse(db_value(r, 0, 1));
		arena_own_json(a, event);
		rc = event ? apply_or_record(db, a, cfg, event, id, (int)db_int(r, 0, 2)) : TG_EINPUT;
		if (rc != TG_OK || (rc = db_commit(db)) != TG_OK) {
			db_rollback(db);
			return -rc;
		}
		handled++;
	}
	return handled;
}

int billing_event_applied(struct db *db, struct arena *a, const char *id, bool *stored, bool *applied)
{
	const char *p[] = {id};
	PGresult *r;
	int rc = db_exec(db, a, &billing_stmts, B_EVENT_STATE, 1, p, &r);
	if (rc != TG_OK)
		return rc;
	*stored = PQntuples(r) == 1;
	*applied = *stored && db_bool(r, 0, 0);
	return TG_OK;
}
