/* fuzz_stripe.c — the Stripe webhook before the database: stripe_verify_signature on a fuzzed
 * Stripe-Signature header and body, then the body parsed as the webhook parses it (http_req_json)
 * and read by the event-shape parsers (billing_*_shape) and the stripe_str/int/id/bool accessors.
 *
 * Input: the Stripe-Signature header on the first line, the raw body after it. The endpoint has
 * two secrets (rotation) and the clock is fixed at FUZZ_NOW, so a seed signed with either secret
 * at a time near FUZZ_NOW verifies. Each body is also signed by the harness: that header must
 * verify, and the same with a wrong secret or a stale time must not. */
#include "fuzz.h"

#include "tollgate/arena.h"
#include "tollgate/billing.h"
#include "tollgate/crypto.h"
#include "tollgate/http.h"
#include "tollgate/status.h"
#include "tollgate/stripe.h"

#include <ctype.h>
#include <inttypes.h>

#define SECRETS "whsec_fuzz_primary whsec_fuzz_rotated"
#define FUZZ_NOW 1767225600 /* 2026-01-01T00:00:00Z */
#define TOLERANCE 300

/* "t=<t>,v1=<HMAC-SHA256(secret, "<t>." body)>" into buf. */
static void sign(char *buf, size_t len, const char *secret, long long t, const char *body, size_t n)
{
	char prefix[32];
	int pl = snprintf(prefix, sizeof(prefix), "%lld.", t);
	char *msg = malloc((size_t)pl + n + 1);
	FUZZ_CHECK(msg != NULL);
	memcpy(msg, prefix, (size_t)pl);
	if (n)
		memcpy(msg + pl, body, n);
	uint8_t mac[CRYPTO_SHA256_LEN];
	FUZZ_CHECK(crypto_hmac_sha256(secret, strlen(secret), msg, (size_t)pl + n, mac) == 0);
	free(msg);
	char hex[2 * CRYPTO_SHA256_LEN + 1];
	crypto_hex(mac, sizeof(mac), hex);
	snprintf(buf, len, "t=%lld,v1=%s", t, hex);
}

static void check_number(const char *v)
{
	if (!v)
		return;
	FUZZ_CHECK(*v);
	for (const char *p = v; *p; p++)
		FUZZ_CHECK(isdigit((unsigned char)*p));
}

static void accessors(json_object *o)
{
	static const char *const keys[] = {"id",       "object", "customer", "status",  "subscription",
					   "invoice",  "charge", "created",  "metadata", "payment_intent"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		(void)stripe_str(o, keys[i]);
		(void)stripe_int(o, keys[i], -1);
		(void)stripe_bool(o, keys[i]);
		(void)stripe_id(o, keys[i]);
	}
}

static void shapes(struct arena *a, json_object *event)
{
	accessors(event);
	struct billing_event_shape ev;
	int rc = billing_event_shape(event, &ev);
	FUZZ_CHECK(rc == TG_OK || rc == TG_EINPUT);
	if (rc != TG_OK)
		return;
	FUZZ_CHECK(ev.type && ev.object);
	accessors(ev.object);
	struct billing_subscription_shape s;
	if (billing_subscription_shape(a, ev.object, &s) == TG_OK) {
		FUZZ_CHECK(s.id && s.customer && s.status);
		check_number(s.period_start);
		check_number(s.period_end);
		check_number(s.canceled_at);
		check_number(s.ended_at);
		if (s.user_id)
			FUZZ_CHECK(strlen(s.user_id) == 36);
	}
	struct billing_invoice_shape inv;
	if (billing_invoice_shape(a, ev.object, &inv) == TG_OK) {
		FUZZ_CHECK(inv.id && inv.customer && inv.status && inv.currency);
		check_number(inv.amount_due);
		check_number(inv.amount_paid);
		check_number(inv.period_start);
		check_number(inv.period_end);
		check_number(inv.created);
	}
	struct billing_refund_shape rf;
	if (billing_refund_shape(a, ev.object, &rf) == TG_OK) {
		FUZZ_CHECK(rf.id);
		check_number(rf.amount_refunded);
	}
	struct billing_checkout_shape co;
	if (billing_checkout_shape(ev.object, &co))
		FUZZ_CHECK(co.user_id && co.customer && strlen(co.user_id) == 36);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_span in = {(const char *)data, size}, line = {"", 0};
	fuzz_next_line(&in, &line);
	char *header = fuzz_cstr(line.p, line.n);
	char *body = fuzz_dup_exact(in.p, in.n);

	(void)stripe_verify_signature(header, body, in.n, SECRETS, FUZZ_NOW, TOLERANCE);
	FUZZ_CHECK(!stripe_verify_signature(header, body, in.n, "", FUZZ_NOW, TOLERANCE));

	char good[160];
	sign(good, sizeof(good), "whsec_fuzz_rotated", FUZZ_NOW - 10, body, in.n);
	FUZZ_CHECK(stripe_verify_signature(good, body, in.n, SECRETS, FUZZ_NOW, TOLERANCE));
	sign(good, sizeof(good), "whsec_fuzz_other", FUZZ_NOW, body, in.n);
	FUZZ_CHECK(!stripe_verify_signature(good, body, in.n, SECRETS, FUZZ_NOW, TOLERANCE));
	sign(good, sizeof(good), "whsec_fuzz_primary", FUZZ_NOW - TOLERANCE - 1, body, in.n);
	FUZZ_CHECK(!stripe_verify_signature(good, body, in.n, SECRETS, FUZZ_NOW, TOLERANCE));

	struct arena *a = arena_new(0);
	FUZZ_CHECK(a != NULL);
	struct http_req req;
	memset(&req, 0, sizeof(req));
	req.arena = a;
	req.body = body;
	req.body_len = in.n;
	req.json_max_depth = 32;
	json_object *event;
	if (http_req_json(&req, &event) == TG_OK)
		shapes(a, event);
	arena_destroy(a);
	free(body);
	free(header);
	return 0;
}
