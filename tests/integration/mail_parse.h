/* mail_parse.h — a received message parsed as RFC 5322 / MIME, for the email suites: CRLF lines of
 * at most 998 characters, one Date, Message-ID, From, To, Subject, MIME-Version; RFC 2047 subject
 * and sender name; a multipart/alternative with a UTF-8 text and HTML part, quoted-printable or
 * base64 decoded. What is not well-formed is collected in mail.problems. */
#ifndef TOLLGATE_MAIL_PARSE_H
#define TOLLGATE_MAIL_PARSE_H

#include <stdbool.h>

#define MAX_HEADERS 64

struct headers {
	int n;
	char *name[MAX_HEADERS];
	char *value[MAX_HEADERS]; /* unfolded, leading whitespace removed */
};

struct mail {
	char file[256];
	char *raw;
	struct headers h;
	char *subject;  /* decoded */
	char *text;     /* decoded text/plain part, LF line ends */
	char *html;     /* decoded text/html part, LF line ends */
	char problems[2048]; /* what is not well-formed, empty when all is fine */
};

/* Parses raw (takes ownership) into a new struct mail; structural problems go to m->problems. */
struct mail *mail_parse(const char *file, char *raw);
void mail_free(struct mail *m);
/* The first header called name (case-insensitive), or NULL. */
const char *hget(const struct headers *h, const char *name);
/* RFC 2047: decodes every encoded word of a header value (UTF-8 charset only, B or Q);
 * whitespace between two adjacent encoded words is dropped. *bad counts problems. malloc'd. */
char *rfc2047_decode(const char *v, int *bad);
/* The whole file (malloc'd), or NULL. */
char *read_all(const char *path);

#endif
