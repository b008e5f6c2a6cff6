/* utf8.c — strict UTF-8 validation and repair. */
#include "tollgate/utf8.h"
#include "tollgate/arena.h"

#include <string.h>

static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned long cp, min;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_sequence(p + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

char *utf8_clean(struct arena *a, const char *s, size_t max_bytes)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	/* every input byte becomes at most 3 output bytes, and the output is capped anyway */
	size_t cap = n * 3 < max_bytes ? n * 3 : max_bytes;
	char *out = arena_alloc(a, cap + 1);
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_sequence(p + i, n - i);
		const char *piece = (const char *)p + i;
		size_t plen = l;
		if (!l || (l == 1 && p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
			piece = replacement;
			plen = 3;
			l = l ? l : 1;
		}
		if (o + plen > cap)
			break;
		memcpy(out + o, piece, plen);
		o += plen;
		i += l;
	}
	out[o] = '\0';
	return out;
}
