#include "tollgate/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

int64_t time_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void time_rfc3339(time_t t, char out[21])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int time_parse_duration(const char *s, long long *out_seconds)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return -1;
	long long mul = 1;
	switch (*end) {
	case '\0': case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	default: return -1;
	}
	if (*end && end[1] != '\0')
		return -1;
	if (v > (long long)1e12 / mul)
		return -1;
	*out_seconds = v * mul;
	return 0;
}

long time_backoff_seconds(int attempt, int base, int max)
{
	if (attempt < 1)
		attempt = 1;
	long s = base;
	for (int i = 1; i < attempt && s < max; i++)
		s *= 2;
	return s > max ? max : s;
}
