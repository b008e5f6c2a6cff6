/* mfa.c — TOTP factors, recovery codes and login challenges. */
#include "tollgate/mfa.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/crypto.h"
#include "tollgate/db.h"
#include "tollgate/status.h"
#include "tollgate/totp.h"
#include "tollgate/uuid.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

enum mfa_stmt {
	MFA_PENDING_SAVE,
	MFA_FACTOR_LOCK,
	MFA_FACTOR_ENABLE,
	MFA_STEP_USED,
	MFA_CODES_REPLACE,
	MFA_CODE_INSERT,
	MFA_CODE_USE,
	MFA_DISABLE,
	MFA_CHALLENGE_NEW,
	MFA_CHALLENGE_USER,
	MFA_CHALLENGE_USE,
	MFA_STMT__COUNT
};

static const char *const sql[MFA_STMT__COUNT] = {
	/* $1 user $2 sealed secret (hex): a pending factor, unless one is enabled */
	[MFA_PENDING_SAVE] =
		"INSERT INTO mfa_factors (user_id, secret_sealed) VALUES ($1, decode($2, 'hex'))"
		" ON CONFLICT (user_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, last_step = 0,"
		" updated_at = now() WHERE mfa_factors.enabled_at IS NULL RETURNING user_id",
	/* $1 user: the factor, locked for the check and the use of its code */
	[MFA_FACTOR_LOCK] =
		"SELECT secret_sealed, enabled_at IS NOT NULL, last_step FROM mfa_factors WHERE user_id = $1 FOR UPDATE",
	/* $1 user $2 step */
	[MFA_FACTOR_ENABLE] =
		"WITH f AS (UPDATE mfa_factors SET enabled_at = now(), last_step = $2, updated_at = now()"
		"   WHERE user_id = $1 AND enabled_at IS NULL RETURNING user_id)"
		" UPDATE users SET mfa_enabled = true, updated_at = now() WHERE id IN (SELECT user_id FROM f) RETURNING id",
	[MFA_STEP_USED] = "UPDATE mfa_factors SET last_step = $2, updated_at = now() WHERE user_id = $1",
	[MFA_CODES_REPLACE] = "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
	[MFA_CODE_INSERT] = "INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)",
	/* $1 user $2 code hash: uses an unused code */
	[MFA_CODE_USE] =
		"UPDATE mfa_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL"
		" RETURNING id",
	[MFA_DISABLE] =
		"WITH c AS (DELETE FROM mfa_recovery_codes WHERE user_id = $1), f AS (DELETE FROM mfa_factors WHERE user_id = $1)"
		" UPDATE users SET mfa_enabled = false, updated_at = now() WHERE id = $1",
	/* $1 token hash $2 user $3 seconds */
	[MFA_CHALLENGE_NEW] =
		"INSERT INTO mfa_challenges (token_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))",
	[MFA_CHALLENGE_USER] =
		"SELECT user_id FROM mfa_challenges WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
	[MFA_CHALLENGE_USE] =
		"UPDATE mfa_challenges SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()"
		" RETURNING user_id",
};

/* not static: tests/integration/test_statements.c prepares it */
extern const struct db_stmts mfa_stmts;
const struct db_stmts mfa_stmts = {"mfa", sql, MFA_STMT__COUNT};

bool mfa_configured(const struct tg_config *cfg)
{
	return cfg->mfa_encryption_key && strlen(cfg->mfa_encryption_key) == 64;
}

static int sealing_key(const struct tg_config *cfg, uint8_t key[32])
{
	return mfa_configured(cfg) && crypto_unhex(cfg->mfa_encryption_key, key, 32) == 0 ? TG_OK : TG_EUNAVAIL;
}

int mfa_setup(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id, const char *email,
	      char **secret, char **uri)
{
	uint8_t key[32], raw[TOTP_SECRET_BYTES];
	int rc = sealing_key(cfg, key);
	if (rc != TG_OK)
		return rc;
	uint8_t *sealed;
	size_t slen;
	if (crypto_random(raw, sizeof(raw)) != 0 || crypto_seal(a, key, raw, sizeof(raw), &sealed, &slen) != 0) {
		explicit_bzero(key, sizeof(key));
		return TG_EINTERNAL;
	}
	explicit_bzero(key, sizeof(key));
	char *hex = arena_alloc(a, 2 * slen + 1);
	crypto_hex(sealed, slen, hex);
	const char *p[] = {user_id, hex};
	if ((rc = db_exec_row(db, a, &mfa_stmts, MFA_PENDING_SAVE, 2, p, NULL)) != TG_OK)
		return rc == TG_ENOTFOUND ? TG_ECONFLICT : rc; /* an enabled factor stays */
	*secret = totp_base32(a, raw, sizeof(raw));
	explicit_bzero(raw, sizeof(raw));
	char *issuer = curl_easy_escape(NULL, cfg->app_name, 0), *account = curl_easy_escape(NULL, email, 0);
	*uri = arena_printf(a, "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1&digits=6&period=30", issuer,
			    account, *secret, issuer);
	curl_free(issuer);
	curl_free(account);
	return TG_OK;
}

/* The locked factor's secret (arena), whether it is enabled, and its last used step. */
static int load_factor(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id, uint8_t **secret,
		       size_t *len, bool *enabled, int64_t *last_step)
{
	const char *p[] = {user_id};
	PGresult *r;
	int rc = db_exec_row(db, a, &mfa_stmts, MFA_FACTOR_LOCK, 1, p, &r);
	if (rc != TG_OK)
		return rc;
	size_t blen;
	unsigned char *sealed = PQunescapeBytea((const unsigned char *)db_value(r, 0, 0), &blen);
	if (!sealed)
		return TG_ENOMEM;
	uint8_t key[32];
	rc = sealing_key(cfg, key);
	if (rc == TG_OK && crypto_open(a, key, sealed, blen, secret, len) != 0)
		rc = TG_EINTERNAL;
	explicit_bzero(key, sizeof(key));
	PQfreemem(sealed);
	*enabled = db_bool(r, 0, 1);
	*last_step = db_int(r, 0, 2);
	return rc;
}

/* "abcd-efgh-ij": 10 characters of an alphabet without look-alikes, for a person to type. */
static char *new_code(struct arena *a)
{
	static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
	uint8_t rnd[10];
	if (crypto_random(rnd, sizeof(rnd)) != 0)
		return NULL;
	char *c = arena_alloc(a, 13);
	for (int i = 0, o = 0; i < 10; i++) {
		if (i == 4 || i == 8)
			c[o++] = '-';
		c[o++] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	}
	return c;
}

/* The stored form of a code: lower case, dashes and spaces dropped, hashed. */
static void code_hash(const char *code, char out[2 * CRYPTO_SHA256_LEN + 1])
{
	char norm[64];
	size_t n = 0;
	for (const char *p = code; *p && n + 1 < sizeof(norm); p++)
		if (*p != '-' && *p != ' ')
			norm[n++] = (char)tolower((unsigned char)*p);
	norm[n] = '\0';
	crypto_sha256_hex(norm, n, out);
}

int mfa_new_recovery_codes(struct db *db, struct arena *a, const char *user_id, json_object **codes)
{
	const char *p[] = {user_id};
	int rc = db_exec(db, a, &mfa_stmts, MFA_CODES_REPLACE, 1, p, NULL);
	json_object *arr = json_object_new_array();
	for (int i = 0; rc == TG_OK && i < MFA_RECOVERY_CODES; i++) {
		char *c = new_code(a), h[2 * CRYPTO_SHA256_LEN + 1];
		if (!c) {
			rc = TG_EINTERNAL;
			break;
		}
		code_hash(c, h);
		const char *ip[] = {user_id, h};
		rc = db_exec(db, a, &mfa_stmts, MFA_CODE_INSERT, 2, ip, NULL);
		json_object_array_add(arr, json_object_new_string(c));
	}
	if (rc != TG_OK) {
		json_object_put(arr);
		return rc;
	}
	*codes = arr;
	return TG_OK;
}

int mfa_enable(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id, const char *code,
	       time_t now, json_object **codes)
{
	uint8_t *secret;
	size_t len;
	bool enabled;
	int64_t last, step;
	int rc = load_factor(db, a, cfg, user_id, &secret, &len, &enabled, &last);
	if (rc != TG_OK)
		return rc;
	if (enabled)
		return TG_ECONFLICT;
	if (!totp_check(secret, len, code, now, last, &step))
		return TG_EINPUT;
	char s[24];
	snprintf(s, sizeof(s), "%lld", (long long)step);
	const char *p[] = {user_id, s};
	if ((rc = db_exec_row(db, a, &mfa_stmts, MFA_FACTOR_ENABLE, 2, p, NULL)) != TG_OK)
		return rc;
	return mfa_new_recovery_codes(db, a, user_id, codes);
}

int mfa_verify(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id, const char *code,
	       bool recovery, time_t now)
{
	uint8_t *secret;
	size_t len;
	bool enabled;
	int64_t last, step;
	int rc = load_factor(db, a, cfg, user_id, &secret, &len, &enabled, &last);
	if (rc != TG_OK)
		return rc;
	if (!enabled)
		return TG_ENOTFOUND;
	if (recovery) {
		char h[2 * CRYPTO_SHA256_LEN + 1];
		code_hash(code, h);
		const char *p[] = {user_id, h};
		rc = db_exec_row(db, a, &mfa_stmts, MFA_CODE_USE, 2, p, NULL);
		return rc == TG_ENOTFOUND ? TG_EAUTH : rc;
	}
	if (!totp_check(secret, len, code, now, last, &step))
		return TG_EAUTH;
	char s[24];
	snprintf(s, sizeof(s), "%lld", (long long)step);
	const char *p[] = {user_id, s};
	return db_exec(db, a, &mfa_stmts, MFA_STEP_USED, 2, p, NULL);
}

int mfa_disable(struct db *db, struct arena *a, const char *user_id)
{
	const char *p[] = {user_id};
	return db_exec(db, a, &mfa_stmts, MFA_DISABLE, 1, p, NULL);
}

int mfa_challenge_new(struct db *db, struct arena *a, const char *user_id, char **token)
{
	char *t = crypto_token(a), h[2 * CRYPTO_SHA256_LEN + 1], ttl[16];
	if (!t)
		return TG_EINTERNAL;
	crypto_token_hash(t, h);
	snprintf(ttl, sizeof(ttl), "%d", MFA_CHALLENGE_TTL);
	const char *p[] = {h, user_id, ttl};
	int rc = db_exec(db, a, &mfa_stmts, MFA_CHALLENGE_NEW, 3, p, NULL);
	if (rc == TG_OK)
		*token = t;
	return rc;
}

int mfa_challenge_user(struct db *db, struct arena *a, const char *token, const char **user_id)
{
	char h[2 * CRYPTO_SHA256_LEN + 1];
	crypto_token_hash(token, h);
	const char *p[] = {h};
	PGresult *r;
	int rc = db_exec_row(db, a, &mfa_stmts, MFA_CHALLENGE_USER, 1, p, &r);
	if (rc == TG_OK)
		*user_id = db_value(r, 0, 0);
	return rc;
}

int mfa_challenge_use(struct db *db, struct arena *a, const char *token)
{
	char h[2 * CRYPTO_SHA256_LEN + 1];
	crypto_token_hash(token, h);
	const char *p[] = {h};
	return db_exec_row(db, a, &mfa_stmts, MFA_CHALLENGE_USE, 1, p, NULL);
}
