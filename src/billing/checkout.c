/* checkout.c — starting a Stripe Checkout, the Customer Portal, cancelling at deletion.
 *
 * No Stripe call runs inside a transaction. A checkout takes the user's checkout lock (a
 * session-level advisory lock: a second checkout of the user is refused, and a worker that dies
 * releases it), records its intent, calls Stripe under the request's deadline, then records the
 * result. An intent left pending (a crash, a timeout) is found by a jobs task, which expires the
 * Session Stripe may have made for it. */
#include "tollgate/billing.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/deadline.h"
#include "tollgate/log.h"
#include "tollgate/status.h"
#include "tollgate/stripe.h"
#include "billing_sql.h"

#include <string.h>

#define STALE_INTENT_SECONDS "60" /* older than any checkout's deadline */

static void intent_finish(struct db *db, struct arena *a, const char *intent, const char *state, const char *session)
{
	const char *p[] = {intent, state, session};
	if (db_exec(db, a, &billing_stmts, B_INTENT_FINISH, 3, p, NULL) != TG_OK)
		log_warn("checkout intent %s not settled; the recovery task will", intent);
}

/* The user's Stripe customer, created once: the Idempotency-Key is derived from the user, so
 * two racing checkouts (or a retry) get the same customer from Stripe. */
static int ensure_customer(struct db *db, struct arena *a, const struct tg_config *cfg, const struct deadline *dl,
			   const struct billing_checkout_in *in, const char **customer)
{
	int rc = billing_customer(db, a, in->user_id, customer);
	if (rc != TG_ENOTFOUND)
		return rc;
	struct stripe_form *f = stripe_form_new(a);
	stripe_form_add(f, "email", in->email);
	if (in->name && *in->name)
		stripe_form_add(f, "name", in->name);
	stripe_form_add(f, "metadata[user_id]", in->user_id);
	char *key = arena_printf(a, "tollgate-customer-%s", in->user_id);
	json_object *obj;
	struct stripe_error err;
	if ((rc = stripe_call(cfg, a, dl, "POST", "/v1/customers", f, key, &obj, &err)) != TG_OK)
		return rc;
	*customer = stripe_str(obj, "id");
	if (!*customer)
		return TG_EUPSTREAM;
	return billing_customer_save(db, a, in->user_id, customer);
}

/* Expires the customer's open Checkout Sessions (all of them, or only those of intent): a new
 * checkout replaces them, so the customer can never complete two and pay for two subscriptions. */
static int expire_open_sessions(struct arena *a, const struct tg_config *cfg, const struct deadline *dl,
				const char *customer, const char *only_intent)
{
	struct stripe_form *f = stripe_form_new(a);
	stripe_form_add(f, "customer", customer);
	stripe_form_add(f, "status", "open");
	stripe_form_add(f, "limit", "20");
	json_object *list, *data;
	struct stripe_error err;
	int rc = stripe_call(cfg, a, dl, "GET", "/v1/checkout/sessions", f, NULL, &list, &err);
	if (rc != TG_OK)
		return rc;
	if (!json_object_object_get_ex(list, "data", &data) || !json_object_is_type(data, json_type_array))
		return TG_OK;
	for (size_t i = 0; i < json_object_array_length(data); i++) {
		json_object *s = json_object_array_get_idx(data, i), *meta;
		const char *sid = stripe_str(s, "id");
		if (!sid)
			continue;
		if (only_intent && (!json_object_object_get_ex(s, "metadata", &meta) ||
				    !stripe_str(meta, "checkout_intent") || strcmp(stripe_str(meta, "checkout_intent"), only_intent)))
			continue;
		char *path = arena_printf(a, "/v1/checkout/sessions/%s/expire", sid);
		char *key = arena_printf(a, "tollgate-expire-%s", sid);
		json_object *done;
		rc = stripe_call(cfg, a, dl, "POST", path, NULL, key, &done, &err);
		if (rc == TG_EINPUT)
			rc = TG_OK; /* completed or expired meanwhile: nothing to expire */
		if (rc != TG_OK)
			return rc;
	}
	return TG_OK;
}

static int create_session(struct db *db, struct arena *a, const struct tg_config *cfg, const struct deadline *dl,
			  const struct billing_checkout_in *in, const char *intent, struct billing_checkout_out *out)
{
	const char *customer;
	int rc = ensure_customer(db, a, cfg, dl, in, &customer);
	if (rc == TG_OK)
		rc = expire_open_sessions(a, cfg, dl, customer, NULL);
	if (rc != TG_OK)
		return rc;
	struct stripe_form *f = stripe_form_new(a);
	const char *origin = cfg->public_origin;
	stripe_form_add(f, "mode", "subscription");
	stripe_form_add(f, "customer", customer);
	stripe_form_add(f, "client_reference_id", in->user_id);
	stripe_form_add(f, "line_items[0][price]", in->price_id);
	stripe_form_add(f, "line_items[0][quantity]", "1");
	stripe_form_add(f, "success_url", arena_printf(a, "%s/checkout-success?session_id={CHECKOUT_SESSION_ID}", origin));
	stripe_form_add(f, "cancel_url", arena_printf(a, "%s/pricing?checkout=canceled", origin));
	stripe_form_add(f, "subscription_data[metadata][user_id]", in->user_id);
	stripe_form_add(f, "subscription_data[metadata][plan]", in->plan);
	stripe_form_add(f, "metadata[user_id]", in->user_id);
	stripe_form_add(f, "metadata[checkout_intent]", intent);
	/* The key names this checkout: a retry of the call reuses it; a new checkout is a new intent. */
	char *key = arena_printf(a, "tollgate-checkout-%s", intent);
	json_object *session;
	struct stripe_error err;
	if ((rc = stripe_call(cfg, a, dl, "POST", "/v1/checkout/sessions", f, key, &session, &err)) != TG_OK)
		return rc;
	out->url = stripe_str(session, "url");
	out->session_id = stripe_str(session, "id");
	return out->url && out->session_id ? TG_OK : TG_EUPSTREAM;
}

int billing_checkout(struct db *db, struct arena *a, const struct tg_config *cfg, const struct deadline *dl,
		     const struct billing_checkout_in *in, struct billing_checkout_out *out)
{
	memset(out, 0, sizeof(*out));
	bool live;
	int rc = billing_has_live_subscription(db, a, in->user_id, &live);
	if (rc != TG_OK)
		return rc;
	if (live) {
		out->result = BILLING_CHECKOUT_SUBSCRIBED;
		return TG_OK;
	}
	bool got;
	if ((rc = db_try_lock(db, a, DB_LOCK_CHECKOUT, in->user_id, &got)) != TG_OK)
		return rc;
	if (!got) {
		out->result = BILLING_CHECKOUT_BUSY;
		return TG_OK;
	}
	const char *sp[] = {in->user_id};
	const char *ip[] = {in->user_id, in->plan, in->interval};
	PGresult *r;
	/* earlier pending intents of this user cannot be running (the lock is ours); this checkout
	 * expires every open Session, theirs included */
	if ((rc = db_exec(db, a, &billing_stmts, B_INTENT_ABANDON, 1, sp, NULL)) == TG_OK &&
	    (rc = db_exec_row(db, a, &billing_stmts, B_INTENT_BEGIN, 3, ip, &r)) == TG_OK) {
		const char *intent = db_value(r, 0, 0);
		rc = create_session(db, a, cfg, dl, in, intent, out);
		/* After a timeout Stripe may have made the Session without our knowing: the intent
		 * stays pending for the recovery task (or the user's next checkout) to expire it. */
		if (rc == TG_OK)
			intent_finish(db, a, intent, "created", out->session_id);
		else if (rc != TG_EUNAVAIL)
			intent_finish(db, a, intent, "failed", NULL);
	}
	db_unlock(db, a, DB_LOCK_CHECKOUT, in->user_id);
	out->result = BILLING_CHECKOUT_STARTED;
	return rc;
}

int billing_portal(struct db *db, struct arena *a, const struct tg_config *cfg, const struct deadline *dl,
		   const char *user_id, const char **url)
{
	const char *customer;
	int rc = billing_customer(db, a, user_id, &customer);
	if (rc != TG_OK)
		return rc;
	struct stripe_form *f = stripe_form_new(a);
	stripe_form_add(f, "customer", customer);
	stripe_form_add(f, "return_url", arena_printf(a, "%s/billing", cfg->public_origin));
	char *key = arena_printf(a, "tollgate-portal-%s-%ld", user_id, (long)(time(NULL) / 60));
	json_object *session;
	struct stripe_error err;
	if ((rc = stripe_call(cfg, a, dl, "POST", "/v1/billing_portal/sessions", f, key, &session, &err)) != TG_OK)
		return rc == TG_ENOTFOUND ? TG_EUPSTREAM : rc;
	*url = stripe_str(session, "url");
	return *url ? TG_OK : TG_EUPSTREAM;
}

int billing_cancel_all(struct db *db, struct arena *a, const struct tg_config *cfg, const struct deadline *dl,
		       const char *user_id)
{
	json_object *ids;
	int rc = billing_live_subscription_ids(db, a, user_id, &ids);
	if (rc != TG_OK)
		return rc;
	size_t n = json_object_array_length(ids);
	for (size_t i = 0; i < n && rc == TG_OK; i++) {
		const char *sub = json_object_get_string(json_object_array_get_idx(ids, i));
		char *path = arena_printf(a, "/v1/subscriptions/%s", sub);
		json_object *res;
		struct stripe_error err;
		rc = stripe_call(cfg, a, dl, "DELETE", path, NULL, NULL, &res, &err);
		if (rc == TG_EINPUT && !strcmp(err.code, "resource_missing"))
			rc = TG_OK; /* already gone at Stripe */
	}
	json_object_put(ids);
	return rc;
}

/* The recovery task: checkouts left pending by a crash or a timeout. With the user's checkout
 * lock held (so none of them is running), the Sessions Stripe may have made for them are expired,
 * so they can never be paid, and the intents are abandoned. */
int billing_recover_checkouts(struct db *db, struct arena *a, const struct tg_config *cfg, const struct deadline *dl)
{
	const char *sp[] = {STALE_INTENT_SECONDS};
	PGresult *r;
	int rc = db_exec(db, a, &billing_stmts, B_INTENT_STALE, 1, sp, &r);
	if (rc != TG_OK)
		return -rc;
	int n = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *intent = db_value(r, i, 0), *user = db_value(r, i, 1), *customer = db_value(r, i, 2);
		bool got;
		if ((rc = db_try_lock(db, a, DB_LOCK_CHECKOUT, user, &got)) != TG_OK)
			return -rc;
		if (!got)
			continue; /* a checkout of the user runs now: it expires the open Sessions itself */
		if (customer && stripe_configured(cfg))
			rc = expire_open_sessions(a, cfg, dl, customer, intent);
		const char *p[] = {intent};
		if (rc == TG_OK && (rc = db_exec(db, a, &billing_stmts, B_INTENT_ABANDON_ONE, 1, p, NULL)) == TG_OK) {
			log_info("checkout intent %s left pending; its session (if any) expired", intent);
			n++;
		}
		db_unlock(db, a, DB_LOCK_CHECKOUT, user);
		if (rc != TG_OK)
			return n ? n : -rc; /* Stripe or the database is down: next round */
	}
	return n;
}
