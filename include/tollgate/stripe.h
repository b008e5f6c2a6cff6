/* stripe.h — the Stripe client (libcurl + json-c) and webhook signature verification.
 *
 * Every call pins STRIPE_API_VERSION, authenticates with the secret key as a Bearer token
 * (never logged), sends form-encoded bodies, keys every POST with an Idempotency-Key derived
 * from our own operation (so a retry reuses it), and retries connection errors, 409, 429, 5xx and
 * `Stripe-Should-Retry: true` with exponential backoff, as Stripe's libraries do. */
#ifndef TOLLGATE_STRIPE_H
#define TOLLGATE_STRIPE_H

#include <json.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct arena;
struct tg_config;

/* The pinned version: the last before basil, whose Subscription still carries its period and
 * whose Invoice carries subscription/charge/payment_intent. The parsers also accept the basil
 * shapes (period on items, invoice.parent). */
#define STRIPE_API_VERSION "2025-02-24.acacia"
#define STRIPE_MAX_RETRIES 2

/* A form body being built: key=value pairs, keys with brackets for nesting. */
struct stripe_form;
struct stripe_form *stripe_form_new(struct arena *a);
/* Adds key=value (both percent-encoded; brackets kept). NULL values are skipped. */
void stripe_form_add(struct stripe_form *f, const char *key, const char *value);
/* The encoded body ("" when empty). */
const char *stripe_form_encode(const struct stripe_form *f);

struct stripe_error {
	long http_status;      /* 0: no answer (network) */
	char type[48];         /* api_error, card_error, idempotency_error, invalid_request_error */
	char code[64];
	char message[256];
	char param[64];
};

/* Performs one API call within the deadline dl (retries included; backoff sleeps only when
 * dl->may_wait; past the deadline: TG_EUNAVAIL). method "GET"/"POST"/"DELETE"; path "/v1/…"; form may be NULL; for GET
 * and DELETE the form goes in the query string. idempotency_key is required for POST.
 * On TG_OK *out is the parsed JSON (owned by the arena). On failure fills err and returns
 * TG_EUNAVAIL (not configured, network, 5xx, 429), TG_EINPUT (400/402/404…), or TG_ECONFLICT
 * (idempotency_error). */
struct deadline;
int stripe_call(const struct tg_config *cfg, struct arena *a, const struct deadline *dl, const char *method,
		const char *path, const struct stripe_form *form, const char *idempotency_key, json_object **out,
		struct stripe_error *err);
/* True when a secret key is configured. */
bool stripe_configured(const struct tg_config *cfg);
/* The backoff before retry number n (1-based), in milliseconds, before jitter. */
long stripe_backoff_ms(int n);
/* Maps a Stripe error to an HTTP-ish classification: 0 retry-worthy? (see stripe_call). */
bool stripe_should_retry(long http_status, const char *should_retry_header, bool network_error);

/* Verifies a Stripe-Signature header over the raw body: t=…, any v1=… matching HMAC-SHA256 of
 * "<t>.<body>" under any of the space-separated secrets, |now - t| <= tolerance.
 * Returns true when valid. */
bool stripe_verify_signature(const char *header, const char *body, size_t body_len, const char *secrets,
			     time_t now, long tolerance);

/* Small accessors over json-c for Stripe objects. */
const char *stripe_str(json_object *o, const char *key);       /* string or NULL */
long long stripe_int(json_object *o, const char *key, long long dflt);
bool stripe_bool(json_object *o, const char *key);
/* The id of an expandable field: a string, or an object's "id". */
const char *stripe_id(json_object *o, const char *key);

#endif
