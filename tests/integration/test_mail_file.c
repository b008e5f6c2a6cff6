/* test_mail_file.c — the `file` mail transport end to end, on a stack of its own.
 *
 * The unchecked fixture (parent process) makes a scratch directory; the test starts a second stack
 * in it with TG_MAIL_TRANSPORT=file (no SMTP server runs; tollgate writes each message as
 * <UTC time>-<outbox id>.eml into the stack's mail-out directory, TG_MAIL_DIR of its stack.env), no
 * Stripe or LiteLLM stand-ins and small pools; the teardown destroys it, also when the test fails.
 * The running test stack is not touched, so the other suites keep their SMTP server.
 *
 * A user with a non-ASCII name registers; the verification message must appear (bounded wait) as a
 * complete file (mode 600, no temporary file left, named after its outbox row, which is "sent") and be
 * a well-formed RFC 5322 / MIME message as it would have gone over SMTP: CRLF lines of at most 998
 * characters, an ASCII header with exactly one Date (RFC 5322, within 10 minutes), Message-ID
 * (<left@right>), From, To (the user), Subject (RFC 2047 decoded: "Confirm your email"), MIME-Version
 * 1.0 and Content-Type multipart/alternative; exactly a text/plain and a text/html part, UTF-8, 7bit or
 * quoted-printable (decoded here), both with the link <public origin>/verify-email?token=<43
 * base64url characters> and the user's name. The link's token is posted to /api/auth/verify-email
 * through the second stack's nginx: 200 with email_verified true, /api/auth/me agrees, and the
 * welcome message that verification causes arrives as a second file. */
#include "itest.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAIL_WAIT_MS 15000 /* the jobs worker polls every second in a test stack */
#define USER_NAME "Zoë Ünal-Ø"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	return s;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	ck_assert_ptr_nonnull(p);
	return p;
}

/* ------------------------------------------------------------------ the dedicated stack */

static char work[256];
static char stack3[300];

static void work_setup(void)
{
	snprintf(work, sizeof(work), "/tmp/itest-mailfile.XXXXXX");
	if (!mkdtemp(work)) {
		fprintf(stderr, "test_mail_file: mkdtemp: %s\n", strerror(errno));
		work[0] = '\0';
		return;
	}
	chmod(work, 0711); /* user postgres keeps the cluster inside */
	snprintf(stack3, sizeof(stack3), "%s/stack", work);
}

static void work_teardown(void)
{
	if (!work[0])
		return;
	char *cmd = xprintf("if [ -d '%s' ]; then scripts/stack destroy '%s' >/dev/null 2>&1 ||"
			    " echo 'test_mail_file: could not destroy %s' >&2; fi; rm -rf -- '%s'",
			    stack3, stack3, stack3, work);
	if (system(cmd) != 0)
		fprintf(stderr, "test_mail_file: cleanup of %s failed\n", work);
	free(cmd);
	work[0] = '\0';
}

static char *stack_var(const char *name)
{
	char *v = strdup(it_sh_out(". '%s/stack.env' && printf %%s \"$%s\"", stack3, name));
	ck_assert_msg(v && *v, "no %s in %s/stack.env", name, stack3);
	return v;
}

/* One SQL statement against the dedicated stack's database (trimmed output, static). */
static const char *sql3(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *sql3(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *q = NULL;
	int n = vasprintf(&q, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	char *path = xprintf("%s/query.sql", work);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(q, f);
	ck_assert_int_eq(fclose(f), 0);
	const char *out = it_sh_out("scripts/stack psql '%s' -v ON_ERROR_STOP=1 -qtA -f '%s' 2>&1", stack3, path);
	free(path);
	free(q);
	return out;
}

/* ------------------------------------------------------------------ one message */

struct msg {
	char *raw;
	int nh;
	char *hname[64];
	char *hval[64]; /* unfolded */
	char *subject;  /* RFC 2047 decoded */
	char *text;     /* decoded parts, CRLF kept */
	char *html;
	char problems[2048];
};

static void problem(struct msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct msg *m, const char *fmt, ...)
{
	size_t l = strlen(m->problems);
	if (l + 8 >= sizeof(m->problems))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->problems + l, sizeof(m->problems) - l - 2, fmt, ap);
	va_end(ap);
	l = strlen(m->problems);
	memcpy(m->problems + l, "; ", 3); /* fits: 2 bytes were kept free above */
}

static void msg_free(struct msg *m)
{
	free(m->raw);
	for (int i = 0; i < m->nh; i++) {
		free(m->hname[i]);
		free(m->hval[i]);
	}
	free(m->subject);
	free(m->text);
	free(m->html);
	free(m);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* RFC 2045: upper case only */
}

static int b64val(int c)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(a, c) : NULL;
	return p ? (int)(p - a) : -1;
}

/* Base64 (whitespace ignored) of n bytes; *bad counts other stray characters. */
static char *b64_decode(const char *s, size_t n, int *bad)
{
	char *out = malloc(n + 1);
	ck_assert_ptr_nonnull(out);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);
		if (v < 0) {
			if (s[i] != '=' && s[i] != '\r' && s[i] != '\n')
				(*bad)++;
			continue;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return out;
}

/* Quoted-printable body (RFC 2045 6.7): soft breaks removed, =XX decoded, lines ≤ 76. */
static char *qp_decode(struct msg *m, const char *s, size_t n)
{
	char *out = malloc(n + 1);
	ck_assert_ptr_nonnull(out);
	size_t o = 0, col = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
			if (col > 76)
				problem(m, "quoted-printable line of %zu characters", col);
			col = 0;
		} else if (s[i] != '\n') {
			col++;
		}
		if (s[i] != '=') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2; /* soft line break */
			col = 0;
			continue;
		}
		int hi = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1, lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			problem(m, "bad quoted-printable escape at %zu", i);
			out[o++] = s[i];
			continue;
		}
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
		col += 2;
	}
	out[o] = '\0';
	return out;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (n < 0 || (n == 1 && *p < 0xc2))
			return false;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return false;
	}
	return true;
}

/* An unstructured header value with RFC 2047 encoded words (UTF-8, B or Q); whitespace between two
 * adjacent encoded words is dropped. */
static char *rfc2047_decode(struct msg *m, const char *v)
{
	size_t cap = strlen(v) + 1, o = 0;
	char *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	bool prev_word = false;
	for (const char *p = v; *p;) {
		if (!strncmp(p, "=?", 2)) {
			const char *q1 = strchr(p + 2, '?'), *q2 = q1 ? strchr(q1 + 1, '?') : NULL;
			const char *end = q2 ? strstr(q2 + 1, "?=") : NULL;
			if (!end) {
				problem(m, "unterminated encoded word in '%s'", v);
				break;
			}
			if (strncasecmp(p + 2, "UTF-8?", 6))
				problem(m, "encoded word not in UTF-8: '%s'", v);
			int bad = 0;
			char *dec;
			if (toupper((unsigned char)q1[1]) == 'B') {
				dec = b64_decode(q2 + 1, (size_t)(end - q2 - 1), &bad);
			} else {
				dec = xstrndup(q2 + 1, (size_t)(end - q2 - 1));
				for (char *c = dec; *c; c++)
					if (*c == '_')
						*c = ' ';
				char *tmp = qp_decode(m, dec, strlen(dec));
				free(dec);
				dec = tmp;
			}
			if (bad)
				problem(m, "stray characters in an encoded word of '%s'", v);
			size_t dl = strlen(dec);
			memcpy(out + o, dec, dl); /* decoded text is never longer than its encoding */
			o += dl;
			free(dec);
			p = end + 2;
			prev_word = true;
			continue;
		}
		if (prev_word && (*p == ' ' || *p == '\t')) {
			const char *q = p + strspn(p, " \t");
			if (!strncmp(q, "=?", 2)) {
				p = q;
				continue;
			}
		}
		prev_word = false;
		out[o++] = *p++;
	}
	out[o] = '\0';
	return out;
}

/* Parses the header block [p, end) into the arrays; returns the body or NULL without an empty line. */
static const char *parse_headers(const char *p, const char *end, int *nh, char **names, char **vals, int max)
{
	*nh = 0;
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			return NULL;
		if (eol == p)
			return eol + 2;
		if ((*p == ' ' || *p == '\t') && *nh > 0) {
			char *prev = vals[*nh - 1];
			char *joined = xprintf("%s%.*s", prev, (int)(eol - p), p);
			free(prev);
			vals[*nh - 1] = joined;
		} else if (*nh < max) {
			const char *colon = memchr(p, ':', (size_t)(eol - p));
			if (colon) {
				const char *v = colon + 1 + strspn(colon + 1, " \t");
				names[*nh] = xstrndup(p, (size_t)(colon - p));
				vals[*nh] = xstrndup(v, (size_t)(eol - v));
				(*nh)++;
			}
		}
		p = eol + 2;
	}
	return NULL;
}

static const char *hget(struct msg *m, const char *name)
{
	for (int i = 0; i < m->nh; i++)
		if (!strcasecmp(m->hname[i], name))
			return m->hval[i];
	return NULL;
}

static int hcount(struct msg *m, const char *name)
{
	int n = 0;
	for (int i = 0; i < m->nh; i++)
		n += !strcasecmp(m->hname[i], name);
	return n;
}

/* The parameter of a Content-Type value ("boundary", "charset"), unquoted, or NULL (malloc'd). */
static char *ct_param(const char *ct, const char *param)
{
	size_t pl = strlen(param);
	for (const char *p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
		const char *q = p + 1 + strspn(p + 1, " \t");
		if (strncasecmp(q, param, pl) || q[pl] != '=')
			continue;
		q += pl + 1;
		if (*q == '"')
			return xstrndup(q + 1, strcspn(q + 1, "\""));
		return xstrndup(q, strcspn(q, "; \t"));
	}
	return NULL;
}

static void parse_part(struct msg *m, const char *p, const char *end)
{
	char *names[16], *vals[16];
	int nh;
	const char *body = parse_headers(p, end, &nh, names, vals, 16);
	if (!body) {
		problem(m, "a part without a header/body separator");
		body = end;
	}
	const char *ct = NULL, *cte = NULL;
	for (int i = 0; i < nh; i++) {
		if (!strcasecmp(names[i], "Content-Type"))
			ct = vals[i];
		else if (!strcasecmp(names[i], "Content-Transfer-Encoding"))
			cte = vals[i];
	}
	char **slot = NULL;
	if (!ct)
		problem(m, "a part without Content-Type");
	else if (!strncasecmp(ct, "text/plain", 10))
		slot = &m->text;
	else if (!strncasecmp(ct, "text/html", 9))
		slot = &m->html;
	else
		problem(m, "unexpected part '%s'", ct);
	char *cs = ct ? ct_param(ct, "charset") : NULL;
	if (ct && (!cs || strcasecmp(cs, "UTF-8")))
		problem(m, "part '%s' is not charset=UTF-8", ct);
	free(cs);
	size_t n = (size_t)(end - body);
	char *dec;
	if (!cte || !strcasecmp(cte, "7bit")) {
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)body[i] >= 0x80) {
				problem(m, "an 8-bit byte in a 7bit part");
				break;
			}
		dec = xstrndup(body, n);
	} else if (!strcasecmp(cte, "quoted-printable")) {
		dec = qp_decode(m, body, n);
	} else if (!strcasecmp(cte, "base64")) {
		int bad = 0;
		dec = b64_decode(body, n, &bad);
		if (bad)
			problem(m, "stray characters in a base64 part");
	} else {
		problem(m, "Content-Transfer-Encoding '%s'", cte);
		dec = xstrndup(body, n);
	}
	if (!utf8_valid(dec))
		problem(m, "part '%s' is not valid UTF-8", ct ? ct : "?");
	if (slot && *slot)
		problem(m, "two '%s' parts", ct);
	if (slot && !*slot)
		*slot = dec;
	else
		free(dec);
	for (int i = 0; i < nh; i++) {
		free(names[i]);
		free(vals[i]);
	}
}

/* Parses raw (taken over); what is not well-formed is listed in m->problems. */
static struct msg *msg_parse(char *raw)
{
	struct msg *m = calloc(1, sizeof(*m));
	ck_assert_ptr_nonnull(m);
	m->raw = raw;
	size_t len = strlen(raw);
	const char *end = raw + len;
	size_t col = 0;
	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) {
			problem(m, "bare LF at %zu", i);
			break;
		}
		if (raw[i] == '\r' && raw[i + 1] != '\n') {
			problem(m, "bare CR at %zu", i);
			break;
		}
		if (raw[i] == '\n')
			col = 0;
		else if (raw[i] != '\r' && ++col > 998) {
			problem(m, "a line longer than 998 characters");
			break;
		}
	}
	if (len < 2 || strcmp(end - 2, "\r\n"))
		problem(m, "the message does not end with CRLF");
	const char *body = parse_headers(raw, end, &m->nh, m->hname, m->hval, 64);
	if (!body) {
		problem(m, "no empty line after the header");
		m->subject = strdup("");
		return m;
	}
	for (const char *p = raw; p < body; p++)
		if ((unsigned char)*p >= 0x80) {
			problem(m, "an 8-bit byte in the header");
			break;
		}
	static const char *const once[] = {"Date", "Message-ID", "From", "To", "Subject", "MIME-Version", "Content-Type"};
	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++)
		if (hcount(m, once[i]) != 1)
			problem(m, "%d %s fields (RFC 5322: exactly 1)", hcount(m, once[i]), once[i]);
	if (hcount(m, "X-Envelope-To") || hcount(m, "X-Envelope-From"))
		problem(m, "envelope fields in the file (an SMTP server's, not tollgate's)");

	const char *date = hget(m, "Date");
	if (date) {
		struct tm tm = {0};
		const char *rest = strptime(date, "%a, %d %b %Y %H:%M:%S %z", &tm);
		if (!rest || *rest)
			problem(m, "Date '%s' is not RFC 5322", date);
		else if (labs((long)(timegm(&tm) - tm.tm_gmtoff - time(NULL))) > 600)
			problem(m, "Date '%s' is more than 10 minutes off", date);
	}
	const char *mid = hget(m, "Message-ID");
	if (mid) {
		size_t ml = strlen(mid);
		const char *at = strchr(mid, '@');
		if (ml < 5 || mid[0] != '<' || mid[ml - 1] != '>' || !at || at == mid + 1 || at == mid + ml - 2 ||
		    strpbrk(mid + 1, " <\""))
			problem(m, "Message-ID '%s' is not <left@right>", mid);
	}
	const char *from = hget(m, "From");
	if (from && !strchr(from, '@'))
		problem(m, "From '%s' has no address", from);
	const char *mv = hget(m, "MIME-Version");
	if (mv && strcmp(mv, "1.0"))
		problem(m, "MIME-Version '%s'", mv);
	m->subject = rfc2047_decode(m, hget(m, "Subject") ? hget(m, "Subject") : "");
	if (!utf8_valid(m->subject))
		problem(m, "the decoded Subject is not UTF-8");

	const char *ct = hget(m, "Content-Type");
	char *boundary = ct ? ct_param(ct, "boundary") : NULL;
	if (!ct || strncasecmp(ct, "multipart/alternative", 21) || !boundary || !*boundary) {
		problem(m, "Content-Type '%s' is not multipart/alternative with a boundary", ct ? ct : "");
		free(boundary);
		return m;
	}
	/* a delimiter is CRLF "--" boundary at the start of a line; the CRLF belongs to it */
	char *delim = xprintf("--%s", boundary);
	size_t dl = strlen(delim);
	const char *part = NULL;
	int parts = 0;
	bool closed = false;
	for (const char *p = body; p < end && !closed;) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		const char *next = eol ? eol + 2 : end;
		if ((size_t)(end - p) >= dl && !strncmp(p, delim, dl)) {
			if (part) {
				parse_part(m, part, p - 2 >= part ? p - 2 : part);
				parts++;
			}
			closed = !strncmp(p + dl, "--", 2);
			part = next;
		}
		p = next;
	}
	if (!closed)
		problem(m, "no closing delimiter --%s--", boundary);
	if (parts != 2 || !m->text || !m->html)
		problem(m, "%d parts: a text/plain and a text/html part expected", parts);
	free(delim);
	free(boundary);
	return m;
}

/* ------------------------------------------------------------------ the mail directory */

static char *read_file(const char *path, struct stat *st)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fileno(f), st), 0);
	char *b = malloc((size_t)st->st_size + 1);
	ck_assert_ptr_nonnull(b);
	size_t n = fread(b, 1, (size_t)st->st_size, f);
	fclose(f);
	ck_assert_int_eq(n, (size_t)st->st_size);
	b[n] = '\0';
	ck_assert_msg(strlen(b) == n, "%s holds a NUL byte", path);
	return b;
}

/* Waits (bounded) for a message to addr whose subject contains subj; returns it parsed, its file name
 * in name. Fails on a temporary file left next to the messages, or a wrong name or mode. */
static struct msg *wait_message(const char *dir, const char *addr, const char *subj, char *name, size_t cap)
{
	int64_t deadline = now_ms() + MAIL_WAIT_MS;
	for (;;) {
		DIR *d = opendir(dir);
		ck_assert_msg(d != NULL, "cannot open the mail directory %s", dir);
		struct dirent *e;
		struct msg *found = NULL;
		while (!found && (e = readdir(d))) {
			const char *n = e->d_name;
			size_t l = strlen(n);
			if (!strcmp(n, ".") || !strcmp(n, ".."))
				continue;
			if (n[0] == '.')
				continue; /* a message being written (.<name>.tmp): renamed when complete */
			char stamp[17];
			long id;
			char rest[8];
			ck_assert_msg(l > 4 && !strcmp(n + l - 4, ".eml") && sscanf(n, "%16[0-9TZ]-%ld%7s", stamp, &id, rest) == 3 &&
					      strlen(stamp) == 16 && stamp[8] == 'T' && stamp[15] == 'Z' && !strcmp(rest, ".eml"),
				      "unexpected file %s in %s", n, dir);
			char *path = xprintf("%s/%s", dir, n);
			struct stat st;
			char *raw = read_file(path, &st);
			free(path);
			ck_assert_msg((st.st_mode & 0777) == 0600, "%s is mode %o, not 600", n, (unsigned)(st.st_mode & 0777));
			struct msg *m = msg_parse(raw);
			const char *to = hget(m, "To");
			if (to && strcasestr(to, addr) && strstr(m->subject, subj)) {
				snprintf(name, cap, "%s", n);
				found = m;
			} else {
				msg_free(m);
			}
		}
		closedir(d);
		if (found)
			return found;
		ck_assert_msg(now_ms() < deadline, "no message '%s' to %s in %s within %d ms; outbox: %s", subj, addr, dir,
			      MAIL_WAIT_MS,
			      sql3("SELECT string_agg(format('%%s %%s %%s', kind, status, last_error), ', ') FROM email_outbox"
				   " WHERE to_address = '%s'",
				   addr));
		it_sleep_ms(100);
	}
}

/* ------------------------------------------------------------------ the test */

START_TEST(file_transport_verification)
{
	ck_assert_msg(work[0], "no scratch directory");
	int64_t t0 = now_ms();
	int rc = it_sh("env -u TG_STRIPE_URL -u TG_LITELLM_URL -u TG_HTTPS_PORT -u TG_HTTP_PORT -u TG_MAIL_FILE_DIR"
		       " TG_STANDINS=0 TG_MAIL_TRANSPORT=file TG_WORKERS=1 TG_PASSWORD_WORKERS=1"
		       " TOLLGATE_BIN='%s' scripts/stack start '%s' >'%s/start.log' 2>&1",
		       it_tollgate_bin(), stack3, work);
	ck_assert_msg(rc == 0, "the file-transport stack did not start:\n%s", it_sh_out("tail -n 30 '%s/start.log'", work));
	fprintf(stderr, "file transport: stack started in %lld ms\n", (long long)(now_ms() - t0));

	/* the stack runs no SMTP server and configures none */
	ck_assert_int_eq(it_sh("grep -qx 'mail_transport = file' '%s/tollgate.conf'", stack3), 0);
	ck_assert_int_ne(it_sh("grep -q '^smtp_url' '%s/tollgate.conf'", stack3), 0);
	ck_assert_int_ne(it_sh("[ -f '%s/smtp.pid' ]", stack3), 0);
	char *mail_dir = stack_var("TG_MAIL_DIR");
	char *expect_dir = xprintf("%s/mail-out", stack3);
	ck_assert_str_eq(mail_dir, it_sh_out("readlink -f '%s'", expect_dir));
	free(expect_dir);

	char *url = stack_var("TG_URL"), *origin = stack_var("TG_ORIGIN");
	setenv("TG_URL", url, 1); /* this forked test only: the it_* helpers talk to the file stack */
	setenv("TG_ORIGIN", origin, 1);

	/* register (body mode) with a non-ASCII name */
	char email[128], password[64];
	snprintf(email, sizeof(email), "%s", it_unique_email("mailfile"));
	snprintf(password, sizeof(password), "pw-%08x-Quartz", (unsigned)rand());
	char *body = xprintf("{\"email\":\"%s\",\"password\":\"%s\",\"name\":\"" USER_NAME "\",\"session\":\"body\"}",
			     email, password);
	struct it_resp *r = it_post("/api/auth/register", NULL, body);
	free(body);
	it_expect(r, 201, NULL);
	char *access = strdup(it_str(r, "access_token"));
	ck_assert_ptr_nonnull(access);
	it_free(r);

	/* the verification message, as a file */
	int64_t t1 = now_ms();
	char name[256];
	struct msg *m = wait_message(mail_dir, email, "Confirm your email", name, sizeof(name));
	fprintf(stderr, "file transport: verification file %s after %lld ms\n", name, (long long)(now_ms() - t1));
	ck_assert_msg(!m->problems[0], "%s is not a well-formed message: %s\n---\n%.3000s", name, m->problems, m->raw);
	long id = strtol(strchr(name, '-') + 1, NULL, 10);
	char *row = xprintf("sent verify_email %s", email);
	ck_assert_str_eq(sql3("SELECT status || ' ' || kind || ' ' || to_address FROM email_outbox WHERE id = %ld", id), row);
	free(row);
	ck_assert_msg(strstr(m->text, "Zoë") && strstr(m->html, "Zoë"), "the name is not in both parts:\n%s", m->raw);

	/* the link, in both parts */
	char *prefix = xprintf("%s/verify-email?token=", origin);
	const char *p = strstr(m->text, prefix);
	ck_assert_msg(p != NULL, "no link %s… in the text part:\n%s", prefix, m->text);
	p += strlen(prefix);
	size_t tl = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
	ck_assert_msg(tl == 43, "the token is not 43 base64url characters: %.60s", p);
	char *token = xstrndup(p, tl);
	char *link = xprintf("%s%s", prefix, token);
	ck_assert_msg(strstr(m->html, link) != NULL, "the HTML part lacks %s:\n%s", link, m->html);
	msg_free(m);

	/* no temporary file left behind */
	ck_assert_str_eq(it_sh_out("find '%s' -name '.*' -type f | wc -l", mail_dir), "0");

	/* follow the link through the API */
	body = xprintf("{\"token\":\"%s\"}", token);
	r = it_post("/api/auth/verify-email", NULL, body);
	free(body);
	it_expect(r, 200, NULL);
	json_object *v = it_at(r, "email_verified");
	ck_assert_msg(v && json_object_get_boolean(v), "email_verified should be true: %s", r->body);
	it_free(r);
	r = it_get("/api/auth/me", access);
	it_expect(r, 200, NULL);
	v = it_at(r, "email_verified");
	ck_assert_msg(v && json_object_get_boolean(v), "me: email_verified should be true: %s", r->body);
	ck_assert_msg(it_str(r, "name") && !strcmp(it_str(r, "name"), USER_NAME), "me: name %s", r->body);
	it_free(r);

	/* verification causes the welcome message: a second file */
	m = wait_message(mail_dir, email, "Welcome to", name, sizeof(name));
	ck_assert_msg(!m->problems[0], "%s is not a well-formed message: %s\n---\n%.3000s", name, m->problems, m->raw);
	msg_free(m);
	fprintf(stderr, "file transport: total %lld ms\n", (long long)(now_ms() - t0));

	free(link);
	free(token);
	free(prefix);
	free(access);
	free(url);
	free(origin);
	free(mail_dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mail_file");
	TCase *tc = tcase_create("file_transport");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, work_setup, work_teardown);
	tcase_add_test(tc, file_transport_verification);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
