/* itest.h — helpers for integration tests: HTTPS requests through nginx with libcurl,
 * JSON access, shell access to the stack (scripts/stack), unique users. */
#ifndef TOLLGATE_ITEST_H
#define TOLLGATE_ITEST_H

#include <check.h>
#include <json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct it_resp {
	long status;
	char *body;
	size_t body_len;
	char *headers;       /* raw header block of the final response */
	json_object *json;   /* parsed body when it is JSON, else NULL */
	double seconds;      /* total time */
};

/* Options of one request; zero-initialise and set what you need. */
struct it_req {
	const char *method;        /* default GET */
	const char *path;          /* "/api/..." appended to TG_URL */
	const char *bearer;        /* Authorization: Bearer … */
	const char *json;          /* body sent as application/json */
	const char *body;          /* raw body (with content_type) */
	size_t body_len;           /* for raw bodies with NULs; 0 = strlen */
	const char *content_type;
	const char *cookie;        /* Cookie header value */
	const char *origin;        /* Origin header */
	const char *headers[8];    /* extra "Name: value" lines, NULL-terminated */
};

/* Base URL (TG_URL), origin (TG_ORIGIN) and stack dir (TG_STACK_DIR) from the environment. */
const char *it_url(void);
const char *it_origin(void);
const char *it_stack_dir(void);

struct it_resp *it_do(const struct it_req *r);
/* Shorthands. */
struct it_resp *it_get(const char *path, const char *bearer);
struct it_resp *it_post(const char *path, const char *bearer, const char *json);
void it_free(struct it_resp *r);

/* First value of header name (case-insensitive) in r, copied into a static buffer, or NULL. */
const char *it_header(const struct it_resp *r, const char *name);
/* The value of cookie name set by r's Set-Cookie headers, or NULL ("" for a deletion). */
const char *it_set_cookie(const struct it_resp *r, const char *name);
/* The string at a dotted path ("user.email") of r's JSON, or NULL. */
const char *it_str(const struct it_resp *r, const char *path);
json_object *it_at(const struct it_resp *r, const char *path);
/* The problem "code" of r (NULL unless application/problem+json). */
const char *it_code(const struct it_resp *r);

/* Asserts status and (when code != NULL) the problem code; prints the body on failure. */
#define it_expect(r, st, code_) it_expect_at(__FILE__, __LINE__, (r), (st), (code_))
void it_expect_at(const char *file, int line, const struct it_resp *r, long status, const char *code);

/* A fresh address that no other test uses: "<prefix>-<pid>-<n>-<rand>@example.com". */
const char *it_unique_email(const char *prefix);

struct it_user {
	char email[128];
	char password[64];
	char id[64];
	char access[1024];
	char refresh[128];
	char session_id[64];
};
/* Registers a new user in body mode; fails the test on error. */
void it_register(struct it_user *u, const char *prefix);
/* Logs in (body mode) and refreshes u->access/refresh; returns the HTTP status. */
long it_login(struct it_user *u);

/* The tollgate binary under test: TOLLGATE_BIN, else TG_TOLLGATE_BIN, else $TG_REPO/bin/tollgate. */
const char *it_tollgate_bin(void);

/* Runs a shell command (printf format) from the repository root; returns its exit status. */
int it_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs a shell command and returns its trimmed stdout (static buffer). */
const char *it_sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs one SQL statement against the stack's database; returns trimmed output (static). */
const char *it_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sleeps ms milliseconds (through signals). */
void it_sleep_ms(long ms);
/* Runs one SQL statement returning one number; fails the test when it does not. */
long long it_sql_long(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs suite with Check, prints results, returns an exit code. */
int it_run_suite(Suite *s);

/* ---- shared by the suites (moved here when the suites were split by area) ---- */

/* Milliseconds on the monotonic clock. */
int64_t it_now_ms(void);

/* Number of header lines called name in r's final header block. */
int it_header_count(const struct it_resp *r, const char *name);
/* Content-Type is exactly type (optionally followed by parameters). */
void it_expect_content_type(const struct it_resp *r, const char *type);
/* r carries exactly one X-Request-Id, nginx's 32 lowercase hex digits; copied to out when not NULL. */
void it_expect_request_id(const struct it_resp *r, char out[64]);
/* r is an RFC 9457 problem document as API.md describes: the status and code, problem+json, type,
 * title, numeric status, detail, request_id equal to the X-Request-Id header, and `errors` (a
 * non-empty object) on 422 validation_failed only. */
#define it_expect_problem(r, st, code) it_expect_problem_at(__FILE__, __LINE__, (r), (st), (code))
void it_expect_problem_at(const char *file, int line, const struct it_resp *r, long status, const char *code);

/* The integer / boolean at a dotted path of r's JSON; fails the test when it is not one. */
long long it_int(const struct it_resp *r, const char *path);
bool it_bool(const struct it_resp *r, const char *path);

/* True when the stack runs the sanitizer build (TG_SANITIZE=1, exported by scripts/run-tests). */
bool it_sanitizer_build(void);
/* Whether to make a timing assertion (a duration, a latency, comparable timings): false in the
 * sanitizer build, whose timings say nothing about the release build's, with a note on stderr
 * naming what is skipped. Use: if (it_timing_checked("what")) ck_assert_msg(duration < …). */
#define it_timing_checked(what) it_timing_checked_at(__FILE__, __LINE__, (what))
bool it_timing_checked_at(const char *file, int line, const char *what);

#endif
