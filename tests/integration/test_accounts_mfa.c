/* test_accounts_mfa.c — two-factor sign-in (API.md, "Two-factor"): TOTP setup behind the password,
 * confirmation with a code before it is on, the login's code step (single-use mfa_token, a code
 * accepted once, wrong codes refused and counted by the login throttle), recovery codes (each once,
 * renewed as a set), turning it off, and the security email of every change. The codes are
 * computed by oathtool, an implementation independent of ours. */
#include "accounts_helpers.h"
#include "itest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The 6-digit code of secret (base32) for the 30-second step. */
static void totp_at(const char *secret, long long step, char out[8])
{
	const char *code = it_sh_out("oathtool --totp -b -N @%lld %s", step * 30, secret);
	ck_assert_msg(strlen(code) == 6, "oathtool gave \"%s\"", code);
	snprintf(out, 8, "%s", code);
}

static long long step_now(void)
{
	return (long long)time(NULL) / 30;
}

/* A 6-digit code that is not any of the window's right ones. */
static void wrong_code(const char *secret, char out[8])
{
	char c[3][8];
	for (int i = 0; i < 3; i++)
		totp_at(secret, step_now() - 1 + i, c[i]);
	for (int n = 0;; n++) {
		snprintf(out, 8, "%06d", ((int)strtol(c[1], NULL, 10) + 1 + n) % 1000000);
		if (strcmp(out, c[0]) && strcmp(out, c[1]) && strcmp(out, c[2]))
			return;
	}
}

static struct it_resp *post_as(const char *path, const char *bearer, const char *fmt, const char *a, const char *b)
{
	char body[512];
	snprintf(body, sizeof(body), fmt, a, b);
	return req_json("POST", path, bearer, body);
}

/* Turns two-factor on for u at the current step; secret and the recovery codes are returned. */
static long long enable_mfa(struct it_user *u, char secret[64], char codes[10][32])
{
	struct it_resp *r = post_as("/api/auth/mfa/totp/setup", u->access, "{\"password\":\"%s\"%s}", u->password, "");
	it_expect(r, 200, NULL);
	snprintf(secret, 64, "%s", it_str(r, "secret"));
	it_free(r);
	long long step = step_now();
	char code[8];
	totp_at(secret, step, code);
	r = post_as("/api/auth/mfa/totp/enable", u->access, "{\"code\":\"%s\"%s}", code, "");
	it_expect(r, 200, NULL);
	json_object *arr = it_at(r, "recovery_codes");
	ck_assert_int_eq(json_object_array_length(arr), 10);
	for (int i = 0; i < 10; i++)
		snprintf(codes[i], 32, "%s", json_object_get_string(json_object_array_get_idx(arr, i)));
	it_free(r);
	return step;
}

/* Password step of a login of u: the mfa_token. */
static void login_mfa_token(const struct it_user *u, char token[256])
{
	struct it_resp *r = login_raw(u->email, u->password, "body", NULL);
	it_expect(r, 200, NULL);
	ck_assert(it_bool(r, "mfa_required"));
	snprintf(token, 256, "%s", it_str(r, "mfa_token"));
	it_free(r);
}

static struct it_resp *second_step(const char *token, const char *member, const char *value)
{
	char body[512];
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"%s\":\"%s\",\"session\":\"body\"}", token, member, value);
	return req_json("POST", "/api/auth/login/mfa", NULL, body);
}

/* A token response of the second step (expect_token_response knows only users without 2FA). */
static void expect_signed_in(const struct it_resp *r, const char *email)
{
	it_expect(r, 200, NULL);
	ck_assert_str_eq(it_str(r, "token_type"), "Bearer");
	ck_assert_ptr_nonnull(it_str(r, "access_token"));
	ck_assert_ptr_nonnull(it_str(r, "refresh_token"));
	ck_assert_str_eq(it_str(r, "user.email"), email);
	ck_assert(it_bool(r, "user.mfa_enabled"));
}

static bool me_mfa_enabled(const char *access)
{
	struct it_resp *r = it_get("/api/auth/me", access);
	it_expect(r, 200, NULL);
	bool on = it_bool(r, "mfa_enabled");
	it_free(r);
	return on;
}

START_TEST(setup_enable_and_sign_in_with_a_code)
{
	struct it_user u;
	it_register(&u, "mfa-on");

	/* the password guards the setup */
	struct it_resp *r = post_as("/api/auth/mfa/totp/setup", u.access, "{\"password\":\"%s%s\"}", u.password, "x");
	expect_invalid(r, "password");
	it_free(r);

	r = post_as("/api/auth/mfa/totp/setup", u.access, "{\"password\":\"%s\"%s}", u.password, "");
	it_expect(r, 200, NULL);
	expect_no_store(r);
	char secret[64];
	snprintf(secret, sizeof(secret), "%s", it_str(r, "secret"));
	ck_assert_msg(strlen(secret) >= 16 && strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == strlen(secret),
		      "secret %s is not base32", secret);
	const char *uri = it_str(r, "otpauth_uri");
	ck_assert_msg(!strncmp(uri, "otpauth://totp/", 15), "otpauth_uri %s", uri);
	char want[96];
	snprintf(want, sizeof(want), "secret=%s", secret);
	ck_assert_msg(strstr(uri, want), "otpauth_uri %s lacks the secret", uri);
	ck_assert_msg(strstr(it_str(r, "qr_svg"), "<svg"), "qr_svg is not SVG");
	it_free(r);
	/* pending until confirmed */
	ck_assert(!me_mfa_enabled(u.access));

	char bad[8], code[8];
	wrong_code(secret, bad);
	r = post_as("/api/auth/mfa/totp/enable", u.access, "{\"code\":\"%s\"%s}", bad, "");
	expect_invalid(r, "code");
	it_free(r);
	ck_assert(!me_mfa_enabled(u.access));

	long long step = step_now();
	totp_at(secret, step, code);
	r = post_as("/api/auth/mfa/totp/enable", u.access, "{\"code\":\"%s\"%s}", code, "");
	it_expect(r, 200, NULL);
	expect_no_store(r);
	json_object *arr = it_at(r, "recovery_codes");
	ck_assert_int_eq(json_object_array_length(arr), 10);
	for (size_t i = 0; i < 10; i++)
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(json_object_get_string(json_object_array_get_idx(arr, i)),
					 json_object_get_string(json_object_array_get_idx(arr, j)));
	it_free(r);
	ck_assert(me_mfa_enabled(u.access));
	ck_assert_msg(wait_mail(u.email, "two-factor sign-in was turned on", 15) >= 1, "no security notice");
	/* the codes are stored hashed, the secret sealed */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM mfa_recovery_codes c JOIN users u ON u.id = c.user_id"
				     " WHERE u.email = '%s' AND c.code_hash LIKE '%%-%%'", u.email), 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM mfa_factors f JOIN users u ON u.id = f.user_id"
				     " WHERE u.email = '%s' AND position('%s' in encode(f.secret_sealed, 'escape')) > 0",
				     u.email, secret), 0);

	/* on already: a second setup is refused */
	r = post_as("/api/auth/mfa/totp/setup", u.access, "{\"password\":\"%s\"%s}", u.password, "");
	it_expect_problem(r, 409, "conflict");
	it_free(r);

	/* the password alone no longer signs in */
	r = login_raw(u.email, u.password, "body", NULL);
	it_expect(r, 200, NULL);
	ck_assert(it_bool(r, "mfa_required"));
	ck_assert_ptr_null(it_at(r, "access_token"));
	ck_assert_ptr_null(it_at(r, "refresh_token"));
	ck_assert_ptr_null(set_cookie_line(r, "tg_refresh"));
	json_object *methods = it_at(r, "methods");
	ck_assert_int_eq(json_object_array_length(methods), 2);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(methods, 0)), "totp");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(methods, 1)), "recovery_code");
	char token[256];
	snprintf(token, sizeof(token), "%s", it_str(r, "mfa_token"));
	it_free(r);

	/* the code that turned it on was used: a replay is refused, and so is a wrong one */
	r = second_step(token, "code", code);
	it_expect_problem(r, 401, "invalid_code");
	it_free(r);
	r = second_step(token, "code", bad);
	it_expect_problem(r, 401, "invalid_code");
	it_free(r);

	/* the token is still good for the right code */
	char next[8];
	totp_at(secret, step + 1, next);
	r = second_step(token, "code", next);
	expect_signed_in(r, u.email);
	it_free(r);

	/* single use */
	r = second_step(token, "code", next);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	/* neither a code nor a recovery code, or both */
	char body[512];
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\"}", token);
	r = req_json("POST", "/api/auth/login/mfa", NULL, body);
	expect_invalid(r, "code");
	it_free(r);
	r = second_step("not-a-token", "code", next);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
}
END_TEST

START_TEST(recovery_codes_each_once_renewed_and_off)
{
	struct it_user u;
	it_register(&u, "mfa-rc");
	char secret[64], codes[10][32];
	long long step = enable_mfa(&u, secret, codes);

	/* a recovery code signs in once, typed in capitals and without its dashes */
	char typed[32];
	size_t n = 0;
	for (const char *p = codes[0]; *p; p++)
		if (*p != '-')
			typed[n++] = (char)toupper((unsigned char)*p);
	typed[n] = '\0';
	char token[256];
	login_mfa_token(&u, token);
	struct it_resp *r = second_step(token, "recovery_code", typed);
	expect_signed_in(r, u.email);
	it_free(r);
	ck_assert_msg(wait_mail(u.email, "a recovery code was used", 15) >= 1, "no notice of the recovery code");
	login_mfa_token(&u, token);
	r = second_step(token, "recovery_code", codes[0]);
	it_expect_problem(r, 401, "invalid_code");
	it_free(r);

	/* a new set (password and code): the old codes stop working */
	char code[8];
	totp_at(secret, step + 1, code);
	r = post_as("/api/auth/mfa/recovery-codes", u.access, "{\"password\":\"%s\",\"code\":\"%s\"}", u.password, code);
	it_expect(r, 200, NULL);
	json_object *arr = it_at(r, "recovery_codes");
	ck_assert_int_eq(json_object_array_length(arr), 10);
	char fresh[32];
	snprintf(fresh, sizeof(fresh), "%s", json_object_get_string(json_object_array_get_idx(arr, 0)));
	for (int i = 0; i < 10; i++)
		ck_assert_str_ne(json_object_get_string(json_object_array_get_idx(arr, i)), codes[1]);
	it_free(r);
	ck_assert_msg(wait_mail(u.email, "new recovery codes were made", 15) >= 1, "no notice of the new codes");
	r = second_step(token, "recovery_code", codes[1]);
	it_expect_problem(r, 401, "invalid_code");
	it_free(r);

	/* off: the password and a code are checked, each naming its field */
	r = post_as("/api/auth/mfa/totp/disable", u.access, "{\"password\":\"%sx\",\"code\":\"%s\"}", u.password, fresh);
	expect_invalid(r, "password");
	it_free(r);
	char bad[8];
	wrong_code(secret, bad);
	r = post_as("/api/auth/mfa/totp/disable", u.access, "{\"password\":\"%s\",\"code\":\"%s\"}", u.password, bad);
	expect_invalid(r, "code");
	it_free(r);
	ck_assert(me_mfa_enabled(u.access));
	/* someone who lost the phone turns it off with a recovery code */
	r = post_as("/api/auth/mfa/totp/disable", u.access, "{\"password\":\"%s\",\"code\":\"%s\"}", u.password, fresh);
	it_expect(r, 204, NULL);
	it_free(r);
	ck_assert(!me_mfa_enabled(u.access));
	ck_assert_msg(wait_mail(u.email, "two-factor sign-in was turned off", 15) >= 1, "no notice of turning it off");
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM mfa_recovery_codes c JOIN users u ON u.id = c.user_id"
				     " WHERE u.email = '%s'", u.email), 0);
	/* the password alone signs in again */
	r = login_raw(u.email, u.password, "body", NULL);
	free(expect_token_response(r, 200, true, u.email));
	it_free(r);
	/* off already */
	r = post_as("/api/auth/mfa/totp/disable", u.access, "{\"password\":\"%s\",\"code\":\"%s\"}", u.password, "123456");
	it_expect_problem(r, 409, "conflict");
	it_free(r);
}
END_TEST

START_TEST(wrong_codes_count_toward_the_login_throttle)
{
	struct it_user u;
	it_register(&u, "mfa-throttle");
	char secret[64], codes[10][32];
	long long step = enable_mfa(&u, secret, codes);
	long maxf = cfg_long("login_max_failures", 5);
	char token[256], bad[8];
	login_mfa_token(&u, token);
	wrong_code(secret, bad);
	for (long i = 0; i < maxf; i++) {
		struct it_resp *r = second_step(token, "code", bad);
		it_expect_problem(r, 401, "invalid_code");
		it_free(r);
	}
	/* now even the right code waits, and so does the password */
	char code[8];
	totp_at(secret, step + 1, code);
	struct it_resp *r = second_step(token, "code", code);
	it_expect_problem(r, 429, "rate_limited");
	ck_assert_ptr_nonnull(it_header(r, "Retry-After"));
	it_free(r);
	r = login_raw(u.email, u.password, "body", NULL);
	it_expect_problem(r, 429, "rate_limited");
	it_free(r);
}
END_TEST

START_TEST(mfa_needs_a_signed_in_user)
{
	struct it_resp *r = req_json("POST", "/api/auth/mfa/totp/setup", NULL, "{\"password\":\"x\"}");
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = req_json("POST", "/api/auth/mfa/totp/enable", NULL, "{\"code\":\"123456\"}");
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	/* enabling before any setup */
	struct it_user u;
	it_register(&u, "mfa-nosetup");
	r = req_json("POST", "/api/auth/mfa/totp/enable", u.access, "{\"code\":\"123456\"}");
	it_expect_problem(r, 409, "conflict");
	it_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accounts_mfa");
	TCase *tc = tcase_create("mfa");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, setup_enable_and_sign_in_with_a_code);
	tcase_add_test(tc, recovery_codes_each_once_renewed_and_off);
	tcase_add_test(tc, wrong_codes_count_toward_the_login_throttle);
	tcase_add_test(tc, mfa_needs_a_signed_in_user);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
