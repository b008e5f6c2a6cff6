/* deadline.c — time budgets for outbound calls. */
#include "tollgate/deadline.h"
#include "tollgate/timeutil.h"

struct deadline deadline_at(int64_t start_us, long ms)
{
	struct deadline d = {.at_us = start_us + (int64_t)ms * 1000};
	return d;
}

long deadline_left_ms(const struct deadline *d)
{
	int64_t left = d->at_us - time_mono_us();
	return left > 0 ? (long)(left / 1000) : 0;
}
