/* password.c — bcrypt through libxcrypt, and the password rules of API.md. */
#include "tollgate/password.h"
#include "tollgate/mem.h"
#include "tollgate/arena.h"
#include "tollgate/crypto.h"
#include "tollgate/status.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PW_MIN_CHARS 8
#define PW_MAX_CHARS 128

struct password_hasher {
	struct crypt_data data; /* ~32 KiB of scratch: one per process, never on the stack */
	int cost;
	char dummy[CRYPT_OUTPUT_SIZE];
};

static int make_hash(struct password_hasher *h, const char *pw, char *out, size_t outlen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (!crypt_gensalt_rn("$2b$", (unsigned long)h->cost, NULL, 0, salt, sizeof(salt)))
		return TG_EINTERNAL;
	const char *r = crypt_rn(pw, salt, &h->data, sizeof(h->data));
	if (!r || r[0] == '*' || strlen(r) >= outlen)
		return TG_EINTERNAL;
	memcpy(out, r, strlen(r) + 1);
	return TG_OK;
}

struct password_hasher *password_hasher_new(int cost)
{
	struct password_hasher *h = mem_calloc(1, sizeof(*h));
	h->cost = cost;
	/* The dummy hash makes a login for an unknown email cost what a real one costs. */
	unsigned char raw[16];
	char pw[33];
	if (crypto_random(raw, sizeof(raw)) != 0) {
		free(h);
		return NULL;
	}
	crypto_hex(raw, sizeof(raw), pw);
	if (make_hash(h, pw, h->dummy, sizeof(h->dummy)) != TG_OK) {
		free(h);
		return NULL;
	}
	return h;
}

void password_hasher_free(struct password_hasher *h)
{
	if (h)
		explicit_bzero(h, sizeof(*h));
	free(h);
}

int password_hash(struct password_hasher *h, struct arena *a, const char *pw, char **out)
{
	char buf[CRYPT_OUTPUT_SIZE];
	int rc = make_hash(h, pw, buf, sizeof(buf));
	if (rc != TG_OK)
		return rc;
	*out = arena_strdup(a, buf);
	return *out ? TG_OK : TG_ENOMEM;
}

static bool is_bcrypt(const char *hash)
{
	return hash && (!strncmp(hash, "$2a$", 4) || !strncmp(hash, "$2b$", 4) || !strncmp(hash, "$2y$", 4)) &&
	       strlen(hash) == 60;
}

bool password_verify(struct password_hasher *h, const char *pw, const char *hash)
{
	if (!is_bcrypt(hash)) {
		password_verify_dummy(h, pw);
		return false;
	}
	const char *r = crypt_rn(pw, hash, &h->data, sizeof(h->data));
	if (!r || r[0] == '*')
		return false;
	return crypto_equal(r, strlen(r), hash, strlen(hash));
}

void password_verify_dummy(struct password_hasher *h, const char *pw)
{
	(void)crypt_rn(pw, h->dummy, &h->data, sizeof(h->data));
}

bool password_needs_rehash(const struct password_hasher *h, const char *hash)
{
	if (!is_bcrypt(hash) || strncmp(hash, "$2b$", 4))
		return true;
	int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
	return cost != h->cost;
}

/* Counts UTF-8 code points; returns -1 for invalid UTF-8 or control characters. */
static long utf8_chars(const char *s)
{
	long n = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
		if (!len || (len == 1 && *p < 0x20) || *p == 0x7F)
			return -1;
		for (int i = 1; i < len; i++)
			if ((p[i] & 0xC0) != 0x80)
				return -1;
		p += len;
		n++;
	}
	return n;
}

const char *password_check_rules(const char *pw, const char *email)
{
	long n = utf8_chars(pw);
	if (n < 0)
		return "must not contain control characters";
	if (n < PW_MIN_CHARS)
		return "must be at least 8 characters";
	if (n > PW_MAX_CHARS)
		return "must be at most 128 characters";
	if (email && !strcasecmp(pw, email))
		return "must not be your email address";
	if (password_is_common(pw))
		return "is too common; choose another";
	return NULL;
}
