/* mem.h — the one out-of-memory policy: a process that cannot allocate logs one line and exits
 * with MEM_EXIT_OOM; the master replaces the worker, nginx answers that request's client with
 * its 502 (a problem document). No caller ever sees NULL from mem_* or from an arena.
 *
 * Rationale: a worker that ran out of memory mid-request holds a half-built answer, maybe an
 * open transaction and foreign objects not yet handed to the arena; unwinding each of the
 * hundreds of allocation sites by hand is where use-after-frees live. Exiting is honest and the
 * prefork model makes it cheap (Redis takes the same line).
 *
 * Torture mode (tests): with TG_ALLOC_FAIL_AT=N in the environment, the N-th counted allocation
 * (every mem_* call and every arena allocation, whether or not it needs a new block) fails as if
 * the system were out of memory. With TG_ALLOC_COUNT_FILE=path, the number of counted allocations
 * is written there at exit, so a sweep knows how far to go. A forked child (a worker, a forked
 * Check test) counts from zero again. Allocations inside libraries (libpq,
 * json-c, libcurl) are not counted: their failures reach us as their own errors. */
#ifndef TOLLGATE_MEM_H
#define TOLLGATE_MEM_H

#include <stddef.h>

#define MEM_EXIT_OOM 71 /* EX_OSERR */

/* Never return NULL: on failure they call mem_oom(). */
void *mem_alloc(size_t size);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *p, size_t size);
char *mem_strdup(const char *s);
char *mem_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs "out of memory" (without allocating) and exits the process with MEM_EXIT_OOM. */
_Noreturn void mem_oom(void);

/* Counts one allocation; true when torture mode says this one must fail (the caller then
 * calls mem_oom). For allocators outside this module (the arena). */
int mem_torture_fail(void);
/* (Re)reads TG_ALLOC_FAIL_AT / TG_ALLOC_COUNT_FILE and restarts the count (done lazily on the
 * first count when never called). */
void mem_torture_init(void);

#endif
