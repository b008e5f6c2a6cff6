/* cors.c — which origins may call the API from a browser. */
#include "tollgate/http.h"

#include <string.h>

bool http_origin_allowed(const char *public_origin, const char *cors_origins, const char *origin)
{
	if (!origin)
		return false;
	if (public_origin && !strcmp(origin, public_origin))
		return true;
	size_t ol = strlen(origin);
	for (const char *p = cors_origins ? cors_origins : ""; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *start = p;
		while (*p && *p != ' ' && *p != ',')
			p++;
		size_t n = (size_t)(p - start);
		if (n && ((n == ol && !memcmp(start, origin, n)) || (n == 1 && *start == '*')))
			return true;
	}
	return false;
}
