/* test_product.c — the product's text work that needs no database: passages, snippets, titles. */
#include "unit.h"

#include "tollgate/arena.h"
#include "tollgate/product.h"
#include "tollgate/utf8.h"
#include "tollgate/valid.h"

#include <string.h>

static struct arena *A;

static void setup(void)
{
	A = arena_new(0);
}

static void teardown(void)
{
	arena_destroy(A);
}

static const char *passage(json_object *arr, size_t i)
{
	return json_object_get_string(json_object_array_get_idx(arr, i));
}

START_TEST(test_passages_empty_and_short)
{
	json_object *p = product_passages("", 1000);
	ck_assert_uint_eq(json_object_array_length(p), 0);
	json_object_put(p);
	p = product_passages("  \n\t ", 1000);
	ck_assert_uint_eq(json_object_array_length(p), 0);
	json_object_put(p);
	p = product_passages("  One short text.  ", 1000);
	ck_assert_uint_eq(json_object_array_length(p), 1);
	ck_assert_str_eq(passage(p, 0), "One short text.");
	json_object_put(p);
}
END_TEST

START_TEST(test_passages_cut_at_paragraphs_and_sentences)
{
	char text[4000] = "";
	for (int i = 0; i < 30; i++) {
		char s[128];
		snprintf(s, sizeof(s), "Sentence number %d says something. ", i);
		strncat(text, s, sizeof(text) - strlen(text) - 1);
		if (i % 10 == 9)
			strncat(text, "\n\n", sizeof(text) - strlen(text) - 1);
	}
	json_object *p = product_passages(text, 300);
	size_t n = json_object_array_length(p);
	ck_assert_uint_ge(n, 4);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = passage(p, i);
		ck_assert_uint_le(valid_utf8_chars(s), 300);
		/* every passage ends at a sentence or a paragraph, never mid-word */
		size_t l = strlen(s);
		ck_assert_msg(s[l - 1] == '.', "passage %zu ends badly: ...%s", i, s + (l > 20 ? l - 20 : 0));
		total += l;
	}
	ck_assert_uint_ge(total, strlen(text) - 200); /* only the whitespace between passages is dropped */
	json_object_put(p);
}
END_TEST

START_TEST(test_passages_never_split_a_character)
{
	/* 2000 characters of "é" (2 bytes each) and "😀" (4) with no space: cut anyway, on characters */
	char text[12000] = "";
	for (int i = 0; i < 1000; i++)
		strncat(text, i % 2 ? "\xc3\xa9" : "\xf0\x9f\x98\x80", sizeof(text) - strlen(text) - 1);
	json_object *p = product_passages(text, 100);
	ck_assert_uint_eq(json_object_array_length(p), 10);
	for (size_t i = 0; i < 10; i++) {
		const char *s = passage(p, i);
		ck_assert(utf8_valid(s, strlen(s)));
		ck_assert_uint_eq(valid_utf8_chars(s), 100);
	}
	json_object_put(p);
}
END_TEST

START_TEST(test_snippet_escapes_and_marks)
{
	ck_assert_str_eq(product_mark_snippet(A, "a \x01term\x02 <script>alert(\"x\")</script> & b"),
			 "a <mark>term</mark> &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; b");
	ck_assert_str_eq(product_mark_snippet(A, ""), "");
	/* a marker that reached the text as data cannot open a tag: only \x01/\x02 make <mark> */
	ck_assert_str_eq(product_mark_snippet(A, "<mark>x</mark>"), "&lt;mark&gt;x&lt;/mark&gt;");
}
END_TEST

START_TEST(test_conversation_title)
{
	ck_assert_str_eq(product_conversation_title(A, "  How do refunds work?  "), "How do refunds work?");
	/* the first 60 characters, cut at a word */
	const char *long_msg = "Please summarise the refund policy of our shop and list every exception that applies";
	char *t = product_conversation_title(A, long_msg);
	ck_assert_uint_le(valid_utf8_chars(t), 60);
	ck_assert_msg(!strncmp(long_msg, t, strlen(t)) && long_msg[strlen(t)] == ' ', "cut mid-word: %s", t);
	/* newlines become spaces; a first message of only whitespace still has a title */
	ck_assert_str_eq(product_conversation_title(A, "line one\nline two"), "line one line two");
	ck_assert_str_eq(product_conversation_title(A, " \n "), "New conversation");
	/* one long word: cut at 60 characters, on a character */
	char word[400] = "";
	for (int i = 0; i < 100; i++)
		strncat(word, "\xc3\xa9", sizeof(word) - strlen(word) - 1);
	t = product_conversation_title(A, word);
	ck_assert_uint_eq(valid_utf8_chars(t), 60);
	ck_assert(utf8_valid(t, strlen(t)));
}
END_TEST

static Suite *product_suite(void)
{
	Suite *s = suite_create("product");
	TCase *tc = tcase_create("text");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_passages_empty_and_short);
	tcase_add_test(tc, test_passages_cut_at_paragraphs_and_sentences);
	tcase_add_test(tc, test_passages_never_split_a_character);
	tcase_add_test(tc, test_snippet_escapes_and_marks);
	tcase_add_test(tc, test_conversation_title);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(product_suite)
