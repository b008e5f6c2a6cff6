/* uuid.h — public ids are UUIDs in canonical text form. */
#ifndef TOLLGATE_UUID_H
#define TOLLGATE_UUID_H

#include <stdbool.h>

/* True when s is a canonical UUID text (8-4-4-4-12 hex digits), so it can be passed to a uuid
 * parameter without a database error. */
bool uuid_valid(const char *s);

/* A new random (version 4) UUID in canonical form, for ids the caller needs before the row exists. */
void uuid_new(char out[37]);

#endif
