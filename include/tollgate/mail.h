/* mail.h — email: the durable outbox, templates, MIME, and the SMTP/file transports.
 *
 * Requests only enqueue (a row in email_outbox, inside the caller's transaction); the jobs
 * worker renders and delivers, retrying with backoff. */
#ifndef TOLLGATE_MAIL_H
#define TOLLGATE_MAIL_H

#include <json.h>
#include "tollgate/jobs.h"
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
#define MAIL_SECURITY_NOTICE "security_notice"

/* Queues an email of kind to `to` with template variables vars (not consumed).
 * Call inside the transaction of the action that causes it. */
int mail_enqueue(struct db *db, struct arena *a, const char *kind, const char *to, const char *user_id,
		 json_object *vars);

/* --- the product's messages (messages.c) --- */
/* Who an email goes to: a user, or only an address (user_id NULL). */
struct mail_recipient {
	const char *user_id, *email, *name;
};
/* Queues the message kind to u with the template variable "link" (may be NULL). */
int mail_queue_link(struct db *db, struct arena *a, const struct tg_config *cfg, const char *kind,
		    const struct mail_recipient *u, const char *link);
/* The password_changed message and its in-app notification. */
int mail_queue_password_changed(struct db *db, struct arena *a, const struct tg_config *cfg,
				const struct mail_recipient *u);
/* The welcome in-app notification, and the email unless product emails are off. */
int mail_queue_welcome(struct db *db, struct arena *a, const struct tg_config *cfg, const struct mail_recipient *u);
/* The usage notice of metric reaching threshold % (used of limit): in-app, and by email as the
 * usage_warnings preference allows. In the caller's transaction. */
int mail_queue_usage_warning(struct db *db, struct arena *a, const struct tg_config *cfg, const struct mail_recipient *u,
			     const char *metric, int threshold, long long used, long long limit);
/* A security notice (always sent: security emails cannot be turned off) and its in-app notice:
 * change says what happened ("two-factor sign-in was turned on"). */
int mail_queue_security_notice(struct db *db, struct arena *a, const struct tg_config *cfg,
				const struct mail_recipient *u, const char *change);
/* Queues the payment_failed job (in-app notice, and the email as the billing preference allows). */
int mail_queue_payment_failed(struct db *db, struct arena *a, const struct mail_recipient *u);
/* A string member of a job payload, or NULL. */
const char *mail_payload_str(json_object *payload, const char *key);

/* The area's job kinds and periodic tasks (server/ assembles the jobs table). */
#define MAIL_JOB_PAYMENT_FAILED "payment_failed" /* payload {user_id, email, name} */
extern const struct jobs_kind mail_jobs[];
extern const struct jobs_task mail_tasks[];

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
/* Sends one message through the configured transport. On failure writes a short reason. */
int mail_transport_send(const struct tg_config *cfg, struct arena *a, const char *from, const char *to,
			const char *message, long outbox_id, char *err, size_t errlen);
/* Whether the transport answers (SMTP: connect, greeting, NOOP). TG_OK or TG_EUNAVAIL. */
int mail_transport_probe(const struct tg_config *cfg);
/* When emails wait out a backoff after failures, probes the transport and, when it answers
 * again, makes them due now (a bounded batch). Returns how many were woken, or -status. */
int mail_wake_if_back(struct db *db, struct arena *a, const struct tg_config *cfg);
/* Delivers every due outbox row, one transaction per row (FOR UPDATE SKIP LOCKED).
 * Returns the number of rows handled, or a negative status. */
int mail_deliver_due(struct db *db, struct arena *a, const struct tg_config *cfg);

#endif
