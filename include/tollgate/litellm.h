/* litellm.h — LiteLLM virtual keys: one per paying user, with the plan's parameters.
 *
 * Key work never blocks billing: it runs in the jobs worker, is retried, and a periodic
 * reconcile brings every key in line with the subscriptions. A key is unblocked while the user's
 * plan lists models: paid plans get theirs when they start, free users at their first chat. The key is stored encrypted
 * (AES-256-GCM under litellm_encryption_key). */
#ifndef TOLLGATE_LITELLM_H
#define TOLLGATE_LITELLM_H

#include <stdbool.h>

struct arena;
struct db;
struct tg_config;

bool litellm_configured(const struct tg_config *cfg);
/* Queues a key sync for user_id (inside the caller's transaction). */
int litellm_queue_sync(struct db *db, struct arena *a, const char *user_id);
/* Brings user_id's key in line with their plan: create/update/unblock on a paid plan, block
 * otherwise. TG_EUNAVAIL when LiteLLM is down or not configured (retry later); TG_ECONFLICT when
 * another process is bringing the same key in line (the user's key lock; retry later). */
int litellm_sync_user(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id);
/* Queues the deletion at LiteLLM of user_id's key (account deletion, inside its transaction):
 * the job carries the encrypted key, so it outlives the user row. */
int litellm_queue_delete(struct db *db, struct arena *a, const char *user_id);
/* Deletes a key at LiteLLM given its stored ciphertext as hex (the job). */
int litellm_delete_key(struct arena *a, const struct tg_config *cfg, const char *ciphertext_hex);
/* Queues syncs for users whose key disagrees with their plan. Returns the count or -status. */
int litellm_reconcile(struct db *db, struct arena *a, const struct tg_config *cfg);
/* The key a chat uses: the user's decrypted virtual key (arena), made or unblocked now (within
 * timeout_ms) when the plan allows chats and there is none yet — a free user's first chat.
 * Parallel first chats make one key: they wait (within timeout_ms) for the user's key lock.
 * TG_ENOTFOUND: the plan has no models; TG_EUNAVAIL: LiteLLM down or not configured. */
int litellm_chat_key(struct db *db, struct arena *a, const struct tg_config *cfg, long timeout_ms,
		     const char *user_id, char **key);
/* The user's decrypted virtual key (arena), TG_ENOTFOUND when none or blocked. */
int litellm_user_key(struct db *db, struct arena *a, const struct tg_config *cfg, const char *user_id, char **key);

#define LITELLM_JOB_SYNC "litellm_sync"     /* payload {"user_id"}: key in line with the plan */
#define LITELLM_JOB_DELETE "litellm_delete" /* payload {"key_ciphertext"}: a deleted user's key */

#endif
