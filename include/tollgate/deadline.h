/* deadline.h — one time budget shared by a sequence of outbound calls.
 *
 * A request's calls to Stripe or LiteLLM share one short deadline, backoff between retries
 * included: a retry whose wait would cross it is not made. A job's calls get a longer budget. */
#ifndef TOLLGATE_DEADLINE_H
#define TOLLGATE_DEADLINE_H

#include <stdint.h>

struct deadline {
	int64_t at_us;   /* monotonic (time_mono_us) */
};

/* A deadline ms milliseconds after start_us (a time_mono_us value). */
struct deadline deadline_at(int64_t start_us, long ms);
/* Milliseconds left (0 when passed). */
long deadline_left_ms(const struct deadline *d);

#endif
