/* outbox.c — queueing emails in PostgreSQL and delivering them from the jobs worker. */
#include "tollgate/mail.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/crypto.h"
#include "tollgate/db.h"
#include "tollgate/log.h"
#include "tollgate/status.h"
#include "tollgate/timeutil.h"
#include "mail_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DELIVER_BATCH 50
#define WAKE_BATCH "20"     /* woken per successful delivery */

int mail_enqueue(struct db *db, struct arena *a, const char *kind, const char *to, const char *user_id,
		 json_object *vars)
{
	unsigned char rnd[16];
	char hex[33];
	if (crypto_random(rnd, sizeof(rnd)) != 0)
		return TG_EINTERNAL;
	crypto_hex(rnd, sizeof(rnd), hex);
	/* A stable Message-ID per row: a resend after a crash carries the same id. */
	char *mid = arena_printf(a, "<%s.%s@%s>", kind, hex, "tollgate.mail");
	const char *vtext = json_object_to_json_string_ext(vars, JSON_C_TO_STRING_PLAIN);
	char *vcopy = arena_strdup(a, vtext);
	if (!mid || !vcopy)
		return TG_ENOMEM;
	const char *p[] = {kind, to, user_id, vcopy, mid};
	return db_exec(db, a, &mail_stmts, MAIL_ENQUEUE, 5, p, NULL);
}

int mail_forget_user(struct db *db, struct arena *a, const char *user_id)
{
	const char *p[] = {user_id};
	return db_exec(db, a, &mail_stmts, MAIL_FORGET_USER, 1, p, NULL);
}

/* Renders and sends the claimed row; records the outcome. No transaction is open. */
static int deliver_row(struct db *db, struct arena *a, const struct tg_config *cfg, PGresult *r)
{
	const char *id = db_value(r, 0, 0), *kind = db_value(r, 0, 1), *to = db_value(r, 0, 2);
	const char *vars_text = db_value(r, 0, 3), *mid = db_value(r, 0, 4);
	int attempts = (int)db_int(r, 0, 5);
	bool too_old = db_bool(r, 0, 6);

	json_object *vars = json_tokener_parse(vars_text ? vars_text : "{}");
	arena_own_json(a, vars);
	char err[512] = "";
	char *subject, *text, *html;
	int rc = mail_render_kind(a, mail_templates_dir(cfg, a), kind, vars, &subject, &text, &html);
	if (rc != TG_OK) {
		snprintf(err, sizeof(err), "template %s: %s", kind, tg_strerror(rc));
		const char *p[] = {id, err};
		log_error("email %s (%s) cannot be rendered: %s", id, kind, err);
		return db_exec(db, a, &mail_stmts, MAIL_FAILED, 2, p, NULL);
	}
	struct mail_message m = {cfg->mail_from, to, subject, text, html, mid, time(NULL)};
	char *msg = mail_build(a, &m);
	if (!msg)
		return TG_ENOMEM;
	rc = mail_transport_send(cfg, a, cfg->mail_from, to, msg, strtol(id, NULL, 10), err, sizeof(err));
	if (rc == TG_OK) {
		const char *p[] = {id};
		log_info("email %s (%s) delivered", id, kind);
		rc = db_exec(db, a, &mail_stmts, MAIL_SENT, 1, p, NULL);
		const char *wp[] = {WAKE_BATCH};
		if (rc == TG_OK && (rc = db_exec(db, a, &mail_stmts, MAIL_WAKE, 1, wp, &r)) == TG_OK &&
		    PQcmdTuples(r)[0] != '0')
			log_info("delivery works again: %s waiting emails are due now", PQcmdTuples(r));
		return rc;
	}
	if (too_old) {
		const char *p[] = {id, err};
		log_error("email %s (%s) failed for good after %d attempts: %s", id, kind, attempts + 1, err);
		return db_exec(db, a, &mail_stmts, MAIL_FAILED, 2, p, NULL);
	}
	char wait[24];
	snprintf(wait, sizeof(wait), "%ld", time_backoff_seconds(attempts + 1, cfg->mail_retry_base, cfg->mail_retry_max));
	const char *p[] = {id, err, wait};
	log_warn("email %s (%s) not delivered (attempt %d), retrying in %s s: %s", id, kind, attempts + 1, wait, err);
	return db_exec(db, a, &mail_stmts, MAIL_RETRY, 3, p, NULL);
}

int mail_deliver_due(struct db *db, struct arena *a, const struct tg_config *cfg)
{
	char give_up[24];
	snprintf(give_up, sizeof(give_up), "%d", cfg->mail_give_up_after);
	int handled = 0;
	bool more = true;
	while (more && handled < DELIVER_BATCH) {
		PGresult *due;
		int rc = db_exec(db, NULL, &mail_stmts, MAIL_DUE, 0, NULL, &due);
		if (rc != TG_OK)
			return -rc;
		more = false;
		for (int i = 0; i < PQntuples(due) && rc == TG_OK; i++) {
			const char *id = db_value(due, i, 0);
			bool got;
			if ((rc = db_try_lock(db, a, DB_LOCK_OUTBOX, id, &got)) != TG_OK || !got)
				continue; /* another worker sends it */
			const char *p[] = {id, give_up};
			PGresult *r;
			if ((rc = db_exec(db, a, &mail_stmts, MAIL_TAKE, 2, p, &r)) == TG_OK && PQntuples(r) == 1) {
				rc = deliver_row(db, a, cfg, r);
				handled++;
				more = true;
			}
			db_unlock(db, a, DB_LOCK_OUTBOX, id);
		}
		PQclear(due);
		if (rc != TG_OK)
			return -rc;
	}
	return handled;
}

int mail_wake_if_back(struct db *db, struct arena *a, const struct tg_config *cfg)
{
	PGresult *r;
	int rc = db_exec(db, a, &mail_stmts, MAIL_WAITING, 0, NULL, &r);
	if (rc != TG_OK)
		return -rc;
	if (!db_bool(r, 0, 0) || mail_transport_probe(cfg) != TG_OK)
		return 0;
	const char *wp[] = {WAKE_BATCH};
	if ((rc = db_exec(db, a, &mail_stmts, MAIL_WAKE, 1, wp, &r)) != TG_OK)
		return -rc;
	int n = (int)strtol(PQcmdTuples(r), NULL, 10);
	if (n)
		log_info("the mail server answers again: %d waiting emails are due now", n);
	return n;
}
