/* billing.c — plans, customers, subscriptions and invoices as the API shows them. */
#include "tollgate/billing.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/page.h"
#include "tollgate/log.h"
#include "tollgate/status.h"
#include "tollgate/stripe.h"
#include "billing_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *int_or_null(const PGresult *r, int row, int col)
{
	const char *v = db_value(r, row, col);
	return v ? json_object_new_int64(strtoll(v, NULL, 10)) : NULL;
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* Parses JSON text produced by PostgreSQL; the caller owns the result. */
static json_object *parse_or(const char *text, json_type want)
{
	json_object *o = text ? json_tokener_parse(text) : NULL;
	if (!o || !json_object_is_type(o, want)) {
		json_object_put(o);
		return want == json_type_array ? json_object_new_array() : json_object_new_object();
	}
	return o;
}

int billing_plans(struct db *db, struct arena *a, json_object **out)
{
	PGresult *r;
	int rc = db_exec(db, a, &billing_stmts, B_PLANS, 0, NULL, &r);
	if (rc != TG_OK)
		return rc;
	json_object *items = json_object_new_array();
	for (int i = 0; i < PQntuples(r); i++) {
		json_object *p = json_object_new_object();
		json_object_object_add(p, "code", json_object_new_string(db_value(r, i, 0)));
		json_object_object_add(p, "name", json_object_new_string(db_value(r, i, 1)));
		json_object_object_add(p, "description", json_object_new_string(db_value(r, i, 2)));
		json_object_object_add(p, "prices", parse_or(db_value(r, i, 8), json_type_array));
		json_object *limits = json_object_new_object();
		json_object_object_add(limits, "projects", int_or_null(r, i, 4));
		json_object_object_add(limits, "documents", int_or_null(r, i, 5));
		json_object_object_add(limits, "agents", int_or_null(r, i, 6));
		json_object_object_add(limits, "monthly_tokens", int_or_null(r, i, 7));
		json_object_object_add(p, "limits", limits);
		json_object_object_add(p, "features", parse_or(db_value(r, i, 3), json_type_array));
		json_object_array_add(items, p);
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "items", items);
	*out = o;
	return TG_OK;
}

int billing_price(struct db *db, struct arena *a, const char *plan, const char *interval, struct billing_price *p)
{
	memset(p, 0, sizeof(*p));
	const char *params[] = {plan, interval};
	PGresult *r;
	int rc = db_exec(db, a, &billing_stmts, B_PRICE, 2, params, &r);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(r) != 1)
		return TG_OK;
	p->plan_exists = true;
	p->has_price = db_bool(r, 0, 1);
	p->stripe_price_id = db_value(r, 0, 2);
	return TG_OK;
}

int billing_customer(struct db *db, struct arena *a, const char *user_id, const char **customer_id)
{
	const char *p[] = {user_id};
	PGresult *r;
	int rc = db_exec_row(db, a, &billing_stmts, B_CUSTOMER_GET, 1, p, &r);
	if (rc != TG_OK)
		return rc;
	*customer_id = db_value(r, 0, 0);
	return TG_OK;
}

int billing_customer_save(struct db *db, struct arena *a, const char *user_id, const char **customer_id)
{
	const char *p[] = {user_id, *customer_id};
	PGresult *r;
	int rc = db_exec(db, a, &billing_stmts, B_CUSTOMER_SAVE, 2, p, &r);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(r) >= 1) {
		*customer_id = db_value(r, 0, 0);
		return TG_OK;
	}
	/* A racing request inserted first and committed after this statement's snapshot was
	 * taken: a new statement sees its row. */
	return billing_customer(db, a, user_id, customer_id);
}

int billing_live_subscription_ids(struct db *db, struct arena *a, const char *user_id, json_object **ids)
{
	const char *p[] = {user_id};
	PGresult *r;
	int rc = db_exec(db, a, &billing_stmts, B_LIVE_SUBSCRIPTIONS, 1, p, &r);
	if (rc != TG_OK)
		return rc;
	json_object *arr = json_object_new_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_object_array_add(arr, json_object_new_string(db_value(r, i, 0)));
	*ids = arr;
	return TG_OK;
}

int billing_has_live_subscription(struct db *db, struct arena *a, const char *user_id, bool *live)
{
	json_object *ids;
	int rc = billing_live_subscription_ids(db, a, user_id, &ids);
	if (rc != TG_OK)
		return rc;
	*live = json_object_array_length(ids) > 0;
	json_object_put(ids);
	return TG_OK;
}

int billing_subscription(struct db *db, struct arena *a, const char *user_id, json_object **out)
{
	const char *p[] = {user_id};
	PGresult *r;
	int rc = db_exec(db, a, &billing_stmts, B_SUBSCRIPTION_CURRENT, 1, p, &r);
	if (rc != TG_OK)
		return rc;
	json_object *o = json_object_new_object();
	if (PQntuples(r) == 0) {
		json_object_object_add(o, "plan", json_object_new_string("free"));
		json_object_object_add(o, "status", json_object_new_string("none"));
		json_object_object_add(o, "interval", NULL);
		json_object_object_add(o, "current_period_start", NULL);
		json_object_object_add(o, "current_period_end", NULL);
		json_object_object_add(o, "cancel_at_period_end", json_object_new_boolean(0));
		json_object_object_add(o, "canceled_at", NULL);
		*out = o;
		return TG_OK;
	}
	const char *status = db_value(r, 0, 1);
	/* plan is what the user has access to now; subscribed_plan is what the subscription is for */
	json_object_object_add(o, "plan", json_object_new_string(db_value(r, 0, 0)));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "interval", str_or_null(db_value(r, 0, 2)));
	json_object_object_add(o, "current_period_start", str_or_null(db_value(r, 0, 3)));
	json_object_object_add(o, "current_period_end", str_or_null(db_value(r, 0, 4)));
	json_object_object_add(o, "cancel_at_period_end", json_object_new_boolean(db_bool(r, 0, 5)));
	json_object_object_add(o, "canceled_at", str_or_null(db_value(r, 0, 6)));
	json_object_object_add(o, "subscribed_plan", json_object_new_string(db_value(r, 0, 7)));
	if (!strcmp(status, "past_due"))
		json_object_object_add(o, "grace_period_end", str_or_null(db_value(r, 0, 8)));
	*out = o;
	return TG_OK;
}

int billing_invoices(struct db *db, struct arena *a, const char *user_id, struct page *pg, json_object **out)
{
	const char *p[] = {user_id, pg->limit, pg->offset};
	PGresult *r;
	int rc = db_exec(db, a, &billing_stmts, B_INVOICES, 3, p, &r);
	if (rc != TG_OK)
		return rc;
	json_object *items = json_object_new_array();
	static const char *const names[] = {"id", "number", "status", "amount_due", "amount_paid", "amount_refunded",
					    "currency", "hosted_invoice_url", "invoice_pdf", "period_start",
					    "period_end", "created"};
	for (int i = 0; i < PQntuples(r); i++) {
		pg->total = db_int(r, i, 12);
		if (!db_value(r, i, 0))
			continue; /* past the last page: only the total */
		json_object *inv = json_object_new_object();
		for (int c = 0; c < 12; c++) {
			if (c >= 3 && c <= 5)
				json_object_object_add(inv, names[c], int_or_null(r, i, c));
			else
				json_object_object_add(inv, names[c], str_or_null(db_value(r, i, c)));
		}
		json_object_array_add(items, inv);
	}
	*out = items;
	return TG_OK;
}

int billing_sync_prices(struct db *db, struct arena *a, const struct tg_config *cfg)
{
	char *spec = arena_strdup(a, cfg->stripe_prices ? cfg->stripe_prices : "");
	if (!spec)
		return TG_ENOMEM;
	char *save = NULL;
	for (char *tok = strtok_r(spec, " ,\t\n", &save); tok; tok = strtok_r(NULL, " ,\t\n", &save)) {
		char *c1 = strchr(tok, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c1 || !c2) {
			log_warn("stripe_prices: '%s' is not plan:interval:price_id", tok);
			continue;
		}
		*c1 = *c2 = '\0';
		const char *p[] = {tok, c1 + 1, c2 + 1};
		int rc = db_exec(db, a, &billing_stmts, B_SET_PRICE, 3, p, NULL);
		if (rc != TG_OK)
			return rc;
	}
	return TG_OK;
}
