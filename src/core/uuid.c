/* uuid.c — the canonical UUID text form. */
#include "tollgate/uuid.h"
#include "tollgate/crypto.h"
#include "tollgate/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

bool uuid_valid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

void uuid_new(char out[37])
{
	unsigned char b[16];
	if (crypto_random(b, sizeof(b)) != 0)
		mem_oom(); /* no randomness: nothing sensible to go on with */
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
		 b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}
