/* test_billing_shape.c — what billing reads from a Stripe event before it touches the database
 * (billing_*_shape in src/billing/events.c): the event's kind, and the subscription, invoice,
 * refund and checkout objects in the acacia shapes we pin and the basil shapes Stripe may send.
 * Applying them is covered by the billing integration suite. */
#include "unit.h"

#include <json.h>

#include "tollgate/arena.h"
#include "tollgate/billing.h"
#include "tollgate/status.h"

#define USER "0b1e4a52-7c55-4b8e-9d52-3f6f0a7e9c11"

static struct arena *A;
static json_object *doc;

static void setup(void)
{
	A = arena_new(0);
	ck_assert_ptr_nonnull(A);
	doc = NULL;
}

static void teardown(void)
{
	json_object_put(doc);
	arena_destroy(A);
	A = NULL;
}

static json_object *parse(const char *json)
{
	json_object_put(doc);
	doc = json_tokener_parse(json);
	ck_assert_msg(doc != NULL, "bad JSON in test: %s", json);
	return doc;
}

START_TEST(test_event_kinds)
{
	static const struct {
		const char *type;
		enum billing_event_kind kind;
	} v[] = {
		{"checkout.session.completed", BILLING_EVENT_CHECKOUT},
		{"customer.subscription.created", BILLING_EVENT_SUBSCRIPTION},
		{"customer.subscription.updated", BILLING_EVENT_SUBSCRIPTION},
		{"customer.subscription.deleted", BILLING_EVENT_SUBSCRIPTION},
		{"invoice.paid", BILLING_EVENT_INVOICE},
		{"invoice.payment_succeeded", BILLING_EVENT_INVOICE},
		{"invoice.finalized", BILLING_EVENT_INVOICE},
		{"invoice.updated", BILLING_EVENT_INVOICE},
		{"invoice.payment_failed", BILLING_EVENT_INVOICE_FAILED},
		{"charge.refunded", BILLING_EVENT_REFUND},
		{"customer.created", BILLING_EVENT_OTHER},
		{"invoice.paid.extra", BILLING_EVENT_OTHER},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *json = arena_printf(A, "{\"id\":\"evt_%zu\",\"type\":\"%s\",\"created\":1767225600,"
					     "\"data\":{\"object\":{\"id\":\"x\"}}}", i, v[i].type);
		struct billing_event_shape ev;
		ck_assert_int_eq(billing_event_shape(parse(json), &ev), TG_OK);
		ck_assert_msg(ev.kind == v[i].kind, "%s", v[i].type);
		ck_assert_str_eq(ev.type, v[i].type);
		ck_assert_str_eq(ev.id, arena_printf(A, "evt_%zu", i));
		ck_assert_int_eq(ev.created, 1767225600);
		ck_assert_ptr_nonnull(ev.object);
	}
}
END_TEST

START_TEST(test_event_incomplete)
{
	struct billing_event_shape ev;
	ck_assert_int_eq(billing_event_shape(parse("{\"id\":\"evt_1\",\"data\":{\"object\":{}}}"), &ev), TG_EINPUT);
	ck_assert_int_eq(billing_event_shape(parse("{\"type\":\"invoice.paid\",\"data\":{}}"), &ev), TG_EINPUT);
	ck_assert_int_eq(billing_event_shape(parse("{\"type\":\"invoice.paid\",\"data\":{\"object\":null}}"), &ev),
			 TG_EINPUT);
	ck_assert_int_eq(billing_event_shape(parse("{\"type\":7,\"data\":{\"object\":{}}}"), &ev), TG_EINPUT);
	/* no id or created: still a shape (ingestion refuses it, retries of stored events do not) */
	ck_assert_int_eq(billing_event_shape(parse("{\"type\":\"invoice.paid\",\"created\":\"1\",\"data\":{\"object\":{}}}"),
					     &ev),
			 TG_OK);
	ck_assert_ptr_null(ev.id);
	ck_assert_int_eq(ev.created, -1);
}
END_TEST

START_TEST(test_subscription_acacia)
{
	struct billing_subscription_shape s;
	ck_assert_int_eq(billing_subscription_shape(A, parse("{\"id\":\"sub_1\",\"customer\":\"cus_1\",\"status\":\"active\","
		"\"current_period_start\":1767225600,\"current_period_end\":1769904000,\"cancel_at_period_end\":true,"
		"\"canceled_at\":0,\"ended_at\":null,\"metadata\":{\"user_id\":\"" USER "\",\"plan\":\"pro\"},"
		"\"items\":{\"data\":[{\"price\":{\"id\":\"price_pro_m\",\"recurring\":{\"interval\":\"month\"}}}]}}"), &s),
			 TG_OK);
	ck_assert_str_eq(s.id, "sub_1");
	ck_assert_str_eq(s.customer, "cus_1");
	ck_assert_str_eq(s.status, "active");
	ck_assert_str_eq(s.user_id, USER);
	ck_assert_str_eq(s.plan, "pro");
	ck_assert_str_eq(s.interval, "month");
	ck_assert_str_eq(s.price, "price_pro_m");
	ck_assert_str_eq(s.period_start, "1767225600");
	ck_assert_str_eq(s.period_end, "1769904000");
	ck_assert(s.cancel_at_period_end);
	ck_assert_ptr_null(s.canceled_at); /* 0: never */
	ck_assert_ptr_null(s.ended_at);
}
END_TEST

START_TEST(test_subscription_basil)
{
	/* the period on the item; an expanded customer; a user id that is not a UUID is dropped */
	struct billing_subscription_shape s;
	ck_assert_int_eq(billing_subscription_shape(A, parse("{\"id\":\"sub_2\",\"customer\":{\"id\":\"cus_2\"},"
		"\"status\":\"past_due\",\"metadata\":{\"user_id\":\"42\"},\"canceled_at\":1767225700,"
		"\"items\":{\"data\":[{\"current_period_start\":100,\"current_period_end\":200,"
		"\"price\":{\"id\":\"price_x\"}}]}}"), &s),
			 TG_OK);
	ck_assert_str_eq(s.customer, "cus_2");
	ck_assert_ptr_null(s.user_id);
	ck_assert_ptr_null(s.plan);
	ck_assert_ptr_null(s.interval);
	ck_assert_str_eq(s.period_start, "100");
	ck_assert_str_eq(s.period_end, "200");
	ck_assert_str_eq(s.canceled_at, "1767225700");
	ck_assert(!s.cancel_at_period_end);
}
END_TEST

START_TEST(test_subscription_incomplete)
{
	struct billing_subscription_shape s;
	ck_assert_int_eq(billing_subscription_shape(A, parse("{\"id\":\"sub_1\",\"customer\":\"cus_1\"}"), &s), TG_EINPUT);
	ck_assert_int_eq(billing_subscription_shape(A, parse("{\"id\":\"sub_1\",\"status\":\"active\"}"), &s), TG_EINPUT);
	ck_assert_int_eq(billing_subscription_shape(A, parse("{\"customer\":\"cus_1\",\"status\":\"active\"}"), &s),
			 TG_EINPUT);
	ck_assert_int_eq(billing_subscription_shape(A, parse("[]"), &s), TG_EINPUT);
	/* items that are not a list, a negative period: absent, not an error */
	ck_assert_int_eq(billing_subscription_shape(A, parse("{\"id\":\"s\",\"customer\":\"c\",\"status\":\"active\","
		"\"items\":{\"data\":{}},\"current_period_end\":-5}"), &s),
			 TG_OK);
	ck_assert_ptr_null(s.period_end);
	ck_assert_ptr_null(s.price);
}
END_TEST

START_TEST(test_invoice_acacia)
{
	struct billing_invoice_shape v;
	ck_assert_int_eq(billing_invoice_shape(A, parse("{\"id\":\"in_1\",\"customer\":\"cus_1\",\"subscription\":\"sub_1\","
		"\"charge\":{\"id\":\"ch_1\"},\"payment_intent\":\"pi_1\",\"number\":\"ABC-0001\",\"status\":\"paid\","
		"\"amount_due\":1900,\"amount_paid\":1900,\"currency\":\"eur\",\"hosted_invoice_url\":\"https://x/i\","
		"\"invoice_pdf\":\"https://x/i.pdf\",\"created\":1767225600,\"period_start\":1,\"period_end\":1,"
		"\"lines\":{\"data\":[{\"period\":{\"start\":1767225600,\"end\":1769904000}}]}}"), &v),
			 TG_OK);
	ck_assert_str_eq(v.id, "in_1");
	ck_assert_str_eq(v.subscription, "sub_1");
	ck_assert_str_eq(v.charge, "ch_1");
	ck_assert_str_eq(v.payment_intent, "pi_1");
	ck_assert_str_eq(v.number, "ABC-0001");
	ck_assert_str_eq(v.status, "paid");
	ck_assert_str_eq(v.amount_due, "1900");
	ck_assert_str_eq(v.amount_paid, "1900");
	ck_assert_str_eq(v.currency, "eur");
	ck_assert_str_eq(v.hosted_invoice_url, "https://x/i");
	ck_assert_str_eq(v.invoice_pdf, "https://x/i.pdf");
	ck_assert_str_eq(v.period_start, "1767225600"); /* the line's service period wins */
	ck_assert_str_eq(v.period_end, "1769904000");
	ck_assert_str_eq(v.created, "1767225600");
}
END_TEST

START_TEST(test_invoice_basil_and_defaults)
{
	struct billing_invoice_shape v;
	ck_assert_int_eq(billing_invoice_shape(A, parse("{\"id\":\"in_2\",\"customer\":{\"id\":\"cus_2\"},"
		"\"parent\":{\"subscription_details\":{\"subscription\":\"sub_2\"}},\"period_start\":500,\"period_end\":900}"),
					 &v),
			 TG_OK);
	ck_assert_str_eq(v.customer, "cus_2");
	ck_assert_str_eq(v.subscription, "sub_2");
	ck_assert_str_eq(v.status, "open");
	ck_assert_str_eq(v.currency, "usd");
	ck_assert_str_eq(v.amount_due, "0");
	ck_assert_str_eq(v.amount_paid, "0");
	ck_assert_str_eq(v.period_start, "500"); /* no line: the invoice's own period */
	ck_assert_str_eq(v.period_end, "900");
	ck_assert_ptr_null(v.charge);
	ck_assert_ptr_null(v.created);
	ck_assert_int_eq(billing_invoice_shape(A, parse("{\"id\":\"in_3\"}"), &v), TG_EINPUT);
	ck_assert_int_eq(billing_invoice_shape(A, parse("{\"customer\":\"cus_3\"}"), &v), TG_EINPUT);
}
END_TEST

START_TEST(test_refund)
{
	struct billing_refund_shape v;
	ck_assert_int_eq(billing_refund_shape(A, parse("{\"id\":\"ch_1\",\"invoice\":\"in_1\",\"payment_intent\":{\"id\":\"pi_1\"},"
		"\"amount_refunded\":500}"), &v),
			 TG_OK);
	ck_assert_str_eq(v.id, "ch_1");
	ck_assert_str_eq(v.invoice, "in_1");
	ck_assert_str_eq(v.payment_intent, "pi_1");
	ck_assert_str_eq(v.amount_refunded, "500");
	ck_assert_int_eq(billing_refund_shape(A, parse("{\"id\":\"ch_2\"}"), &v), TG_OK);
	ck_assert_str_eq(v.amount_refunded, "0");
	ck_assert_ptr_null(v.invoice);
	ck_assert_int_eq(billing_refund_shape(A, parse("{\"amount_refunded\":5}"), &v), TG_EINPUT);
}
END_TEST

START_TEST(test_checkout)
{
	struct billing_checkout_shape v;
	ck_assert(billing_checkout_shape(parse("{\"mode\":\"subscription\",\"client_reference_id\":\"" USER "\","
					       "\"customer\":\"cus_1\"}"), &v));
	ck_assert_str_eq(v.user_id, USER);
	ck_assert_str_eq(v.customer, "cus_1");
	/* no mode (older sessions) is ours too */
	ck_assert(billing_checkout_shape(parse("{\"client_reference_id\":\"" USER "\",\"customer\":{\"id\":\"cus_1\"}}"), &v));
	ck_assert(!billing_checkout_shape(parse("{\"mode\":\"payment\",\"client_reference_id\":\"" USER "\","
						"\"customer\":\"cus_1\"}"), &v));
	ck_assert(!billing_checkout_shape(parse("{\"mode\":\"subscription\",\"client_reference_id\":\"u1\","
						"\"customer\":\"cus_1\"}"), &v));
	ck_assert(!billing_checkout_shape(parse("{\"mode\":\"subscription\",\"client_reference_id\":\"" USER "\"}"), &v));
}
END_TEST

static Suite *billing_shape_suite(void)
{
	Suite *s = suite_create("billing_shape");
	TCase *tc = tcase_create("shapes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_event_kinds);
	tcase_add_test(tc, test_event_incomplete);
	tcase_add_test(tc, test_subscription_acacia);
	tcase_add_test(tc, test_subscription_basil);
	tcase_add_test(tc, test_subscription_incomplete);
	tcase_add_test(tc, test_invoice_acacia);
	tcase_add_test(tc, test_invoice_basil_and_defaults);
	tcase_add_test(tc, test_refund);
	tcase_add_test(tc, test_checkout);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(billing_shape_suite)
