/* totp.c — RFC 6238 TOTP codes and RFC 4648 base32. */
#include "tollgate/totp.h"
#include "tollgate/arena.h"
#include "tollgate/crypto.h"

#include <string.h>

uint32_t totp_code(const uint8_t *secret, size_t len, uint64_t step, int digits)
{
	uint8_t msg[8], mac[CRYPTO_SHA1_LEN];
	for (int i = 7; i >= 0; i--) {
		msg[i] = (uint8_t)(step & 0xff);
		step >>= 8;
	}
	if (crypto_hmac_sha1(secret, len, msg, sizeof(msg), mac) != 0)
		return UINT32_MAX; /* never a valid code */
	/* RFC 4226 dynamic truncation */
	int off = mac[CRYPTO_SHA1_LEN - 1] & 0x0f;
	uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
		       ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
	uint32_t mod = 1;
	for (int i = 0; i < digits; i++)
		mod *= 10;
	return bin % mod;
}

bool totp_check(const uint8_t *secret, size_t len, const char *code, time_t now, int64_t last_step, int64_t *step)
{
	if (!code || strlen(code) != 6)
		return false;
	uint32_t want = 0;
	for (const char *p = code; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		want = want * 10 + (uint32_t)(*p - '0');
	}
	int64_t t = (int64_t)now / TOTP_STEP;
	bool found = false;
	/* every candidate is computed, so the time taken does not tell which one matched */
	for (int64_t s = t - 1; s <= t + 1; s++) {
		uint32_t got = totp_code(secret, len, (uint64_t)s, 6);
		if (got == want && s > last_step && !found) {
			found = true;
			*step = s;
		}
	}
	return found;
}

char *totp_base32(struct arena *a, const uint8_t *data, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	char *out = arena_alloc(a, (len * 8 + 4) / 5 + 1);
	size_t o = 0;
	unsigned buffer = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		buffer = (buffer << 8) | data[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(buffer >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(buffer << (5 - bits)) & 31];
	out[o] = '\0';
	return out;
}
