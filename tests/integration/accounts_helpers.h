/* accounts_helpers.h — helpers of the accounts suites (test_accounts_*.c): the stack's
 * configuration, the documented shapes (User, token response, cookies), requests of the Accounts
 * section of API.md, sessions, and decoding the server's JWTs.
 *
 * The suites need a running stack (scripts/stack start DIR; . DIR/stack.env): TG_URL, TG_ORIGIN,
 * TG_STACK_DIR, TG_CONFIG (the stack's tollgate.conf: bcrypt_cost, login_lockout_base,
 * refresh_reuse_interval, access_token_ttl and jwt_secret_file are read from it) and TG_REPO. */
#ifndef TOLLGATE_ACCOUNTS_HELPERS_H
#define TOLLGATE_ACCOUNTS_HELPERS_H

#include "itest.h"

#include <json.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- the stack's configuration (environment TOLLGATE_<KEY> overrides the file, as in the server) */

/* Last value of key in TG_CONFIG (or the environment override) into out; false when unset. */
bool cfg_lookup(const char *key, char *out, size_t outlen);
long cfg_long(const char *key, long dflt);
/* A duration ("30s", "15m", "2h", "30d", "10") in seconds. */
long cfg_seconds(const char *key, long dflt);
/* s without leading and trailing white space (in place). */
char *trim(char *s);

/* ---- small helpers */

/* Appends "é" (2 bytes of UTF-8) to the NUL-terminated buf of size cap. */
void append_e_acute(char *buf, size_t cap);
double now_s(void);
void sleep_s(double s);
char *xstrdup(const char *s);
/* The whole Set-Cookie line (after "Set-Cookie: ") that sets cookie name, or NULL (malloc'd). */
char *set_cookie_line(const struct it_resp *r, const char *name);
/* Does the cookie line carry attribute attr (case-insensitive, exact between semicolons)? */
bool cookie_has_attr(const char *line, const char *attr);
bool is_uuid(const char *s);
/* 2026-11-29T13:42:50Z (no fractional seconds). */
bool is_rfc3339_utc(const char *s);
json_object *obj_get(json_object *o, const char *key);
const char *obj_str(json_object *o, const char *key);
/* Runs one SQL statement; fails the test on an error. */
void sql_exec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Waits up to secs for a message to addr in TG_MAIL_DIR whose text contains needle
 * (case-insensitive); returns how many there are. */
int wait_mail(const char *addr, const char *needle, double secs);

/* ---- the server's JWTs */

/* The payload / header of a JWT as JSON (caller puts it). */
json_object *jwt_claims(const char *tok);
json_object *jwt_header(const char *tok);
/* The sid claim of an access token into out. */
void token_sid(const char *tok, char *out, size_t n);

/* ---- expectations on the documented shapes */

/* 422 validation_failed with errors.<field> (a non-empty string). */
#define expect_invalid(r, field) expect_invalid_at(__FILE__, __LINE__, (r), (field))
void expect_invalid_at(const char *file, int line, const struct it_resp *r, const char *field);
void expect_no_store(const struct it_resp *r);
void expect_json_ct(const struct it_resp *r);
/* The User object: exactly id, email, name, role, email_verified, mfa_enabled, plan, created_at,
 * terms_accepted. */
void expect_user(json_object *u, const char *email);
/* HttpOnly; Secure; SameSite=Strict; Path=/api/auth */
void expect_cookie_attrs(const char *line);
/* A token response (register, login, refresh). Returns the refresh token (cookie or body), malloc'd. */
char *expect_token_response(const struct it_resp *r, long status, bool body_mode, const char *email);

/* ---- requests */

struct it_resp *req_json(const char *method, const char *path, const char *bearer, const char *json);
/* mode: "body", "cookie", another string, or NULL (not sent); ua: a User-Agent or NULL. */
struct it_resp *login_raw(const char *email, const char *password, const char *mode, const char *ua);
struct it_resp *register_raw(const char *email, const char *password, const char *mode);

/* A second (third, …) session of u, body mode. */
struct sess {
	char access[1024];
	char refresh[128];
	char sid[64];
};
void login_session(const struct it_user *u, const char *ua, struct sess *s);
/* The session u got at registration (or its last it_login). */
void user_session(const struct it_user *u, struct sess *s);
/* GET /api/auth/me with access: the status (a 401 must be the documented problem). */
long me_status(const char *access);
struct it_resp *refresh_body(const char *token);
long refresh_status(const char *token);
/* The item of a session list with that id, or NULL. */
json_object *find_session(json_object *items, const char *id);
long audit_count(const char *action, const char *column, const char *value);

#endif
