/* fuzz_mime.c — email encoding (src/mail/mime.c, template.c): mail_encode_header, mail_qp_encode,
 * mail_address_of, mail_render and mail_build, with the properties a mail server relies on:
 * encoded words and quoted-printable decode back to the input, lines stay within their limits,
 * every line ends in CRLF, and no value can start a header of its own.
 *
 * Input: NUL-separated fields: from, to, subject template, text template, HTML template, and the
 * user's name (the template variable {{name}}; {{app_name}} and {{link}} are fixed). As in the
 * outbox, `to` is an address account_normalize_email accepted (else user@example.com) and the
 * subject is the template's first line, rendered and cut at a line end. The checks on the whole
 * message assume what the configuration gives for mail_from: printable ASCII. */
#include "fuzz.h"

#include "tollgate/account.h"
#include "tollgate/arena.h"
#include "tollgate/mail.h"

#include <openssl/evp.h>

#define FIELDS 6

static bool printable_ascii(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7F)
			return false;
	return true;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned long cp, min;
		size_t len;
		if (s[i] < 0x80) {
			i++;
			continue;
		} else if (s[i] >= 0xC2 && s[i] <= 0xDF) {
			len = 2, cp = s[i] & 0x1F, min = 0x80;
		} else if ((s[i] & 0xF0) == 0xE0) {
			len = 3, cp = s[i] & 0x0F, min = 0x800;
		} else if (s[i] >= 0xF0 && s[i] <= 0xF4) {
			len = 4, cp = s[i] & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

/* Every CR is followed by LF and every LF preceded by CR; each line holds at most max bytes. */
static void check_lines(const char *s, size_t max)
{
	size_t col = 0;
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '\r') {
			FUZZ_CHECK(s[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		FUZZ_CHECK(s[i] != '\n');
		FUZZ_CHECK(++col <= max);
	}
}

/* The header value must decode back to value (RFC 2047 B words, folded with CRLF SP). */
static void check_header(struct arena *a, const char *value, const char *enc)
{
	FUZZ_CHECK(enc != NULL);
	size_t vl = strlen(value);
	bool plain = vl <= 900; /* printable ASCII or tabs, one line: left as it is */
	for (const unsigned char *p = (const unsigned char *)value; *p && plain; p++)
		plain = (*p >= 0x20 && *p < 0x7F) || *p == '\t';
	if (plain) {
		FUZZ_CHECK(!strcmp(enc, value));
		return;
	}
	unsigned char *dec = arena_alloc(a, vl + 4);
	FUZZ_CHECK(dec != NULL);
	size_t dn = 0;
	bool first = true;
	const char *p = enc;
	while (*p) {
		if (!first) {
			FUZZ_CHECK(!strncmp(p, "\r\n ", 3));
			p += 3;
		}
		FUZZ_CHECK(!strncmp(p, "=?UTF-8?B?", 10));
		const char *b = p + 10, *end = strstr(b, "?=");
		FUZZ_CHECK(end != NULL);
		size_t bl = (size_t)(end - b);
		/* the line: "Subject: " (9) + word on the first, " " + word after: at most 76 */
		FUZZ_CHECK((first ? 9 : 1) + bl + 12 <= 76);
		FUZZ_CHECK(bl % 4 == 0);
		unsigned char *w = arena_alloc(a, bl / 4 * 3 + 1);
		FUZZ_CHECK(w != NULL);
		int n = EVP_DecodeBlock(w, (const unsigned char *)b, (int)bl);
		FUZZ_CHECK(n >= 0);
		size_t pad = bl >= 2 && b[bl - 2] == '=' ? 2 : (bl >= 1 && b[bl - 1] == '=' ? 1 : 0);
		size_t wn = (size_t)n - pad;
		FUZZ_CHECK(wn > 0 && dn + wn <= vl);
		if (utf8_valid((const unsigned char *)value, vl))
			FUZZ_CHECK(utf8_valid(w, wn)); /* no sequence split across words */
		memcpy(dec + dn, w, wn);
		dn += wn;
		p = end + 2;
		first = false;
	}
	FUZZ_CHECK(dn == vl && !memcmp(dec, value, vl));
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Quoted-printable: short lines, printable ASCII, no trailing white space, decodes to s with
 * its line ends as CRLF. */
static void check_qp(struct arena *a, const char *s, const char *qp)
{
	FUZZ_CHECK(qp != NULL);
	check_lines(qp, 76);
	size_t sl = strlen(s);
	char *want = arena_alloc(a, 2 * sl + 1), *got = arena_alloc(a, strlen(qp) + 1);
	FUZZ_CHECK(want && got);
	size_t wn = 0, gn = 0;
	for (size_t i = 0; i < sl; i++) {
		if (s[i] == '\r')
			continue;
		if (s[i] == '\n')
			want[wn++] = '\r';
		want[wn++] = s[i];
	}
	for (size_t i = 0; qp[i]; i++) {
		unsigned char c = (unsigned char)qp[i];
		if (c == '\r') {
			FUZZ_CHECK(i == 0 || (qp[i - 1] != ' ' && qp[i - 1] != '\t'));
			got[gn++] = '\r';
			got[gn++] = '\n';
			i++;
		} else if (c == '=') {
			if (qp[i + 1] == '\r') { /* soft line break */
				i += 2;
				continue;
			}
			int h = hexval(qp[i + 1]), l = h < 0 ? -1 : hexval(qp[i + 2]);
			FUZZ_CHECK(h >= 0 && l >= 0);
			got[gn++] = (char)(h * 16 + l);
			i += 2;
		} else {
			FUZZ_CHECK((c >= 33 && c <= 126) || c == ' ' || c == '\t');
			got[gn++] = (char)c;
		}
	}
	size_t ql = strlen(qp);
	FUZZ_CHECK(ql == 0 || (qp[ql - 1] != ' ' && qp[ql - 1] != '\t'));
	FUZZ_CHECK(gn == wn && !memcmp(got, want, wn));
}

/* The header block: only our headers, each on its line (folded lines start with a space). */
static void check_message(const char *msg)
{
	static const char *const names[] = {"Date: ", "Message-ID: ", "From: ", "To: ", "Subject: ",
					    "MIME-Version: ", "Auto-Submitted: ", "Content-Type: "};
	check_lines(msg, 998);
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
		FUZZ_CHECK(*p < 0x80); /* 7bit or quoted-printable throughout */
	const char *line = msg;
	int seen = 0;
	while (strncmp(line, "\r\n", 2)) {
		bool known = *line == ' ';
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !known; i++)
			if (!strncmp(line, names[i], strlen(names[i]))) {
				known = true;
				seen++;
			}
		FUZZ_CHECK(known);
		line = strstr(line, "\r\n");
		FUZZ_CHECK(line != NULL);
		line += 2;
	}
	FUZZ_CHECK(seen == (int)(sizeof(names) / sizeof(names[0])));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_span in = {(const char *)data, size}, f;
	char *field[FIELDS];
	for (int i = 0; i < FIELDS; i++)
		field[i] = fuzz_next_field(&in, '\0', &f) ? fuzz_cstr(f.p, f.n) : fuzz_cstr("", 0);
	struct arena *a = arena_new(0);
	FUZZ_CHECK(a != NULL);

	check_header(a, field[2], mail_encode_header(a, field[2]));
	check_header(a, field[5], mail_encode_header(a, field[5]));
	check_qp(a, field[3], mail_qp_encode(a, field[3]));
	check_qp(a, field[4], mail_qp_encode(a, field[4]));
	FUZZ_CHECK(mail_address_of(a, field[0]) != NULL);

	json_object *vars = json_object_new_object();
	FUZZ_CHECK(vars != NULL);
	json_object_object_add(vars, "name", json_object_new_string(field[5]));
	json_object_object_add(vars, "app_name", json_object_new_string("Tollgate"));
	json_object_object_add(vars, "link", json_object_new_string("https://localhost:8443/verify?token=abc"));
	json_object_object_add(vars, "percent", json_object_new_int(80));
	char *subject_tpl = arena_strdup(a, field[2]);
	FUZZ_CHECK(subject_tpl != NULL);
	subject_tpl[strcspn(subject_tpl, "\r\n")] = '\0';
	char *subject = mail_render(a, subject_tpl, vars, false);
	char *text = mail_render(a, field[3], vars, false);
	char *html = mail_render(a, field[4], vars, true);
	json_object_put(vars);
	FUZZ_CHECK(subject && text && html);
	subject[strcspn(subject, "\r\n")] = '\0';
	FUZZ_CHECK(!strpbrk(html, "<>\"'") || strpbrk(field[4], "<>\"'")); /* the name is escaped */

	const char *to = account_normalize_email(a, field[1]);
	struct mail_message m = {
		.from = field[0],
		.to = to ? to : "user@example.com",
		.subject = subject,
		.text = text,
		.html = html,
		.message_id = "<0123456789abcdef@localhost>",
		.date = 1767225600,
	};
	char *msg = mail_build(a, &m);
	if (printable_ascii(field[0]) && strlen(field[0]) <= 254) {
		FUZZ_CHECK(msg != NULL);
		check_message(msg);
	}
	arena_destroy(a);
	for (int i = 0; i < FIELDS; i++)
		free(field[i]);
	return 0;
}
