/* test_router.c — table routing: literals, {param} captures, 404 vs 405 and Allow, HEAD. */
#include "unit.h"

#include "tollgate/arena.h"
#include "tollgate/http.h"
#include "tollgate/router.h"
#include "tollgate/status.h"

static void h_dummy(struct app *app, struct http_req *req, struct http_res *res)
{
	(void)app;
	(void)req;
	(void)res;
}

enum {
	R_HEALTH,
	R_LOGIN,
	R_SESSIONS,
	R_SESSION,
	R_PROJECT_READ,
	R_PROJECT_DELETE,
	R_DOCUMENT,
	R_READ_ALL,
	R_NOTIF_READ,
	R_PREFS_GET,
	R_PREFS_PUT,
	R_ROOT,
	R_COUNT
};

static const struct route table[R_COUNT] = {
	[R_HEALTH] = {HTTP_GET, "/api/health", ROUTE_PUBLIC, h_dummy, NULL},
	[R_LOGIN] = {HTTP_POST, "/api/auth/login", ROUTE_BODY, h_dummy, NULL},
	[R_SESSIONS] = {HTTP_GET, "/api/auth/sessions", ROUTE_USER, h_dummy, NULL},
	[R_SESSION] = {HTTP_DELETE, "/api/auth/sessions/{id}", ROUTE_USER, h_dummy, NULL},
	[R_PROJECT_READ] = {HTTP_GET | HTTP_PATCH, "/api/projects/{id}", ROUTE_USER, h_dummy, NULL},
	[R_PROJECT_DELETE] = {HTTP_DELETE, "/api/projects/{id}", ROUTE_USER, h_dummy, NULL},
	[R_DOCUMENT] = {HTTP_GET, "/api/projects/{id}/documents/{doc_id}", ROUTE_USER, h_dummy, NULL},
	[R_READ_ALL] = {HTTP_POST, "/api/notifications/read-all", ROUTE_USER, h_dummy, NULL},
	[R_NOTIF_READ] = {HTTP_POST, "/api/notifications/{id}/read", ROUTE_USER, h_dummy, NULL},
	[R_PREFS_GET] = {HTTP_GET, "/api/profile/notification-preferences", ROUTE_USER, h_dummy, NULL},
	[R_PREFS_PUT] = {HTTP_PUT, "/api/profile/notification-preferences", ROUTE_USER | ROUTE_BODY, h_dummy, NULL},
	[R_ROOT] = {HTTP_GET, "/", ROUTE_PUBLIC, h_dummy, NULL},
};

static struct arena *A;
static struct router *R;
static struct http_req req;
static const struct route *found;
static unsigned allowed;

static void setup(void)
{
	A = arena_new(0);
	ck_assert_ptr_nonnull(A);
	R = router_new(table, R_COUNT);
	ck_assert_ptr_nonnull(R);
}

static void teardown(void)
{
	router_free(R);
	R = NULL;
	arena_destroy(A);
	A = NULL;
}

static enum router_result match(const char *method, const char *uri)
{
	char *m = arena_printf(A, "REQUEST_METHOD=%s", method);
	char *u = arena_printf(A, "REQUEST_URI=%s", uri);
	ck_assert_int_eq(http_req_init(&req, A, UNIT_ENV(A, m, u), NULL, 32), TG_OK);
	found = NULL;
	allowed = 0xdead;
	return router_match(R, &req, &found, &allowed);
}

#define ASSERT_FOUND(method, uri, idx)                                                          \
	do {                                                                                    \
		ck_assert_msg(match((method), (uri)) == ROUTER_FOUND, "%s %s not found", (method), (uri)); \
		ck_assert_msg(found == &table[(idx)], "%s %s matched the wrong route", (method), (uri));   \
	} while (0)

#define ASSERT_NOT_FOUND(method, uri) \
	ck_assert_msg(match((method), (uri)) == ROUTER_NOT_FOUND, "%s %s: expected 404", (method), (uri))

/* ---- literals ---- */

START_TEST(test_literal_match)
{
	ASSERT_FOUND("GET", "/api/health", R_HEALTH);
	ck_assert_int_eq(req.nparams, 0);
	ASSERT_FOUND("POST", "/api/auth/login", R_LOGIN);
	ASSERT_FOUND("GET", "/api/auth/sessions", R_SESSIONS);
	ASSERT_FOUND("GET", "/", R_ROOT);
	/* the query string is not part of the path */
	ASSERT_FOUND("GET", "/api/health?verbose=1", R_HEALTH);
}
END_TEST

START_TEST(test_literal_mismatch)
{
	ASSERT_NOT_FOUND("GET", "/api/healthz");
	ASSERT_NOT_FOUND("GET", "/api/healt");
	ASSERT_NOT_FOUND("GET", "/API/health");        /* case-sensitive */
	ASSERT_NOT_FOUND("GET", "/api/%68ealth");      /* literals are matched raw, not decoded */
	ASSERT_NOT_FOUND("GET", "/api");
	ASSERT_NOT_FOUND("GET", "/api/health/extra");
	ASSERT_NOT_FOUND("GET", "/nope");
}
END_TEST

START_TEST(test_trailing_slash_is_another_path)
{
	ASSERT_NOT_FOUND("GET", "/api/health/");
	ASSERT_NOT_FOUND("GET", "/api/auth/sessions/"); /* nor an empty {id} */
	ASSERT_NOT_FOUND("GET", "//api/health");
	ASSERT_NOT_FOUND("GET", "/api//health");
}
END_TEST

START_TEST(test_literal_before_param_in_table_order)
{
	ASSERT_FOUND("POST", "/api/notifications/read-all", R_READ_ALL);
	ASSERT_FOUND("POST", "/api/notifications/n-1/read", R_NOTIF_READ);
	ck_assert_str_eq(http_req_param(&req, "id"), "n-1");
}
END_TEST

/* ---- parameters ---- */

START_TEST(test_param_capture)
{
	ASSERT_FOUND("DELETE", "/api/auth/sessions/6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e90", R_SESSION);
	ck_assert_int_eq(req.nparams, 1);
	ck_assert_str_eq(req.param_names[0], "id");
	ck_assert_str_eq(http_req_param(&req, "id"), "6f1c2a8e-0b7d-4c55-9a1e-3d2f4b6c8e90");
	ck_assert_ptr_null(http_req_param(&req, "doc_id"));
	ck_assert_ptr_null(http_req_param(&req, "i"));

	ASSERT_FOUND("GET", "/api/projects/p1/documents/d2?x=1", R_DOCUMENT);
	ck_assert_int_eq(req.nparams, 2);
	ck_assert_str_eq(http_req_param(&req, "id"), "p1");
	ck_assert_str_eq(http_req_param(&req, "doc_id"), "d2");
}
END_TEST

START_TEST(test_param_percent_decoding)
{
	ASSERT_FOUND("DELETE", "/api/auth/sessions/a%20b%C3%A9", R_SESSION);
	ck_assert_str_eq(http_req_param(&req, "id"), "a b\xc3\xa9");
	ASSERT_FOUND("DELETE", "/api/auth/sessions/a+b", R_SESSION);
	ck_assert_str_eq(http_req_param(&req, "id"), "a+b"); /* '+' is not a space in a path */
	ASSERT_FOUND("DELETE", "/api/auth/sessions/%41", R_SESSION);
	ck_assert_str_eq(http_req_param(&req, "id"), "A");
	/* the raw path is left alone */
	ck_assert_str_eq(req.path, "/api/auth/sessions/%41");
}
END_TEST

START_TEST(test_param_encoded_slash_refused)
{
	ASSERT_NOT_FOUND("DELETE", "/api/auth/sessions/a%2Fb");
	ASSERT_NOT_FOUND("DELETE", "/api/auth/sessions/a%2fb");
	ASSERT_NOT_FOUND("DELETE", "/api/auth/sessions/%2F");
	ASSERT_NOT_FOUND("GET", "/api/projects/..%2F..%2Fetc/documents/x");
}
END_TEST

START_TEST(test_param_bad_escapes_refused)
{
	ASSERT_NOT_FOUND("DELETE", "/api/auth/sessions/%zz");
	ASSERT_NOT_FOUND("DELETE", "/api/auth/sessions/abc%");
	ASSERT_NOT_FOUND("DELETE", "/api/auth/sessions/abc%4");
	ASSERT_NOT_FOUND("DELETE", "/api/auth/sessions/a%00b");
}
END_TEST

START_TEST(test_params_reset_between_matches)
{
	ASSERT_FOUND("GET", "/api/projects/p1/documents/d2", R_DOCUMENT);
	ck_assert_int_eq(req.nparams, 2);
	/* match() re-initialises req, but the router must set nparams itself too */
	req.nparams = 3;
	req.path = "/api/projects/p9";
	req.method = HTTP_GET;
	ck_assert_int_eq(router_match(R, &req, &found, &allowed), ROUTER_FOUND);
	ck_assert_int_eq(req.nparams, 1);
	ck_assert_str_eq(http_req_param(&req, "id"), "p9");
}
END_TEST

/* ---- 404 vs 405 ---- */

START_TEST(test_method_not_allowed_and_allow)
{
	ck_assert_int_eq(match("POST", "/api/health"), ROUTER_METHOD_NOT_ALLOWED);
	ck_assert_uint_eq(allowed, HTTP_GET | HTTP_HEAD);
	ck_assert_str_eq(router_allow_header(A, allowed), "GET, HEAD");

	ck_assert_int_eq(match("GET", "/api/auth/login"), ROUTER_METHOD_NOT_ALLOWED);
	ck_assert_uint_eq(allowed, HTTP_POST); /* no GET route: no HEAD either */
	ck_assert_str_eq(router_allow_header(A, allowed), "POST");

	/* the Allow set is the union over every route with this path */
	ck_assert_int_eq(match("PUT", "/api/projects/p1"), ROUTER_METHOD_NOT_ALLOWED);
	ck_assert_uint_eq(allowed, HTTP_GET | HTTP_HEAD | HTTP_PATCH | HTTP_DELETE);
	ck_assert_str_eq(router_allow_header(A, allowed), "GET, HEAD, PATCH, DELETE");

	ck_assert_int_eq(match("DELETE", "/api/profile/notification-preferences"), ROUTER_METHOD_NOT_ALLOWED);
	ck_assert_str_eq(router_allow_header(A, allowed), "GET, HEAD, PUT");

	ck_assert_int_eq(match("BREW", "/api/health"), ROUTER_METHOD_NOT_ALLOWED);
	ck_assert_str_eq(router_allow_header(A, allowed), "GET, HEAD");
	ck_assert_int_eq(match("OPTIONS", "/api/auth/login"), ROUTER_METHOD_NOT_ALLOWED);
}
END_TEST

START_TEST(test_second_route_same_pattern)
{
	ASSERT_FOUND("DELETE", "/api/projects/p1", R_PROJECT_DELETE);
	ck_assert_str_eq(http_req_param(&req, "id"), "p1");
	ASSERT_FOUND("PATCH", "/api/projects/p1", R_PROJECT_READ);
	ASSERT_FOUND("PUT", "/api/profile/notification-preferences", R_PREFS_PUT);
	ASSERT_FOUND("GET", "/api/profile/notification-preferences", R_PREFS_GET);
}
END_TEST

START_TEST(test_not_found_clears_allowed)
{
	ck_assert_int_eq(match("GET", "/api/unknown"), ROUTER_NOT_FOUND);
	ck_assert_uint_eq(allowed, 0);
	ck_assert_int_eq(match("POST", "/api/unknown"), ROUTER_NOT_FOUND);
	ck_assert_uint_eq(allowed, 0);
}
END_TEST

START_TEST(test_head_served_by_get)
{
	ASSERT_FOUND("HEAD", "/api/health", R_HEALTH);
	ASSERT_FOUND("HEAD", "/api/projects/p1", R_PROJECT_READ);
	ck_assert_str_eq(http_req_param(&req, "id"), "p1");
	/* HEAD on a path without GET is 405 with that path's methods */
	ck_assert_int_eq(match("HEAD", "/api/auth/login"), ROUTER_METHOD_NOT_ALLOWED);
	ck_assert_uint_eq(allowed, HTTP_POST);
}
END_TEST

/* ---- limits and malformed input ---- */

START_TEST(test_too_many_segments)
{
	/* ROUTER_MAX_SEGMENTS is 12 */
	ASSERT_NOT_FOUND("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m");
	ASSERT_NOT_FOUND("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/1/2/3/4/5/6/7/8/9");
	char *many = arena_alloc(A, 20001);
	for (int i = 0; i < 10000; i++)
		memcpy(many + 2 * i, "/x", 2);
	ASSERT_NOT_FOUND("GET", many);
	ASSERT_NOT_FOUND("GET", "/////////////////////////////");
}
END_TEST

START_TEST(test_max_segments_pattern)
{
	static const struct route t12[] = {
		{HTTP_GET, "/a/b/c/d/e/f/g/h/i/j/k/{last}", ROUTE_PUBLIC, h_dummy, NULL},
	};
	static const struct route t13[] = {
		{HTTP_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m", ROUTE_PUBLIC, h_dummy, NULL},
	};
	struct router *r12 = router_new(t12, 1);
	ck_assert_ptr_nonnull(r12);
	ck_assert_int_eq(http_req_init(&req, A,
				       UNIT_ENV(A, "REQUEST_METHOD=GET", "REQUEST_URI=/a/b/c/d/e/f/g/h/i/j/k/zz"),
				       NULL, 32),
			 TG_OK);
	ck_assert_int_eq(router_match(r12, &req, &found, &allowed), ROUTER_FOUND);
	ck_assert_str_eq(http_req_param(&req, "last"), "zz");
	router_free(r12);
	ck_assert_ptr_null(router_new(t13, 1));
}
END_TEST

START_TEST(test_bad_patterns_refused)
{
	static const struct route no_slash[] = {{HTTP_GET, "api/health", 0, h_dummy, NULL}};
	ck_assert_ptr_null(router_new(no_slash, 1));
	static const struct route five_params[] = {{HTTP_GET, "/{a}/{b}/{c}/{d}/{e}", 0, h_dummy, NULL}};
	ck_assert_ptr_null(router_new(five_params, 1));
	static const struct route four_params[] = {{HTTP_GET, "/{a}/{b}/{c}/{d}", 0, h_dummy, NULL}};
	struct router *r = router_new(four_params, 1);
	ck_assert_ptr_nonnull(r);
	router_free(r);
	/* a bad entry anywhere refuses the table */
	static const struct route mixed[] = {
		{HTTP_GET, "/ok", 0, h_dummy, NULL},
		{HTTP_GET, "bad", 0, h_dummy, NULL},
	};
	ck_assert_ptr_null(router_new(mixed, 2));
	router_free(NULL);
}
END_TEST

START_TEST(test_malformed_paths)
{
	ASSERT_NOT_FOUND("GET", "api/health");
	ASSERT_NOT_FOUND("GET", "*");
	ck_assert_int_eq(http_req_init(&req, A, UNIT_ENV(A, "REQUEST_METHOD=GET", "REQUEST_URI=/"), NULL, 32),
			 TG_OK);
	req.path = "";
	ck_assert_int_eq(router_match(R, &req, &found, &allowed), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_empty_table)
{
	struct router *r = router_new(NULL, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(http_req_init(&req, A, UNIT_ENV(A, "REQUEST_METHOD=GET", "REQUEST_URI=/api/health"),
				       NULL, 32),
			 TG_OK);
	ck_assert_int_eq(router_match(r, &req, &found, &allowed), ROUTER_NOT_FOUND);
	router_free(r);
}
END_TEST

START_TEST(test_allow_header)
{
	ck_assert_str_eq(router_allow_header(A, 0), "");
	ck_assert_str_eq(router_allow_header(A, HTTP_DELETE), "DELETE");
	ck_assert_str_eq(router_allow_header(A, HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_PATCH |
							HTTP_DELETE | HTTP_OPTIONS | HTTP_OTHER),
			 "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
	ck_assert_str_eq(router_allow_header(A, HTTP_OPTIONS | HTTP_GET), "GET, OPTIONS");
}
END_TEST

static Suite *router_suite(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("match");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_literal_match);
	tcase_add_test(tc, test_literal_mismatch);
	tcase_add_test(tc, test_trailing_slash_is_another_path);
	tcase_add_test(tc, test_literal_before_param_in_table_order);
	tcase_add_test(tc, test_param_capture);
	tcase_add_test(tc, test_param_percent_decoding);
	tcase_add_test(tc, test_param_encoded_slash_refused);
	tcase_add_test(tc, test_param_bad_escapes_refused);
	tcase_add_test(tc, test_params_reset_between_matches);
	tcase_add_test(tc, test_method_not_allowed_and_allow);
	tcase_add_test(tc, test_second_route_same_pattern);
	tcase_add_test(tc, test_not_found_clears_allowed);
	tcase_add_test(tc, test_head_served_by_get);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_too_many_segments);
	tcase_add_test(tc, test_max_segments_pattern);
	tcase_add_test(tc, test_bad_patterns_refused);
	tcase_add_test(tc, test_malformed_paths);
	tcase_add_test(tc, test_empty_table);
	tcase_add_test(tc, test_allow_header);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(router_suite)
