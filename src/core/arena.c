/* arena.c — bump allocator in chained blocks, with cleanup hooks. */
#include "tollgate/arena.h"
#include "tollgate/mem.h"

#include <json.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Under AddressSanitizer (make SANITIZE=1, make fuzz) every allocation is followed by a poisoned
 * redzone and the unused part of each block stays poisoned, so reading or writing past an arena
 * allocation is reported like a heap overflow instead of landing silently in the next one. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_REDZONE 16
/* Out of line, with a non-const pointer: GCC 12 reads a const pointer argument as a read of the
 * (uninitialised) memory and warns. */
__attribute__((noinline)) static void poison(void *p, size_t n)
{
	__asan_poison_memory_region(p, n);
}
__attribute__((noinline)) static void unpoison(void *p, size_t n)
{
	__asan_unpoison_memory_region(p, n);
}
#else
#define ARENA_REDZONE 0
static inline void poison(void *p, size_t n)
{
	(void)p;
	(void)n;
}
static inline void unpoison(void *p, size_t n)
{
	(void)p;
	(void)n;
}
#endif

struct block {
	struct block *next;
	size_t size, used;
	alignas(max_align_t) unsigned char data[];
};

struct cleanup {
	struct cleanup *next;
	arena_cleanup_fn fn;
	void *ptr;
};

struct arena {
	struct block *head;     /* current block; the first block is last in the chain */
	struct cleanup *cleanups;
	size_t block_size;
	size_t used;
};

static struct block *block_new(size_t size)
{
	if (size > SIZE_MAX - sizeof(struct block))
		mem_oom(); /* the header would wrap the malloc size: no memory can hold it */
	struct block *b = mem_alloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	poison(b->data, size);
	return b;
}

static void block_free(struct block *b)
{
	unpoison(b->data, b->size);
	free(b);
}

struct arena *arena_new(size_t block_size)
{
	struct arena *a = mem_calloc(1, sizeof(*a));
	a->block_size = block_size ? block_size : 16384;
	a->head = block_new(a->block_size);
	return a;
}

static void run_cleanups(struct arena *a)
{
	while (a->cleanups) {
		struct cleanup *c = a->cleanups;
		a->cleanups = c->next;
		c->fn(c->ptr);
	}
}

void arena_reset(struct arena *a)
{
	if (!a)
		return;
	run_cleanups(a);
	while (a->head->next) {
		struct block *b = a->head;
		a->head = b->next;
		block_free(b);
	}
	a->head->used = 0;
	poison(a->head->data, a->head->size);
	a->used = 0;
}

void arena_destroy(struct arena *a)
{
	if (!a)
		return;
	arena_reset(a);
	block_free(a->head);
	free(a);
}

void *arena_alloc(struct arena *a, size_t size)
{
	const size_t align = alignof(max_align_t);
	size_t need = (size + align - 1) & ~(align - 1);
	if (need < size || need + ARENA_REDZONE < need || mem_torture_fail())
		mem_oom();
	need += ARENA_REDZONE; /* 0 unless under ASan */
	struct block *b = a->head;
	if (b->size - b->used < need) {
		size_t bs = need > a->block_size ? need : a->block_size;
		struct block *nb = block_new(bs);
		nb->next = a->head;
		a->head = nb;
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += need;
	a->used += need;
	unpoison(p, size);
	memset(p, 0, size);
	return p;
}

char *arena_memdup(struct arena *a, const void *p, size_t n)
{
	char *d = arena_alloc(a, n + 1);
	if (!d)
		return NULL;
	if (n)
		memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	return arena_memdup(a, s, len);
}

char *arena_strdup(struct arena *a, const char *s)
{
	return s ? arena_memdup(a, s, strlen(s)) : NULL;
}

static char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	char *s = arena_alloc(a, (size_t)n + 1);
	if (!s)
		return NULL;
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return s;
}

void arena_on_reset(struct arena *a, arena_cleanup_fn fn, void *ptr)
{
	struct cleanup *c = arena_alloc(a, sizeof(*c));
	c->fn = fn;
	c->ptr = ptr;
	c->next = a->cleanups;
	a->cleanups = c;
}

static void json_put_cb(void *p)
{
	json_object_put(p);
}

struct json_object *arena_own_json(struct arena *a, struct json_object *o)
{
	if (o)
		arena_on_reset(a, json_put_cb, o);
	return o;
}

size_t arena_used(const struct arena *a)
{
	return a->used;
}
