/* mfa.h — two-factor sign-in: a TOTP factor per user (secret sealed with AES-256-GCM), ten
 * single-use recovery codes stored hashed, and the challenge (mfa_token) that joins a login's
 * password step to its code step (5 minutes, single use). */
#ifndef TOLLGATE_MFA_H
#define TOLLGATE_MFA_H

#include <json.h>
#include <stdbool.h>
#include <time.h>

struct arena;
struct db;
struct tg_config;

#define MFA_RECOVERY_CODES 10
#define MFA_CHALLENGE_TTL 300

/* Whether 2FA can be used here (mfa_encryption_key is set). */
bool mfa_configured(const struct tg_config *cfg);

/* Starts (or restarts) setting up TOTP for a user whose 2FA is off: a new secret, pending until
 * a code confirms it. *secret is its base32 form, *uri the otpauth:// URI. TG_ECONFLICT: 2FA is on. */
int mfa_setup(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id, const char *email,
	      char **secret, char **uri);
/* Confirms the pending factor with a code and turns 2FA on; *codes: the recovery codes (a JSON
 * array of strings, caller owns) shown once. TG_EINPUT: wrong code; TG_ENOTFOUND: nothing pending;
 * TG_ECONFLICT: already on. In the caller's transaction. */
int mfa_enable(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id, const char *code,
	       time_t now, json_object **codes);
/* Checks a TOTP code (or, when recovery is true, a recovery code) of an enabled factor and uses it
 * up (a code works once). TG_EAUTH when wrong; TG_ENOTFOUND when 2FA is off. In the caller's
 * transaction (it locks the factor). */
int mfa_verify(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id, const char *code,
	       bool recovery, time_t now);
/* Turns 2FA off (factor and codes deleted). */
int mfa_disable(struct db *db, struct arena *a, const char *user_id);
/* A new set of recovery codes replacing the old (JSON array, caller owns). */
int mfa_new_recovery_codes(struct db *db, struct arena *a, const char *user_id, json_object **codes);

/* A challenge for user_id's second step: the plaintext token (arena) in *token. */
int mfa_challenge_new(struct db *db, struct arena *a, const char *user_id, char **token);
/* The user of a live (unexpired, unused) challenge. TG_ENOTFOUND otherwise. */
int mfa_challenge_user(struct db *db, struct arena *a, const char *token, const char **user_id);
/* Uses the challenge up (in the sign-in's transaction). TG_ENOTFOUND when it was used meanwhile. */
int mfa_challenge_use(struct db *db, struct arena *a, const char *token);

#endif
