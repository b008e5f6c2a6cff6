/* litellm.c — the LiteLLM admin API client and the per-user virtual key lifecycle. */
#include "tollgate/litellm.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/crypto.h"
#include "tollgate/db.h"
#include "tollgate/fetch.h"
#include "tollgate/jobs.h"
#include "tollgate/log.h"
#include "tollgate/status.h"
#include "billing_sql.h"

#include <curl/curl.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LITELLM_MAX_RESPONSE (1024 * 1024)

bool litellm_configured(const struct tg_config *cfg)
{
	return cfg->litellm_base && *cfg->litellm_base && cfg->litellm_master_key && *cfg->litellm_master_key &&
	       cfg->litellm_encryption_key && strlen(cfg->litellm_encryption_key) == 64;
}

int litellm_queue_sync(struct db *db, struct arena *a, const char *user_id)
{
	json_object *p = json_object_new_object();
	json_object_object_add(p, "user_id", json_object_new_string(user_id));
	int rc = jobs_enqueue(db, a, LITELLM_JOB_SYNC, p);
	json_object_put(p);
	return rc;
}

/* POSTs a JSON body to the admin API with the master key, within timeout_ms (0: litellm_timeout).
 * *out (arena-owned) may be NULL. */
static int admin_post_within(const struct tg_config *cfg, struct arena *a, const char *path, json_object *req,
			     json_object **out, long timeout_ms)
{
	CURL *c = curl_easy_init();
	if (!c)
		return TG_ENOMEM;
	char *url = arena_printf(a, "%s%s", cfg->litellm_base, path);
	char *auth = arena_printf(a, "Authorization: Bearer %s", cfg->litellm_master_key);
	const char *payload = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = curl_slist_append(h, auth);
	struct fetch_body b = {.max = LITELLM_MAX_RESPONSE};
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
	if (timeout_ms <= 0)
		timeout_ms = (long)cfg->litellm_timeout * 1000;
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	CURLcode cc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	int rc;
	if (cc != CURLE_OK) {
		log_warn("litellm %s: %s", path, curl_easy_strerror(cc));
		rc = TG_EUNAVAIL;
	} else if (status < 200 || status >= 300) {
		log_warn("litellm %s answered %ld", path, status);
		rc = status >= 500 || status == 429 ? TG_EUNAVAIL : TG_EUPSTREAM;
	} else {
		rc = TG_OK;
		if (out) {
			*out = arena_own_json(a, b.data ? json_tokener_parse(b.data) : NULL);
			if (!*out)
				rc = TG_EUPSTREAM;
		}
	}
	free(b.data);
	return rc;
}

static int admin_post(const struct tg_config *cfg, struct arena *a, const char *path, json_object *req,
		      json_object **out)
{
	return admin_post_within(cfg, a, path, req, out, 0);
}

static int encryption_key(const struct tg_config *cfg, uint8_t key[32])
{
	return crypto_unhex(cfg->litellm_encryption_key, key, 32) == 0 ? TG_OK : TG_EINTERNAL;
}

/* Decrypts a stored key (bytea text as libpq returns it) into arena memory. */
static int open_key(const struct tg_config *cfg, struct arena *a, const char *bytea_text, char **key)
{
	size_t blen;
	unsigned char *sealed = PQunescapeBytea((const unsigned char *)bytea_text, &blen);
	if (!sealed)
		return TG_ENOMEM;
	uint8_t ek[32];
	uint8_t *plain = NULL;
	size_t plen;
	int rc = encryption_key(cfg, ek);
	if (rc == TG_OK && crypto_open(a, ek, sealed, blen, &plain, &plen) != 0)
		rc = TG_EINTERNAL;
	explicit_bzero(ek, sizeof(ek));
	PQfreemem(sealed);
	if (rc == TG_OK)
		*key = (char *)plain;
	return rc;
}

/* The key limit fields for plan row r (B_USER_PLAN_PARAMS), added to req. */
static void add_limits(json_object *req, const PGresult *r)
{
	json_object *models = json_tokener_parse(db_value(r, 0, 1) ? db_value(r, 0, 1) : "[]");
	json_object_object_add(req, "models", models ? models : json_object_new_array());
	const char *tpm = db_value(r, 0, 2), *rpm = db_value(r, 0, 3);
	const char *budget = db_value(r, 0, 4), *duration = db_value(r, 0, 5);
	json_object_object_add(req, "tpm_limit", tpm ? json_object_new_int64(strtoll(tpm, NULL, 10)) : NULL);
	json_object_object_add(req, "rpm_limit", rpm ? json_object_new_int64(strtoll(rpm, NULL, 10)) : NULL);
	json_object_object_add(req, "max_budget", budget ? json_object_new_double(strtod(budget, NULL)) : NULL);
	json_object_object_add(req, "budget_duration", duration ? json_object_new_string(duration) : NULL);
	json_object *meta = json_object_new_object();
	json_object_object_add(meta, "plan", json_object_new_string(db_value(r, 0, 0)));
	json_object_object_add(req, "metadata", meta);
}

int litellm_user_key(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id, char **key)
{
	if (!litellm_configured(cfg))
		return TG_EUNAVAIL;
	const char *p[] = {user_id};
	PGresult *r;
	int rc = db_exec(db, a, &billing_stmts, B_KEY_GET, 1, p, &r);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(r) != 1 || db_bool(r, 0, 2))
		return TG_ENOTFOUND;
	return open_key(cfg, a, db_value(r, 0, 0), key);
}

static int set_blocked(const struct tg_config *cfg, struct arena *a, const char *key, bool blocked)
{
	json_object *req = json_object_new_object();
	json_object_object_add(req, "key", json_object_new_string(key));
	int rc = admin_post(cfg, a, blocked ? "/key/block" : "/key/unblock", req, NULL);
	json_object_put(req);
	return rc;
}

/* Whether the plan row (B_USER_PLAN_PARAMS) lists any model: its users may chat. */
static bool plan_has_models(const PGresult *plan)
{
	const char *m = db_value(plan, 0, 1);
	return m && strcmp(m, "[]") && *m;
}

/* Brings the user's key in line. create: make one even on the free plan (a first chat). */
static int sync_key(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id, bool create,
		long timeout_ms)
{
	if (!litellm_configured(cfg))
		return TG_EUNAVAIL;
	const char *p[] = {user_id};
	PGresult *plan, *cur;
	int rc = db_exec(db, a, &billing_stmts, B_USER_PLAN_PARAMS, 1, p, &plan);
	if (rc != TG_OK)
		return rc;
	if (PQntuples(plan) != 1)
		return TG_OK; /* the user is gone */
	const char *code = db_value(plan, 0, 0);
	bool free_plan = !strcmp(code, "free");
	if ((rc = db_exec(db, a, &billing_stmts, B_KEY_GET, 1, p, &cur)) != TG_OK)
		return rc;
	bool have = PQntuples(cur) == 1;
	const char *key_plan = have ? db_value(cur, 0, 1) : NULL;
	bool blocked = have && db_bool(cur, 0, 2);
	/* A key is open while the plan lists models: a paid plan's at once; on the free plan only a key
	 * a chat opened (one left from a paid plan that ended stays blocked until the user chats). */
	bool allowed = plan_has_models(plan) &&
		       (!free_plan || create || (have && !strcmp(key_plan, "free") && !blocked));
	if (!have && !allowed)
		return TG_OK;
	if (!have) {
		json_object *req = json_object_new_object();
		char *alias = arena_printf(a, "tollgate-%s", user_id);
		json_object_object_add(req, "key_alias", json_object_new_string(alias));
		json_object_object_add(req, "user_id", json_object_new_string(user_id));
		add_limits(req, plan);
		json_object *res = NULL;
		rc = admin_post_within(cfg, a, "/key/generate", req, &res, timeout_ms);
		json_object_put(req);
		if (rc != TG_OK)
			return rc;
		json_object *k;
		if (!json_object_object_get_ex(res, "key", &k) || !json_object_is_type(k, json_type_string))
			return TG_EUPSTREAM;
		const char *key = json_object_get_string(k);
		uint8_t ek[32];
		uint8_t *sealed;
		size_t slen;
		if (encryption_key(cfg, ek) != TG_OK || crypto_seal(a, ek, key, strlen(key), &sealed, &slen) != 0) {
			explicit_bzero(ek, sizeof(ek));
			return TG_EINTERNAL;
		}
		explicit_bzero(ek, sizeof(ek));
		char *hex = arena_alloc(a, 2 * slen + 1);
		crypto_hex(sealed, slen, hex);
		const char *sp[] = {user_id, hex, alias, code};
		rc = db_exec(db, a, &billing_stmts, B_KEY_SAVE, 4, sp, NULL);
		if (rc == TG_OK)
			log_info("litellm key created for user %s on plan %s", user_id, code);
		return rc;
	}
	if (allowed == !blocked && (!allowed || !strcmp(key_plan, code)))
		return TG_OK; /* already in line */
	char *key;
	if ((rc = open_key(cfg, a, db_value(cur, 0, 0), &key)) != TG_OK)
		return rc;
	if (allowed) {
		json_object *req = json_object_new_object();
		json_object_object_add(req, "key", json_object_new_string(key));
		add_limits(req, plan);
		rc = admin_post_within(cfg, a, "/key/update", req, NULL, timeout_ms);
		json_object_put(req);
		if (rc == TG_OK && blocked)
			rc = set_blocked(cfg, a, key, false);
	} else {
		rc = set_blocked(cfg, a, key, true);
	}
	if (rc != TG_OK)
		return rc;
	const char *up[] = {user_id, allowed ? code : key_plan, allowed ? "false" : "true"};
	rc = db_exec(db, a, &billing_stmts, B_KEY_UPDATE, 3, up, NULL);
	if (rc == TG_OK)
		log_info("litellm key of user %s %s", user_id, allowed ? "updated" : "blocked");
	return rc;
}

/* One user's key is brought in line by one process at a time (the user's key lock, a session-level
 * advisory lock): two at once would both generate a key, and LiteLLM refuses the second alias. */
int litellm_sync_user(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id)
{
	bool got;
	int rc = db_try_lock(db, a, DB_LOCK_LITELLM_KEY, user_id, &got);
	if (rc != TG_OK)
		return rc;
	if (!got)
		return TG_ECONFLICT; /* a chat is making it: a job tries again later, reconcile next round */
	rc = sync_key(db, a, cfg, user_id, false, 0);
	db_unlock(db, a, DB_LOCK_LITELLM_KEY, user_id);
	return rc;
}

int litellm_chat_key(struct db *db, struct arena *a, const struct tg_config *cfg, long timeout_ms,
		     const char *user_id, char **key)
{
	int rc = litellm_user_key(db, a, cfg, user_id, key);
	if (rc != TG_ENOTFOUND)
		return rc;
	/* none yet (a free user's first chat), or blocked while the plan allows one: in line now, under
	 * the user's key lock; parallel first chats wait for the one that makes it, then use it */
	bool got = false;
	for (long waited = 0;; waited += 50) {
		if ((rc = db_try_lock(db, a, DB_LOCK_LITELLM_KEY, user_id, &got)) != TG_OK)
			return rc;
		if (got)
			break;
		if (waited >= timeout_ms)
			return TG_EUNAVAIL;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	rc = litellm_user_key(db, a, cfg, user_id, key); /* made while this one waited? */
	if (rc == TG_ENOTFOUND && (rc = sync_key(db, a, cfg, user_id, true, timeout_ms)) == TG_OK)
		rc = litellm_user_key(db, a, cfg, user_id, key);
	db_unlock(db, a, DB_LOCK_LITELLM_KEY, user_id);
	return rc;
}

int litellm_queue_delete(struct db *db, struct arena *a, const char *user_id)
{
	const char *p[] = {user_id};
	PGresult *cur;
	int rc = db_exec(db, a, &billing_stmts, B_KEY_GET, 1, p, &cur);
	if (rc != TG_OK || PQntuples(cur) != 1)
		return rc;
	size_t blen;
	unsigned char *sealed = PQunescapeBytea((const unsigned char *)db_value(cur, 0, 0), &blen);
	char *hex = sealed ? arena_alloc(a, 2 * blen + 1) : NULL;
	if (hex)
		crypto_hex(sealed, blen, hex);
	PQfreemem(sealed);
	if (!hex)
		return TG_ENOMEM;
	json_object *payload = json_object_new_object();
	json_object_object_add(payload, "key_ciphertext", json_object_new_string(hex));
	rc = jobs_enqueue(db, a, LITELLM_JOB_DELETE, payload);
	json_object_put(payload);
	return rc;
}

int litellm_delete_key(struct arena *a, const struct tg_config *cfg, const char *ciphertext_hex)
{
	if (!litellm_configured(cfg))
		return TG_EUNAVAIL;
	size_t n = strlen(ciphertext_hex) / 2;
	uint8_t *sealed = arena_alloc(a, n + 1);
	if (!sealed || crypto_unhex(ciphertext_hex, sealed, n) != 0)
		return TG_EINPUT;
	uint8_t ek[32];
	uint8_t *plain;
	size_t plen;
	int rc = encryption_key(cfg, ek);
	if (rc == TG_OK && crypto_open(a, ek, sealed, n, &plain, &plen) != 0)
		rc = TG_EINPUT;
	explicit_bzero(ek, sizeof(ek));
	if (rc != TG_OK)
		return rc;
	json_object *req = json_object_new_object();
	json_object *keys = json_object_new_array();
	json_object_array_add(keys, json_object_new_string((char *)plain));
	json_object_object_add(req, "keys", keys);
	rc = admin_post(cfg, a, "/key/delete", req, NULL);
	json_object_put(req);
	if (rc == TG_OK)
		log_info("litellm key of a deleted account removed");
	return rc == TG_EUPSTREAM ? TG_OK : rc; /* 4xx: already gone */
}

int litellm_reconcile(struct db *db, struct arena *a, const struct tg_config *cfg)
{
	if (!litellm_configured(cfg))
		return 0;
	PGresult *r;
	int rc = db_exec(db, a, &billing_stmts, B_KEYS_OUT_OF_SYNC, 0, NULL, &r);
	if (rc != TG_OK)
		return -rc;
	int n = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		rc = litellm_sync_user(db, a, cfg, db_value(r, i, 0));
		if (rc == TG_EUNAVAIL)
			return n; /* down: try again next round */
		if (rc == TG_OK)
			n++;
	}
	return n;
}
