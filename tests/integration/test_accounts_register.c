/* test_accounts_register.c — POST /api/auth/register (API.md, Accounts), black-box through nginx:
 * cookie and body modes, the token response and its claims, email normalisation and 409 email_taken,
 * validation (422 naming each field), boundaries, registration closed, malformed requests,
 * concurrent registrations of one address, passwords with NUL and non-ASCII addresses. */
#include "accounts_helpers.h"
#include "itest.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* A unique, well-formed address of exactly len characters (labels of at most 41 characters). */
static void make_email(char *out, size_t cap, size_t len)
{
	ck_assert_uint_gt(cap, len);
	int n = snprintf(out, cap, "len%zu-%08x%04x@", len, (unsigned)rand(), (unsigned)getpid() & 0xffff);
	ck_assert_int_gt(n, 0);
	size_t at = (size_t)n;
	size_t rem = len - at;
	ck_assert_uint_ge(rem, 25);
	while (rem - 4 > 60) {
		memset(out + at, 'c', 40);
		out[at + 40] = '.';
		at += 41;
		rem -= 41;
	}
	memset(out + at, 'c', rem - 4);
	memcpy(out + at + rem - 4, ".com", 4);
	out[len] = '\0';
	ck_assert_uint_eq(strlen(out), len);
}

START_TEST(register_cookie_mode)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-cookie"));
	struct it_resp *r = register_raw(email, "Correct-Horse-9", NULL);
	char *rt = expect_token_response(r, 201, false, email);
	ck_assert_str_eq(it_str(r, "user.name"), "");
	/* the access token carries the documented claims */
	json_object *c = jwt_claims(it_str(r, "access_token"));
	json_object *h = jwt_header(it_str(r, "access_token"));
	ck_assert_str_eq(obj_str(h, "alg"), "HS256");
	static const char *const claims[] = {"iss", "aud", "sub", "sid", "role", "iat", "exp", "jti"};
	for (size_t i = 0; i < 8; i++)
		ck_assert_msg(obj_get(c, claims[i]), "claim %s missing", claims[i]);
	ck_assert_str_eq(obj_str(c, "sub"), it_str(r, "user.id"));
	ck_assert(is_uuid(obj_str(c, "sid")));
	ck_assert_str_eq(obj_str(c, "role"), "user");
	long iat = (long)json_object_get_int64(obj_get(c, "iat")), exp = (long)json_object_get_int64(obj_get(c, "exp"));
	ck_assert_int_eq(exp - iat, cfg_seconds("access_token_ttl", 900));
	ck_assert_int_le(labs(iat - (long)time(NULL)), 60);
	/* the new user can use the token at once */
	struct it_resp *me = it_get("/api/auth/me", it_str(r, "access_token"));
	it_expect(me, 200, NULL);
	ck_assert_str_eq(it_str(me, "id"), it_str(r, "user.id"));
	/* and the cookie refreshes */
	char cookie[256];
	snprintf(cookie, sizeof(cookie), "tg_refresh=%s", rt);
	struct it_req q = {.method = "POST", .path = "/api/auth/refresh", .cookie = cookie};
	struct it_resp *rr = it_do(&q);
	free(expect_token_response(rr, 200, false, email));
	ck_assert_int_eq(audit_count("user.register", "target_id", it_str(r, "user.id")), 1);
	/* a verification email was queued, with a link to the public origin */
	char link[300];
	snprintf(link, sizeof(link), "%s/verify-email?token=", it_origin());
	ck_assert_msg(wait_mail(email, link, 15) == 1, "no verification email with %s to %s", link, email);
	json_object_put(c);
	json_object_put(h);
	free(rt);
	it_free(rr);
	it_free(me);
	it_free(r);
}
END_TEST

START_TEST(register_body_mode)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-body"));
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\",\"name\":\"Ada Lovelace\",\"session\":\"body\"}", email);
	struct it_resp *r = it_post("/api/auth/register", NULL, body);
	char *rt = expect_token_response(r, 201, true, email);
	ck_assert_str_eq(it_str(r, "user.name"), "Ada Lovelace");
	struct it_resp *rr = refresh_body(rt);
	free(expect_token_response(rr, 200, true, email));
	free(rt);
	it_free(rr);
	it_free(r);
}
END_TEST

START_TEST(register_normalizes_email)
{
	char lower[128], messy[160], upper[128];
	snprintf(lower, sizeof(lower), "%s", it_unique_email("reg-norm"));
	snprintf(messy, sizeof(messy), "  \t%s  ", lower);
	for (char *p = messy; *p; p++)
		if (p[0] == 'r' || p[0] == 'e' || p[0] == 'x')
			*p = (char)toupper((unsigned char)*p);
	struct it_resp *r = register_raw(messy, "Correct-Horse-9", "body");
	free(expect_token_response(r, 201, true, lower));
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE email = '%s'", lower), 1);

	/* a duplicate in any case → 409 email_taken */
	snprintf(upper, sizeof(upper), "%s", lower);
	for (char *p = upper; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	const char *dups[] = {lower, upper, messy};
	for (size_t i = 0; i < 3; i++) {
		r = register_raw(dups[i], "Other-Horse-77", "body");
		it_expect_problem(r, 409, "email_taken");
		it_free(r);
	}
	/* login is case-insensitive too, and the first password still holds */
	r = login_raw(upper, "Correct-Horse-9", "body", NULL);
	free(expect_token_response(r, 200, true, lower));
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE lower(email) = '%s'", lower), 1);
}
END_TEST

struct bad_case {
	const char *body;   /* printf format with %s = a unique email (may be unused) */
	const char *field;  /* errors.<field> expected */
	const char *field2; /* and this one too (or NULL) */
};

START_TEST(register_validation)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-bad"));
	char long_email[300], long_pw[140], name101[120], mb7[64];
	make_email(long_email, sizeof(long_email), 255);
	memset(long_pw, 'k', 129);
	long_pw[0] = 'Q';
	long_pw[129] = '\0';
	memset(name101, 'n', 101);
	name101[101] = '\0';
	/* 7 two-byte characters = 14 bytes: still too short in characters */
	mb7[0] = '\0';
	for (int i = 0; i < 7; i++)
		append_e_acute(mb7, sizeof(mb7));
	char upper_email[128];
	snprintf(upper_email, sizeof(upper_email), "%s", email);
	for (char *p = upper_email; *p; p++)
		*p = (char)toupper((unsigned char)*p);

	struct {
		char body[1024];
		const char *field, *field2;
	} cases[40];
	int nc = 0;
#define CASE(f1, f2, ...)                                                          \
	do {                                                                       \
		snprintf(cases[nc].body, sizeof(cases[nc].body), __VA_ARGS__);    \
		cases[nc].field = (f1);                                            \
		cases[nc].field2 = (f2);                                           \
		nc++;                                                              \
	} while (0)
	CASE("email", NULL, "{\"email\":\"not-an-email\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"@example.com\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"a@@example.com\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"a b@example.com\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"someone@\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"\",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"   \",\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\"}", long_email);
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"Abcde7!\"}", email);        /* 7 */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"%s\"}", email, mb7);        /* 7 chars, 14 bytes */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"%s\"}", email, long_pw);    /* 129 */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"%s\"}", email, email);      /* = email */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"%s\"}", email, upper_email); /* = email, other case */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"password123\"}", email);    /* common */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"Password123\"}", email);    /* common, any case */
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"12345678\"}", email);
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":\"\"}", email);
	CASE("password", NULL, "{\"email\":\"%s\"}", email);                                 /* missing */
	CASE("email", NULL, "{\"password\":\"Correct-Horse-9\"}");                           /* missing */
	CASE("email", "password", "{}");
	CASE("email", "password", "{\"email\":null,\"password\":null}");
	CASE("email", NULL, "{\"email\":42,\"password\":\"Correct-Horse-9\"}");
	CASE("email", NULL, "{\"email\":[\"%s\"],\"password\":\"Correct-Horse-9\"}", email);
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":12345678}", email);
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":true}", email);
	CASE("password", NULL, "{\"email\":\"%s\",\"password\":{\"a\":1}}", email);
	CASE("name", NULL, "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\",\"name\":7}", email);
	CASE("name", NULL, "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\",\"name\":\"%s\"}", email, name101);
	CASE("session", NULL, "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\",\"session\":\"bogus\"}", email);
#undef CASE
	for (int i = 0; i < nc; i++) {
		struct it_resp *r = it_post("/api/auth/register", NULL, cases[i].body);
		if (r->status != 422)
			ck_abort_msg("case %d %s: expected 422, got %ld %s", i, cases[i].body, r->status, r->body);
		expect_invalid(r, cases[i].field);
		if (cases[i].field2)
			expect_invalid(r, cases[i].field2);
		it_free(r);
	}
	/* none of them created the account */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE email = '%s'", email), 0);
}
END_TEST

START_TEST(register_boundaries_accepted)
{
	/* 8 and 128 characters, 8 two-byte characters, a 254-character address, a 100-character name */
	char pw128[140], mb8[64], email254[300], name100[400];
	memset(pw128, 'k', 128);
	memcpy(pw128, "Zq9", 3);
	pw128[128] = '\0';
	mb8[0] = '\0';
	for (int i = 0; i < 8; i++)
		append_e_acute(mb8, sizeof(mb8));
	name100[0] = '\0';
	for (int i = 0; i < 100; i++)
		append_e_acute(name100, sizeof(name100)); /* 100 characters, 200 bytes */
	const char *pws[] = {"Qz7-kLm2", pw128, mb8};
	for (size_t i = 0; i < 3; i++) {
		char email[128];
		snprintf(email, sizeof(email), "%s", it_unique_email("reg-edge"));
		struct it_resp *r = register_raw(email, pws[i], "body");
		free(expect_token_response(r, 201, true, email));
		it_free(r);
		r = login_raw(email, pws[i], "body", NULL);
		free(expect_token_response(r, 200, true, email));
		it_free(r);
	}
	/* 254 characters exactly */
	make_email(email254, sizeof(email254), 254);
	char body[1024];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"Correct-Horse-9\",\"name\":\"%s\",\"session\":\"body\"}",
		 email254, name100);
	struct it_resp *r = it_post("/api/auth/register", NULL, body);
	free(expect_token_response(r, 201, true, email254));
	ck_assert_str_eq(it_str(r, "user.name"), name100);
	it_free(r);
}
END_TEST

START_TEST(register_closed)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-closed"));
	ck_assert_str_eq(it_sql("SELECT value::text FROM settings WHERE key = 'registration_open'"), "true");
	char *upd = xstrdup(it_sql("UPDATE settings SET value = 'false' WHERE key = 'registration_open'"));
	struct it_resp *r = register_raw(email, "Correct-Horse-9", "body");
	const char *restore = it_sql("UPDATE settings SET value = 'true' WHERE key = 'registration_open'");
	ck_assert_msg(!strstr(restore, "ERROR"), "restore failed: %s", restore);
	ck_assert_str_eq(it_sql("SELECT value::text FROM settings WHERE key = 'registration_open'"), "true");
	ck_assert_msg(!strstr(upd, "ERROR"), "update failed: %s", upd);
	free(upd);
	it_expect_problem(r, 403, "registration_closed");
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE email = '%s'", email), 0);
	/* open again: works */
	r = register_raw(email, "Correct-Horse-9", "body");
	free(expect_token_response(r, 201, true, email));
	it_free(r);
}
END_TEST

/* In case register_closed died between the two updates. */
static void restore_registration(void)
{
	(void)it_sql("UPDATE settings SET value = 'true' WHERE key = 'registration_open'");
}

START_TEST(register_bad_requests)
{
	/* another content type → 415, malformed JSON → 400, a huge body → 413, wrong method → 405 */
	struct it_req q = {.method = "POST", .path = "/api/auth/register", .body = "email=a@b.c&password=x",
			   .content_type = "application/x-www-form-urlencoded"};
	struct it_resp *r = it_do(&q);
	it_expect_problem(r, 415, "unsupported_media_type");
	it_free(r);
	const char *bad[] = {"{\"email\":", "not json", "{\"email\":\"a@example.com\",}", "", "{\"email\":\"a\"} x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = it_post("/api/auth/register", NULL, bad[i]);
		if (r->status != 400)
			ck_abort_msg("body %s: expected 400, got %ld %s", bad[i], r->status, r->body);
		it_expect_problem(r, 400, "invalid_json");
		it_free(r);
	}
	/* well-formed JSON that is not an object: 400 invalid_json like malformed JSON (API.md: request
	 * bodies are JSON objects; a 422 names fields, and a body that is not an object has none) */
	const char *nonobj[] = {"[1,2]", "[]", "\"str\"", "42", "null"};
	for (size_t i = 0; i < sizeof(nonobj) / sizeof(nonobj[0]); i++) {
		r = it_post("/api/auth/register", NULL, nonobj[i]);
		it_expect_problem(r, 400, "invalid_json");
		it_free(r);
	}
	size_t big = 2u << 20;
	char *huge = malloc(big + 1);
	ck_assert_ptr_nonnull(huge);
	memset(huge, ' ', big);
	huge[0] = '{';
	huge[big - 1] = '}';
	huge[big] = '\0';
	r = it_post("/api/auth/register", NULL, huge);
	free(huge);
	it_expect_problem(r, 413, "payload_too_large");
	it_free(r);
	r = it_get("/api/auth/register", NULL);
	it_expect_problem(r, 405, "method_not_allowed");
	const char *allow = it_header(r, "Allow");
	ck_assert_msg(allow && strstr(allow, "POST"), "Allow: %s", allow ? allow : "(none)");
	it_free(r);
	r = it_get("/api/auth/no-such-route", NULL);
	it_expect_problem(r, 404, "not_found");
	it_free(r);
}
END_TEST

struct reg_thread {
	char body[512];
	long status;
	char code[64];
	pthread_barrier_t *barrier;
};

static void *reg_thread_fn(void *arg)
{
	struct reg_thread *t = arg;
	pthread_barrier_wait(t->barrier);
	struct it_req q = {.method = "POST", .path = "/api/auth/register", .json = t->body};
	struct it_resp *r = it_do(&q);
	t->status = r->status;
	json_object *c = NULL;
	if (r->json && json_object_object_get_ex(r->json, "code", &c))
		snprintf(t->code, sizeof(t->code), "%s", json_object_get_string(c));
	it_free(r);
	return NULL;
}

START_TEST(register_concurrent_same_email)
{
	enum { N = 20 };
	char email[128], upper[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-race"));
	snprintf(upper, sizeof(upper), "%s", email);
	for (char *p = upper; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	static struct reg_thread t[N];
	pthread_t th[N];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, N);
	for (int i = 0; i < N; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].barrier = &barrier;
		snprintf(t[i].body, sizeof(t[i].body), "{\"email\":\"%s\",\"password\":\"Race-Horse-%02d\",\"session\":\"body\"}",
			 i % 2 ? upper : email, i);
		ck_assert_int_eq(pthread_create(&th[i], NULL, reg_thread_fn, &t[i]), 0);
	}
	int created = 0, taken = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		if (t[i].status == 201)
			created++;
		else if (t[i].status == 409 && !strcmp(t[i].code, "email_taken"))
			taken++;
		else
			fprintf(stderr, "register_concurrent: thread %d got %ld %s\n", i, t[i].status, t[i].code);
	}
	pthread_barrier_destroy(&barrier);
	ck_assert_msg(created == 1 && taken == N - 1, "%d x 201, %d x 409 email_taken of %d", created, taken, N);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE email = '%s'", email), 1);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = '%s'",
				  email),
			 1);
}
END_TEST

/* A password is the whole JSON string: one with a NUL inside is not the same as its prefix. */
START_TEST(register_password_with_nul)
{
	char email[128];
	snprintf(email, sizeof(email), "%s", it_unique_email("reg-nul"));
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"email\":\"%s\",\"password\":\"Valid-Pass-77\\u0000-and-a-secret-tail\",\"session\":\"body\"}", email);
	/* refused (422 errors.password): a C string would end at the NUL and the tail would be lost */
	struct it_resp *r = it_post("/api/auth/register", NULL, body);
	expect_invalid(r, "password");
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM users WHERE email = '%s'", email), 0);
	/* and the prefix alone opens nothing */
	r = login_raw(email, "Valid-Pass-77", "body", NULL);
	it_expect_problem(r, 401, "invalid_credentials");
	it_free(r);
}
END_TEST

/* Review finding (failed before its fix). */

/* An upper-case non-ASCII address was lower-cased differently by us and PostgreSQL: a 500. */
START_TEST(register_non_ascii_email_refused)
{
	const char *bodies[] = {
		"{\"email\":\"\u03a9@example.com\",\"password\":\"correct horse 1\"}",
		"{\"email\":\"j\u00f6rg@b\u00fccher.de\",\"password\":\"correct horse 1\"}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct it_resp *r = it_post("/api/auth/register", NULL, bodies[i]);
		it_expect_problem(r, 422, "validation_failed");
		ck_assert_ptr_nonnull(it_str(r, "errors.email"));
		it_free(r);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accounts_register");
	TCase *tc = tcase_create("register");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, NULL, restore_registration);
	tcase_add_test(tc, register_cookie_mode);
	tcase_add_test(tc, register_body_mode);
	tcase_add_test(tc, register_normalizes_email);
	tcase_add_test(tc, register_validation);
	tcase_add_test(tc, register_boundaries_accepted);
	tcase_add_test(tc, register_closed);
	tcase_add_test(tc, register_bad_requests);
	tcase_add_test(tc, register_concurrent_same_email);
	tcase_add_test(tc, register_password_with_nul);
	suite_add_tcase(s, tc);

	tc = tcase_create("review");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, register_non_ascii_email_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
