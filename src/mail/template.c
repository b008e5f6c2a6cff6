/* template.c — {{variable}} substitution for email templates. */
#include "tollgate/mail.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TEMPLATE_MAX (256 * 1024)

struct sbuf {
	struct arena *a;
	char *p;
	size_t n, cap;
	bool failed;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 1024);
		while (cap < b->n + n + 1)
			cap *= 2;
		char *np = arena_alloc(b->a, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		if (b->n)
			memcpy(np, b->p, b->n);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void put_escaped(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': put(b, "&amp;", 5); break;
		case '<': put(b, "&lt;", 4); break;
		case '>': put(b, "&gt;", 4); break;
		case '"': put(b, "&quot;", 6); break;
		case '\'': put(b, "&#39;", 5); break;
		default: put(b, s, 1);
		}
	}
}

char *mail_render(struct arena *a, const char *tpl, json_object *vars, bool html_escape)
{
	struct sbuf b = {.a = a};
	put(&b, "", 0);
	const char *p = tpl;
	while (*p) {
		const char *open = strstr(p, "{{");
		if (!open) {
			put(&b, p, strlen(p));
			break;
		}
		put(&b, p, (size_t)(open - p));
		const char *close = strstr(open + 2, "}}");
		if (!close) {
			put(&b, open, strlen(open));
			break;
		}
		char name[64];
		const char *s = open + 2, *e = close;
		while (s < e && *s == ' ')
			s++;
		while (e > s && e[-1] == ' ')
			e--;
		size_t nl = (size_t)(e - s);
		json_object *v = NULL;
		if (nl < sizeof(name)) {
			memcpy(name, s, nl);
			name[nl] = '\0';
			json_object_object_get_ex(vars, name, &v);
		}
		if (v && !json_object_is_type(v, json_type_null) && !json_object_is_type(v, json_type_object) &&
		    !json_object_is_type(v, json_type_array)) {
			const char *val = json_object_get_string(v);
			if (html_escape)
				put_escaped(&b, val);
			else
				put(&b, val, strlen(val));
		}
		p = close + 2;
	}
	return b.failed ? NULL : b.p;
}

static char *load(struct arena *a, const char *dir, const char *kind, const char *ext)
{
	char *path = arena_printf(a, "%s/%s.%s", dir, kind, ext);
	if (!path)
		return NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = arena_alloc(a, TEMPLATE_MAX + 1);
	size_t n = buf ? fread(buf, 1, TEMPLATE_MAX, f) : 0;
	fclose(f);
	if (!buf)
		return NULL;
	buf[n] = '\0';
	return buf;
}

int mail_render_kind(struct arena *a, const char *dir, const char *kind, json_object *vars, char **subject,
		     char **text, char **html)
{
	for (const char *k = kind; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || *k == '_'))
			return TG_EINPUT;
	char *s = load(a, dir, kind, "subject"), *t = load(a, dir, kind, "txt"), *h = load(a, dir, kind, "html");
	if (!s || !t || !h)
		return TG_ENOTFOUND;
	s[strcspn(s, "\r\n")] = '\0'; /* a subject is one line */
	*subject = mail_render(a, s, vars, false);
	*text = mail_render(a, t, vars, false);
	*html = mail_render(a, h, vars, true);
	if (*subject)
		(*subject)[strcspn(*subject, "\r\n")] = '\0'; /* no header injection through variables */
	return *subject && *text && *html ? TG_OK : TG_ENOMEM;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *mail_templates_dir(const struct tg_config *cfg, struct arena *a)
{
	if (cfg->templates_dir && *cfg->templates_dir)
		return cfg->templates_dir;
	char *d = arena_printf(a, "%s/templates", cfg->data_dir);
	if (is_dir(d))
		return d;
	return arena_printf(a, "%s/conf/templates", cfg->data_dir);
}
