/* email_helpers.c — see email_helpers.h. */
#include "email_helpers.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *mail_dir(void)
{
	static char dir[1024];
	const char *d = getenv("TG_MAIL_DIR");
	if (d && *d)
		return d;
	snprintf(dir, sizeof(dir), "%s/mail", it_stack_dir());
	return dir;
}

/* A problem document check for 422 with errors.<field> present. */
void expect_field_error(const struct it_resp *r, const char *field)
{
	it_expect(r, 422, "validation_failed");
	char path[96];
	snprintf(path, sizeof(path), "errors.%s", field);
	ck_assert_msg(it_str(r, path) != NULL, "expected errors.%s in: %s", field, r->body);
}

struct it_resp *post_json(const char *path, const char *bearer, const char *fmt, ...)
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

struct it_resp *put_json(const char *path, const char *bearer, const char *json)
{
	struct it_req q = {.method = "PUT", .path = path, .bearer = bearer, .json = json};
	return it_do(&q);
}

void expect_bool(const struct it_resp *r, const char *path, bool want)
{
	bool v = it_bool(r, path);
	ck_assert_msg(v == want, "%s: expected %s in: %s", path, want ? "true" : "false", r->body);
}

/* ---- the mailbox */

void mails_free(struct mails *ms)
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
void mailbox_collect(const char *addr, const char *subj, struct mails *out)
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

int mailbox_count(const char *addr, const char *subj)
{
	struct mails ms;
	mailbox_collect(addr, subj, &ms);
	int n = ms.n;
	mails_free(&ms);
	return n;
}

/* Prints what the outbox knows about addr (for failure messages). */
const char *outbox_state(const char *addr)
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
void mail_wait(const char *addr, const char *subj, int want, int timeout_ms, struct mails *out)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	for (;;) {
		mailbox_collect(addr, subj, out);
		if (out->n >= want)
			return;
		if (it_now_ms() >= deadline)
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
void mail_expect_ok(const struct mail *m, const char *addr)
{
	ck_assert_msg(m->problems[0] == '\0', "message %s is malformed: %s\n---\n%.3000s", m->file, m->problems, m->raw);
	const char *to = hget(&m->h, "To");
	ck_assert_msg(to && strcasestr(to, addr), "message %s: To '%s' is not %s", m->file, to ? to : "", addr);
}

/* Waits for exactly one more message: the newest of want arrivals, well-formed; caller frees. */
struct mail *mail_wait_one(const char *addr, const char *subj, int want)
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
void mail_link_token(const struct mail *m, const char *path, char *tok, size_t cap)
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
void wait_token(const char *addr, const char *subj, int want, const char *path, char *tok, size_t cap)
{
	struct mail *m = mail_wait_one(addr, subj, want);
	mail_link_token(m, path, tok, cap);
	mail_free(m);
}

/* Asserts that no message to addr with subj arrives within ms (and that exactly `have` exist). */
void mail_expect_count_after(const char *addr, const char *subj, int have, int ms)
{
	it_sleep_ms(ms);
	int n = mailbox_count(addr, subj);
	ck_assert_msg(n == have, "expected exactly %d email(s) '%s' to %s, found %d; outbox:\n%s", have, subj ? subj : "*",
		      addr, n, outbox_state(addr));
}

/* ---- API shorthands */

struct it_resp *verify(const char *token)
{
	return post_json("/api/auth/verify-email", NULL, "{\"token\":\"%s\"}", token);
}

struct it_resp *reset(const char *token, const char *password)
{
	return post_json("/api/auth/reset-password", NULL, "{\"token\":\"%s\",\"password\":\"%s\"}", token, password);
}

struct it_resp *forgot(const char *email)
{
	return post_json("/api/auth/forgot-password", NULL, "{\"email\":\"%s\"}", email);
}

void expect_forgot_accepted(const char *email)
{
	struct it_resp *r = forgot(email);
	it_expect(r, 202, NULL);
	ck_assert_str_eq(it_str(r, "status") ? it_str(r, "status") : "", "accepted");
	ck_assert_msg(it_str(r, "message") && *it_str(r, "message"), "no message in %s", r->body);
	it_free(r);
}

bool user_verified(const char *access)
{
	struct it_resp *r = it_get("/api/auth/me", access);
	it_expect(r, 200, NULL);
	bool v = it_bool(r, "email_verified");
	it_free(r);
	return v;
}

/* Registers u and verifies its email through the link of its verification message. */
void register_verified(struct it_user *u, const char *prefix)
{
	it_register(u, prefix);
	char tok[128];
	wait_token(u->email, SUBJ_VERIFY, 1, "/verify-email", tok, sizeof(tok));
	struct it_resp *r = verify(tok);
	it_expect(r, 200, NULL);
	it_free(r);
}

/* Number of notifications of kind for the user. */
int notification_count(const char *access, const char *kind)
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

void change_password(struct it_user *u, const char *fresh)
{
	struct it_resp *r = post_json("/api/profile/change-password", u->access,
				      "{\"current_password\":\"%s\",\"new_password\":\"%s\"}", u->password, fresh);
	it_expect(r, 204, NULL);
	it_free(r);
	snprintf(u->password, sizeof(u->password), "%s", fresh);
}
