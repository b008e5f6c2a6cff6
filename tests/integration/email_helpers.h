/* email_helpers.h — helpers of the email suites (test_email_*.c), black-box through nginx with a
 * real SMTP server (tests/fixtures/smtp_server.py, started by scripts/stack) that saves every message
 * it receives as $TG_MAIL_DIR/<timestamp>-<n>.eml: the mailbox (waiting for a message, parsing it
 * with mail_parse.h, following its link), and the API of the "Email, recovery and notifications"
 * section of API.md. Every wait is bounded. The stack must use mail_transport = smtp (scripts/stack's
 * default). */
#ifndef TOLLGATE_EMAIL_HELPERS_H
#define TOLLGATE_EMAIL_HELPERS_H

#include "itest.h"
#include "mail_parse.h"

#include <stdbool.h>
#include <stddef.h>

/* Subjects of the product's messages (conf/templates/<kind>.subject), matched as substrings. */
#define SUBJ_VERIFY "Confirm your email"
#define SUBJ_RESET "Reset your"
#define SUBJ_CHANGED "password was changed"
#define SUBJ_WELCOME "Welcome to"

#define MAIL_WAIT_MS 10000 /* an email must arrive within this after its cause */

/* ---- requests */

/* A problem document check for 422 with errors.<field> present. */
void expect_field_error(const struct it_resp *r, const char *field);
struct it_resp *post_json(const char *path, const char *bearer, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct it_resp *put_json(const char *path, const char *bearer, const char *json);
/* The boolean at path is want. */
void expect_bool(const struct it_resp *r, const char *path, bool want);

/* ---- the mailbox */

struct mails {
	int n;
	struct mail *v[256];
};
void mails_free(struct mails *ms);
/* The mail directory: TG_MAIL_DIR, else <stack>/mail. */
const char *mail_dir(void);
/* Every message to addr whose decoded subject contains subj (NULL: any), oldest first. */
void mailbox_collect(const char *addr, const char *subj, struct mails *out);
int mailbox_count(const char *addr, const char *subj);
/* What the outbox knows about addr (for failure messages; static buffer). */
const char *outbox_state(const char *addr);
/* Waits (bounded) until at least want messages to addr with subj arrived; fills out with all of
 * them and fails the test on timeout. */
void mail_wait(const char *addr, const char *subj, int want, int timeout_ms, struct mails *out);
/* Asserts the message is well-formed and addressed to addr. */
void mail_expect_ok(const struct mail *m, const char *addr);
/* Waits for exactly one more message: the newest of want arrivals, well-formed; caller frees. */
struct mail *mail_wait_one(const char *addr, const char *subj, int want);
/* Extracts the token of the link <origin><path>?token=… from the text part (asserting the HTML
 * part carries the same link). */
void mail_link_token(const struct mail *m, const char *path, char *tok, size_t cap);
/* Waits for the want-th message with subj to addr and returns its link token. */
void wait_token(const char *addr, const char *subj, int want, const char *path, char *tok, size_t cap);
/* Asserts that no message to addr with subj arrives within ms (and that exactly `have` exist). */
void mail_expect_count_after(const char *addr, const char *subj, int have, int ms);

/* ---- API shorthands */

struct it_resp *verify(const char *token);
struct it_resp *reset(const char *token, const char *password);
struct it_resp *forgot(const char *email);
/* forgot-password answers 202 {"status": "accepted", "message": …}. */
void expect_forgot_accepted(const char *email);
bool user_verified(const char *access);
/* Registers u and verifies its email through the link of its verification message. */
void register_verified(struct it_user *u, const char *prefix);
/* Number of notifications of kind for the user. */
int notification_count(const char *access, const char *kind);
/* change-password to fresh (204), remembered in u. */
void change_password(struct it_user *u, const char *fresh);

#endif
