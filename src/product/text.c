/* text.c — splitting documents into passages, safe search snippets, conversation titles. */
#include "tollgate/product.h"
#include "tollgate/arena.h"

#include <string.h>

/* Byte length of the first max_chars characters of s[0..n) (UTF-8). */
static size_t bytes_of_chars(const char *s, size_t n, size_t max_chars)
{
	size_t chars = 0, i = 0;
	while (i < n) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (chars == max_chars)
				break;
			chars++;
		}
		i++;
	}
	return i;
}

/* Where to cut s[0..n): the last paragraph break in the second half, else the last sentence end,
 * else the last space; else n (a word longer than a passage). */
static size_t cut_at(const char *s, size_t n)
{
	static const char *const seps[] = {"\n\n", ". ", "! ", "? ", ".\n", "\n", " "};
	for (size_t k = 0; k < sizeof(seps) / sizeof(seps[0]); k++) {
		size_t sl = strlen(seps[k]);
		for (size_t i = n; i >= n / 2 + sl && i >= sl; i--)
			if (!memcmp(s + i - sl, seps[k], sl))
				return i;
	}
	return n;
}

json_object *product_passages(const char *text, size_t max_chars)
{
	json_object *arr = json_object_new_array();
	size_t len = strlen(text), pos = 0;
	while (pos < len) {
		while (pos < len && (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\r' || text[pos] == '\t'))
			pos++;
		if (pos >= len)
			break;
		size_t n = bytes_of_chars(text + pos, len - pos, max_chars);
		if (pos + n < len)
			n = cut_at(text + pos, n);
		size_t end = n;
		while (end > 0 && (text[pos + end - 1] == ' ' || text[pos + end - 1] == '\n' ||
				   text[pos + end - 1] == '\r' || text[pos + end - 1] == '\t'))
			end--;
		if (end)
			json_object_array_add(arr, json_object_new_string_len(text + pos, (int)end));
		pos += n;
	}
	return arr;
}

char *product_mark_snippet(struct arena *a, const char *headline)
{
	size_t cap = 1;
	for (const char *p = headline; *p; p++)
		cap += strchr("\x01\x02&<>\"\x03\x04\x05", *p) ? 7 : 1; /* the longest replacement: </mark> */
	char *out = arena_alloc(a, cap);
	size_t o = 0;
#define PUT(s)                              \
	do {                                \
		size_t l_ = strlen(s);      \
		memcpy(out + o, (s), l_);   \
		o += l_;                    \
	} while (0)
	for (const char *p = headline; *p; p++) {
		switch (*p) {
		case '\x01': PUT("<mark>"); break;
		case '\x02': PUT("</mark>"); break;
		case '&': case '\x05': PUT("&amp;"); break;
		case '<': case '\x03': PUT("&lt;"); break;
		case '>': case '\x04': PUT("&gt;"); break;
		case '"': PUT("&quot;"); break;
		default: out[o++] = *p; break;
		}
	}
#undef PUT
	out[o] = '\0';
	return out;
}

char *product_conversation_title(struct arena *a, const char *message)
{
	while (*message == ' ' || *message == '\n' || *message == '\r' || *message == '\t')
		message++;
	size_t len = strlen(message);
	size_t n = bytes_of_chars(message, len, 60);
	if (n < len) {
		/* cut at the last space inside the 60 characters, unless that leaves almost nothing */
		size_t cut = n;
		while (cut > 0 && message[cut] != ' ' && message[cut] != '\n' && message[cut] != '\t')
			cut--;
		if (cut >= 20)
			n = cut;
	}
	char *t = arena_strndup(a, message, n);
	for (char *p = t; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	size_t tl = strlen(t);
	while (tl && t[tl - 1] == ' ')
		t[--tl] = '\0';
	return *t ? t : arena_strdup(a, "New conversation");
}
