/* billing_sql.h — private to src/billing: the area's statement table. */
#ifndef TOLLGATE_BILLING_SQL_H
#define TOLLGATE_BILLING_SQL_H

#include "tollgate/db.h"

#include <json.h>

enum billing_stmt {
	B_PLANS,
	B_PRICE,
	B_SET_PRICE,
	B_CUSTOMER_GET,
	B_CUSTOMER_SAVE,
	B_CUSTOMER_LINK,
	B_LIVE_SUBSCRIPTIONS,
	B_INTENT_BEGIN,
	B_INTENT_FINISH,
	B_INTENT_STALE,
	B_INTENT_ABANDON,
	B_INTENT_ABANDON_ONE,
	B_SUBSCRIPTION_CURRENT,
	B_INVOICES,
	B_EVENT_SEEN,
	B_EVENT_INSERT,
	B_EVENT_INSERT_FAILED,
	B_EVENT_DONE,
	B_EVENT_FAILED,
	B_EVENT_GIVE_UP,
	B_EVENT_CLAIM,
	B_EVENT_STATE,
	B_SUBSCRIPTION_UPSERT,
	B_INVOICE_UPSERT,
	B_INVOICE_REFUND,
	B_USER_OF_CUSTOMER,
	B_KEY_GET,
	B_KEY_SAVE,
	B_KEY_UPDATE,
	B_KEY_DELETE,
	B_USER_PLAN_PARAMS,
	B_KEYS_OUT_OF_SYNC,
	B_STMT__COUNT
};

extern const struct db_stmts billing_stmts;

/* Job handlers of the area (billing_jobs.c lists them). */
struct jobs_ctx;
int billing_job_subscription_refresh(const struct jobs_ctx *ctx, json_object *payload);

#endif
