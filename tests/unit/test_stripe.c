/* test_stripe.c — the pure parts of the Stripe client: webhook signatures, form encoding, the
 * retry rule and backoff, and the json-c accessors. (stripe_call itself talks HTTP and is covered
 * by the integration tests against the Stripe stand-in.)
 *
 * Wire facts come from /work/shared/stripe/README.md: "Stripe-Signature: t=<unix>,v1=<hex>...",
 * signed string "<t>.<raw body>", HMAC-SHA256 keyed with the whole secret string, any v1 may
 * match, other schemes ignored, tolerance 300 s (Tollgate also refuses +300 s, API.md). */
#include "unit.h"

#include <json.h>
#include <stdint.h>

#include "tollgate/arena.h"
#include "tollgate/crypto.h"
#include "tollgate/stripe.h"

#define T0 1700000000L
#define TOL 300
#define SECRET "whsec_test_secret"
#define BODY "{\"id\":\"evt_1\",\"object\":\"event\"}"
/* HMAC-SHA256(SECRET, "1700000000." BODY), computed independently (Python hmac). */
#define SIG0 "0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd"

static struct arena *A;

static void setup(void)
{
	A = arena_new(0);
	ck_assert_ptr_nonnull(A);
}

static void teardown(void)
{
	arena_destroy(A);
	A = NULL;
}

/* Lower-case hex v1 signature of body at t under secret. */
static char *sign(const char *secret, long t, const char *body, size_t body_len)
{
	char *prefix = arena_printf(A, "%ld.", t);
	size_t pl = strlen(prefix);
	char *msg = arena_alloc(A, pl + body_len + 1);
	memcpy(msg, prefix, pl);
	memcpy(msg + pl, body, body_len);
	uint8_t mac[CRYPTO_SHA256_LEN];
	ck_assert_int_eq(crypto_hmac_sha256(secret, strlen(secret), msg, pl + body_len, mac), 0);
	char *hex = arena_alloc(A, 2 * CRYPTO_SHA256_LEN + 1);
	crypto_hex(mac, sizeof(mac), hex);
	return hex;
}

static bool verify(const char *header, const char *body, const char *secrets, long now)
{
	return stripe_verify_signature(header, body, strlen(body), secrets, (time_t)now, TOL);
}

static char *hdr(long t, const char *v1)
{
	return arena_printf(A, "t=%ld,v1=%s", t, v1);
}

/* ---- webhook signatures ---- */

START_TEST(test_signature_valid)
{
	ck_assert_str_eq(sign(SECRET, T0, BODY, strlen(BODY)), SIG0); /* the helper agrees with Python */
	ck_assert(verify("t=1700000000,v1=" SIG0, BODY, SECRET, T0));
	ck_assert(verify(hdr(T0, SIG0), BODY, SECRET, T0 + 10));
	/* a body with a NUL byte inside: the length counts, not strlen */
	static const char nul_body[] = "{\"a\":\"x\0y\"}";
	size_t nl = sizeof(nul_body) - 1;
	char *h = hdr(T0, sign(SECRET, T0, nul_body, nl));
	ck_assert(stripe_verify_signature(h, nul_body, nl, SECRET, T0, TOL));
	ck_assert(!stripe_verify_signature(h, nul_body, 7, SECRET, T0, TOL));
}
END_TEST

START_TEST(test_signature_tampered_body)
{
	char *h = hdr(T0, SIG0);
	ck_assert(!verify(h, "{\"id\":\"evt_2\",\"object\":\"event\"}", SECRET, T0));
	ck_assert(!verify(h, BODY " ", SECRET, T0));
	ck_assert(!verify(h, "", SECRET, T0));
	ck_assert(!stripe_verify_signature(h, BODY, strlen(BODY) - 1, SECRET, T0, TOL));
	/* the timestamp is signed too: a replay with a fresh t fails */
	ck_assert(!verify(hdr(T0 + 100, SIG0), BODY, SECRET, T0 + 100));
}
END_TEST

START_TEST(test_signature_wrong_secret)
{
	char *h = hdr(T0, SIG0);
	ck_assert(!verify(h, BODY, "whsec_other", T0));
	ck_assert(!verify(h, BODY, "whsec_test_secre", T0)); /* a prefix of the secret */
	ck_assert(!verify(h, BODY, "whsec_test_secret_", T0));
	ck_assert(!verify(h, BODY, "", T0));
	ck_assert(!stripe_verify_signature(h, BODY, strlen(BODY), NULL, T0, TOL));
	ck_assert(!verify(h, BODY, "   ", T0));
}
END_TEST

START_TEST(test_signature_secret_rotation)
{
	char *h = hdr(T0, SIG0);
	ck_assert(verify(h, BODY, "whsec_new " SECRET, T0));       /* the second of two */
	ck_assert(verify(h, BODY, SECRET " whsec_new", T0));       /* the first of two */
	ck_assert(verify(h, BODY, "whsec_a whsec_b " SECRET, T0)); /* the third */
	ck_assert(verify(h, BODY, "  whsec_new   " SECRET "  ", T0));
	ck_assert(!verify(h, BODY, "whsec_a whsec_b", T0));
}
END_TEST

START_TEST(test_signature_several_v1)
{
	const char *good = SIG0;
	char *bad = sign("whsec_other", T0, BODY, strlen(BODY));
	ck_assert(verify(arena_printf(A, "t=%ld,v1=%s,v1=%s", T0, bad, good), BODY, SECRET, T0));
	ck_assert(verify(arena_printf(A, "t=%ld,v1=%s,v1=%s", T0, good, bad), BODY, SECRET, T0));
	ck_assert(verify(arena_printf(A, "v1=%s,t=%ld,v1=%s", bad, T0, good), BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "t=%ld,v1=%s,v1=%s", T0, bad, bad), BODY, SECRET, T0));
	/* Stripe's own form: "t=..., v1=..." may carry spaces after commas */
	ck_assert(verify(arena_printf(A, "t=%ld, v1=%s", T0, good), BODY, SECRET, T0));
}
END_TEST

START_TEST(test_signature_other_schemes_ignored)
{
	const char *good = SIG0;
	/* v0 (test-mode legacy) and unknown schemes neither help nor hurt */
	ck_assert(verify(arena_printf(A, "t=%ld,v0=%s,v1=%s", T0, "deadbeef", good), BODY, SECRET, T0));
	ck_assert(verify(arena_printf(A, "t=%ld,v1=%s,v0=%s,x=y,scheme", T0, good, good), BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "t=%ld,v0=%s", T0, good), BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "t=%ld,v2=%s", T0, good), BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "t=%ld,V1=%s", T0, good), BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "t=%ld,v10=%s", T0, good), BODY, SECRET, T0));
}
END_TEST

START_TEST(test_signature_tolerance)
{
	/* 300 s either way: both edges included, one second more refused */
	ck_assert(verify(hdr(T0, SIG0), BODY, SECRET, T0 + 299));
	ck_assert(verify(hdr(T0, SIG0), BODY, SECRET, T0 + 300));
	ck_assert(!verify(hdr(T0, SIG0), BODY, SECRET, T0 + 301));
	ck_assert(verify(hdr(T0, SIG0), BODY, SECRET, T0 - 299));
	ck_assert(verify(hdr(T0, SIG0), BODY, SECRET, T0 - 300));
	ck_assert(!verify(hdr(T0, SIG0), BODY, SECRET, T0 - 301)); /* 301 s in the future */
	ck_assert(!verify(hdr(T0, SIG0), BODY, SECRET, T0 + 86400));
	ck_assert(!verify(hdr(T0, SIG0), BODY, SECRET, 0));
	/* a signature made at another time, checked at that time */
	long t = T0 + 5000;
	ck_assert(verify(hdr(t, sign(SECRET, t, BODY, strlen(BODY))), BODY, SECRET, t + 299));
	ck_assert(!verify(hdr(t, sign(SECRET, t, BODY, strlen(BODY))), BODY, SECRET, t + 301));
	/* a huge timestamp cannot wrap around the comparison */
	char *huge = arena_printf(A, "t=9223372036854775807,v1=%s", SIG0);
	ck_assert(!verify(huge, BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "t=99999999999999999999,v1=%s", SIG0), BODY, SECRET, T0));
}
END_TEST

START_TEST(test_signature_malformed_header)
{
	const char *good = SIG0;
	ck_assert(!stripe_verify_signature(NULL, BODY, strlen(BODY), SECRET, T0, TOL));
	ck_assert(!verify("", BODY, SECRET, T0));
	ck_assert(!verify(",", BODY, SECRET, T0));
	ck_assert(!verify(",,,", BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "v1=%s", good), BODY, SECRET, T0));               /* no t */
	ck_assert(!verify(arena_printf(A, "t=%ld", T0), BODY, SECRET, T0));                /* no v1 */
	ck_assert(!verify(arena_printf(A, "t=%ld,v1=", T0), BODY, SECRET, T0));            /* empty v1 */
	ck_assert(!verify(arena_printf(A, "t=,v1=%s", good), BODY, SECRET, T0));           /* empty t */
	ck_assert(!verify("t=", BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "t=abc,v1=%s", good), BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "t=%ldx,v1=%s", T0, good), BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "t=-%ld,v1=%s", T0, good), BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "t=%ld v1=%s", T0, good), BODY, SECRET, T0)); /* no commas */
	ck_assert(!verify(arena_printf(A, "t=%ld;v1=%s", T0, good), BODY, SECRET, T0));
	ck_assert(!verify(arena_printf(A, "t%ld,v1%s", T0, good), BODY, SECRET, T0));   /* no '=' */
	ck_assert(!verify(arena_printf(A, "t=%ld,v1=%.63s", T0, good), BODY, SECRET, T0)); /* one digit short */
	ck_assert(!verify(arena_printf(A, "t=%ld,v1=%s0", T0, good), BODY, SECRET, T0));   /* one digit long */
	ck_assert(!verify(arena_printf(A, "t=%ld,v1=%s", T0, "not-hex"), BODY, SECRET, T0));
	ck_assert(!verify("garbage", BODY, SECRET, T0));
}
END_TEST

START_TEST(test_signature_uppercase_hex_refused)
{
	/* Decision: Stripe sends lower-case hex and its SDKs compare the hex strings, so we compare
	 * the strings exactly too: an upper-case signature (which Stripe never sends) is refused. */
	char *upper = arena_strdup(A, SIG0);
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	ck_assert_str_ne(upper, SIG0);
	ck_assert(!verify(hdr(T0, upper), BODY, SECRET, T0));
	ck_assert(verify(hdr(T0, SIG0), BODY, SECRET, T0));
}
END_TEST

START_TEST(test_signature_empty_body)
{
	ck_assert(verify(hdr(T0, sign(SECRET, T0, "", 0)), "", SECRET, T0));
	ck_assert(!verify(hdr(T0, sign(SECRET, T0, "", 0)), "x", SECRET, T0));
	ck_assert(!verify(hdr(T0, SIG0), "", SECRET, T0));
}
END_TEST

START_TEST(test_signature_large_body)
{
	size_t n = 1024 * 1024;
	char *big = arena_alloc(A, n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	char *h = hdr(T0, sign(SECRET, T0, big, n));
	ck_assert(verify(h, big, SECRET, T0));
	big[n / 2] = 'b';
	ck_assert(!verify(h, big, SECRET, T0));
}
END_TEST

/* ---- form encoding ---- */

static const char *form(const char *const *kv, size_t n)
{
	struct stripe_form *f = stripe_form_new(A);
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i + 1 < n; i += 2)
		stripe_form_add(f, kv[i], kv[i + 1]);
	return stripe_form_encode(f);
}

#define FORM(...)                                                                        \
	form((const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / \
							 sizeof(const char *))

START_TEST(test_form_basic)
{
	ck_assert_str_eq(stripe_form_encode(stripe_form_new(A)), "");
	ck_assert_str_eq(stripe_form_encode(NULL), "");
	ck_assert_str_eq(FORM("email", "alice@example.com"), "email=alice%40example.com");
	ck_assert_str_eq(FORM("mode", "subscription", "customer", "cus_123", "line_items[0][quantity]", "1"),
			 "mode=subscription&customer=cus_123&line_items[0][quantity]=1");
	ck_assert_str_eq(FORM("cancel_at_period_end", "true"), "cancel_at_period_end=true");
	/* unreserved characters stay as they are */
	ck_assert_str_eq(FORM("k", "AZaz09-_.~"), "k=AZaz09-_.~");
}
END_TEST

START_TEST(test_form_nested_keys)
{
	ck_assert_str_eq(FORM("metadata[plan]", "pro"), "metadata[plan]=pro");
	ck_assert_str_eq(FORM("subscription_data[metadata][uid]", "42"), "subscription_data[metadata][uid]=42");
	ck_assert_str_eq(FORM("expand[]", "customer"), "expand[]=customer");
	ck_assert_str_eq(FORM("items[0][deleted]", "true"), "items[0][deleted]=true");
	/* keys are escaped apart from their brackets */
	ck_assert_str_eq(FORM("metadata[user id]", "1"), "metadata[user%20id]=1");
	ck_assert_str_eq(FORM("a&b", "1"), "a%26b=1");
	ck_assert_str_eq(FORM("a=b", "1"), "a%3Db=1");
}
END_TEST

START_TEST(test_form_value_escaping)
{
	ck_assert_str_eq(FORM("name", "Alice Smith"), "name=Alice%20Smith");
	ck_assert_str_eq(FORM("q", "a&b=c"), "q=a%26b%3Dc");
	ck_assert_str_eq(FORM("q", "1+1"), "q=1%2B1");
	ck_assert_str_eq(FORM("q", "100%"), "q=100%25");
	ck_assert_str_eq(FORM("q", "[x]"), "q=%5Bx%5D"); /* brackets in values are data */
	ck_assert_str_eq(FORM("q", "a/b?c#d"), "q=a%2Fb%3Fc%23d");
	ck_assert_str_eq(FORM("name", "Zoë"), "name=Zo%C3%AB");
	ck_assert_str_eq(FORM("name", "日本"), "name=%E6%97%A5%E6%9C%AC");
	ck_assert_str_eq(FORM("q", "line\r\nnext\t"), "q=line%0D%0Anext%09");
	ck_assert_str_eq(FORM("q", "\xff"), "q=%FF");
	ck_assert_str_eq(FORM("success_url", "https://app.test/ok?session_id={CHECKOUT_SESSION_ID}"),
			 "success_url=https%3A%2F%2Fapp.test%2Fok%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D");
}
END_TEST

START_TEST(test_form_null_and_empty)
{
	ck_assert_str_eq(FORM("a", "1", "b", NULL, "c", "3"), "a=1&c=3");
	ck_assert_str_eq(FORM("a", NULL, "b", "2"), "b=2"); /* no leading '&' */
	ck_assert_str_eq(FORM("a", "1", "b", NULL), "a=1"); /* no trailing '&' */
	ck_assert_str_eq(FORM("a", NULL), "");
	/* an empty value is sent: Stripe reads metadata[k]= as "unset k" */
	ck_assert_str_eq(FORM("metadata[k]", ""), "metadata[k]=");
	ck_assert_str_eq(FORM("a", "", "b", ""), "a=&b=");
	stripe_form_add(NULL, "a", "b"); /* a failed stripe_form_new cannot crash the caller */
}
END_TEST

START_TEST(test_form_grows)
{
	struct stripe_form *f = stripe_form_new(A);
	for (int i = 0; i < 2000; i++) {
		char key[32];
		snprintf(key, sizeof(key), "metadata[k%04d]", i);
		stripe_form_add(f, key, "v v");
	}
	const char *s = stripe_form_encode(f);
	/* "metadata[kNNNN]=v%20v" is 21 characters, plus 1999 '&' */
	ck_assert_uint_eq(strlen(s), 2000 * 21 + 1999);
	ck_assert(!strncmp(s, "metadata[k0000]=v%20v&metadata[k0001]=v%20v&", 44));
	ck_assert_str_eq(s + strlen(s) - 21, "metadata[k1999]=v%20v");
}
END_TEST

/* ---- retries ---- */

START_TEST(test_should_retry)
{
	/* connection errors: always */
	ck_assert(stripe_should_retry(0, NULL, true));
	ck_assert(stripe_should_retry(0, "false", true));
	/* the header decides when present */
	ck_assert(!stripe_should_retry(500, "false", false));
	ck_assert(!stripe_should_retry(503, "false", false));
	ck_assert(!stripe_should_retry(409, "false", false));
	ck_assert(stripe_should_retry(400, "true", false));
	ck_assert(stripe_should_retry(429, "true", false));
	ck_assert(stripe_should_retry(402, "true", false));
	/* otherwise 409 and 5xx */
	ck_assert(stripe_should_retry(409, NULL, false));
	ck_assert(stripe_should_retry(500, NULL, false));
	ck_assert(stripe_should_retry(502, NULL, false));
	ck_assert(stripe_should_retry(503, NULL, false));
	ck_assert(stripe_should_retry(504, NULL, false));
	/* 429 is retried: API.md's rule (the SDKs stop; Stripe's docs advise backing off) */
	ck_assert(stripe_should_retry(429, NULL, false));
	ck_assert(!stripe_should_retry(400, NULL, false));
	ck_assert(!stripe_should_retry(401, NULL, false));
	ck_assert(!stripe_should_retry(402, NULL, false));
	ck_assert(!stripe_should_retry(403, NULL, false));
	ck_assert(!stripe_should_retry(404, NULL, false));
	ck_assert(!stripe_should_retry(424, NULL, false));
	ck_assert(!stripe_should_retry(200, NULL, false));
	/* an unexpected header value falls back to the status */
	ck_assert(stripe_should_retry(500, "maybe", false));
	ck_assert(!stripe_should_retry(400, "maybe", false));
	ck_assert(!stripe_should_retry(400, "", false));
}
END_TEST

START_TEST(test_backoff)
{
	static const long want[] = {500, 1000, 2000, 4000, 5000, 5000};
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(stripe_backoff_ms(i + 1), want[i]);
	ck_assert_int_eq(stripe_backoff_ms(100), 5000);
	ck_assert_int_eq(stripe_backoff_ms(2147483647), 5000);
	ck_assert_int_eq(stripe_backoff_ms(0), 500);
}
END_TEST

/* ---- accessors ---- */

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	ck_assert_msg(o != NULL, "bad JSON in test: %s", s);
	return o;
}

static const char *const SUBSCRIPTION =
	"{\"id\":\"sub_1\",\"object\":\"subscription\",\"customer\":\"cus_9\",\"status\":\"active\","
	"\"cancel_at_period_end\":false,\"livemode\":true,\"created\":1680000000,"
	"\"current_period_end\":9007199254740993,\"canceled_at\":null,\"quantity\":1.5,"
	"\"latest_invoice\":{\"id\":\"in_7\",\"object\":\"invoice\"},\"default_payment_method\":null,"
	"\"schedule\":{\"object\":\"subscription_schedule\"},\"items\":{\"object\":\"list\",\"data\":[]},"
	"\"pending_update\":42,\"metadata\":{\"uid\":\"u1\"},\"flag\":\"true\",\"num\":\"123\"}";

START_TEST(test_accessors_str)
{
	json_object *o = parse(SUBSCRIPTION);
	ck_assert_str_eq(stripe_str(o, "id"), "sub_1");
	ck_assert_str_eq(stripe_str(o, "status"), "active");
	ck_assert_ptr_null(stripe_str(o, "missing"));
	ck_assert_ptr_null(stripe_str(o, "canceled_at")); /* null */
	ck_assert_ptr_null(stripe_str(o, "created"));     /* a number is not a string */
	ck_assert_ptr_null(stripe_str(o, "latest_invoice"));
	ck_assert_ptr_null(stripe_str(o, "livemode"));
	ck_assert_ptr_null(stripe_str(NULL, "id"));
	ck_assert_str_eq(stripe_str(json_object_object_get(o, "metadata"), "uid"), "u1");
	json_object_put(o);
}
END_TEST

START_TEST(test_accessors_int)
{
	json_object *o = parse(SUBSCRIPTION);
	ck_assert_int_eq(stripe_int(o, "created", -1), 1680000000);
	ck_assert(stripe_int(o, "current_period_end", -1) == 9007199254740993LL); /* past 2^53: exact */
	ck_assert_int_eq(stripe_int(o, "missing", -1), -1);
	ck_assert_int_eq(stripe_int(o, "canceled_at", 0), 0);
	ck_assert_int_eq(stripe_int(o, "num", -1), -1);      /* "123" is a string */
	ck_assert_int_eq(stripe_int(o, "quantity", -1), -1); /* 1.5 is not an integer */
	ck_assert_int_eq(stripe_int(o, "livemode", -1), -1);
	ck_assert_int_eq(stripe_int(NULL, "created", 7), 7);
	json_object_put(o);
}
END_TEST

START_TEST(test_accessors_bool)
{
	json_object *o = parse(SUBSCRIPTION);
	ck_assert(stripe_bool(o, "livemode"));
	ck_assert(!stripe_bool(o, "cancel_at_period_end"));
	ck_assert(!stripe_bool(o, "missing"));
	ck_assert(!stripe_bool(o, "flag"));    /* "true" is a string */
	ck_assert(!stripe_bool(o, "created")); /* a non-zero number is not true */
	ck_assert(!stripe_bool(o, "canceled_at"));
	ck_assert(!stripe_bool(NULL, "livemode"));
	json_object_put(o);
}
END_TEST

START_TEST(test_accessors_expandable_id)
{
	json_object *o = parse(SUBSCRIPTION);
	ck_assert_str_eq(stripe_id(o, "customer"), "cus_9");      /* not expanded: a string */
	ck_assert_str_eq(stripe_id(o, "latest_invoice"), "in_7"); /* expanded: the object's id */
	ck_assert_ptr_null(stripe_id(o, "schedule"));             /* an object without id */
	ck_assert_ptr_null(stripe_id(o, "default_payment_method")); /* null */
	ck_assert_ptr_null(stripe_id(o, "pending_update"));         /* a number */
	ck_assert_ptr_null(stripe_id(o, "missing"));
	ck_assert_ptr_null(stripe_id(NULL, "customer"));
	json_object *e = parse("{\"customer\":{\"id\":42}}");
	ck_assert_ptr_null(stripe_id(e, "customer")); /* an id that is not a string */
	json_object_put(e);
	json_object_put(o);
}
END_TEST

static Suite *stripe_suite(void)
{
	Suite *s = suite_create("stripe");
	TCase *tc = tcase_create("signature");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_signature_valid);
	tcase_add_test(tc, test_signature_tampered_body);
	tcase_add_test(tc, test_signature_wrong_secret);
	tcase_add_test(tc, test_signature_secret_rotation);
	tcase_add_test(tc, test_signature_several_v1);
	tcase_add_test(tc, test_signature_other_schemes_ignored);
	tcase_add_test(tc, test_signature_tolerance);
	tcase_add_test(tc, test_signature_malformed_header);
	tcase_add_test(tc, test_signature_uppercase_hex_refused);
	tcase_add_test(tc, test_signature_empty_body);
	tcase_add_test(tc, test_signature_large_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("form");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_form_basic);
	tcase_add_test(tc, test_form_nested_keys);
	tcase_add_test(tc, test_form_value_escaping);
	tcase_add_test(tc, test_form_null_and_empty);
	tcase_add_test(tc, test_form_grows);
	suite_add_tcase(s, tc);

	tc = tcase_create("client");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_should_retry);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_accessors_str);
	tcase_add_test(tc, test_accessors_int);
	tcase_add_test(tc, test_accessors_bool);
	tcase_add_test(tc, test_accessors_expandable_id);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(stripe_suite)
