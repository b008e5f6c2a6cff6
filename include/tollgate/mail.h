/* mail.h — email: the durable outbox, templates, MIME, and the SMTP/file transports.
 *
 * Requests only enqueue (a row in email_outbox, inside the caller's transaction); the jobs
 * worker renders and delivers, retrying with backoff. */
#ifndef TOLLGATE_MAIL_H
#define TOLLGATE_MAIL_H

#include <json.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct arena;
struct db;
struct tg_config;

/* Email kinds; each has conf/templates/<kind>.subject, .txt and .html. */
#define MAIL_VERIFY_EMAIL "verify_email"
#define MAIL_PASSWORD_RESET "password_reset"
#define MAIL_PASSWORD_CHANGED "password_changed"
#define MAIL_WELCOME "welcome"
#define MAIL_USAGE_WARNING "usage_warning"
#define MAIL_PAYMENT_FAILED "payment_failed"

/* Queues an email of kind to `to` with template variables vars (not consumed).
 * Call inside the transaction of the action that causes it. */
int mail_enqueue(struct db *db, struct arena *a, const char *kind, const char *to, const char *user_id,
		 json_object *vars);

/* --- the product's messages (messages.c): token, email and in-app notification together --- */
struct account_user;
/* A verification token (verify_token_ttl) and the verify_email message. */
int mail_queue_verification(struct db *db, struct arena *a, const struct tg_config *cfg,
			    const struct account_user *u);
/* A reset token (reset_token_ttl) and the password_reset message. */
int mail_queue_password_reset(struct db *db, struct arena *a, const struct tg_config *cfg,
			      const struct account_user *u);
/* The password_changed message and its in-app notification. */
int mail_queue_password_changed(struct db *db, struct arena *a, const struct tg_config *cfg,
				const struct account_user *u);
/* The welcome in-app notification, and the email unless product emails are off. */
int mail_queue_welcome(struct db *db, struct arena *a, const struct tg_config *cfg, const struct account_user *u);
/* The variables every template gets: app_name, origin, name (or the email), email. Caller owns. */
json_object *mail_vars(const struct tg_config *cfg, const struct account_user *u);

/* Deletes every outbox row of user_id (pending ones are not sent; sent ones hold the address):
 * part of deleting an account. */
int mail_forget_user(struct db *db, struct arena *a, const char *user_id);

/* --- templates (template.c) --- */
/* Replaces {{name}} with vars' string/number values; html_escape escapes them for HTML.
 * Unknown names become "". Returns an arena string or NULL. */
char *mail_render(struct arena *a, const char *tpl, json_object *vars, bool html_escape);
/* Loads <dir>/<kind>.{subject,txt,html} and renders all three. TG_ENOTFOUND when missing. */
int mail_render_kind(struct arena *a, const char *dir, const char *kind, json_object *vars, char **subject,
		     char **text, char **html);
/* The templates directory for cfg (templates_dir, else data_dir/templates, else data_dir/conf/templates). */
const char *mail_templates_dir(const struct tg_config *cfg, struct arena *a);

/* --- MIME (mime.c) --- */
struct mail_message {
	const char *from;        /* "Name <addr>" or "addr" */
	const char *to;
	const char *subject;     /* UTF-8 */
	const char *text, *html; /* UTF-8 bodies */
	const char *message_id;  /* "<...>" */
	time_t date;
};
/* A complete RFC 5322 message (CRLF line ends), multipart/alternative text + HTML. */
char *mail_build(struct arena *a, const struct mail_message *m);
/* RFC 2047 encoded-word form of a header value when it is not plain ASCII (else a copy). */
char *mail_encode_header(struct arena *a, const char *value);
/* Quoted-printable body (RFC 2045), CRLF line ends, lines at most 76 characters. */
char *mail_qp_encode(struct arena *a, const char *s);
/* The bare address of "Name <addr>" (or addr itself). */
char *mail_address_of(struct arena *a, const char *from);

/* --- delivery (transport.c, outbox.c) --- */
/* Seconds to wait before attempt number `attempt` (1-based count of failures so far). */
long mail_backoff_seconds(int attempt, int base, int max);
/* Sends one message through the configured transport. On failure writes a short reason. */
int mail_transport_send(const struct tg_config *cfg, struct arena *a, const char *from, const char *to,
			const char *message, long outbox_id, char *err, size_t errlen);
/* Delivers every due outbox row, one transaction per row (FOR UPDATE SKIP LOCKED).
 * Returns the number of rows handled, or a negative status. */
int mail_deliver_due(struct db *db, struct arena *a, const struct tg_config *cfg);

#endif
