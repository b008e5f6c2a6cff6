/* fuzz.h — shared helpers for the libFuzzer targets in tests/fuzz/fuzz_<name>.c.
 *
 * Each target defines LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize). Inputs are
 * copied into buffers of their exact size, so ASan reports a read one byte past what the code
 * was given; a broken invariant is reported through FUZZ_CHECK, which aborts (libFuzzer then
 * saves the input as a crash). Build and run: `make fuzz`, `make fuzz-replay` (README.md). */
#ifndef TOLLGATE_TESTS_FUZZ_H
#define TOLLGATE_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_UNUSED __attribute__((unused))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts with the failed condition when an invariant does not hold. */
#define FUZZ_CHECK(cond)                                                                    \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* A part of the input: not NUL-terminated. */
struct fuzz_span {
	const char *p;
	size_t n;
};

/* A heap copy of n bytes of exactly n bytes (no terminator): reading past it is an ASan error.
 * Caller frees. Returns a valid pointer for n == 0 too. */
static FUZZ_UNUSED char *fuzz_dup_exact(const void *p, size_t n)
{
	char *d = malloc(n ? n : 1);
	if (!d)
		abort();
	if (n)
		memcpy(d, p, n);
	return d;
}

/* A heap C string of the n bytes at p (cut at an embedded NUL, as a C caller would see it). */
static FUZZ_UNUSED char *fuzz_cstr(const void *p, size_t n)
{
	size_t len = strnlen(p, n);
	char *d = malloc(len + 1);
	if (!d)
		abort();
	memcpy(d, p, len);
	d[len] = '\0';
	return d;
}

/* Takes the next line of *in (up to '\n', which is consumed; a '\r' before it is kept). Returns
 * false at the end of the input. */
static FUZZ_UNUSED bool fuzz_next_line(struct fuzz_span *in, struct fuzz_span *line)
{
	if (in->n == 0)
		return false;
	const char *nl = memchr(in->p, '\n', in->n);
	size_t len = nl ? (size_t)(nl - in->p) : in->n;
	line->p = in->p;
	line->n = len;
	in->p += nl ? len + 1 : len;
	in->n -= nl ? len + 1 : len;
	return true;
}

/* Takes the next field of *in up to separator sep (consumed). Returns false at the end. */
static FUZZ_UNUSED bool fuzz_next_field(struct fuzz_span *in, char sep, struct fuzz_span *field)
{
	if (in->n == 0)
		return false;
	const char *s = memchr(in->p, sep, in->n);
	size_t len = s ? (size_t)(s - in->p) : in->n;
	field->p = in->p;
	field->n = len;
	in->p += s ? len + 1 : len;
	in->n -= s ? len + 1 : len;
	return true;
}

#endif
