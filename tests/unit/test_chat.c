/* test_chat.c — the parser of LiteLLM's event stream (chat_sse_feed): deltas in order whatever the
 * pieces the bytes arrive in, usage from the last chunk, [DONE], errors and stops. */
#include "unit.h"

#include "tollgate/chat.h"

#include <stdlib.h>
#include <string.h>

struct seen {
	char text[4096];
	int calls;
	int stop_after;
};

static int on_delta(void *ud, const char *t, size_t n)
{
	struct seen *s = ud;
	strncat(s->text, t, n < sizeof(s->text) - strlen(s->text) - 1 ? n : sizeof(s->text) - strlen(s->text) - 1);
	s->calls++;
	return s->stop_after && s->calls >= s->stop_after;
}

#define CHUNK(content) "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" content "\"}}]}\n\n"
static const char STREAM[] =
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
	": keep-alive\n\n" CHUNK("Hello ") CHUNK("w\\u00f6rld") CHUNK(" \\ud83d\\ude00")
	"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
	"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}\n\n"
	"data: [DONE]\n\n";

/* Feeds s in pieces of `piece` bytes. */
static bool feed(struct chat_sse *p, const char *s, size_t piece, struct seen *seen, struct chat_usage *u)
{
	struct chat_sse_sink sink = {.on_delta = on_delta, .ud = seen, .usage = u};
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i += piece)
		if (!chat_sse_feed(p, s + i, n - i < piece ? n - i : piece, &sink))
			return false;
	return true;
}

START_TEST(test_stream_in_any_pieces)
{
	for (size_t piece = 1; piece <= 64; piece++) {
		struct chat_sse *p = calloc(1, sizeof(*p));
		struct seen seen = {0};
		struct chat_usage u = {0};
		ck_assert(feed(p, STREAM, piece, &seen, &u));
		ck_assert_str_eq(seen.text, "Hello w\xc3\xb6rld \xf0\x9f\x98\x80");
		ck_assert_int_eq(seen.calls, 3); /* the empty role chunk is no delta */
		ck_assert(p->done && !p->failed);
		ck_assert(u.known);
		ck_assert_int_eq(u.prompt_tokens, 12);
		ck_assert_int_eq(u.completion_tokens, 3);
		ck_assert_int_eq(u.total_tokens, 15);
		free(p);
	}
}
END_TEST

START_TEST(test_crlf_lines)
{
	struct chat_sse *p = calloc(1, sizeof(*p));
	struct seen seen = {0};
	struct chat_usage u = {0};
	ck_assert(feed(p, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\ndata: [DONE]\r\n\r\n", 5, &seen, &u));
	ck_assert_str_eq(seen.text, "a");
	ck_assert(p->done);
	ck_assert(!u.known); /* no usage chunk: the caller estimates */
	free(p);
}
END_TEST

START_TEST(test_error_event_mid_stream)
{
	struct chat_sse *p = calloc(1, sizeof(*p));
	struct seen seen = {0};
	struct chat_usage u = {0};
	ck_assert(!feed(p, CHUNK("partial") "data: {\"error\":{\"message\":\"upstream overloaded\",\"type\":\"api_error\"}}\n\n"
			   CHUNK("never"),
		       3, &seen, &u));
	ck_assert(p->failed && !p->done);
	ck_assert_str_eq(p->error, "upstream overloaded");
	ck_assert_str_eq(seen.text, "partial");
	free(p);
}
END_TEST

START_TEST(test_malformed_and_too_long)
{
	struct chat_sse *p = calloc(1, sizeof(*p));
	struct seen seen = {0};
	struct chat_usage u = {0};
	ck_assert(!feed(p, "data: {not json}\n\n", 4, &seen, &u));
	ck_assert(p->failed);
	free(p);
	p = calloc(1, sizeof(*p));
	size_t n = sizeof(p->line) + 10;
	char *big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\0';
	ck_assert(!feed(p, big, 4096, &seen, &u));
	ck_assert(p->failed);
	free(big);
	free(p);
}
END_TEST

START_TEST(test_sink_stops_the_stream)
{
	struct chat_sse *p = calloc(1, sizeof(*p));
	struct seen seen = {.stop_after = 2};
	struct chat_usage u = {0};
	ck_assert(!feed(p, STREAM, 1000, &seen, &u));
	ck_assert_int_eq(seen.calls, 2);
	ck_assert_str_eq(seen.text, "Hello w\xc3\xb6rld");
	free(p);
}
END_TEST

static Suite *chat_suite(void)
{
	Suite *s = suite_create("chat");
	TCase *tc = tcase_create("sse");
	tcase_add_test(tc, test_stream_in_any_pieces);
	tcase_add_test(tc, test_crlf_lines);
	tcase_add_test(tc, test_error_event_mid_stream);
	tcase_add_test(tc, test_malformed_and_too_long);
	tcase_add_test(tc, test_sink_stops_the_stream);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(chat_suite)
