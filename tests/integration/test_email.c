/* test_email.c — email, account recovery and notifications, black-box through nginx with a real
 * SMTP server (tests/fixtures/smtp_server.py, started by scripts/stack) that saves every message it
 * receives as $TG_MAIL_DIR/<timestamp>-<n>.eml.
 *
 * Each received message is parsed as RFC 5322 / MIME (CRLF lines of at most 998 characters, one
 * Date, Message-ID, From, To, Subject, MIME-Version; RFC 2047 subject and sender name; a
 * multipart/alternative with a UTF-8 text and HTML part, quoted-printable or base64 decoded) and
 * the test follows the link in it through the API: verification and welcome, password reset
 * (single use, superseded, expired, concurrent), resend with its rate limit, change-password, the
 * notification list and the preferences. The destructive cases run last, each in its own TCase
 * with an unchecked teardown that restores the stack: the SMTP server is stopped and started again
 * (backoff, give-up, then the email arrives exactly once); the master's jobs worker is paused while
 * an extra `tollgate jobs` with a non-ASCII app name sends (encoded headers); the master's jobs
 * worker is SIGKILLed mid-burst (nothing lost); a second `tollgate jobs` process runs next to the
 * master's (each of 60 emails arrives exactly once).
 *
 * scripts/stack leaves mail_retry_base at its default (60 s): the SMTP test brings the planned
 * retry forward with SQL instead of waiting. Every wait is bounded. The stack must use
 * mail_transport = smtp (scripts/stack's default). */
#include "itest.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Subjects of the product's messages (conf/templates/<kind>.subject), matched as substrings. */
#define SUBJ_VERIFY "Confirm your email"
#define SUBJ_RESET "Reset your"
#define SUBJ_CHANGED "password was changed"
#define SUBJ_WELCOME "Welcome to"

#define MAIL_WAIT_MS 10000 /* an email must arrive within this after its cause */

/* ------------------------------------------------------------------ small helpers */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static const char *mail_dir(void)
{
	static char dir[1024];
	const char *d = getenv("TG_MAIL_DIR");
	if (d && *d)
		return d;
	snprintf(dir, sizeof(dir), "%s/mail", it_stack_dir());
	return dir;
}

static const char *stack_script_dir(void)
{
	return it_stack_dir();
}

/* A problem document check for 422 with errors.<field> present. */
static void expect_field_error(const struct it_resp *r, const char *field)
{
	it_expect(r, 422, "validation_failed");
	char path[96];
	snprintf(path, sizeof(path), "errors.%s", field);
	ck_assert_msg(it_str(r, path) != NULL, "expected errors.%s in: %s", field, r->body);
}

static struct it_resp *post_json(const char *path, const char *bearer, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static struct it_resp *post_json(const char *path, const char *bearer, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *body = NULL;
	int n = vasprintf(&body, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	struct it_resp *r = it_post(path, bearer, body);
	free(body);
	return r;
}

static struct it_resp *put_json(const char *path, const char *bearer, const char *json)
{
	struct it_req q = {.method = "PUT", .path = path, .bearer = bearer, .json = json};
	return it_do(&q);
}

static bool json_bool_at(const struct it_resp *r, const char *path, bool *out)
{
	json_object *o = it_at(r, path);
	if (!o || !json_object_is_type(o, json_type_boolean))
		return false;
	*out = json_object_get_boolean(o);
	return true;
}

static void expect_bool(const struct it_resp *r, const char *path, bool want)
{
	bool v;
	ck_assert_msg(json_bool_at(r, path, &v), "%s is not a boolean in: %s", path, r->body);
	ck_assert_msg(v == want, "%s: expected %s in: %s", path, want ? "true" : "false", r->body);
}

static long json_int_at(const struct it_resp *r, const char *path)
{
	json_object *o = it_at(r, path);
	ck_assert_msg(o && json_object_is_type(o, json_type_int), "%s is not an integer in: %s", path, r->body);
	return (long)json_object_get_int64(o);
}

static size_t json_len_at(const struct it_resp *r, const char *path)
{
	json_object *o = it_at(r, path);
	ck_assert_msg(o && json_object_is_type(o, json_type_array), "%s is not an array in: %s", path, r->body);
	return json_object_array_length(o);
}

/* RFC 3339 UTC with a 'Z' (fractional seconds allowed). */
static bool is_rfc3339_utc(const char *s)
{
	if (!s || strlen(s) < 20)
		return false;
	static const char *shape = "dddd-dd-ddTdd:dd:dd";
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return false;
	}
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return !strcmp(p, "Z");
}

/* ------------------------------------------------------------------ MIME decoding */

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
static char *rfc2047_decode(const char *v, int *bad)
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

/* ------------------------------------------------------------------ headers */

#define MAX_HEADERS 64

struct headers {
	int n;
	char *name[MAX_HEADERS];
	char *value[MAX_HEADERS]; /* unfolded, leading whitespace removed */
};

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

static const char *hget(const struct headers *h, const char *name)
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

/* ------------------------------------------------------------------ a received message */

struct mail {
	char file[256];
	char *raw;
	struct headers h;
	char *subject;  /* decoded */
	char *text;     /* decoded text/plain part, LF line ends */
	char *html;     /* decoded text/html part, LF line ends */
	char problems[2048]; /* what is not well-formed, empty when all is fine */
};

static void mail_free(struct mail *m)
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
static struct mail *mail_parse(const char *file, char *raw)
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

static char *read_all(const char *path)
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

/* ------------------------------------------------------------------ the mailbox */

struct mails {
	int n;
	struct mail *v[256];
};

static void mails_free(struct mails *ms)
{
	for (int i = 0; i < ms->n; i++)
		mail_free(ms->v[i]);
	ms->n = 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the saved messages (oldest first: <timestamp>-<n>.eml); count in *n. */
static char **mailbox_names(int *n)
{
	*n = 0;
	DIR *d = opendir(mail_dir());
	ck_assert_msg(d != NULL, "cannot open the mail directory %s", mail_dir());
	int cap = 256;
	char **names = malloc(sizeof(char *) * (size_t)cap);
	ck_assert_ptr_nonnull(names);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 4, ".eml"))
			continue;
		if (*n == cap) {
			cap *= 2;
			names = realloc(names, sizeof(char *) * (size_t)cap);
			ck_assert_ptr_nonnull(names);
		}
		names[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)*n, sizeof(char *), name_cmp);
	return names;
}

/* The envelope recipients of a saved message (its X-Envelope-To lines, added by the SMTP server,
 * which come first), read once per file: a shared stack's mail directory holds every suite's mail
 * and saved files never change. */
struct env_entry {
	char *name;
	char *rcpts; /* "<a>\n<b>\n" */
};
static struct env_entry *env_cache;
static size_t env_n, env_cap;

static int env_cmp(const void *a, const void *b)
{
	return strcmp(((const struct env_entry *)a)->name, ((const struct env_entry *)b)->name);
}

static char *read_envelope(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char head[4096];
	size_t n = fread(head, 1, sizeof(head) - 1, f);
	fclose(f);
	head[n] = '\0';
	size_t cap = n + 1, o = 0;
	char *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	for (const char *p = head; !strncasecmp(p, "X-Envelope-", 11);) {
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		if (!strncasecmp(p, "X-Envelope-To: ", 15)) {
			size_t l = (size_t)(eol - (p + 15));
			memcpy(out + o, p + 15, l);
			o += l;
			out[o++] = '\n';
		}
		p = eol + 2;
	}
	out[o] = '\0';
	return out;
}

static const char *envelope_of(const char *name)
{
	struct env_entry key = {(char *)name, NULL};
	struct env_entry *e = env_n ? bsearch(&key, env_cache, env_n, sizeof(*env_cache), env_cmp) : NULL;
	if (e)
		return e->rcpts;
	char path[1536];
	snprintf(path, sizeof(path), "%s/%s", mail_dir(), name);
	char *rcpts = read_envelope(path);
	if (!rcpts)
		return "";
	if (env_n == env_cap) {
		env_cap = env_cap ? 2 * env_cap : 256;
		env_cache = realloc(env_cache, env_cap * sizeof(*env_cache));
		ck_assert_ptr_nonnull(env_cache);
	}
	env_cache[env_n++] = (struct env_entry){strdup(name), rcpts};
	qsort(env_cache, env_n, sizeof(*env_cache), env_cmp);
	return rcpts;
}

/* True when addr is one of the message's envelope recipients. */
static bool envelope_to(const char *name, const char *addr)
{
	size_t al = strlen(addr);
	for (const char *p = envelope_of(name); *p;) {
		if (p[0] == '<' && !strncasecmp(p + 1, addr, al) && p[1 + al] == '>')
			return true;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return false;
}

/* Every message to addr whose decoded subject contains subj (NULL: any), oldest first. */
static void mailbox_collect(const char *addr, const char *subj, struct mails *out)
{
	out->n = 0;
	int n;
	char **names = mailbox_names(&n);
	for (int i = 0; i < n; i++) {
		if (envelope_to(names[i], addr)) {
			char path[1536];
			snprintf(path, sizeof(path), "%s/%s", mail_dir(), names[i]);
			char *raw = read_all(path);
			ck_assert_msg(raw != NULL, "cannot read %s", path);
			/* the envelope headers are the SMTP server's: parse what tollgate sent */
			const char *start = raw;
			while (!strncasecmp(start, "X-Envelope-", 11)) {
				const char *eol = strstr(start, "\r\n");
				if (!eol)
					break;
				start = eol + 2;
			}
			char *copy = strdup(start);
			free(raw);
			struct mail *m = mail_parse(names[i], copy);
			if ((!subj || strstr(m->subject, subj)) && out->n < (int)(sizeof(out->v) / sizeof(out->v[0])))
				out->v[out->n++] = m;
			else
				mail_free(m);
		}
		free(names[i]);
	}
	free(names);
}

static int mailbox_count(const char *addr, const char *subj)
{
	struct mails ms;
	mailbox_collect(addr, subj, &ms);
	int n = ms.n;
	mails_free(&ms);
	return n;
}

/* Prints what the outbox knows about addr (for failure messages). */
static const char *outbox_state(const char *addr)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s",
		 it_sql("SELECT string_agg(format('%%s %%s attempts=%%s error=%%s', kind, status, attempts, last_error), E'\\n'"
			" ORDER BY id) FROM email_outbox WHERE to_address = '%s'",
			addr));
	return buf;
}

/* Waits (bounded) until at least want messages to addr with subj arrived; fills out with all of
 * them and fails the test on timeout. */
static void mail_wait(const char *addr, const char *subj, int want, int timeout_ms, struct mails *out)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		mailbox_collect(addr, subj, out);
		if (out->n >= want)
			return;
		if (now_ms() >= deadline)
			break;
		mails_free(out);
		it_sleep_ms(100);
	}
	int got = out->n;
	mails_free(out);
	ck_assert_msg(0, "expected %d email(s) '%s' to %s within %d ms, got %d; outbox:\n%s", want, subj ? subj : "*",
		      addr, timeout_ms, got, outbox_state(addr));
}

/* Asserts the message is well-formed and addressed to addr. */
static void mail_expect_ok(const struct mail *m, const char *addr)
{
	ck_assert_msg(m->problems[0] == '\0', "message %s is malformed: %s\n---\n%.3000s", m->file, m->problems, m->raw);
	const char *to = hget(&m->h, "To");
	ck_assert_msg(to && strcasestr(to, addr), "message %s: To '%s' is not %s", m->file, to ? to : "", addr);
}

/* Waits for exactly one more message: the newest of want arrivals, well-formed; caller frees. */
static struct mail *mail_wait_one(const char *addr, const char *subj, int want)
{
	struct mails ms;
	mail_wait(addr, subj, want, MAIL_WAIT_MS, &ms);
	struct mail *m = ms.v[ms.n - 1];
	ms.v[ms.n - 1] = NULL;
	ms.n--;
	mails_free(&ms);
	mail_expect_ok(m, addr);
	return m;
}

/* Extracts the token of the link <origin><path>?token=… from the text part (asserting the HTML
 * part carries the same link). */
static void mail_link_token(const struct mail *m, const char *path, char *tok, size_t cap)
{
	char prefix[512];
	snprintf(prefix, sizeof(prefix), "%s%s?token=", it_origin(), path);
	const char *p = m->text ? strstr(m->text, prefix) : NULL;
	ck_assert_msg(p != NULL, "message %s: no link %s… in the text part:\n%s", m->file, prefix, m->text ? m->text : "");
	p += strlen(prefix);
	size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
	ck_assert_msg(n > 0 && n < cap, "message %s: empty or oversized token", m->file);
	memcpy(tok, p, n);
	tok[n] = '\0';
	/* 32 random bytes, base64url without padding */
	ck_assert_msg(n == 43, "token '%s' is not 43 base64url characters", tok);
	char full[700];
	snprintf(full, sizeof(full), "%s%s", prefix, tok);
	ck_assert_msg(m->html && strstr(m->html, full), "message %s: the HTML part lacks the link %s", m->file, full);
}

/* Waits for the want-th message with subj to addr and returns its link token. */
static void wait_token(const char *addr, const char *subj, int want, const char *path, char *tok, size_t cap)
{
	struct mail *m = mail_wait_one(addr, subj, want);
	mail_link_token(m, path, tok, cap);
	mail_free(m);
}

/* Asserts that no message to addr with subj arrives within ms (and that exactly `have` exist). */
static void mail_expect_count_after(const char *addr, const char *subj, int have, int ms)
{
	it_sleep_ms(ms);
	int n = mailbox_count(addr, subj);
	ck_assert_msg(n == have, "expected exactly %d email(s) '%s' to %s, found %d; outbox:\n%s", have, subj ? subj : "*",
		      addr, n, outbox_state(addr));
}

/* ------------------------------------------------------------------ API shorthands */

static struct it_resp *verify(const char *token)
{
	return post_json("/api/auth/verify-email", NULL, "{\"token\":\"%s\"}", token);
}

static struct it_resp *reset(const char *token, const char *password)
{
	return post_json("/api/auth/reset-password", NULL, "{\"token\":\"%s\",\"password\":\"%s\"}", token, password);
}

static struct it_resp *forgot(const char *email)
{
	return post_json("/api/auth/forgot-password", NULL, "{\"email\":\"%s\"}", email);
}

static void expect_forgot_accepted(const char *email)
{
	struct it_resp *r = forgot(email);
	it_expect(r, 202, NULL);
	ck_assert_str_eq(it_str(r, "status") ? it_str(r, "status") : "", "accepted");
	ck_assert_msg(it_str(r, "message") && *it_str(r, "message"), "no message in %s", r->body);
	it_free(r);
}

static bool user_verified(const char *access)
{
	struct it_resp *r = it_get("/api/auth/me", access);
	it_expect(r, 200, NULL);
	bool v = false;
	ck_assert_msg(json_bool_at(r, "email_verified", &v), "no email_verified in %s", r->body);
	it_free(r);
	return v;
}

/* Registers u and verifies its email through the link of its verification message. */
static void register_verified(struct it_user *u, const char *prefix)
{
	it_register(u, prefix);
	char tok[128];
	wait_token(u->email, SUBJ_VERIFY, 1, "/verify-email", tok, sizeof(tok));
	struct it_resp *r = verify(tok);
	it_expect(r, 200, NULL);
	it_free(r);
}

/* Number of notifications of kind for the user. */
static int notification_count(const char *access, const char *kind)
{
	struct it_resp *r = it_get("/api/notifications?per_page=200", access);
	it_expect(r, 200, NULL);
	json_object *items = it_at(r, "items");
	ck_assert_ptr_nonnull(items);
	int n = 0;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *k;
		if (json_object_object_get_ex(json_object_array_get_idx(items, i), "kind", &k) &&
		    !strcmp(json_object_get_string(k), kind))
			n++;
	}
	it_free(r);
	return n;
}

static void change_password(struct it_user *u, const char *fresh)
{
	struct it_resp *r = post_json("/api/profile/change-password", u->access,
				      "{\"current_password\":\"%s\",\"new_password\":\"%s\"}", u->password, fresh);
	it_expect(r, 204, NULL);
	it_free(r);
	snprintf(u->password, sizeof(u->password), "%s", fresh);
}

/* ------------------------------------------------------------------ verification and welcome */

START_TEST(verify_email_then_welcome)
{
	struct it_user u;
	it_register(&u, "ev");
	ck_assert(!user_verified(u.access));

	struct mail *m = mail_wait_one(u.email, SUBJ_VERIFY, 1);
	char tok[128];
	mail_link_token(m, "/verify-email", tok, sizeof(tok));
	ck_assert_msg(strstr(m->text, u.email) != NULL, "the verification text does not name the address");
	mail_free(m);
	/* stored as SHA-256 only */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM auth_tokens WHERE token_hash = encode(sha256(convert_to('%s','UTF8')),'hex')"
				  " AND kind = 'verify' AND used_at IS NULL", tok), 1);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM auth_tokens WHERE token_hash = '%s'", tok), 0);

	struct it_resp *r = verify(tok);
	it_expect(r, 200, NULL);
	expect_bool(r, "email_verified", true);
	ck_assert_str_eq(it_str(r, "id") ? it_str(r, "id") : "", u.id);
	ck_assert_str_eq(it_str(r, "email") ? it_str(r, "email") : "", u.email);
	const char *cc = it_header(r, "Cache-Control");
	ck_assert_msg(cc && strstr(cc, "no-store"), "verify-email answer without Cache-Control: no-store");
	it_free(r);
	ck_assert(user_verified(u.access));

	struct mail *w = mail_wait_one(u.email, SUBJ_WELCOME, 1);
	char app_link[512];
	snprintf(app_link, sizeof(app_link), "%s/", it_origin());
	ck_assert_msg(strstr(w->text, app_link) != NULL, "the welcome text has no link on %s:\n%s", it_origin(), w->text);
	mail_free(w);
	ck_assert_int_eq(notification_count(u.access, "welcome"), 1);

	/* the token is single use; anything else is invalid too */
	r = verify(tok);
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = verify("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = verify("x");
	it_expect(r, 400, "invalid_token");
	it_free(r);

	/* one verification, one welcome: nothing sent twice */
	mail_expect_count_after(u.email, SUBJ_VERIFY, 1, 500);
	ck_assert_int_eq(mailbox_count(u.email, SUBJ_WELCOME), 1);
	ck_assert_int_eq(notification_count(u.access, "welcome"), 1);
}
END_TEST

START_TEST(non_ascii_name_and_html_escaping)
{
	/* a name with non-ASCII and HTML-special characters: quoted-printable (or base64) UTF-8 in
	 * both parts, raw in the text part, escaped in the HTML part */
	const char *name = "Zo\xc3\xab \xc3\x9cn\xc3\xaf <b>&amp</b> \xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88";
	struct it_user u = {0};
	snprintf(u.email, sizeof(u.email), "%s", it_unique_email("utf"));
	struct it_resp *r = post_json("/api/auth/register", NULL,
				      "{\"email\":\"%s\",\"password\":\"pw-Utf8-Quartz-77\",\"name\":\"%s\",\"session\":\"body\"}",
				      u.email, name);
	it_expect(r, 201, NULL);
	it_free(r);
	struct mail *m = mail_wait_one(u.email, SUBJ_VERIFY, 1);
	ck_assert_msg(strstr(m->text, name) != NULL, "the text part lacks the UTF-8 name:\n%s", m->text);
	ck_assert_msg(strstr(m->html, "<b>&amp</b>") == NULL, "the HTML part has the name unescaped:\n%s", m->html);
	ck_assert_msg(strstr(m->html, "Zo\xc3\xab \xc3\x9cn\xc3\xaf &lt;b&gt;&amp;amp&lt;/b&gt;") != NULL,
		      "the HTML part lacks the escaped name:\n%s", m->html);
	char tok[128];
	mail_link_token(m, "/verify-email", tok, sizeof(tok));
	mail_free(m);
}
END_TEST

START_TEST(welcome_after_verification_by_reset)
{
	/* A reset verifies the address (the link proved it). Whether the welcome follows the reset or
	 * the later click on the verification link, the user must end up welcomed exactly once. */
	struct it_user u;
	it_register(&u, "rwel");
	char vtok[128], rtok[128];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", vtok, sizeof(vtok));
	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 1, "/reset-password", rtok, sizeof(rtok));
	struct it_resp *r = reset(rtok, "Welcomed-Quartz-Pass-4");
	it_expect(r, 204, NULL);
	it_free(r);
	snprintf(u.password, sizeof(u.password), "Welcomed-Quartz-Pass-4");
	ck_assert_int_eq(it_login(&u), 200);
	ck_assert(user_verified(u.access));
	/* the verification link from the registration email, clicked afterwards */
	r = verify(vtok);
	it_expect(r, 200, NULL);
	expect_bool(r, "email_verified", true);
	it_free(r);

	ck_assert_msg(notification_count(u.access, "welcome") == 1,
		      "a user verified by a password reset was never welcomed (no welcome notification)");
	struct mails ms;
	mail_wait(u.email, SUBJ_WELCOME, 1, 5000, &ms);
	mails_free(&ms);
	mail_expect_count_after(u.email, SUBJ_WELCOME, 1, 1000);
}
END_TEST

START_TEST(welcome_not_emailed_when_product_updates_off)
{
	struct it_user u;
	it_register(&u, "nowel");
	struct it_resp *r = put_json("/api/profile/notification-preferences", u.access, "{\"product_updates\":false}");
	it_expect(r, 200, NULL);
	expect_bool(r, "product_updates", false);
	it_free(r);
	char tok[128];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", tok, sizeof(tok));
	r = verify(tok);
	it_expect(r, 200, NULL);
	expect_bool(r, "email_verified", true);
	it_free(r);
	/* queued (or not) in the verification's transaction: nothing in the outbox, nothing arrives */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address = '%s' AND kind = 'welcome'", u.email), 0);
	mail_expect_count_after(u.email, SUBJ_WELCOME, 0, 2000);
	/* the in-app notification exists anyway */
	ck_assert_int_eq(notification_count(u.access, "welcome"), 1);
}
END_TEST

START_TEST(verify_token_expired)
{
	struct it_user u;
	it_register(&u, "evx");
	char tok[128];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", tok, sizeof(tok));
	it_sql("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE user_id = '%s' AND kind = 'verify'", u.id);
	struct it_resp *r = verify(tok);
	it_expect(r, 400, "invalid_token");
	it_free(r);
	ck_assert(!user_verified(u.access));
}
END_TEST

/* ------------------------------------------------------------------ password reset */

START_TEST(reset_password_flow)
{
	struct it_user u;
	it_register(&u, "rp");
	char old_access[1024], old_refresh[128];
	snprintf(old_access, sizeof(old_access), "%s", u.access);
	snprintf(old_refresh, sizeof(old_refresh), "%s", u.refresh);
	/* a second session */
	struct it_user u2 = u;
	ck_assert_int_eq(it_login(&u2), 200);
	ck_assert(!user_verified(u.access));
	/* the registration's verification email first, so the user's mail is settled */
	mail_free(mail_wait_one(u.email, SUBJ_VERIFY, 1));

	/* the address is normalised: surrounding spaces and capitals still find the account */
	char shouty[160];
	snprintf(shouty, sizeof(shouty), "  %s ", u.email);
	for (char *p = shouty; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	expect_forgot_accepted(shouty);

	struct mail *m = mail_wait_one(u.email, SUBJ_RESET, 1);
	char tok[128];
	mail_link_token(m, "/reset-password", tok, sizeof(tok));
	mail_free(m);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM auth_tokens WHERE token_hash = encode(sha256(convert_to('%s','UTF8')),'hex')"
				  " AND kind = 'reset' AND expires_at BETWEEN now() + interval '55 minutes' AND now() + interval '61 minutes'",
				  tok),
			 1);

	/* a weak password is refused without burning the token */
	struct it_resp *r = reset(tok, "short");
	expect_field_error(r, "password");
	it_free(r);
	r = reset(tok, "password123");
	expect_field_error(r, "password");
	it_free(r);
	r = reset(tok, u.email);
	expect_field_error(r, "password");
	it_free(r);

	const char *fresh = "Reset-Quartz-Fresh-991";
	r = reset(tok, fresh);
	it_expect(r, 204, NULL);
	ck_assert_msg(r->body_len == 0, "204 with a body: %s", r->body);
	it_free(r);

	/* every session is gone */
	r = it_get("/api/auth/me", old_access);
	it_expect(r, 401, NULL);
	it_free(r);
	r = it_get("/api/auth/me", u2.access);
	it_expect(r, 401, NULL);
	it_free(r);
	r = post_json("/api/auth/refresh", NULL, "{\"refresh_token\":\"%s\",\"session\":\"body\"}", old_refresh);
	it_expect(r, 401, NULL);
	it_free(r);
	r = post_json("/api/auth/refresh", NULL, "{\"refresh_token\":\"%s\",\"session\":\"body\"}", u2.refresh);
	it_expect(r, 401, NULL);
	it_free(r);

	/* the old password fails, the new one works */
	ck_assert_int_eq(it_login(&u), 401);
	snprintf(u.password, sizeof(u.password), "%s", fresh);
	ck_assert_int_eq(it_login(&u), 200);

	/* the email counts as verified now: the reset link proved the address */
	ck_assert(user_verified(u.access));

	struct mail *c = mail_wait_one(u.email, SUBJ_CHANGED, 1);
	mail_free(c);
	ck_assert_int_eq(notification_count(u.access, "password_changed"), 1);

	/* single use */
	r = reset(tok, "Another-Quartz-Fresh-992");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	ck_assert_int_eq(it_login(&u), 200);
	mail_expect_count_after(u.email, SUBJ_RESET, 1, 300);
}
END_TEST

START_TEST(reset_token_superseded)
{
	struct it_user u;
	it_register(&u, "rps");
	char t1[128], t2[128];
	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 1, "/reset-password", t1, sizeof(t1));
	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 2, "/reset-password", t2, sizeof(t2));
	ck_assert_str_ne(t1, t2);
	struct it_resp *r = reset(t1, "Superseded-Quartz-1");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = reset(t2, "Superseded-Quartz-2");
	it_expect(r, 204, NULL);
	it_free(r);
	snprintf(u.password, sizeof(u.password), "Superseded-Quartz-2");
	ck_assert_int_eq(it_login(&u), 200);
	/* and the first one stays dead after the second was used */
	r = reset(t1, "Superseded-Quartz-3");
	it_expect(r, 400, "invalid_token");
	it_free(r);
}
END_TEST

START_TEST(reset_token_expired)
{
	struct it_user u;
	it_register(&u, "rpx");
	char tok[128];
	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 1, "/reset-password", tok, sizeof(tok));
	it_sql("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE user_id = '%s' AND kind = 'reset'", u.id);
	struct it_resp *r = reset(tok, "Expired-Quartz-Pass-1");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	/* the old password still works; the sessions are untouched */
	ck_assert_int_eq(it_login(&u), 200);
}
END_TEST

START_TEST(reset_unknown_tokens)
{
	struct it_resp *r = reset("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "Unknown-Quartz-Pass-1");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = reset("short", "Unknown-Quartz-Pass-1");
	it_expect(r, 400, "invalid_token");
	it_free(r);
	/* an unknown token is refused before the password rules are looked at */
	r = reset("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x");
	ck_assert_msg(r->status == 400 || r->status == 422, "got %ld: %s", r->status, r->body);
	it_free(r);
	/* a verification token is no reset token */
	struct it_user u;
	it_register(&u, "rpk");
	char tok[128];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", tok, sizeof(tok));
	r = reset(tok, "Crossed-Quartz-Pass-1");
	it_expect(r, 400, "invalid_token");
	it_free(r);
}
END_TEST

START_TEST(validation_422)
{
	struct it_resp *r;
	/* forgot-password */
	r = it_post("/api/auth/forgot-password", NULL, "{}");
	expect_field_error(r, "email");
	it_free(r);
	r = it_post("/api/auth/forgot-password", NULL, "{\"email\":\"\"}");
	expect_field_error(r, "email");
	it_free(r);
	r = it_post("/api/auth/forgot-password", NULL, "{\"email\":\"not-an-address\"}");
	expect_field_error(r, "email");
	it_free(r);
	r = it_post("/api/auth/forgot-password", NULL, "{\"email\":\"a@\"}");
	expect_field_error(r, "email");
	it_free(r);
	r = it_post("/api/auth/forgot-password", NULL, "{\"email\":42}");
	expect_field_error(r, "email");
	it_free(r);
	/* reset-password */
	r = it_post("/api/auth/reset-password", NULL, "{\"password\":\"Valid-Quartz-Pass-1\"}");
	expect_field_error(r, "token");
	it_free(r);
	r = it_post("/api/auth/reset-password", NULL, "{\"token\":\"\",\"password\":\"Valid-Quartz-Pass-1\"}");
	expect_field_error(r, "token");
	it_free(r);
	r = it_post("/api/auth/reset-password", NULL, "{\"token\":7,\"password\":\"Valid-Quartz-Pass-1\"}");
	expect_field_error(r, "token");
	it_free(r);
	r = it_post("/api/auth/reset-password", NULL, "{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
	expect_field_error(r, "password");
	it_free(r);
	/* verify-email */
	r = it_post("/api/auth/verify-email", NULL, "{}");
	expect_field_error(r, "token");
	it_free(r);
	r = it_post("/api/auth/verify-email", NULL, "{\"token\":null}");
	expect_field_error(r, "token");
	it_free(r);
	/* malformed JSON and content type keep their usual answers */
	r = it_post("/api/auth/forgot-password", NULL, "{\"email\":");
	it_expect(r, 400, "invalid_json");
	it_free(r);
	struct it_req q = {.method = "POST", .path = "/api/auth/reset-password", .body = "token=x",
			   .content_type = "application/x-www-form-urlencoded"};
	r = it_do(&q);
	it_expect(r, 415, "unsupported_media_type");
	it_free(r);

	/* a weak password with a live token: 422 errors.password, the token still works afterwards */
	struct it_user u;
	it_register(&u, "v422");
	char tok[128];
	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 1, "/reset-password", tok, sizeof(tok));
	r = reset(tok, "");
	expect_field_error(r, "password");
	it_free(r);
	r = post_json("/api/auth/reset-password", NULL, "{\"token\":\"%s\"}", tok);
	expect_field_error(r, "password");
	it_free(r);
	r = reset(tok, "1234567");
	expect_field_error(r, "password");
	it_free(r);
	r = reset(tok, "Valid-Quartz-Pass-1");
	it_expect(r, 204, NULL);
	it_free(r);
}
END_TEST

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

START_TEST(forgot_unknown_vs_known)
{
	struct it_user u;
	it_register(&u, "fk");
	char unknown[128];
	snprintf(unknown, sizeof(unknown), "%s", it_unique_email("nobody"));

	struct it_resp *rk = forgot(u.email), *ru = forgot(unknown);
	it_expect(rk, 202, NULL);
	it_expect(ru, 202, NULL);
	ck_assert_msg(rk->body_len == ru->body_len && !memcmp(rk->body, ru->body, rk->body_len),
		      "bodies differ:\nknown:   %s\nunknown: %s", rk->body, ru->body);
	const char *ctk = it_header(rk, "Content-Type");
	char ctk_copy[128];
	snprintf(ctk_copy, sizeof(ctk_copy), "%s", ctk ? ctk : "");
	const char *ctu = it_header(ru, "Content-Type");
	ck_assert_str_eq(ctk_copy, ctu ? ctu : "");
	ck_assert_msg(!strncmp(ctk_copy, "application/json", 16), "Content-Type %s", ctk_copy);
	it_free(rk);
	it_free(ru);

	/* timing: interleaved samples, medians compared (times under 10 ms count as 10 ms, so
	 * scheduler noise at the millisecond scale does not decide the ratio) */
	enum { SAMPLES = 7 };
	double tk[SAMPLES], tu[SAMPLES];
	for (int i = 0; i < SAMPLES; i++) {
		struct it_resp *a = forgot(u.email);
		struct it_resp *b = forgot(unknown);
		it_expect(a, 202, NULL);
		it_expect(b, 202, NULL);
		tk[i] = a->seconds;
		tu[i] = b->seconds;
		it_free(a);
		it_free(b);
	}
	qsort(tk, SAMPLES, sizeof(double), dbl_cmp);
	qsort(tu, SAMPLES, sizeof(double), dbl_cmp);
	double mk = tk[SAMPLES / 2], mu = tu[SAMPLES / 2];
	fprintf(stderr, "forgot-password timing: known median %.1f ms, unknown median %.1f ms\n", mk * 1e3, mu * 1e3);
	ck_assert_msg(mk < 0.3 && mu < 0.3, "forgot-password is slow: known %.1f ms, unknown %.1f ms", mk * 1e3, mu * 1e3);
	double fk = mk < 0.01 ? 0.01 : mk, fu = mu < 0.01 ? 0.01 : mu;
	ck_assert_msg(fk <= 3 * fu && fu <= 3 * fk, "timing differs: known %.1f ms, unknown %.1f ms", mk * 1e3, mu * 1e3);

	/* the known address gets its 1 + SAMPLES reset emails; the unknown one nothing */
	struct mails ms;
	mail_wait(u.email, SUBJ_RESET, 1 + SAMPLES, MAIL_WAIT_MS, &ms);
	mails_free(&ms);
	int64_t deadline = now_ms() + 10000;
	while (it_sql_long("SELECT count(*) FROM jobs WHERE payload->>'email' = '%s'", unknown) > 0 && now_ms() < deadline)
		it_sleep_ms(100);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM jobs WHERE payload->>'email' = '%s'", unknown), 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address = '%s'", unknown), 0);
	mail_expect_count_after(unknown, NULL, 0, 1000);
	ck_assert_int_eq(mailbox_count(u.email, SUBJ_RESET), 1 + SAMPLES);
}
END_TEST

/* ------------------------------------------------------------------ resend-verification */

START_TEST(resend_verification)
{
	struct it_user u;
	it_register(&u, "rs");
	char t1[128], t2[128];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", t1, sizeof(t1));

	struct it_resp *r = it_post("/api/auth/resend-verification", NULL, NULL);
	it_expect(r, 401, "unauthorized");
	it_free(r);

	r = it_post("/api/auth/resend-verification", u.access, NULL);
	it_expect(r, 202, NULL);
	it_free(r);
	/* a second request within the minute is refused */
	r = it_post("/api/auth/resend-verification", u.access, NULL);
	it_expect(r, 429, "rate_limited");
	const char *ra = it_header(r, "Retry-After");
	ck_assert_msg(ra != NULL, "429 without Retry-After");
	char *end;
	long secs = strtol(ra, &end, 10);
	ck_assert_msg(*end == '\0' && secs >= 1 && secs <= 60, "Retry-After '%s' is not 1..60 seconds", ra);
	it_free(r);

	wait_token(u.email, SUBJ_VERIFY, 2, "/verify-email", t2, sizeof(t2));
	ck_assert_str_ne(t1, t2);
	/* the older verification link died when the new one was issued */
	r = verify(t1);
	it_expect(r, 400, "invalid_token");
	it_free(r);
	r = verify(t2);
	it_expect(r, 200, NULL);
	expect_bool(r, "email_verified", true);
	it_free(r);

	/* verified: nothing to resend */
	r = it_post("/api/auth/resend-verification", u.access, NULL);
	it_expect(r, 409, "conflict");
	it_free(r);
	/* exactly two verification emails (the 429 sent none) */
	mail_expect_count_after(u.email, SUBJ_VERIFY, 2, 1000);
}
END_TEST

/* ------------------------------------------------------------------ change-password */

START_TEST(change_password_notifies)
{
	struct it_user u;
	it_register(&u, "cp");
	/* a second session, which the change revokes */
	struct it_user other = u;
	ck_assert_int_eq(it_login(&other), 200);
	/* security emails ignore the preferences */
	struct it_resp *r = put_json("/api/profile/notification-preferences", u.access,
				     "{\"product_updates\":false,\"usage_warnings\":false,\"billing\":false}");
	it_expect(r, 200, NULL);
	it_free(r);

	change_password(&u, "Changed-Quartz-Pass-5");
	struct mail *m = mail_wait_one(u.email, SUBJ_CHANGED, 1);
	ck_assert_msg(strstr(m->text, it_origin()) != NULL, "the password-changed text has no link on the origin:\n%s", m->text);
	mail_free(m);
	ck_assert_int_eq(notification_count(u.access, "password_changed"), 1);

	r = it_get("/api/auth/me", other.access);
	it_expect(r, 401, NULL);
	it_free(r);
	r = it_get("/api/auth/me", u.access);
	it_expect(r, 200, NULL);
	it_free(r);
	mail_expect_count_after(u.email, SUBJ_CHANGED, 1, 500);
}
END_TEST

/* ------------------------------------------------------------------ single use under concurrency */

#define RACERS 6

struct racer {
	pthread_barrier_t *start;
	const char *path;
	const char *body;
	long status;
};

static void *race(void *arg)
{
	struct racer *rc = arg;
	pthread_barrier_wait(rc->start);
	struct it_req q = {.method = "POST", .path = rc->path, .json = rc->body};
	struct it_resp *r = it_do(&q);
	rc->status = r->status;
	it_free(r);
	return NULL;
}

/* Sends body to path from RACERS threads at once; returns how many got `ok`, asserting every
 * other answer is `other`. */
static int race_post(const char *path, const char *body, long ok, long other)
{
	pthread_barrier_t b;
	pthread_barrier_init(&b, NULL, RACERS);
	struct racer rs[RACERS];
	pthread_t th[RACERS];
	for (int i = 0; i < RACERS; i++) {
		rs[i] = (struct racer){&b, path, body, 0};
		ck_assert_int_eq(pthread_create(&th[i], NULL, race, &rs[i]), 0);
	}
	int n = 0;
	for (int i = 0; i < RACERS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(rs[i].status == ok || rs[i].status == other, "%s answered %ld", path, rs[i].status);
		n += rs[i].status == ok;
	}
	pthread_barrier_destroy(&b);
	return n;
}

START_TEST(tokens_single_use_under_concurrency)
{
	struct it_user u;
	it_register(&u, "race");
	char tok[128], body[256];
	wait_token(u.email, SUBJ_VERIFY, 1, "/verify-email", tok, sizeof(tok));
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tok);
	ck_assert_int_eq(race_post("/api/auth/verify-email", body, 200, 400), 1);
	mail_free(mail_wait_one(u.email, SUBJ_WELCOME, 1));
	mail_expect_count_after(u.email, SUBJ_WELCOME, 1, 1500);
	ck_assert_int_eq(notification_count(u.access, "welcome"), 1);

	expect_forgot_accepted(u.email);
	wait_token(u.email, SUBJ_RESET, 1, "/reset-password", tok, sizeof(tok));
	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"password\":\"Raced-Quartz-Pass-7\"}", tok);
	ck_assert_int_eq(race_post("/api/auth/reset-password", body, 204, 400), 1);
	mail_free(mail_wait_one(u.email, SUBJ_CHANGED, 1));
	mail_expect_count_after(u.email, SUBJ_CHANGED, 1, 1500);
	snprintf(u.password, sizeof(u.password), "Raced-Quartz-Pass-7");
	ck_assert_int_eq(it_login(&u), 200);
	ck_assert_int_eq(notification_count(u.access, "password_changed"), 1);
}
END_TEST

/* ------------------------------------------------------------------ notifications */

START_TEST(notifications_list_and_read)
{
	struct it_user a, b;
	register_verified(&a, "na"); /* welcome */
	it_register(&b, "nb");
	change_password(&a, "Notify-Quartz-Pass-1"); /* password_changed */
	it_sleep_ms(20);
	change_password(&a, "Notify-Quartz-Pass-2"); /* password_changed */

	struct it_resp *r = it_get("/api/notifications", NULL);
	it_expect(r, 401, "unauthorized");
	it_free(r);

	r = it_get("/api/notifications", a.access);
	it_expect(r, 200, NULL);
	const char *cc = it_header(r, "Cache-Control");
	ck_assert_msg(cc && strstr(cc, "no-store"), "notifications without Cache-Control: no-store");
	ck_assert_int_eq(json_len_at(r, "items"), 3);
	ck_assert_int_eq(json_int_at(r, "total"), 3);
	ck_assert_int_eq(json_int_at(r, "unread"), 3);
	ck_assert_int_eq(json_int_at(r, "page"), 1);
	ck_assert_int_ge(json_int_at(r, "per_page"), 3);
	/* newest first */
	ck_assert_str_eq(it_str(r, "items.0.kind"), "password_changed");
	ck_assert_str_eq(it_str(r, "items.1.kind"), "password_changed");
	ck_assert_str_eq(it_str(r, "items.2.kind"), "welcome");
	char ids[3][64];
	for (int i = 0; i < 3; i++) {
		char p[64];
		snprintf(p, sizeof(p), "items.%d.id", i);
		ck_assert_ptr_nonnull(it_str(r, p));
		snprintf(ids[i], sizeof(ids[i]), "%s", it_str(r, p));
		snprintf(p, sizeof(p), "items.%d.title", i);
		ck_assert_msg(it_str(r, p) && *it_str(r, p), "no title: %s", r->body);
		snprintf(p, sizeof(p), "items.%d.body", i);
		ck_assert_ptr_nonnull(it_str(r, p));
		json_object *item = json_object_array_get_idx(it_at(r, "items"), (size_t)i), *link;
		ck_assert_msg(json_object_object_get_ex(item, "link", &link) &&
				      (link == NULL || json_object_is_type(link, json_type_string)),
			      "link is neither a string nor null: %s", r->body);
		snprintf(p, sizeof(p), "items.%d.created_at", i);
		ck_assert_msg(is_rfc3339_utc(it_str(r, p)), "created_at not RFC 3339 UTC: %s", r->body);
		json_object *ra;
		ck_assert_msg(json_object_object_get_ex(item, "read_at", &ra) && ra == NULL, "read_at not null: %s", r->body);
	}
	ck_assert_msg(strcmp(it_str(r, "items.0.created_at"), it_str(r, "items.1.created_at")) >= 0 &&
			      strcmp(it_str(r, "items.1.created_at"), it_str(r, "items.2.created_at")) >= 0,
		      "not newest first: %s", r->body);
	it_free(r);

	/* pagination */
	r = it_get("/api/notifications?per_page=1", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_len_at(r, "items"), 1);
	ck_assert_int_eq(json_int_at(r, "per_page"), 1);
	ck_assert_int_eq(json_int_at(r, "total"), 3);
	ck_assert_str_eq(it_str(r, "items.0.id"), ids[0]);
	it_free(r);
	r = it_get("/api/notifications?per_page=1&page=2", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_len_at(r, "items"), 1);
	ck_assert_int_eq(json_int_at(r, "page"), 2);
	ck_assert_int_eq(json_int_at(r, "total"), 3);
	ck_assert_str_eq(it_str(r, "items.0.id"), ids[1]);
	it_free(r);
	r = it_get("/api/notifications?per_page=1&page=3", a.access);
	it_expect(r, 200, NULL);
	ck_assert_str_eq(it_str(r, "items.0.id"), ids[2]);
	it_free(r);
	r = it_get("/api/notifications?per_page=1&page=4", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_len_at(r, "items"), 0);
	ck_assert_int_eq(json_int_at(r, "total"), 3);
	it_free(r);

	/* list parameters are validated */
	r = it_get("/api/notifications?per_page=201", a.access);
	expect_field_error(r, "per_page");
	it_free(r);
	r = it_get("/api/notifications?per_page=0", a.access);
	expect_field_error(r, "per_page");
	it_free(r);
	r = it_get("/api/notifications?page=0", a.access);
	expect_field_error(r, "page");
	it_free(r);
	r = it_get("/api/notifications?per_page=200", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_int_at(r, "per_page"), 200);
	ck_assert_int_eq(json_len_at(r, "items"), 3);
	it_free(r);

	/* mark one read */
	char path[160];
	snprintf(path, sizeof(path), "/api/notifications/%s/read", ids[0]);
	r = it_post(path, a.access, NULL);
	it_expect(r, 204, NULL);
	it_free(r);
	r = it_post(path, a.access, NULL); /* again: still fine */
	it_expect(r, 204, NULL);
	it_free(r);
	r = it_get("/api/notifications", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_int_at(r, "unread"), 2);
	ck_assert_int_eq(json_int_at(r, "total"), 3);
	ck_assert_str_eq(it_str(r, "items.0.id"), ids[0]);
	ck_assert_msg(is_rfc3339_utc(it_str(r, "items.0.read_at")), "read_at not set: %s", r->body);
	it_free(r);
	r = it_get("/api/notifications?unread=1", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_len_at(r, "items"), 2);
	ck_assert_int_eq(json_int_at(r, "total"), 2);
	ck_assert_int_eq(json_int_at(r, "unread"), 2);
	ck_assert_str_eq(it_str(r, "items.0.id"), ids[1]);
	ck_assert_str_eq(it_str(r, "items.1.id"), ids[2]);
	it_free(r);

	/* another user's notification, or no notification at all: 404 */
	snprintf(path, sizeof(path), "/api/notifications/%s/read", ids[1]);
	r = it_post(path, b.access, NULL);
	it_expect(r, 404, "not_found");
	it_free(r);
	r = it_post("/api/notifications/00000000-0000-4000-8000-000000000000/read", a.access, NULL);
	it_expect(r, 404, "not_found");
	it_free(r);
	r = it_post("/api/notifications/not-a-uuid/read", a.access, NULL);
	it_expect(r, 404, "not_found");
	it_free(r);
	r = it_get("/api/notifications", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_int_at(r, "unread"), 2); /* b changed nothing */
	it_free(r);
	r = it_get("/api/notifications", b.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_int_at(r, "total"), 0);
	ck_assert_int_eq(json_int_at(r, "unread"), 0);
	ck_assert_int_eq(json_len_at(r, "items"), 0);
	it_free(r);

	/* read-all */
	r = it_post("/api/notifications/read-all", a.access, NULL);
	it_expect(r, 204, NULL);
	it_free(r);
	r = it_get("/api/notifications", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_int_at(r, "unread"), 0);
	ck_assert_int_eq(json_int_at(r, "total"), 3);
	for (int i = 0; i < 3; i++) {
		char p[32];
		snprintf(p, sizeof(p), "items.%d.read_at", i);
		ck_assert_msg(is_rfc3339_utc(it_str(r, p)), "read_at not set after read-all: %s", r->body);
	}
	it_free(r);
	r = it_get("/api/notifications?unread=1", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_len_at(r, "items"), 0);
	ck_assert_int_eq(json_int_at(r, "total"), 0);
	it_free(r);
	r = it_post("/api/notifications/read-all", NULL, NULL);
	it_expect(r, 401, "unauthorized");
	it_free(r);
}
END_TEST

/* ------------------------------------------------------------------ preferences */

static void expect_prefs(const struct it_resp *r, bool pu, bool uw, bool bi)
{
	expect_bool(r, "product_updates", pu);
	expect_bool(r, "usage_warnings", uw);
	expect_bool(r, "billing", bi);
	expect_bool(r, "security", true);
}

START_TEST(notification_preferences)
{
	struct it_user u;
	it_register(&u, "pref");
	const char *P = "/api/profile/notification-preferences";
	struct it_resp *r = it_get(P, NULL);
	it_expect(r, 401, "unauthorized");
	it_free(r);

	r = it_get(P, u.access);
	it_expect(r, 200, NULL);
	expect_prefs(r, true, true, true);
	const char *cc = it_header(r, "Cache-Control");
	ck_assert_msg(cc && strstr(cc, "no-store"), "preferences without Cache-Control: no-store");
	it_free(r);

	r = put_json(P, u.access, "{\"product_updates\":false}");
	it_expect(r, 200, NULL);
	expect_prefs(r, false, true, true);
	it_free(r);
	r = it_get(P, u.access);
	it_expect(r, 200, NULL);
	expect_prefs(r, false, true, true);
	it_free(r);

	/* security cannot be turned off; nothing else changes with the refused request */
	r = put_json(P, u.access, "{\"security\":false}");
	expect_field_error(r, "security");
	it_free(r);
	r = put_json(P, u.access, "{\"product_updates\":true,\"billing\":false,\"security\":false}");
	expect_field_error(r, "security");
	it_free(r);
	r = it_get(P, u.access);
	it_expect(r, 200, NULL);
	expect_prefs(r, false, true, true);
	it_free(r);

	/* non-booleans */
	r = put_json(P, u.access, "{\"usage_warnings\":\"no\"}");
	expect_field_error(r, "usage_warnings");
	it_free(r);
	r = put_json(P, u.access, "{\"billing\":0}");
	expect_field_error(r, "billing");
	it_free(r);
	r = put_json(P, u.access, "{\"product_updates\":null}");
	expect_field_error(r, "product_updates");
	it_free(r);
	r = put_json(P, u.access, "{\"security\":\"yes\"}");
	expect_field_error(r, "security");
	it_free(r);
	r = it_get(P, u.access);
	it_expect(r, 200, NULL);
	expect_prefs(r, false, true, true);
	it_free(r);

	/* the full shape, security true, is accepted */
	r = put_json(P, u.access, "{\"product_updates\":true,\"usage_warnings\":false,\"billing\":false,\"security\":true}");
	it_expect(r, 200, NULL);
	expect_prefs(r, true, false, false);
	it_free(r);
	r = it_get(P, u.access);
	it_expect(r, 200, NULL);
	expect_prefs(r, true, false, false);
	it_free(r);

	/* not an object */
	r = put_json(P, u.access, "[]");
	ck_assert_msg(r->status == 400 || r->status == 422, "PUT [] answered %ld: %s", r->status, r->body);
	it_free(r);
	r = put_json(P, u.access, "{\"billing\":");
	it_expect(r, 400, "invalid_json");
	it_free(r);
	struct it_req q = {.method = "PUT", .path = P, .bearer = u.access, .body = "billing=1", .content_type = "text/plain"};
	r = it_do(&q);
	it_expect(r, 415, "unsupported_media_type");
	it_free(r);
	r = put_json(P, NULL, "{\"billing\":true}");
	it_expect(r, 401, "unauthorized");
	it_free(r);
}
END_TEST

/* ------------------------------------------------------------------ SMTP server down and back */

/* Polls (bounded) until the SQL count is at least want; returns the last value. */
static long sql_wait_ge(long want, int timeout_ms, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static long sql_wait_ge(long want, int timeout_ms, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *q = NULL;
	int n = vasprintf(&q, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	int64_t deadline = now_ms() + timeout_ms;
	long v;
	for (;;) {
		v = it_sql_long("%s", q);
		if (v >= want || now_ms() >= deadline)
			break;
		it_sleep_ms(100);
	}
	free(q);
	return v;
}

/* Seconds until the planned next attempt of addr's password_reset email. */
static double retry_in(const char *addr)
{
	const char *out = it_sql("SELECT extract(epoch FROM next_attempt_at - now()) FROM email_outbox"
				 " WHERE to_address = '%s' AND kind = 'password_reset'",
				 addr);
	char *end;
	double d = strtod(out, &end);
	ck_assert_msg(*out && *end == '\0', "no outbox row for %s: '%s'", addr, out);
	return d;
}

static void smtp_restore(void)
{
	/* idempotent: does nothing when the server runs */
	if (it_sh("scripts/stack smtp-start '%s' >/dev/null 2>&1", stack_script_dir()) != 0)
		fprintf(stderr, "test_email: scripts/stack smtp-start failed\n");
}

START_TEST(smtp_down_then_up)
{
	struct it_user u, g;
	it_register(&u, "smtp");
	it_register(&g, "giveup");
	mail_free(mail_wait_one(u.email, SUBJ_VERIFY, 1));
	mail_free(mail_wait_one(g.email, SUBJ_VERIFY, 1));

	ck_assert_int_eq(it_sh("scripts/stack smtp-stop '%s'", stack_script_dir()), 0);
	int64_t t0 = now_ms();
	expect_forgot_accepted(u.email);

	/* the worker tries, fails, records the error and plans a retry */
	long attempts = sql_wait_ge(1, 8000,
				    "SELECT coalesce(max(attempts), 0) FROM email_outbox WHERE to_address = '%s'"
				    " AND kind = 'password_reset' AND status = 'pending' AND last_error IS NOT NULL",
				    u.email);
	ck_assert_msg(attempts >= 1, "no failed attempt recorded while the SMTP server is down; outbox:\n%s",
		      outbox_state(u.email));
	double d1 = retry_in(u.email);
	ck_assert_msg(d1 >= 1, "the retry is not deferred (%.1f s); outbox:\n%s", d1, outbox_state(u.email));

	/* backoff grows: bring the retry forward, it fails again and waits longer */
	it_sql("UPDATE email_outbox SET next_attempt_at = now() WHERE to_address = '%s' AND kind = 'password_reset'", u.email);
	attempts = sql_wait_ge(2, 8000,
			       "SELECT attempts FROM email_outbox WHERE to_address = '%s' AND kind = 'password_reset'",
			       u.email);
	ck_assert_msg(attempts == 2, "no second attempt; outbox:\n%s", outbox_state(u.email));
	double d2 = retry_in(u.email);
	ck_assert_msg(d2 > 1.5 * d1, "no exponential backoff: first retry in %.1f s, second in %.1f s", d1, d2);

	/* an email that has failed for longer than the give-up age is marked failed, its vars cleared */
	expect_forgot_accepted(g.email);
	ck_assert_int_ge(sql_wait_ge(1, 8000,
				     "SELECT count(*) FROM email_outbox WHERE to_address = '%s' AND kind = 'password_reset'"
				     " AND attempts >= 1",
				     g.email),
			 1);
	it_sql("UPDATE email_outbox SET created_at = now() - interval '25 hours', next_attempt_at = now()"
	       " WHERE to_address = '%s' AND kind = 'password_reset'",
	       g.email);
	ck_assert_msg(sql_wait_ge(1, 8000,
				  "SELECT count(*) FROM email_outbox WHERE to_address = '%s' AND kind = 'password_reset'"
				  " AND status = 'failed' AND vars = '{}'::jsonb AND last_error IS NOT NULL",
				  g.email) == 1,
		      "an email older than the give-up age is not marked failed; outbox:\n%s", outbox_state(g.email));

	if (now_ms() - t0 < 3000)
		it_sleep_ms((long)(3000 - (now_ms() - t0)));
	ck_assert_int_eq(mailbox_count(u.email, SUBJ_RESET), 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address = '%s' AND kind = 'password_reset'"
				  " AND status = 'pending'",
				  u.email),
			 1);

	ck_assert_int_eq(it_sh("scripts/stack smtp-start '%s'", stack_script_dir()), 0);
	/* The stack keeps mail_retry_base at its default (60 s): bring the planned retry forward. */
	it_sql("UPDATE email_outbox SET next_attempt_at = now() WHERE status = 'pending'");

	struct mail *r = mail_wait_one(u.email, SUBJ_RESET, 1);
	char tok[128];
	mail_link_token(r, "/reset-password", tok, sizeof(tok));
	mail_free(r);
	mail_expect_count_after(u.email, SUBJ_RESET, 1, 2500);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address = '%s' AND kind = 'password_reset'"
				  " AND status = 'sent' AND attempts = 3 AND vars = '{}'::jsonb AND last_error IS NULL",
				  u.email),
			 1);
	/* the given-up email never arrives */
	ck_assert_int_eq(mailbox_count(g.email, SUBJ_RESET), 0);
	/* and the link in the late email still works */
	struct it_resp *rr = reset(tok, "Late-Quartz-Pass-1");
	it_expect(rr, 204, NULL);
	it_free(rr);
}
END_TEST

/* ------------------------------------------------------------------ two jobs workers */

#define EXTRA_USERS 30

static void extra_paths(char *pidfile, char *logfile, size_t cap)
{
	snprintf(pidfile, cap, "%s/itest-extra-jobs.pid", it_stack_dir());
	snprintf(logfile, cap, "%s/itest-extra-jobs.log", it_stack_dir());
}

/* Starts `tollgate --config $TG_CONFIG jobs` in its own session (so Check's clean-up of the test's
 * process group does not reach it); the pid goes to a file for the unchecked teardown. */
static pid_t extra_jobs_start(const char *const *env)
{
	char pidfile[1024], logfile[1024];
	extra_paths(pidfile, logfile, sizeof(pidfile));
	const char *cfg = getenv("TG_CONFIG");
	ck_assert_msg(cfg && *cfg, "TG_CONFIG is not set");
	const char *bin = it_tollgate_bin();
	ck_assert_msg(access(bin, X_OK) == 0, "no tollgate binary at %s", bin);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setsid();
		for (int i = 0; env && env[i]; i += 2)
			setenv(env[i], env[i + 1], 1);
		int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0) {
			dup2(nul, 0);
			close(nul);
		}
		execl(bin, bin, "--config", cfg, "jobs", (char *)NULL);
		_exit(127);
	}
	FILE *f = fopen(pidfile, "w");
	if (f) {
		fprintf(f, "%d\n", (int)pid);
		fclose(f);
	}
	return pid;
}

/* SIGTERM, bounded wait, SIGKILL; returns the wait status (or -1 when not our child). */
static int extra_jobs_stop(pid_t pid, bool is_child)
{
	int status = -1;
	kill(pid, SIGTERM);
	int64_t deadline = now_ms() + 10000;
	for (;;) {
		if (is_child) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid)
				break;
		} else if (kill(pid, 0) != 0) {
			break;
		}
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			if (is_child)
				waitpid(pid, &status, 0);
			break;
		}
		it_sleep_ms(50);
	}
	char pidfile[1024], logfile[1024];
	extra_paths(pidfile, logfile, sizeof(pidfile));
	unlink(pidfile);
	return status;
}

/* Unchecked teardown: ends a worker left behind by a failed or timed-out test. */
static void extra_jobs_cleanup(void)
{
	char pidfile[1024], logfile[1024];
	extra_paths(pidfile, logfile, sizeof(pidfile));
	FILE *f = fopen(pidfile, "r");
	if (!f)
		return;
	int pid = 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid > 1) {
		char proc[64], cmd[512] = "";
		snprintf(proc, sizeof(proc), "/proc/%d/cmdline", pid);
		FILE *c = fopen(proc, "r");
		if (c) {
			size_t n = fread(cmd, 1, sizeof(cmd) - 1, c);
			fclose(c);
			for (size_t i = 0; i < n; i++)
				if (!cmd[i])
					cmd[i] = ' ';
			cmd[n] = '\0';
		}
		if (strstr(cmd, "tollgate") && strstr(cmd, " jobs")) {
			fprintf(stderr, "test_email: stopping the extra jobs worker %d left behind\n", pid);
			extra_jobs_stop(pid, false);
		}
	}
	unlink(pidfile);
}

static int count_lines_with(const char *file, const char *needle)
{
	char *s = read_all(file);
	if (!s)
		return 0;
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(s);
	return n;
}

/* Starts the extra jobs worker and waits (bounded) until it says it runs. */
static pid_t extra_jobs_start_wait(const char *const *env)
{
	char pidfile[1024], logfile[1024];
	extra_paths(pidfile, logfile, sizeof(pidfile));
	int started_before = count_lines_with(logfile, "jobs worker started");
	pid_t pid = extra_jobs_start(env);
	int64_t deadline = now_ms() + 10000;
	for (;;) {
		if (count_lines_with(logfile, "jobs worker started") > started_before)
			return pid;
		int st;
		ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "the extra jobs worker exited at once; see %s", logfile);
		ck_assert_msg(now_ms() < deadline, "the extra jobs worker did not start; see %s", logfile);
		it_sleep_ms(50);
	}
}

/* ---- pausing the master's jobs worker(s), so that only the extra worker sends */

static const char *paused_file(void)
{
	static char path[1024];
	snprintf(path, sizeof(path), "%s/itest-paused-jobs.pids", it_stack_dir());
	return path;
}

static long ppid_of(long pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	char *st = read_all(path);
	if (!st)
		return -1;
	long pp = -1;
	const char *rp = strrchr(st, ')'); /* "pid (comm) state ppid ..." */
	if (rp)
		sscanf(rp + 1, " %*c %ld", &pp);
	free(st);
	return pp;
}

/* The live jobs workers of the stack's master, found by the pid on their "jobs worker started"
 * log lines (and checked to be the master's children). */
static int master_jobs_pids(long *pids, int max)
{
	const char *pf = getenv("TG_MASTER_PID_FILE"), *lf = getenv("TG_LOG_FILE");
	ck_assert_msg(pf && lf, "TG_MASTER_PID_FILE / TG_LOG_FILE not set");
	char *mp = read_all(pf);
	ck_assert_msg(mp != NULL, "cannot read %s", pf);
	long master = strtol(mp, NULL, 10);
	free(mp);
	char *log = read_all(lf);
	ck_assert_msg(log != NULL, "cannot read %s", lf);
	int n = 0;
	for (char *line = log; line && *line;) {
		char *eol = strchr(line, '\n');
		if (eol)
			*eol = '\0';
		const char *pp = strstr(line, "\"pid\":");
		if (strstr(line, "jobs worker started") && pp) {
			long pid = strtol(pp + 6, NULL, 10);
			bool dup = false;
			for (int i = 0; i < n; i++)
				dup |= pids[i] == pid;
			if (!dup && pid > 1 && ppid_of(pid) == master && n < max)
				pids[n++] = pid;
		}
		line = eol ? eol + 1 : NULL;
	}
	free(log);
	return n;
}

/* SIGSTOPs every jobs worker of the master; their pids go to a file so the unchecked teardown
 * always resumes them. Returns how many were paused. */
static int pause_master_jobs(void)
{
	long pids[64];
	int n = master_jobs_pids(pids, 64);
	FILE *f = fopen(paused_file(), "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%ld\n", pids[i]);
	fclose(f);
	for (int i = 0; i < n; i++)
		kill((pid_t)pids[i], SIGSTOP);
	return n;
}

/* Resumes what pause_master_jobs stopped (idempotent; also the unchecked teardown). */
static void resume_master_jobs(void)
{
	FILE *f = fopen(paused_file(), "r");
	if (!f)
		return;
	long pid;
	while (fscanf(f, "%ld", &pid) == 1)
		if (pid > 1)
			kill((pid_t)pid, SIGCONT);
	fclose(f);
	unlink(paused_file());
}

static void utf8_teardown(void)
{
	resume_master_jobs();
	extra_jobs_cleanup();
}

/* A long non-ASCII app name: subjects become RFC 2047 encoded words, folded over several lines. */
#define UTF8_APP "Tollg\xc3\xa4te \xe2\x9c\x93 \xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xc3\x89" "dition \xe2\x80\x94 t\xc3\xa9st"

START_TEST(non_ascii_subject_and_from)
{
	struct it_user u;
	it_register(&u, "u8s");
	mail_free(mail_wait_one(u.email, SUBJ_VERIFY, 1));

	/* only a worker configured with a non-ASCII app name and sender name may send this one */
	int paused = pause_master_jobs();
	ck_assert_msg(paused >= 1, "found no jobs worker of the master in %s", getenv("TG_LOG_FILE"));
	static const char *const env[] = {"TOLLGATE_APP_NAME", UTF8_APP, "TOLLGATE_MAIL_FROM",
					  "Tollg\xc3\xa4te \"Bot\" <no-reply@localhost>", NULL};
	pid_t pid = extra_jobs_start_wait(env);
	expect_forgot_accepted(u.email);
	struct mail *m = mail_wait_one(u.email, SUBJ_RESET, 1);
	int st = extra_jobs_stop(pid, true);
	resume_master_jobs();
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the extra jobs worker did not exit cleanly");

	const char *raw_subject = hget(&m->h, "Subject");
	ck_assert_msg(!strncasecmp(raw_subject, "=?UTF-8?", 8), "Subject is not RFC 2047-encoded: %s", raw_subject);
	ck_assert_msg(strstr(m->raw, "\r\nSubject: =?") && strstr(m->raw, "?=\r\n "),
		      "the long Subject is not folded into several encoded words:\n%.600s", m->raw);
	ck_assert_str_eq(m->subject, "Reset your " UTF8_APP " password");
	int bad = 0;
	char *from = rfc2047_decode(hget(&m->h, "From"), &bad);
	ck_assert_int_eq(bad, 0);
	ck_assert_msg(strstr(from, "Tollg\xc3\xa4te") && strstr(from, "<no-reply@localhost>"), "From decodes to '%s'", from);
	free(from);
	ck_assert_msg(strstr(m->text, UTF8_APP) != NULL, "the text part lacks the app name:\n%s", m->text);
	char tok[128];
	mail_link_token(m, "/reset-password", tok, sizeof(tok));
	mail_free(m);
	struct it_resp *r = reset(tok, "Utf8-Quartz-Pass-3");
	it_expect(r, 204, NULL);
	it_free(r);
}
END_TEST

/* Review finding: forgot-password was limited only per IP, so one address could be flooded with
 * reset links. A worker configured with forgot_email_limit = 2 sends two, drops the rest, and
 * the requester sees the same 202 every time. */
START_TEST(reset_emails_limited_per_address)
{
	struct it_user u;
	it_register(&u, "rlim");
	mail_free(mail_wait_one(u.email, SUBJ_VERIFY, 1));
	int paused = pause_master_jobs();
	ck_assert_msg(paused >= 1, "found no jobs worker of the master in %s", getenv("TG_LOG_FILE"));
	static const char *const env[] = {"TOLLGATE_FORGOT_EMAIL_LIMIT", "2", NULL};
	pid_t pid = extra_jobs_start_wait(env);
	for (int i = 0; i < 4; i++)
		expect_forgot_accepted(u.email);
	struct mails got = {0};
	mail_wait(u.email, SUBJ_RESET, 2, 10000, &got);
	mails_free(&got);
	/* the other two jobs are done (dropped), not waiting */
	ck_assert_int_eq(sql_wait_ge(0, 5000, "SELECT -count(*) FROM jobs WHERE kind = 'password_reset'"), 0);
	mail_expect_count_after(u.email, SUBJ_RESET, 2, 1500);
	int st = extra_jobs_stop(pid, true);
	resume_master_jobs();
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the extra jobs worker did not exit cleanly");
}
END_TEST

#define KILL_USERS 15

START_TEST(jobs_worker_killed_loses_nothing)
{
	char tag[48];
	snprintf(tag, sizeof(tag), "kill%d%04x", (int)getpid(), (unsigned)rand() & 0xffff);
	static struct it_user users[KILL_USERS];
	for (int i = 0; i < KILL_USERS; i++)
		it_register(&users[i], tag);
	for (int i = 0; i < KILL_USERS; i++) {
		struct mails ms;
		mail_wait(users[i].email, SUBJ_VERIFY, 1, MAIL_WAIT_MS, &ms);
		mails_free(&ms);
	}
	long pids[64];
	int n = master_jobs_pids(pids, 64);
	ck_assert_msg(n >= 1, "found no jobs worker of the master in %s", getenv("TG_LOG_FILE"));
	for (int i = 0; i < KILL_USERS; i++)
		expect_forgot_accepted(users[i].email);
	/* kill the jobs worker(s) while they work through the burst; the master starts new ones */
	it_sleep_ms(15);
	for (int i = 0; i < n; i++)
		kill((pid_t)pids[i], SIGKILL);

	int64_t deadline = now_ms() + 30000;
	int dups = 0;
	for (int i = 0; i < KILL_USERS; i++) {
		int left = (int)(deadline - now_ms());
		struct mails ms;
		mail_wait(users[i].email, SUBJ_RESET, 1, left > 1000 ? left : 1000, &ms);
		mails_free(&ms);
	}
	it_sleep_ms(1500);
	for (int i = 0; i < KILL_USERS; i++) {
		struct mails ms;
		mailbox_collect(users[i].email, SUBJ_RESET, &ms);
		/* at most a resend of a message the server had accepted just before the kill, and then
		 * with the same Message-ID */
		ck_assert_msg(ms.n >= 1 && ms.n <= 2, "%s received %d reset emails", users[i].email, ms.n);
		if (ms.n == 2) {
			dups++;
			ck_assert_str_eq(hget(&ms.v[0]->h, "Message-ID"), hget(&ms.v[1]->h, "Message-ID"));
		}
		mails_free(&ms);
	}
	fprintf(stderr, "jobs worker killed: %d of %d reset emails were sent twice (same Message-ID)\n", dups, KILL_USERS);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address LIKE '%s-%%' AND kind = 'password_reset'"
				  " AND status = 'sent'",
				  tag),
			 KILL_USERS);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM jobs WHERE payload->>'email' LIKE '%s-%%'", tag), 0);
	/* the replacement worker is up */
	ck_assert_int_ge(master_jobs_pids(pids, 64), 1);
}
END_TEST

START_TEST(two_jobs_workers_send_once)
{
	char pidfile[1024], logfile[1024];
	extra_paths(pidfile, logfile, sizeof(pidfile));
	int delivered_before = count_lines_with(logfile, ") delivered");
	pid_t pid = extra_jobs_start_wait(NULL);
	int64_t deadline;

	/* 30 users (30 verification emails), then 30 reset requests in a burst */
	char tag[48];
	snprintf(tag, sizeof(tag), "dual%d%04x", (int)getpid(), (unsigned)rand() & 0xffff);
	static struct it_user users[EXTRA_USERS];
	for (int i = 0; i < EXTRA_USERS; i++)
		it_register(&users[i], tag);
	for (int i = 0; i < EXTRA_USERS; i++)
		expect_forgot_accepted(users[i].email);

	/* every reset email arrives */
	deadline = now_ms() + 30000;
	for (int i = 0; i < EXTRA_USERS; i++) {
		int left = (int)(deadline - now_ms());
		struct mails ms;
		mail_wait(users[i].email, SUBJ_RESET, 1, left > 1000 ? left : 1000, &ms);
		mails_free(&ms);
	}
	it_sleep_ms(3000);

	/* exactly once each, verification and reset alike; Message-IDs all distinct */
	static char mids[2 * EXTRA_USERS][256];
	int nm = 0;
	for (int i = 0; i < EXTRA_USERS; i++) {
		struct mails ms;
		mailbox_collect(users[i].email, NULL, &ms);
		int resets = 0, verifies = 0;
		for (int k = 0; k < ms.n; k++) {
			mail_expect_ok(ms.v[k], users[i].email);
			resets += strstr(ms.v[k]->subject, SUBJ_RESET) != NULL;
			verifies += strstr(ms.v[k]->subject, SUBJ_VERIFY) != NULL;
			const char *mid = hget(&ms.v[k]->h, "Message-ID");
			for (int j = 0; j < nm; j++)
				ck_assert_msg(strcmp(mids[j], mid), "Message-ID %s used twice", mid);
			if (nm < 2 * EXTRA_USERS)
				snprintf(mids[nm++], sizeof(mids[0]), "%s", mid);
		}
		int total = ms.n;
		mails_free(&ms);
		ck_assert_msg(resets == 1 && verifies == 1 && total == 2,
			      "%s received %d reset, %d verification, %d in all (expected 1, 1, 2); outbox:\n%s", users[i].email,
			      resets, verifies, total, outbox_state(users[i].email));
	}
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address LIKE '%s-%%' AND kind = 'password_reset'"
				  " AND status = 'sent' AND vars = '{}'::jsonb AND attempts = 1",
				  tag),
			 EXTRA_USERS);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address LIKE '%s-%%'", tag), 2 * EXTRA_USERS);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM email_outbox WHERE to_address LIKE '%s-%%'"
				  " AND (status <> 'sent' OR vars <> '{}'::jsonb)",
				  tag),
			 0);

	int delivered = count_lines_with(logfile, ") delivered") - delivered_before;
	fprintf(stderr, "two jobs workers: the extra worker delivered %d of the %d emails\n", delivered, 2 * EXTRA_USERS);

	int st = extra_jobs_stop(pid, true);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the extra jobs worker did not exit cleanly (status %d)",
		      st);
	ck_assert_int_eq(count_lines_with(logfile, "Sanitizer"), 0);
	ck_assert_int_eq(count_lines_with(logfile, "runtime error:"), 0);
}
END_TEST

/* ------------------------------------------------------------------ suite */

static Suite *suite(void)
{
	Suite *s = suite_create("email");

	TCase *verify_tc = tcase_create("verification");
	tcase_set_timeout(verify_tc, 60);
	tcase_add_test(verify_tc, verify_email_then_welcome);
	tcase_add_test(verify_tc, non_ascii_name_and_html_escaping);
	tcase_add_test(verify_tc, welcome_not_emailed_when_product_updates_off);
	tcase_add_test(verify_tc, welcome_after_verification_by_reset);
	tcase_add_test(verify_tc, verify_token_expired);
	tcase_add_test(verify_tc, resend_verification);
	suite_add_tcase(s, verify_tc);

	TCase *reset_tc = tcase_create("reset");
	tcase_set_timeout(reset_tc, 60);
	tcase_add_test(reset_tc, reset_password_flow);
	tcase_add_test(reset_tc, reset_token_superseded);
	tcase_add_test(reset_tc, reset_token_expired);
	tcase_add_test(reset_tc, reset_unknown_tokens);
	tcase_add_test(reset_tc, validation_422);
	tcase_add_test(reset_tc, forgot_unknown_vs_known);
	tcase_add_test(reset_tc, change_password_notifies);
	tcase_add_test(reset_tc, tokens_single_use_under_concurrency);
	suite_add_tcase(s, reset_tc);

	TCase *notif_tc = tcase_create("notifications");
	tcase_set_timeout(notif_tc, 60);
	tcase_add_test(notif_tc, notifications_list_and_read);
	tcase_add_test(notif_tc, notification_preferences);
	suite_add_tcase(s, notif_tc);

	TCase *smtp_tc = tcase_create("smtp_down");
	tcase_set_timeout(smtp_tc, 60);
	tcase_add_unchecked_fixture(smtp_tc, NULL, smtp_restore);
	tcase_add_test(smtp_tc, smtp_down_then_up);
	suite_add_tcase(s, smtp_tc);

	TCase *utf8_tc = tcase_create("utf8_headers");
	tcase_set_timeout(utf8_tc, 60);
	tcase_add_unchecked_fixture(utf8_tc, NULL, utf8_teardown);
	tcase_add_test(utf8_tc, non_ascii_subject_and_from);
	tcase_add_test(utf8_tc, reset_emails_limited_per_address);
	suite_add_tcase(s, utf8_tc);

	TCase *kill_tc = tcase_create("jobs_worker_killed");
	tcase_set_timeout(kill_tc, 90);
	tcase_add_test(kill_tc, jobs_worker_killed_loses_nothing);
	suite_add_tcase(s, kill_tc);

	TCase *dual_tc = tcase_create("two_jobs_workers");
	tcase_set_timeout(dual_tc, 90);
	tcase_add_unchecked_fixture(dual_tc, NULL, extra_jobs_cleanup);
	tcase_add_test(dual_tc, two_jobs_workers_send_once);
	suite_add_tcase(s, dual_tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
