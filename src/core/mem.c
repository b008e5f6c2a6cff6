/* mem.c — allocation that never returns NULL, and the allocation-failure torture mode. */
#include "tollgate/mem.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool torture_ready;
static unsigned long long fail_at;  /* 0: never */
static unsigned long long counted;
static const char *count_file;

static void write_count(void)
{
	FILE *f = count_file ? fopen(count_file, "w") : NULL;
	if (!f)
		return;
	fprintf(f, "%llu\n", counted);
	fclose(f);
}

/* Each forked process (a worker, a Check test) counts its own allocations from zero. */
static void count_from_zero(void)
{
	counted = 0;
}

void mem_torture_init(void)
{
	static bool atfork_set;
	if (!atfork_set) {
		atfork_set = true;
		pthread_atfork(NULL, NULL, count_from_zero);
	}
	const char *n = getenv("TG_ALLOC_FAIL_AT");
	fail_at = n && *n ? strtoull(n, NULL, 10) : 0;
	counted = 0;
	const char *file = getenv("TG_ALLOC_COUNT_FILE");
	if (file && *file && !count_file)
		atexit(write_count);
	count_file = file && *file ? file : NULL;
	torture_ready = true;
}

int mem_torture_fail(void)
{
	if (!torture_ready)
		mem_torture_init();
	counted++;
	return fail_at && counted == fail_at;
}

_Noreturn void mem_oom(void)
{
	/* a fixed line through write(2): the logger would need memory */
	static const char line[] = "{\"level\":\"error\",\"msg\":\"out of memory; exiting (the master replaces this process)\"}\n";
	ssize_t w = write(STDERR_FILENO, line, sizeof(line) - 1);
	(void)w;
	if (count_file)
		write_count();
	_exit(MEM_EXIT_OOM);
}

void *mem_alloc(size_t size)
{
	void *p = mem_torture_fail() ? NULL : malloc(size ? size : 1);
	if (!p)
		mem_oom();
	return p;
}

void *mem_calloc(size_t n, size_t size)
{
	void *p = mem_torture_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
	if (!p)
		mem_oom();
	return p;
}

void *mem_realloc(void *old, size_t size)
{
	void *p = mem_torture_fail() ? NULL : realloc(old, size ? size : 1);
	if (!p)
		mem_oom();
	return p;
}

char *mem_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = mem_alloc(n);
	memcpy(d, s, n);
	return d;
}

char *mem_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		mem_oom();
	char *s = mem_alloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}
