/* arena.h — per-request memory: many allocations, one release.
 *
 * Everything allocated from an arena lives until arena_reset() or arena_destroy().
 * Cleanup hooks release foreign resources (PGresult, json-c roots, CURL handles)
 * at the same moment, in reverse order of registration, so an early return cannot leak.
 *
 * Out of memory follows mem.h's policy: no function here ever returns NULL for lack of memory. */
#ifndef TOLLGATE_ARENA_H
#define TOLLGATE_ARENA_H

#include <stddef.h>

struct arena;

typedef void (*arena_cleanup_fn)(void *ptr);

/* Returns a new arena. Caller destroys it. */
struct arena *arena_new(size_t block_size);
void arena_destroy(struct arena *a);
/* Runs the cleanup hooks and forgets every allocation; keeps the first block for reuse. */
void arena_reset(struct arena *a);

/* Returns zeroed memory aligned for any type. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s); /* NULL for NULL */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_memdup(struct arena *a, const void *p, size_t n);
/* printf into arena memory, sized exactly; NULL only for an invalid format. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Registers fn(ptr) to run when the arena is reset or destroyed. */
void arena_on_reset(struct arena *a, arena_cleanup_fn fn, void *ptr);
/* Hands a json-c root to the arena: it is put when the arena resets. Returns o (NULL stays NULL). */
struct json_object;
struct json_object *arena_own_json(struct arena *a, struct json_object *o);
/* Bytes handed out since the last reset (for tests and limits). */
size_t arena_used(const struct arena *a);

#endif
