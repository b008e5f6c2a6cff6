/* mail_parse.c — see mail_parse.h. */
#include "mail_parse.h"

#include <check.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char *xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ---- MIME decoding */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Quoted-printable (RFC 2045 6.7): "=\r\n" (or "=\n") soft breaks vanish, "=XX" is a byte.
 * Returns a malloc'd string; *bad counts malformed escapes. */
static char *qp_decode(const char *s, size_t n, int *bad)
{
	char *out = malloc(n + 1);
	ck_assert_ptr_nonnull(out);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '=') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 < n + 1 && i + 1 < n && s[i + 1] == '\n') {
			i += 1;
			continue;
		}
		if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
			continue;
		}
		int h = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
		int l = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
		if (h < 0 || l < 0) {
			(*bad)++;
			out[o++] = '=';
			continue;
		}
		out[o++] = (char)(h * 16 + l);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64; whitespace skipped. *bad counts other stray characters. */
static char *b64_decode(const char *s, size_t n, size_t *outlen, int *bad)
{
	char *out = malloc(n + 1);
	ck_assert_ptr_nonnull(out);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '=' || isspace(c))
			continue;
		int v = b64val(c);
		if (v < 0) {
			(*bad)++;
			continue;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xFF);
		}
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return out;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n;
		if (*p < 0x80)
			n = 0;
		else if ((*p & 0xE0) == 0xC0 && *p >= 0xC2)
			n = 1;
		else if ((*p & 0xF0) == 0xE0)
			n = 2;
		else if ((*p & 0xF8) == 0xF0 && *p <= 0xF4)
			n = 3;
		else
			return false;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xC0) != 0x80)
				return false;
	}
	return true;
}

/* RFC 2047: decodes every encoded word of a header value (UTF-8 charset only, B or Q);
 * whitespace between two adjacent encoded words is dropped. *bad counts problems. */
char *rfc2047_decode(const char *v, int *bad)
{
	size_t n = strlen(v);
	char *out = malloc(4 * n + 1);
	ck_assert_ptr_nonnull(out);
	size_t o = 0;
	bool prev_word = false;
	const char *p = v;
	while (*p) {
		if (p[0] == '=' && p[1] == '?') {
			const char *cs = p + 2, *q1 = strchr(cs, '?');
			const char *enc = q1 ? q1 + 1 : NULL;
			const char *q2 = enc && enc[0] && enc[1] == '?' ? enc + 1 : NULL;
			const char *txt = q2 ? q2 + 1 : NULL;
			const char *end = txt ? strstr(txt, "?=") : NULL;
			if (end) {
				if (!((size_t)(q1 - cs) == 5 && !strncasecmp(cs, "UTF-8", 5)))
					(*bad)++;
				char *dec;
				size_t dl;
				if (*enc == 'B' || *enc == 'b') {
					dec = b64_decode(txt, (size_t)(end - txt), &dl, bad);
				} else if (*enc == 'Q' || *enc == 'q') {
					char *tmp = xstrndup(txt, (size_t)(end - txt));
					for (char *t = tmp; *t; t++)
						if (*t == '_')
							*t = ' ';
					dec = qp_decode(tmp, strlen(tmp), bad);
					free(tmp);
					dl = strlen(dec);
				} else {
					(*bad)++;
					dec = xstrndup("", 0);
					dl = 0;
				}
				/* drop the linear whitespace between two encoded words */
				if (prev_word) {
					while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
						o--;
				}
				memcpy(out + o, dec, dl);
				o += dl;
				free(dec);
				p = end + 2;
				prev_word = true;
				continue;
			}
		}
		if (*p != ' ' && *p != '\t')
			prev_word = false;
		out[o++] = *p++;
	}
	out[o] = '\0';
	return out;
}

/* Copies s with CRLF turned into LF (malloc'd). */
static char *lf_only(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n + 1);
	ck_assert_ptr_nonnull(out);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && s[i + 1] == '\n')
			continue;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/* ---- headers */

static void headers_free(struct headers *h)
{
	for (int i = 0; i < h->n; i++) {
		free(h->name[i]);
		free(h->value[i]);
	}
	h->n = 0;
}

/* Parses the header block starting at p (CRLF lines, folded continuation lines); returns the
 * start of the body (after the empty line) or NULL when there is no empty line. */
static const char *headers_parse(const char *p, const char *end, struct headers *h)
{
	h->n = 0;
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			return NULL;
		if (eol == p)
			return eol + 2; /* the empty line */
		if ((*p == ' ' || *p == '\t') && h->n > 0) {
			/* folded: append to the previous value */
			char *prev = h->value[h->n - 1];
			size_t pl = strlen(prev), al = (size_t)(eol - p);
			char *nv = realloc(prev, pl + al + 1);
			ck_assert_ptr_nonnull(nv);
			memcpy(nv + pl, p, al);
			nv[pl + al] = '\0';
			h->value[h->n - 1] = nv;
		} else if (h->n < MAX_HEADERS) {
			const char *colon = memchr(p, ':', (size_t)(eol - p));
			if (colon) {
				const char *v = colon + 1;
				while (v < eol && (*v == ' ' || *v == '\t'))
					v++;
				h->name[h->n] = xstrndup(p, (size_t)(colon - p));
				h->value[h->n] = xstrndup(v, (size_t)(eol - v));
				h->n++;
			}
		}
		p = eol + 2;
	}
	return NULL;
}

const char *hget(const struct headers *h, const char *name)
{
	for (int i = 0; i < h->n; i++)
		if (!strcasecmp(h->name[i], name))
			return h->value[i];
	return NULL;
}

static int hcount(const struct headers *h, const char *name)
{
	int c = 0;
	for (int i = 0; i < h->n; i++)
		c += !strcasecmp(h->name[i], name);
	return c;
}

/* The value of parameter param ("boundary", "charset") of a Content-Type value, unquoted. */
static bool ct_param(const char *ct, const char *param, char *out, size_t cap)
{
	size_t pl = strlen(param);
	for (const char *p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
		const char *q = p + 1;
		while (*q == ' ' || *q == '\t')
			q++;
		if (!strncasecmp(q, param, pl) && q[pl] == '=') {
			q += pl + 1;
			size_t n;
			if (*q == '"') {
				q++;
				n = strcspn(q, "\"");
			} else {
				n = strcspn(q, "; \t");
			}
			if (n >= cap)
				return false;
			memcpy(out, q, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

/* ---- a received message */

void mail_free(struct mail *m)
{
	if (!m)
		return;
	free(m->raw);
	headers_free(&m->h);
	free(m->subject);
	free(m->text);
	free(m->html);
	free(m);
}

static void problem(struct mail *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct mail *m, const char *fmt, ...)
{
	size_t l = strlen(m->problems);
	if (l + 4 >= sizeof(m->problems))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->problems + l, sizeof(m->problems) - l, fmt, ap);
	va_end(ap);
	l = strlen(m->problems);
	if (l + 2 < sizeof(m->problems)) {
		m->problems[l] = ';';
		m->problems[l + 1] = ' ';
		m->problems[l + 2] = '\0';
	}
}

static bool parse_date(const char *v, time_t *out)
{
	struct tm tm;
	const char *fmts[] = {"%a, %d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M:%S %z"};
	for (size_t i = 0; i < 2; i++) {
		memset(&tm, 0, sizeof(tm));
		const char *end = strptime(v, fmts[i], &tm);
		if (end && (*end == '\0' || *end == ' ')) {
			long off = tm.tm_gmtoff;
			*out = timegm(&tm) - off;
			return true;
		}
	}
	return false;
}

/* One body part: headers, transfer encoding, charset; the decoded content goes to *out. */
static void parse_part(struct mail *m, const char *p, const char *end)
{
	struct headers ph;
	const char *body = headers_parse(p, end, &ph);
	if (!body) {
		problem(m, "a part has no header/body separator");
		headers_free(&ph);
		return;
	}
	const char *ct = hget(&ph, "Content-Type");
	const char *cte = hget(&ph, "Content-Transfer-Encoding");
	char charset[32] = "";
	char **slot = NULL;
	if (!ct) {
		problem(m, "a part has no Content-Type");
	} else {
		if (!strncasecmp(ct, "text/plain", 10))
			slot = &m->text;
		else if (!strncasecmp(ct, "text/html", 9))
			slot = &m->html;
		else
			problem(m, "unexpected part type '%s'", ct);
		if (!ct_param(ct, "charset", charset, sizeof(charset)) || strcasecmp(charset, "UTF-8"))
			problem(m, "part '%s' is not charset=UTF-8", ct);
	}
	size_t n = (size_t)(end - body);
	char *dec;
	int bad = 0;
	if (!cte || !strcasecmp(cte, "7bit") || !strcasecmp(cte, "8bit")) {
		dec = xstrndup(body, n);
		if (!cte || !strcasecmp(cte, "7bit"))
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)body[i] >= 0x80) {
					problem(m, "8-bit byte in a 7bit part");
					break;
				}
	} else if (!strcasecmp(cte, "quoted-printable")) {
		/* encoded lines are at most 76 characters */
		for (const char *l = body; l < end;) {
			const char *eol = memmem(l, (size_t)(end - l), "\r\n", 2);
			size_t len = (size_t)((eol ? eol : end) - l);
			if (len > 76) {
				problem(m, "quoted-printable line of %zu characters", len);
				break;
			}
			l = eol ? eol + 2 : end;
		}
		dec = qp_decode(body, n, &bad);
		if (bad)
			problem(m, "%d malformed quoted-printable escapes", bad);
	} else if (!strcasecmp(cte, "base64")) {
		dec = b64_decode(body, n, NULL, &bad);
		if (bad)
			problem(m, "%d stray characters in base64", bad);
	} else {
		problem(m, "unknown Content-Transfer-Encoding '%s'", cte);
		dec = xstrndup(body, n);
	}
	if (!utf8_valid(dec))
		problem(m, "part '%s' is not valid UTF-8", ct ? ct : "?");
	if (slot) {
		if (*slot)
			problem(m, "two parts of type '%s'", ct);
		free(*slot);
		*slot = lf_only(dec);
	}
	free(dec);
	headers_free(&ph);
}

/* Parses raw (takes ownership) into a new struct mail; structural problems go to m->problems. */
struct mail *mail_parse(const char *file, char *raw)
{
	struct mail *m = calloc(1, sizeof(*m));
	ck_assert_ptr_nonnull(m);
	snprintf(m->file, sizeof(m->file), "%s", file);
	m->raw = raw;
	size_t len = strlen(raw);
	const char *end = raw + len;

	/* RFC 5322: CRLF line ends only, lines of at most 998 characters. */
	size_t col = 0;
	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) {
			problem(m, "bare LF at offset %zu", i);
			break;
		}
		if (raw[i] == '\r' && raw[i + 1] != '\n') {
			problem(m, "bare CR at offset %zu", i);
			break;
		}
		if (raw[i] == '\n')
			col = 0;
		else if (raw[i] != '\r' && ++col > 998) {
			problem(m, "line longer than 998 characters");
			break;
		}
	}

	const char *body = headers_parse(raw, end, &m->h);
	if (!body) {
		problem(m, "no header/body separator");
		m->subject = xstrndup("", 0);
		return m;
	}
	/* header fields are ASCII (non-ASCII text must be RFC 2047-encoded) */
	for (const char *p = raw; p < body; p++)
		if ((unsigned char)*p >= 0x80) {
			problem(m, "8-bit byte in the header");
			break;
		}
	static const char *const required[] = {"Date", "Message-ID", "From", "To", "Subject", "MIME-Version",
					       "Content-Type"};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		int c = hcount(&m->h, required[i]);
		if (c != 1)
			problem(m, "%d %s headers (expected 1)", c, required[i]);
	}
	const char *date = hget(&m->h, "Date");
	time_t t;
	if (date) {
		if (!parse_date(date, &t))
			problem(m, "Date '%s' is not RFC 5322", date);
		else if (labs((long)(t - time(NULL))) > 600)
			problem(m, "Date '%s' is more than 10 minutes off", date);
	}
	const char *mid = hget(&m->h, "Message-ID");
	if (mid) {
		size_t ml = strlen(mid);
		const char *at = strchr(mid, '@');
		if (ml < 5 || mid[0] != '<' || mid[ml - 1] != '>' || !at || at == mid + 1 || at == mid + ml - 2 ||
		    strpbrk(mid + 1, " <\"") != NULL)
			problem(m, "Message-ID '%s' is not <left@right>", mid);
	}
	const char *from = hget(&m->h, "From");
	if (from && !strchr(from, '@'))
		problem(m, "From '%s' has no address", from);
	const char *mv = hget(&m->h, "MIME-Version");
	if (mv && strncmp(mv, "1.0", 3))
		problem(m, "MIME-Version '%s'", mv);

	int bad = 0;
	const char *subj = hget(&m->h, "Subject");
	m->subject = rfc2047_decode(subj ? subj : "", &bad);
	if (bad)
		problem(m, "Subject '%s' has %d RFC 2047 problems", subj, bad);
	if (!utf8_valid(m->subject))
		problem(m, "decoded Subject is not UTF-8");

	const char *ct = hget(&m->h, "Content-Type");
	char boundary[200];
	if (!ct || strncasecmp(ct, "multipart/alternative", 21) || !ct_param(ct, "boundary", boundary, sizeof(boundary))) {
		problem(m, "Content-Type '%s' is not multipart/alternative with a boundary", ct ? ct : "");
		return m;
	}
	/* Delimiters are "--boundary" at the start of a line; the CRLF before one belongs to it. */
	char delim[210];
	snprintf(delim, sizeof(delim), "--%s", boundary);
	size_t dl = strlen(delim);
	const char *part_start = NULL;
	bool closed = false;
	int parts = 0;
	for (const char *p = body; p < end && !closed;) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		const char *next = eol ? eol + 2 : end;
		if ((size_t)(end - p) >= dl && !strncmp(p, delim, dl)) {
			const char *after = p + dl;
			bool is_close = after + 2 <= end && after[0] == '-' && after[1] == '-';
			if (part_start) {
				const char *pe = p >= part_start + 2 ? p - 2 : part_start; /* drop the CRLF */
				parse_part(m, part_start, pe);
				parts++;
			}
			if (is_close)
				closed = true;
			part_start = next;
		}
		p = next;
	}
	if (!closed)
		problem(m, "no closing boundary");
	if (parts != 2)
		problem(m, "%d parts (expected text and HTML)", parts);
	if (!m->text)
		problem(m, "no text/plain part");
	if (!m->html)
		problem(m, "no text/html part");
	return m;
}

char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 8192, n = 0;
	char *b = malloc(cap);
	ck_assert_ptr_nonnull(b);
	size_t got;
	while ((got = fread(b + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0) {
			cap *= 2;
			b = realloc(b, cap);
			ck_assert_ptr_nonnull(b);
		}
	}
	fclose(f);
	b[n] = '\0';
	return b;
}
