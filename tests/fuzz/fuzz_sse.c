/* fuzz_sse.c — the parser of LiteLLM's server-sent event stream (src/chat/chat.c: chat_sse_feed):
 * what an upstream (or anyone in front of it) sends back to a chat.
 *
 * Input: the stream's bytes. They are fed whole, then again split at every position given by the
 * first byte (a stream arrives in pieces of any size), and both feeds must agree: the same deltas
 * in the same order, the same usage, the same end (done, failed, or neither). */
#include "fuzz.h"

#include "tollgate/chat.h"

#define MAX_TEXT (1 << 20)

struct seen {
	char *text;
	size_t len;
	int calls;
	int stop_after; /* asks to stop after that many deltas (0: never) */
};

static int on_delta(void *ud, const char *t, size_t n)
{
	struct seen *s = ud;
	FUZZ_CHECK(n > 0);
	if (s->len + n <= MAX_TEXT) {
		memcpy(s->text + s->len, t, n);
		s->len += n;
	}
	s->calls++;
	return s->stop_after && s->calls >= s->stop_after;
}

struct outcome {
	struct seen seen;
	struct chat_usage usage;
	bool done, failed, stopped;
};

static void run(const char *data, size_t n, size_t piece, int stop_after, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->seen.text = malloc(MAX_TEXT);
	FUZZ_CHECK(o->seen.text != NULL);
	o->seen.stop_after = stop_after;
	struct chat_sse *p = calloc(1, sizeof(*p));
	FUZZ_CHECK(p != NULL);
	struct chat_sse_sink sink = {.on_delta = on_delta, .ud = &o->seen, .usage = &o->usage};
	bool ok = true;
	for (size_t i = 0; i < n && ok; i += piece) {
		size_t k = n - i < piece ? n - i : piece;
		char *copy = fuzz_dup_exact(data + i, k); /* exact size: a read past a piece is caught */
		ok = chat_sse_feed(p, copy, k, &sink);
		free(copy);
	}
	o->done = p->done;
	o->failed = p->failed;
	o->stopped = sink.stop != 0;
	FUZZ_CHECK(!ok == (p->failed || sink.stop));
	FUZZ_CHECK(p->len < sizeof(p->line));
	if (p->failed)
		FUZZ_CHECK(p->error[0] != '\0' && memchr(p->error, '\0', sizeof(p->error)));
	if (o->usage.known)
		FUZZ_CHECK(o->usage.prompt_tokens >= 0 && o->usage.completion_tokens >= 0);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t piece = (size_t)data[0] % 17 + 1;
	const char *stream = (const char *)data + 1;
	size_t n = size - 1;
	struct outcome whole, pieces, stopped;
	run(stream, n, n ? n : 1, 0, &whole);
	run(stream, n, piece, 0, &pieces);
	FUZZ_CHECK(whole.seen.len == pieces.seen.len && !memcmp(whole.seen.text, pieces.seen.text, whole.seen.len));
	FUZZ_CHECK(whole.seen.calls == pieces.seen.calls);
	FUZZ_CHECK(whole.done == pieces.done && whole.failed == pieces.failed);
	FUZZ_CHECK(whole.usage.known == pieces.usage.known && whole.usage.total_tokens == pieces.usage.total_tokens);
	/* a sink that stops after the first delta gets no more */
	run(stream, n, piece, 1, &stopped);
	FUZZ_CHECK(stopped.seen.calls <= 1);
	free(whole.seen.text);
	free(pieces.seen.text);
	free(stopped.seen.text);
	return 0;
}
