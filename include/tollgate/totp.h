/* totp.h — time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA1, 6 digits, 30 s
 * steps, as every authenticator app does; and the base32 their setup URIs carry. */
#ifndef TOLLGATE_TOTP_H
#define TOLLGATE_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct arena;

#define TOTP_STEP 30
#define TOTP_SECRET_BYTES 20

/* The code (digits long: 6 or 8) of step (unix time / 30) for secret, as a number. */
uint32_t totp_code(const uint8_t *secret, size_t len, uint64_t step, int digits);
/* Checks a 6-digit code at now, one step either side (clock drift). A step at or before
 * last_step was used already: refused (no replay). *step: the step that matched. */
bool totp_check(const uint8_t *secret, size_t len, const char *code, time_t now, int64_t last_step, int64_t *step);
/* RFC 4648 base32 without padding (upper case), arena string. */
char *totp_base32(struct arena *a, const uint8_t *data, size_t len);

#endif
