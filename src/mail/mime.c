/* mime.c — RFC 5322 messages: headers (RFC 2047 when not ASCII), multipart/alternative. */
#include "tollgate/mail.h"
#include "tollgate/arena.h"
#include "tollgate/crypto.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define QP_LINE 76
#define MAX_7BIT_LINE 998
#define EW_CHUNK 45       /* raw bytes per encoded word: 60 base64 chars + 12 of framing < 75 */
#define EW_FIRST_CHUNK 39 /* the first word shares its line with "Subject: ": 9 + 64 < 76 */

static bool is_plain_ascii(const char *s, bool allow_newlines, size_t max_line)
{
	size_t line = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n' || *p == '\r') {
			if (!allow_newlines)
				return false;
			line = 0;
			continue;
		}
		if (*p >= 0x7F || (*p < 0x20 && *p != '\t'))
			return false;
		if (++line > max_line)
			return false;
	}
	return true;
}

char *mail_encode_header(struct arena *a, const char *value)
{
	if (is_plain_ascii(value, false, 900))
		return arena_strdup(a, value);
	size_t len = strlen(value);
	size_t cap = (len / (EW_FIRST_CHUNK - 4) + 2) * 80 + 1; /* a chunk may shrink by 3 to keep a UTF-8 sequence whole */
	char *out = arena_alloc(a, cap);
	if (!out)
		return NULL;
	size_t o = 0, i = 0;
	while (i < len) {
		size_t chunk = i == 0 ? EW_FIRST_CHUNK : EW_CHUNK;
		size_t n = len - i < chunk ? len - i : chunk, whole = n;
		/* never split a UTF-8 sequence across encoded words: a sequence starts at most 3 bytes
		 * back; when none does, the value is not UTF-8 there and is cut where the chunk ends */
		for (int back = 0; back < 3 && n < len - i && ((unsigned char)value[i + n] & 0xC0) == 0x80; back++)
			n--;
		if (n < len - i && ((unsigned char)value[i + n] & 0xC0) == 0x80)
			n = whole;
		char *b64 = arena_alloc(a, 4 * ((n + 2) / 3) + 1);
		if (!b64)
			return NULL;
		/* standard base64 (not url-safe), as RFC 2047 requires */
		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)value + i, (int)n);
		int w = snprintf(out + o, cap - o, "%s=?UTF-8?B?%s?=", o ? "\r\n " : "", b64);
		if (w < 0 || (size_t)w >= cap - o)
			return NULL;
		o += (size_t)w;
		i += n;
	}
	out[o] = '\0';
	return out;
}

char *mail_qp_encode(struct arena *a, const char *s)
{
	size_t len = strlen(s);
	size_t cap = len * 6 + 16; /* worst case: every byte =XX plus a soft break every 25 bytes */
	char *out = arena_alloc(a, cap);
	if (!out)
		return NULL;
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, col = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 8 > cap)
			return NULL;
		if (c == '\r')
			continue;
		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			col = 0;
			continue;
		}
		bool at_eol = i + 1 == len || s[i + 1] == '\n' || s[i + 1] == '\r';
		bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_eol);
		size_t need = literal ? 1 : 3;
		if (col + need > QP_LINE - 1) {
			out[o++] = '=';
			out[o++] = '\r';
			out[o++] = '\n';
			col = 0;
		}
		if (literal) {
			out[o++] = (char)c;
		} else {
			out[o++] = '=';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
		col += need;
	}
	out[o] = '\0';
	return out;
}

/* Normalises line ends to CRLF. */
static char *crlf(struct arena *a, const char *s)
{
	size_t len = strlen(s), nl = 0;
	for (size_t i = 0; i < len; i++)
		nl += s[i] == '\n';
	char *out = arena_alloc(a, len + nl + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r')
			continue;
		if (s[i] == '\n')
			out[o++] = '\r';
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

char *mail_address_of(struct arena *a, const char *from)
{
	const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		return arena_strndup(a, lt + 1, (size_t)(gt - lt - 1));
	return arena_strdup(a, from);
}

static char *from_header(struct arena *a, const char *from)
{
	const char *lt = strrchr(from, '<');
	if (!lt)
		return arena_strdup(a, from);
	size_t nl = (size_t)(lt - from);
	while (nl && from[nl - 1] == ' ')
		nl--;
	char *name = arena_strndup(a, from, nl);
	char *addr = mail_address_of(a, from);
	if (!name || !addr)
		return NULL;
	if (!*name)
		return arena_printf(a, "<%s>", addr);
	if (!is_plain_ascii(name, false, 200)) {
		char *enc = mail_encode_header(a, name);
		return enc ? arena_printf(a, "%s <%s>", enc, addr) : NULL;
	}
	/* quoted-string: escape backslash and double quote */
	char *q = arena_alloc(a, 2 * strlen(name) + 1);
	if (!q)
		return NULL;
	size_t o = 0;
	for (const char *p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			q[o++] = '\\';
		q[o++] = *p;
	}
	q[o] = '\0';
	return arena_printf(a, "\"%s\" <%s>", q, addr);
}

/* A body part: 7bit when plain ASCII with short lines (readable in a .eml), else quoted-printable. */
static char *part(struct arena *a, const char *boundary, const char *type, const char *body)
{
	bool plain = is_plain_ascii(body, true, MAX_7BIT_LINE);
	char *enc = plain ? crlf(a, body) : mail_qp_encode(a, body);
	if (!enc)
		return NULL;
	size_t el = strlen(enc);
	return arena_printf(a,
			    "--%s\r\nContent-Type: %s; charset=UTF-8\r\nContent-Transfer-Encoding: %s\r\n\r\n%s%s",
			    boundary, type, plain ? "7bit" : "quoted-printable", enc,
			    el >= 2 && !strcmp(enc + el - 2, "\r\n") ? "" : "\r\n");
}

char *mail_build(struct arena *a, const struct mail_message *m)
{
	unsigned char rnd[12];
	char hexr[25];
	if (crypto_random(rnd, sizeof(rnd)) != 0)
		return NULL;
	crypto_hex(rnd, sizeof(rnd), hexr);
	char *boundary = arena_printf(a, "=_tollgate_%s", hexr);
	char date[64];
	struct tm tm;
	gmtime_r(&m->date, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	char *from = from_header(a, m->from);
	char *subject = mail_encode_header(a, m->subject);
	char *text = part(a, boundary, "text/plain", m->text);
	char *html = part(a, boundary, "text/html", m->html);
	if (!boundary || !from || !subject || !text || !html)
		return NULL;
	return arena_printf(a,
			    "Date: %s\r\n"
			    "Message-ID: %s\r\n"
			    "From: %s\r\n"
			    "To: %s\r\n"
			    "Subject: %s\r\n"
			    "MIME-Version: 1.0\r\n"
			    "Auto-Submitted: auto-generated\r\n"
			    "Content-Type: multipart/alternative; boundary=\"%s\"\r\n"
			    "\r\n"
			    "%s%s--%s--\r\n",
			    date, m->message_id, from, m->to, subject, boundary, text, html, boundary);
}
