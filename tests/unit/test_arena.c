/* test_arena.c — the per-request bump allocator and its cleanup hooks. */
#include "unit.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "tollgate/arena.h"
#include "tollgate/mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

static int order[16];
static int norder;

static void record(void *p)
{
	ck_assert_int_lt(norder, 16);
	order[norder++] = *(int *)p;
}

static void reset_record(void)
{
	norder = 0;
	memset(order, 0, sizeof(order));
}

START_TEST(test_new_and_destroy)
{
	struct arena *a = arena_new(0);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(arena_used(a), 0);
	arena_destroy(a);
	arena_destroy(NULL); /* a no-op, like free(NULL) */
	arena_reset(NULL);
}
END_TEST

START_TEST(test_alloc_is_zeroed_and_aligned)
{
	struct arena *a = arena_new(256);
	ck_assert_ptr_nonnull(a);
	for (size_t size = 1; size < 200; size += 7) {
		unsigned char *p = arena_alloc(a, size);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % alignof(max_align_t), 0);
		for (size_t i = 0; i < size; i++)
			ck_assert_uint_eq(p[i], 0);
		memset(p, 0xA5, size); /* dirty it: later allocations must still come back zeroed */
	}
	arena_reset(a);
	unsigned char *p = arena_alloc(a, 64);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < 64; i++)
		ck_assert_uint_eq(p[i], 0);
	arena_destroy(a);
}
END_TEST

START_TEST(test_allocations_do_not_overlap)
{
	struct arena *a = arena_new(128);
	ck_assert_ptr_nonnull(a);
	enum { N = 100 };
	unsigned char *ptrs[N];
	for (int i = 0; i < N; i++) {
		ptrs[i] = arena_alloc(a, (size_t)(i % 50) + 1);
		ck_assert_ptr_nonnull(ptrs[i]);
		memset(ptrs[i], i, (size_t)(i % 50) + 1);
	}
	for (int i = 0; i < N; i++)
		for (size_t j = 0; j < (size_t)(i % 50) + 1; j++)
			ck_assert_uint_eq(ptrs[i][j], (unsigned char)i);
	arena_destroy(a);
}
END_TEST

START_TEST(test_alloc_larger_than_block)
{
	struct arena *a = arena_new(64);
	ck_assert_ptr_nonnull(a);
	char *small = arena_strdup(a, "before");
	char *big = arena_alloc(a, 100000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 100000);
	char *after = arena_strdup(a, "after");
	ck_assert_str_eq(small, "before");
	ck_assert_str_eq(after, "after");
	ck_assert_uint_ge(arena_used(a), 100000);
	arena_destroy(a);
}
END_TEST

static void free_cb(void *p);

/* mem.h's policy: a size no memory can hold is out of memory: the process exits with
 * MEM_EXIT_OOM instead of handing NULL to a caller (these run as exit tests, forked). */
START_TEST(test_alloc_huge_exits)
{
	struct arena *a = arena_new(64);
	ck_assert_ptr_nonnull(a);
	arena_alloc(a, SIZE_MAX);
	ck_abort_msg("arena_alloc(SIZE_MAX) returned");
}
END_TEST

START_TEST(test_alloc_huge_with_header_exits)
{
	/* rounded up it still fits a size_t, but the block header on top does not */
	struct arena *a = arena_new(64);
	arena_alloc(a, SIZE_MAX - 40);
	ck_abort_msg("arena_alloc(SIZE_MAX - 40) returned");
}
END_TEST

/* Issue 8: arena_on_reset used to run the cleanup (freeing the caller's object) when its own
 * allocation failed and return -1, which every caller ignored: a use-after-free. Now the
 * failing allocation ends the process before the caller could go on. */
START_TEST(test_on_reset_out_of_memory_exits)
{
	struct arena *a = arena_new(0);
	setenv("TG_ALLOC_FAIL_AT", "1", 1);
	mem_torture_init();
	void *p = malloc(16);
	arena_on_reset(a, free_cb, p);
	ck_abort_msg("arena_on_reset returned after its allocation failed");
}
END_TEST

START_TEST(test_zero_size_alloc)
{
	struct arena *a = arena_new(64);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(arena_alloc(a, 0));
	ck_assert_str_eq(arena_memdup(a, "", 0), "");
	arena_destroy(a);
}
END_TEST

START_TEST(test_strdup_family)
{
	struct arena *a = arena_new(0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_null(arena_strdup(a, NULL));
	const char *src = "hello";
	char *d = arena_strdup(a, src);
	ck_assert_str_eq(d, "hello");
	ck_assert_ptr_ne(d, src);

	ck_assert_str_eq(arena_strndup(a, "hello world", 5), "hello");
	ck_assert_str_eq(arena_strndup(a, "hi", 10), "hi"); /* shorter than n: stops at the NUL */
	ck_assert_str_eq(arena_strndup(a, "hi", 0), "");

	char *m = arena_memdup(a, "a\0b", 3);
	ck_assert_mem_eq(m, "a\0b", 3);
	ck_assert_int_eq(m[3], '\0'); /* always NUL-terminated */
	arena_destroy(a);
}
END_TEST

START_TEST(test_printf)
{
	struct arena *a = arena_new(32);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(arena_printf(a, "%s=%d;%lld", "n", 42, -7LL), "n=42;-7");
	ck_assert_str_eq(arena_printf(a, "%s", ""), "");
	/* larger than the block: sized exactly from the first pass */
	char longstr[5000];
	memset(longstr, 'z', sizeof(longstr) - 1);
	longstr[sizeof(longstr) - 1] = '\0';
	char *s = arena_printf(a, "<%s>", longstr);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s), sizeof(longstr) + 1);
	ck_assert_int_eq(s[0], '<');
	ck_assert_int_eq(s[sizeof(longstr)], '>');
	arena_destroy(a);
}
END_TEST

START_TEST(test_cleanups_run_in_reverse_on_reset)
{
	static int v[3] = {1, 2, 3};
	reset_record();
	struct arena *a = arena_new(0);
	ck_assert_ptr_nonnull(a);
	for (int i = 0; i < 3; i++)
		arena_on_reset(a, record, &v[i]);
	ck_assert_int_eq(norder, 0); /* nothing runs before the reset */
	arena_reset(a);
	ck_assert_int_eq(norder, 3);
	ck_assert_int_eq(order[0], 3);
	ck_assert_int_eq(order[1], 2);
	ck_assert_int_eq(order[2], 1);
	/* hooks run once: a second reset does not run them again */
	arena_reset(a);
	ck_assert_int_eq(norder, 3);
	arena_destroy(a);
	ck_assert_int_eq(norder, 3);
}
END_TEST

START_TEST(test_cleanups_run_on_destroy)
{
	static int v[2] = {10, 20};
	reset_record();
	struct arena *a = arena_new(0);
	ck_assert_ptr_nonnull(a);
	arena_on_reset(a, record, &v[0]);
	arena_on_reset(a, record, &v[1]);
	arena_destroy(a);
	ck_assert_int_eq(norder, 2);
	ck_assert_int_eq(order[0], 20);
	ck_assert_int_eq(order[1], 10);
}
END_TEST

static void free_cb(void *p)
{
	free(p);
}

START_TEST(test_cleanup_releases_foreign_memory)
{
	/* under ASan/LSan a hook that never runs shows up as a leak */
	struct arena *a = arena_new(0);
	ck_assert_ptr_nonnull(a);
	for (int i = 0; i < 50; i++) {
		void *p = malloc(100);
		ck_assert_ptr_nonnull(p);
		arena_on_reset(a, free_cb, p);
	}
	arena_reset(a);
	void *p = malloc(10);
	ck_assert_ptr_nonnull(p);
	arena_on_reset(a, free_cb, p);
	arena_destroy(a);
}
END_TEST

START_TEST(test_used_and_reuse_after_reset)
{
	struct arena *a = arena_new(128);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(arena_alloc(a, 10));
	size_t u1 = arena_used(a);
	ck_assert_uint_ge(u1, 10);
	ck_assert_ptr_nonnull(arena_alloc(a, 10));
	ck_assert_uint_gt(arena_used(a), u1);
	for (int i = 0; i < 100; i++) /* spill into many blocks */
		ck_assert_ptr_nonnull(arena_alloc(a, 100));
	arena_reset(a);
	ck_assert_uint_eq(arena_used(a), 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++) {
			char *s = arena_printf(a, "round %d item %d", round, i);
			ck_assert_ptr_nonnull(s);
		}
		arena_reset(a);
		ck_assert_uint_eq(arena_used(a), 0);
	}
	arena_destroy(a);
}
END_TEST

/* Under ASan (make SANITIZE=1, make fuzz) the bytes just past an allocation, the unused rest of a
 * block and everything after a reset are poisoned: an overflow from one arena string into the next
 * is reported instead of passing silently. Without ASan there is nothing to check. */
START_TEST(test_overflow_is_poisoned_under_asan)
{
#ifdef TEST_ASAN
	struct arena *a = arena_new(256);
	ck_assert_ptr_nonnull(a);
	for (size_t size = 1; size <= 40; size++) {
		char *p = arena_alloc(a, size);
		ck_assert_ptr_nonnull(p);
		ck_assert(!__asan_region_is_poisoned(p, size));
		ck_assert(__asan_address_is_poisoned(p + size));
		char *q = arena_alloc(a, 8); /* the next one starts past a redzone */
		ck_assert_ptr_nonnull(q);
		ck_assert(__asan_region_is_poisoned(p, (size_t)(q - p)) == p + size);
	}
	char *big = arena_alloc(a, 1000); /* a block of its own */
	ck_assert_ptr_nonnull(big);
	ck_assert(__asan_address_is_poisoned(big + 1000));
	arena_destroy(a);

	a = arena_new(256);
	ck_assert_ptr_nonnull(a);
	char *first = arena_strdup(a, "x"); /* in the first block, the one a reset keeps */
	ck_assert_ptr_nonnull(first);
	arena_reset(a);
	ck_assert(__asan_address_is_poisoned(first));
	char *again = arena_strdup(a, "abc");
	ck_assert(again == first); /* handed out again */
	ck_assert_str_eq(again, "abc");
	ck_assert(__asan_address_is_poisoned(again + 4));
	arena_destroy(a);
#endif
}
END_TEST

static Suite *arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_new_and_destroy);
	tcase_add_test(tc, test_alloc_is_zeroed_and_aligned);
	tcase_add_test(tc, test_allocations_do_not_overlap);
	tcase_add_test(tc, test_alloc_larger_than_block);
	tcase_add_exit_test(tc, test_alloc_huge_exits, MEM_EXIT_OOM);
	tcase_add_exit_test(tc, test_alloc_huge_with_header_exits, MEM_EXIT_OOM);
	tcase_add_exit_test(tc, test_on_reset_out_of_memory_exits, MEM_EXIT_OOM);
	tcase_add_test(tc, test_zero_size_alloc);
	tcase_add_test(tc, test_strdup_family);
	tcase_add_test(tc, test_printf);
	tcase_add_test(tc, test_cleanups_run_in_reverse_on_reset);
	tcase_add_test(tc, test_cleanups_run_on_destroy);
	tcase_add_test(tc, test_cleanup_releases_foreign_memory);
	tcase_add_test(tc, test_used_and_reuse_after_reset);
	tcase_add_test(tc, test_overflow_is_poisoned_under_asan);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(arena_suite)
