/* account.h — users: registration, login, profile, password change, deletion.
 *
 * Every function takes the worker's db and the request arena; strings it returns live in
 * that arena. Each state change writes its audit_log entry in the same statement. */
#ifndef TOLLGATE_ACCOUNT_H
#define TOLLGATE_ACCOUNT_H

#include <json.h>
#include "tollgate/jobs.h"
#include <libpq-fe.h>
#include <stdbool.h>

struct arena;
struct db;

/* The User object of API.md. */
struct account_user {
	const char *id, *email, *name, *role, *plan, *created_at;
	bool email_verified, mfa_enabled;
};

/* Where a request came from, recorded on sessions and audit entries. */
struct account_client {
	const char *ip, *user_agent;
};

/* What a new or refreshed session hands back to the client. */
struct account_tokens {
	const char *session_id;
	const char *refresh_token; /* plaintext, only here; the database keeps its hash */
};

/* Trims and lower-cases email into arena memory; NULL when it does not look like an address,
 * is longer than 254 characters or is not ASCII (internationalised addresses need SMTPUTF8). */
char *account_normalize_email(struct arena *a, const char *email);
/* Validates a display name (at most 100 characters, no control characters). */
bool account_name_valid(const char *name);
/* Trims name into *out (arena memory). Returns NULL when it is acceptable, else the reason. */
const char *account_normalize_name(struct arena *a, const char *name, char **out);
/* User fields starting at column col0 of row. The 8 columns of ACCOUNT_USER_COLUMNS. */
void account_user_from_row(const PGresult *r, int row, int col0, struct account_user *u);
/* A new User JSON object (caller owns it). */
json_object *account_user_json(const struct account_user *u);

/* Creates the user and its first session. TG_ECONFLICT when the email is taken. */
int account_register(struct db *db, struct arena *a, const char *email, const char *name, const char *hash,
		     int refresh_ttl, const struct account_client *cl, struct account_user *u,
		     struct account_tokens *t);

struct account_login {
	bool found;              /* the email belongs to a user */
	bool suspended;
	const char *password_hash;
	int locked_seconds;      /* > 0: throttled for this many more seconds */
	struct account_user user;
};
struct account_throttle {
	int max_failures, window, lockout_base, lockout_max; /* seconds */
};
/* Counts a login attempt for email against the throttle (before the password is checked, so
 * parallel guesses cannot pass the limit) and looks the user up, in one query.
 * locked_seconds > 0: the account is locked and the attempt was not counted. */
int account_login_lookup(struct db *db, struct arena *a, const char *email, const struct account_throttle *th,
			 struct account_login *out);
/* Counts a password check other than login (change password, delete account) against the same
 * throttle. *locked_seconds > 0: refused, try again later. */
int account_throttle_attempt(struct db *db, struct arena *a, const char *email, const struct account_throttle *th,
			     int *locked_seconds);
/* Clears the throttle of email after a correct password. */
int account_throttle_clear(struct db *db, struct arena *a, const char *email);
/* Audits a failed password check for email (user_id may be NULL). */
int account_login_failed(struct db *db, struct arena *a, const char *email, const char *user_id,
			 const struct account_client *cl);
/* Clears the throttle, stores new_hash when not NULL (upgrade), creates a session, audits. */
int account_login_succeeded(struct db *db, struct arena *a, const char *user_id, const char *email,
			    const char *new_hash, int refresh_ttl, const struct account_client *cl,
			    struct account_tokens *t);

/* The stored hash and email of a user (for password re-checks). TG_ENOTFOUND when gone. */
int account_password_of(struct db *db, struct arena *a, const char *user_id, const char **hash,
			const char **email);
/* Sets a new name; fills u. */
int account_update_name(struct db *db, struct arena *a, const char *user_id, const char *name,
			const struct account_client *cl, struct account_user *u);
/* Stores a new hash and revokes every session but keep_session_id; audits. */
int account_change_password(struct db *db, struct arena *a, const char *user_id, const char *hash,
			    const char *keep_session_id, const struct account_client *cl);
/* Deletes the user and everything they own; the audit entry stays. */
int account_delete(struct db *db, struct arena *a, const char *user_id, const struct account_client *cl);
/* Creates a verified user with role (for the CLI). TG_ECONFLICT when the email is taken. */
int account_create(struct db *db, struct arena *a, const char *email, const char *name, const char *hash,
		   const char *role, const char **id);

/* Fixed-window rate limit on key: *retry_after > 0 when over limit per window seconds. */
int account_rate_limit(struct db *db, struct arena *a, const char *key, int limit, int window,
		       int *retry_after);

/* One-time tokens: kind "reset" or "verify". */
#define ACCOUNT_TOKEN_RESET "reset"
#define ACCOUNT_TOKEN_VERIFY "verify"
/* Issues a token of kind for user_id valid ttl seconds, killing the older unused ones of that
 * kind. The plaintext (arena) goes to *token; only its hash is stored. */
int account_token_issue(struct db *db, struct arena *a, const char *user_id, const char *kind, int ttl,
			char **token);
/* The active user a live token of kind belongs to, without using it. TG_ENOTFOUND otherwise. */
int account_token_user(struct db *db, struct arena *a, const char *kind, const char *token,
		       struct account_user *u);
/* Uses a reset token: new password hash, email verified, every session revoked, other reset
 * tokens killed, audited. Fills u; *newly_verified tells whether this reset verified the email.
 * TG_ENOTFOUND when the token is not live. */
int account_reset_password(struct db *db, struct arena *a, const char *token, const char *hash,
			   const struct account_client *cl, struct account_user *u, bool *newly_verified);
/* Uses a verify token: the email is verified. Fills u; *newly_verified is false when it already
 * was. TG_ENOTFOUND when the token is not live. */
int account_verify_email(struct db *db, struct arena *a, const char *token, const struct account_client *cl,
			 struct account_user *u, bool *newly_verified);
/* Finds a user by normalised email. TG_ENOTFOUND when none; *active tells suspension apart. */
int account_find_by_email(struct db *db, struct arena *a, const char *email, struct account_user *u,
			  bool *active);
/* Finds a user by id. TG_ENOTFOUND when none; *active tells suspension apart. */
int account_find_by_id(struct db *db, struct arena *a, const char *id, struct account_user *u, bool *active);
/* Deletes expired sessions, tokens and counters (bounded). */
int account_cleanup(struct db *db, struct arena *a);


/* --- emails with a token, and the area's jobs (account_mail.c) --- */
struct tg_config;
struct mail_recipient;
/* The recipient of u's emails (arena memory). */
struct mail_recipient *account_recipient(struct arena *a, const struct account_user *u);
/* A verification token (verify_token_ttl) and the verify_email message, in the caller's transaction. */
int account_queue_verification(struct db *db, struct arena *a, const struct tg_config *cfg,
			       const struct account_user *u);
/* Queues the job that looks email up and sends a reset link when it belongs to an active user. */
int account_queue_reset_request(struct db *db, struct arena *a, const char *email);

#define ACCOUNT_JOB_PASSWORD_RESET "password_reset" /* payload {"email"} */
extern const struct jobs_kind account_jobs[];
extern const struct jobs_task account_tasks[];

#endif
