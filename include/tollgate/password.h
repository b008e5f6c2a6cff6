/* password.h — bcrypt (libxcrypt) hashing and the password rules.
 *
 * bcrypt reads only the first 72 bytes of a password. We refuse passwords over 128
 * characters (API.md) and pre-hash nothing: a longer password's tail simply does not
 * count, exactly as every other bcrypt implementation behaves, so hashes stay portable. */
#ifndef TOLLGATE_PASSWORD_H
#define TOLLGATE_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

struct arena;
struct password_hasher;

/* One per process (struct crypt_data is ~32 KiB). Returns NULL when out of memory. */
struct password_hasher *password_hasher_new(int cost);
void password_hasher_free(struct password_hasher *h);
/* Hashes pw at the configured cost into an arena string. Returns 0 or TG_EINTERNAL. */
int password_hash(struct password_hasher *h, struct arena *a, const char *pw, char **out);
/* Verifies pw against a $2a$/$2b$/$2y$ hash in constant time. A malformed hash never matches. */
bool password_verify(struct password_hasher *h, const char *pw, const char *hash);
/* Spends the time of one verification at the configured cost (for unknown accounts). */
void password_verify_dummy(struct password_hasher *h, const char *pw);
/* True when hash was made with another cost or prefix than the configured $2b$ cost. */
bool password_needs_rehash(const struct password_hasher *h, const char *hash);
/* Checks the rules of API.md. Returns NULL when acceptable, else a static reason
 * ("must be at least 8 characters", ...). email may be NULL. */
const char *password_check_rules(const char *pw, const char *email);
/* True when pw (case-insensitively) is in the built-in list of common passwords. */
bool password_is_common(const char *pw);

#endif
