/* crypto.h — random bytes, hashes, HMAC, constant-time compare, base64url (OpenSSL underneath). */
#ifndef TOLLGATE_CRYPTO_H
#define TOLLGATE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_TOKEN_BYTES 32

/* Fills buf with n cryptographically secure random bytes. Returns 0 or -1. */
int crypto_random(void *buf, size_t n);
void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
/* Lower-case hex of SHA-256(data), 64 chars + NUL, in out. */
void crypto_sha256_hex(const void *data, size_t len, char out[2 * CRYPTO_SHA256_LEN + 1]);
int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		       uint8_t out[CRYPTO_SHA256_LEN]);
#define CRYPTO_SHA1_LEN 20
/* HMAC-SHA1: only where a standard requires it (TOTP, RFC 6238). */
int crypto_hmac_sha1(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[CRYPTO_SHA1_LEN]);
/* Constant-time equality of two equal-length buffers (false when lengths differ). */
bool crypto_equal(const void *a, size_t a_len, const void *b, size_t b_len);
void crypto_hex(const uint8_t *in, size_t n, char *out /* 2n+1 */);

/* base64url without padding. Returns arena string, or NULL. */
char *b64url_encode(struct arena *a, const void *data, size_t len);
/* Decodes base64url (padding optional). Returns 0 and fills out and out_len (arena memory), or -1. */
int b64url_decode(struct arena *a, const char *s, size_t slen, uint8_t **out, size_t *out_len);

/* A fresh opaque token: 32 random bytes, base64url (43 chars). Arena string, or NULL. */
char *crypto_token(struct arena *a);
/* The at-rest form of a token: hex SHA-256 of its text. */
void crypto_token_hash(const char *token, char out[2 * CRYPTO_SHA256_LEN + 1]);

/* AES-256-GCM with a random 12-byte nonce: out = nonce || ciphertext || 16-byte tag.
 * key is 32 bytes. Returns 0 or -1. *out is arena memory of *out_len bytes. */
int crypto_seal(struct arena *a, const uint8_t key[32], const void *plain, size_t len, uint8_t **out,
		size_t *out_len);
/* Reverses crypto_seal; fails (-1) on any tampering. *out is NUL-terminated arena memory. */
int crypto_open(struct arena *a, const uint8_t key[32], const uint8_t *sealed, size_t len, uint8_t **out,
		size_t *out_len);
/* Decodes 2n hex characters into n bytes. Returns 0 or -1. */
int crypto_unhex(const char *hex, uint8_t *out, size_t n);

#endif
