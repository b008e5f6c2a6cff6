/* timeutil.h — clocks and RFC 3339. */
#ifndef TOLLGATE_TIMEUTIL_H
#define TOLLGATE_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

/* Monotonic microseconds, for durations only. */
int64_t time_mono_us(void);
/* Writes "2026-11-29T13:42:50Z" (21 bytes with NUL) into out. */
void time_rfc3339(time_t t, char out[21]);
/* Parses "30", "30s", "15m", "2h", "30d" into seconds. Returns 0 or -1. */
int time_parse_duration(const char *s, long long *out_seconds);

/* Seconds to wait before attempt number `attempt` (1-based count of failures so far): base,
 * doubling, at most max. */
long time_backoff_seconds(int attempt, int base, int max);

#endif
