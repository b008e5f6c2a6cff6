/* crypto.c — thin, checked wrappers over OpenSSL. */
#include "tollgate/crypto.h"
#include "tollgate/arena.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

int crypto_random(void *buf, size_t n)
{
	if (n > (size_t)INT32_MAX)
		return -1;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	SHA256(data, len, out);
}

void crypto_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void crypto_sha256_hex(const void *data, size_t len, char out[2 * CRYPTO_SHA256_LEN + 1])
{
	uint8_t md[CRYPTO_SHA256_LEN];
	crypto_sha256(data, len, md);
	crypto_hex(md, sizeof(md), out);
}

int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		       uint8_t out[CRYPTO_SHA256_LEN])
{
	unsigned int out_len = 0;
	if (key_len > (size_t)INT32_MAX)
		return -1;
	if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) || out_len != CRYPTO_SHA256_LEN)
		return -1;
	return 0;
}

int crypto_hmac_sha1(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[CRYPTO_SHA1_LEN])
{
	unsigned int out_len = 0;
	if (key_len > (size_t)INT32_MAX)
		return -1;
	if (!HMAC(EVP_sha1(), key, (int)key_len, data, len, out, &out_len) || out_len != CRYPTO_SHA1_LEN)
		return -1;
	return 0;
}

bool crypto_equal(const void *a, size_t a_len, const void *b, size_t b_len)
{
	if (a_len != b_len)
		return false;
	return CRYPTO_memcmp(a, b, a_len) == 0;
}

char *b64url_encode(struct arena *a, const void *data, size_t len)
{
	if (len > (size_t)INT32_MAX / 2)
		return NULL;
	char *out = arena_alloc(a, 4 * ((len + 2) / 3) + 1);
	if (!out)
		return NULL;
	int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (int i = 0; i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return out;
}

int b64url_decode(struct arena *a, const char *s, size_t slen, uint8_t **out, size_t *out_len)
{
	size_t pad = 0;
	while (slen > 0 && s[slen - 1] == '=') {
		slen--;
		pad++;
	}
	/* padding is optional, but when present it must complete the last quantum exactly */
	if (pad && (pad > 2 || (slen + pad) % 4))
		return -1;
	if (slen % 4 == 1 || slen > (size_t)INT32_MAX / 2)
		return -1;
	size_t padded = (slen + 3) / 4 * 4;
	char *tmp = arena_alloc(a, padded + 1);
	uint8_t *dec = arena_alloc(a, padded / 4 * 3 + 1);
	if (!tmp || !dec)
		return -1;
	for (size_t i = 0; i < slen; i++) {
		char c = s[i];
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return -1; /* only the url alphabet is accepted */
		tmp[i] = c;
	}
	for (size_t i = slen; i < padded; i++)
		tmp[i] = '=';
	int n = EVP_DecodeBlock(dec, (unsigned char *)tmp, (int)padded);
	if (n < 0)
		return -1;
	n -= (int)(padded - slen); /* EVP_DecodeBlock counts padding as zero bytes */
	*out = dec;
	*out_len = (size_t)n;
	return 0;
}

char *crypto_token(struct arena *a)
{
	uint8_t raw[CRYPTO_TOKEN_BYTES];
	if (crypto_random(raw, sizeof(raw)) != 0)
		return NULL;
	char *t = b64url_encode(a, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	return t;
}

void crypto_token_hash(const char *token, char out[2 * CRYPTO_SHA256_LEN + 1])
{
	crypto_sha256_hex(token, strlen(token), out);
}

#define GCM_NONCE 12
#define GCM_TAG 16

int crypto_seal(struct arena *a, const uint8_t key[32], const void *plain, size_t len, uint8_t **out,
		size_t *out_len)
{
	if (len > (size_t)INT32_MAX - GCM_NONCE - GCM_TAG)
		return -1;
	uint8_t *buf = arena_alloc(a, GCM_NONCE + len + GCM_TAG);
	if (!buf || crypto_random(buf, GCM_NONCE) != 0)
		return -1;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
				EVP_EncryptUpdate(c, buf + GCM_NONCE, &n, plain, (int)len) == 1 &&
				EVP_EncryptFinal_ex(c, buf + GCM_NONCE + n, &fin) == 1 &&
				EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, buf + GCM_NONCE + len) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok)
		return -1;
	*out = buf;
	*out_len = GCM_NONCE + len + GCM_TAG;
	return 0;
}

int crypto_open(struct arena *a, const uint8_t key[32], const uint8_t *sealed, size_t len, uint8_t **out,
		size_t *out_len)
{
	if (len < GCM_NONCE + GCM_TAG || len > (size_t)INT32_MAX)
		return -1;
	size_t plen = len - GCM_NONCE - GCM_TAG;
	uint8_t *buf = arena_alloc(a, plen + 1);
	if (!buf)
		return -1;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;
	int ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, sealed) == 1 &&
		 EVP_DecryptUpdate(c, buf, &n, sealed + GCM_NONCE, (int)plen) == 1 &&
		 EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, (void *)(sealed + GCM_NONCE + plen)) == 1 &&
		 EVP_DecryptFinal_ex(c, buf + n, &fin) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok)
		return -1;
	buf[plen] = '\0';
	*out = buf;
	*out_len = plen;
	return 0;
}

int crypto_unhex(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = hex[2 * i + (size_t)k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return -1;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}
