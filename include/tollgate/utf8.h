/* utf8.h — strict UTF-8 (RFC 3629): what may reach a PostgreSQL text column. */
#ifndef TOLLGATE_UTF8_H
#define TOLLGATE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

/* True when s[0..n) is valid UTF-8: no overlong forms, no UTF-16 surrogates, nothing above
 * U+10FFFF (json-c's own check lets those through; PostgreSQL refuses them). */
bool utf8_valid(const char *s, size_t n);
/* A copy of s (NUL-terminated) that is valid UTF-8 and at most max_bytes long: each invalid byte
 * becomes U+FFFD, control characters other than tab become U+FFFD, and the cut falls on a character
 * boundary. Arena memory. */
char *utf8_clean(struct arena *a, const char *s, size_t max_bytes);

#endif
