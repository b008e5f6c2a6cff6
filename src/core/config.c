/* config.c — the configuration table: every key, its type, its default. */
#include "tollgate/config.h"
#include "tollgate/mem.h"
#include "tollgate/status.h"
#include "tollgate/log.h"
#include "tollgate/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum key_type { K_STR, K_INT, K_LLONG, K_BOOL, K_DURATION };

struct key {
	const char *name;
	enum key_type type;
	size_t offset;
	const char *def;
	bool secret;      /* may come from <name>_file; never printed */
	long long min, max;
};

#define S(field, def) {#field, K_STR, offsetof(struct tg_config, field), def, false, 0, 0}
#define SECRET(field) {#field, K_STR, offsetof(struct tg_config, field), "", true, 0, 0}
#define I(field, def, lo, hi) {#field, K_INT, offsetof(struct tg_config, field), #def, false, lo, hi}
#define D(field, def, lo, hi) {#field, K_DURATION, offsetof(struct tg_config, field), def, false, lo, hi}
#define B(field, def) {#field, K_BOOL, offsetof(struct tg_config, field), def, false, 0, 1}

static const struct key keys[] = {
	S(environment, "development"),
	S(listen, "/run/tollgate/tollgate.sock"),
	S(password_listen, "/run/tollgate/tollgate-password.sock"),
	S(chat_listen, "/run/tollgate/tollgate-chat.sock"),
	S(socket_mode, "0660"),
	I(workers, 0, 0, 256),
	I(password_workers, 2, 1, 64),
	I(chat_workers, 8, 1, 256),
	I(jobs_workers, 1, 0, 16),
	I(max_requests, 10000, 0, 100000000),
	D(drain_timeout, "10s", 1, 3600),
	I(listen_backlog, 1024, 16, 65535),
	S(log_level, "info"),
	S(data_dir, TOLLGATE_DATADIR),
	S(public_origin, "https://localhost:8443"),
	S(cors_origins, ""),
	S(trusted_proxies, ""),
	{"max_body_bytes", K_LLONG, offsetof(struct tg_config, max_body_bytes), "1048576", false, 1024, 1LL << 30},
	I(json_max_depth, 32, 2, 1000),

	S(database_url, "postgresql:///tollgate"),
	I(db_statement_timeout_ms, 5000, 0, 3600000),
	D(db_connect_timeout, "5s", 1, 300),

	SECRET(jwt_secret),
	S(jwt_issuer, "tollgate"),
	S(jwt_audience, "tollgate"),
	D(access_token_ttl, "15m", 30, 86400),
	D(refresh_token_ttl, "30d", 300, 365 * 86400),
	D(refresh_reuse_interval, "10s", 0, 600),
	I(principal_cache_entries, 4096, 0, 1000000),
	D(principal_cache_ttl, "30s", 1, 3600),
	I(bcrypt_cost, 12, 4, 31),
	I(login_max_failures, 5, 1, 1000),
	D(login_failure_window, "15m", 1, 86400),
	D(login_lockout_base, "60s", 1, 86400),
	D(login_lockout_max, "1h", 1, 7 * 86400),
	I(register_ip_limit, 20, 0, 1000000),
	B(registration_open, "true"),

	S(mail_transport, "file"),
	S(mail_from, "Tollgate <no-reply@localhost>"),
	S(mail_file_dir, "var/mail"),
	S(smtp_url, "smtp://127.0.0.1:25"),
	S(smtp_starttls, "optional"),
	S(smtp_user, ""),
	SECRET(smtp_password),
	D(smtp_timeout, "30s", 1, 600),
	I(forgot_ip_limit, 10, 0, 1000000),
	I(forgot_email_limit, 5, 0, 1000000),
	D(resend_interval, "60s", 0, 86400),
	D(jobs_poll_interval, "5s", 1, 3600),
	D(mail_retry_base, "60s", 1, 86400),
	D(mail_retry_max, "6h", 1, 7 * 86400),
	D(mail_give_up_after, "24h", 60, 30 * 86400),
	S(templates_dir, ""),
	S(app_name, "Tollgate"),
	S(company_name, ""),
	S(company_address, ""),
	S(contact_email, ""),
	S(legal_effective_date, ""),
	S(legal_jurisdiction, ""),
	D(verify_token_ttl, "48h", 60, 30 * 86400),
	D(reset_token_ttl, "1h", 60, 7 * 86400),

	S(stripe_api_base, "https://api.stripe.com"),
	SECRET(stripe_secret_key),
	SECRET(stripe_webhook_secrets),
	D(stripe_timeout, "30s", 1, 600),
	D(outbound_deadline, "5s", 1, 120),
	I(past_due_grace_days, 7, 0, 365),
	D(event_retry_base, "30s", 1, 86400),
	S(stripe_prices, ""),
	S(litellm_base, ""),
	SECRET(litellm_master_key),
	SECRET(litellm_encryption_key),
	SECRET(mfa_encryption_key),
	D(litellm_timeout, "30s", 1, 600),
	D(chat_timeout, "120s", 5, 3600),
	I(chat_max_tokens, 1024, 16, 65536),
	I(chat_context_tokens, 8000, 256, 1000000),
	I(chat_sources, 4, 0, 20),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS");

struct errbuf {
	char *buf;
	size_t len, used;
	int count;
};

static void err_add(struct errbuf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err_add(struct errbuf *e, const char *fmt, ...)
{
	e->count++;
	if (!e->buf || e->used + 1 >= e->len)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(e->buf + e->used, e->len - e->used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	e->used += (size_t)n;
	if (e->used >= e->len - 1)
		e->used = e->len - 1;
	else {
		e->buf[e->used++] = '\n';
		e->buf[e->used] = '\0';
	}
}

static const struct key *find_key(const char *name, size_t len, bool *is_file)
{
	*is_file = false;
	for (size_t i = 0; i < NKEYS; i++) {
		size_t kl = strlen(keys[i].name);
		if (kl == len && memcmp(keys[i].name, name, len) == 0)
			return &keys[i];
		if (keys[i].secret && len == kl + 5 && memcmp(keys[i].name, name, kl) == 0 &&
		    memcmp(name + kl, "_file", 5) == 0) {
			*is_file = true;
			return &keys[i];
		}
	}
	return NULL;
}

static char *read_secret_file(const char *path, const char **why)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		*why = strerror(errno);
		return NULL;
	}
	char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	bool too_big = !feof(f);
	fclose(f);
	if (too_big) {
		*why = "file too large for a secret";
		return NULL;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	char *s = mem_strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return s;
}

/* Sets one key from text. Returns NULL or a static reason. */
static const char *set_value(struct tg_config *cfg, const struct key *k, const char *val, bool from_file)
{
	char *base = (char *)cfg;
	if (from_file) {
		const char *why = NULL;
		char *s = read_secret_file(val, &why);
		if (!s)
			return why;
		char **slot = (char **)(base + k->offset);
		free(*slot);
		*slot = s;
		return NULL;
	}
	switch (k->type) {
	case K_STR: {
		char *s = mem_strdup(val);
		char **slot = (char **)(base + k->offset);
		free(*slot);
		*slot = s;
		return NULL;
	}
	case K_INT:
	case K_LLONG: {
		errno = 0;
		char *end;
		long long v = strtoll(val, &end, 10);
		if (errno || end == val || *end)
			return "not an integer";
		if (v < k->min || v > k->max)
			return "out of range";
		if (k->type == K_INT)
			*(int *)(base + k->offset) = (int)v;
		else
			*(long long *)(base + k->offset) = v;
		return NULL;
	}
	case K_DURATION: {
		long long v;
		if (time_parse_duration(val, &v) != 0)
			return "not a duration (e.g. 30s, 15m, 2h, 30d)";
		if (v < k->min || v > k->max)
			return "out of range";
		*(int *)(base + k->offset) = (int)v;
		return NULL;
	}
	case K_BOOL:
		if (!strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "on") || !strcmp(val, "1"))
			*(bool *)(base + k->offset) = true;
		else if (!strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "off") || !strcmp(val, "0"))
			*(bool *)(base + k->offset) = false;
		else
			return "not a boolean (true/false)";
		return NULL;
	}
	return "unknown type";
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static void load_file(struct tg_config *cfg, const char *path, struct errbuf *e)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		err_add(e, "%s: cannot open: %s", path, strerror(errno));
		return;
	}
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			err_add(e, "%s:%d: expected 'key = value'", path, lineno);
			continue;
		}
		*eq = '\0';
		char *name = trim(s);
		char *val = trim(eq + 1);
		size_t vl = strlen(val);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
			val[vl - 1] = '\0';
			val++;
		}
		bool is_file;
		const struct key *k = find_key(name, strlen(name), &is_file);
		if (!k) {
			err_add(e, "%s:%d: unknown key '%s'", path, lineno, name);
			continue;
		}
		const char *why = set_value(cfg, k, val, is_file);
		if (why)
			err_add(e, "%s:%d: %s: %s", path, lineno, name, why);
		else
			cfg->source_line[k - keys] = lineno;
	}
	free(line);
	fclose(f);
}

static void load_env(struct tg_config *cfg, struct errbuf *e)
{
	for (size_t i = 0; i < NKEYS; i++) {
		for (int file = 0; file <= (keys[i].secret ? 1 : 0); file++) {
			char envname[96];
			int n = snprintf(envname, sizeof(envname), "TOLLGATE_%s%s", keys[i].name, file ? "_file" : "");
			if (n < 0 || (size_t)n >= sizeof(envname))
				continue;
			for (char *p = envname; *p; p++)
				*p = (char)toupper((unsigned char)*p);
			const char *val = getenv(envname);
			if (!val)
				continue;
			const char *why = set_value(cfg, &keys[i], val, file);
			if (why)
				err_add(e, "environment %s: %s", envname, why);
			else
				cfg->source_line[i] = 0;
		}
	}
}

int config_load(struct tg_config *cfg, const char *path, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	struct errbuf e = {err, errlen, 0, 0};
	if (err && errlen)
		err[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		const char *why = set_value(cfg, &keys[i], keys[i].def, false);
		if (why)
			err_add(&e, "default %s: %s", keys[i].name, why);
	}
	if (path) {
		cfg->source_file = mem_strdup(path);
		load_file(cfg, path, &e);
	}
	load_env(cfg, &e);
	return e.count ? TG_EINPUT : TG_OK;
}

/* The operator's details the legal pages show (GET /api/site). */
static const struct {
	const char *name;
	size_t offset;
} legal_keys[] = {
	{"company_name", offsetof(struct tg_config, company_name)},
	{"company_address", offsetof(struct tg_config, company_address)},
	{"contact_email", offsetof(struct tg_config, contact_email)},
	{"legal_effective_date", offsetof(struct tg_config, legal_effective_date)},
	{"legal_jurisdiction", offsetof(struct tg_config, legal_jurisdiction)},
};

/* YYYY-MM-DD with a month and day that exist. */
static bool valid_date(const char *s)
{
	int y, m, d;
	char tail;
	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || s[4] != '-' || s[7] != '-')
		return false;
	static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return y >= 2000 && m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1] &&
	       !(m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

bool config_is_production(const struct tg_config *cfg)
{
	return cfg->environment && strcmp(cfg->environment, "production") == 0;
}

static bool is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "file:line: " where key was set, or "" for a default; "environment: " for a variable. */
static const char *where(const struct tg_config *cfg, const char *key, char *buf, size_t len)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, key))
			continue;
		if (cfg->source_line[i] > 0 && cfg->source_file) {
			snprintf(buf, len, "%s:%d: ", cfg->source_file, cfg->source_line[i]);
			return buf;
		}
	}
	buf[0] = '\0';
	return buf;
}

int config_validate(const struct tg_config *cfg, char *err, size_t errlen)
{
	char at[512];
	struct errbuf e = {err, errlen, 0, 0};
	if (err && errlen)
		err[0] = '\0';
	bool prod = config_is_production(cfg);
	if (strcmp(cfg->environment, "production") && strcmp(cfg->environment, "development") &&
	    strcmp(cfg->environment, "test"))
		err_add(&e, "%senvironment: must be production, development or test", where(cfg, "environment", at, sizeof(at)));
	enum log_level lvl;
	if (log_parse_level(cfg->log_level, &lvl) != 0)
		err_add(&e, "%slog_level: must be debug, info, warn or error", where(cfg, "log_level", at, sizeof(at)));
	if (strlen(cfg->jwt_secret) < 32)
		err_add(&e, "%sjwt_secret: missing or shorter than 32 bytes (set jwt_secret_file)", where(cfg, "jwt_secret", at, sizeof(at)));
	if (*cfg->mfa_encryption_key && strlen(cfg->mfa_encryption_key) != 64)
		err_add(&e, "%smfa_encryption_key: must be 64 hex characters (openssl rand -hex 32)",
			where(cfg, "mfa_encryption_key", at, sizeof(at)));
	if (!*cfg->listen || !*cfg->password_listen || !*cfg->chat_listen)
		err_add(&e, "%slisten/password_listen/chat_listen: must not be empty", where(cfg, "listen", at, sizeof(at)));
	else if (!strcmp(cfg->listen, cfg->password_listen))
		err_add(&e, "%spassword_listen: must differ from listen", where(cfg, "password_listen", at, sizeof(at)));
	else if (!strcmp(cfg->chat_listen, cfg->listen) || !strcmp(cfg->chat_listen, cfg->password_listen))
		err_add(&e, "%schat_listen: must differ from listen and password_listen", where(cfg, "chat_listen", at, sizeof(at)));
	if (strncmp(cfg->public_origin, "https://", 8) && strncmp(cfg->public_origin, "http://", 7))
		err_add(&e, "%spublic_origin: must be an http(s) origin", where(cfg, "public_origin", at, sizeof(at)));
	size_t pl = strlen(cfg->public_origin);
	if (pl && cfg->public_origin[pl - 1] == '/')
		err_add(&e, "%spublic_origin: must not end with '/'", where(cfg, "public_origin", at, sizeof(at)));
	if (strcmp(cfg->mail_transport, "file") && strcmp(cfg->mail_transport, "smtp") &&
	    strcmp(cfg->mail_transport, "off"))
		err_add(&e, "%smail_transport: must be file, smtp or off", where(cfg, "mail_transport", at, sizeof(at)));
	if (strcmp(cfg->smtp_starttls, "required") && strcmp(cfg->smtp_starttls, "optional") &&
	    strcmp(cfg->smtp_starttls, "off"))
		err_add(&e, "%ssmtp_starttls: must be required, optional or off", where(cfg, "smtp_starttls", at, sizeof(at)));
	if (strncmp(cfg->smtp_url, "smtp://", 7) && strncmp(cfg->smtp_url, "smtps://", 8))
		err_add(&e, "%ssmtp_url: must start with smtp:// or smtps://", where(cfg, "smtp_url", at, sizeof(at)));
	if (*cfg->litellm_encryption_key && !is_hex(cfg->litellm_encryption_key, 64))
		err_add(&e, "%slitellm_encryption_key: must be 64 hex characters (32 bytes)", where(cfg, "litellm_encryption_key", at, sizeof(at)));
	if (*cfg->legal_effective_date && !valid_date(cfg->legal_effective_date))
		err_add(&e, "%slegal_effective_date: must be a date, YYYY-MM-DD", where(cfg, "legal_effective_date", at, sizeof(at)));
	if (*cfg->contact_email && !strchr(cfg->contact_email, '@'))
		err_add(&e, "%scontact_email: must be an email address", where(cfg, "contact_email", at, sizeof(at)));
	if (prod) {
		/* the legal pages are the operator's word to its customers: never a template's blanks */
		for (size_t i = 0; i < sizeof(legal_keys) / sizeof(legal_keys[0]); i++) {
			const char *v = *(char *const *)((const char *)cfg + legal_keys[i].offset);
			if (!v || !*v)
				err_add(&e, "%s%s: production requires it (shown on the legal pages)",
					where(cfg, legal_keys[i].name, at, sizeof(at)), legal_keys[i].name);
		}
		if (strncmp(cfg->public_origin, "https://", 8))
			err_add(&e, "%spublic_origin: production requires https://", where(cfg, "public_origin", at, sizeof(at)));
		if (strchr(cfg->cors_origins, '*'))
			err_add(&e, "%scors_origins: production refuses a wildcard origin", where(cfg, "cors_origins", at, sizeof(at)));
		if (cfg->bcrypt_cost < 10)
			err_add(&e, "%sbcrypt_cost: production requires at least 10", where(cfg, "bcrypt_cost", at, sizeof(at)));
		if (!strcmp(cfg->mail_transport, "file"))
			err_add(&e, "%smail_transport: production requires smtp (or off)", where(cfg, "mail_transport", at, sizeof(at)));
		if (!strcmp(cfg->mail_transport, "smtp") && !strcmp(cfg->smtp_starttls, "off") &&
		    strncmp(cfg->smtp_url, "smtps://", 8))
			err_add(&e, "%ssmtp_starttls: production refuses plaintext SMTP", where(cfg, "smtp_starttls", at, sizeof(at)));
		if (*cfg->stripe_secret_key && !*cfg->stripe_webhook_secrets)
			err_add(&e, "%sstripe_webhook_secrets: required when stripe_secret_key is set", where(cfg, "stripe_webhook_secrets", at, sizeof(at)));
		if (*cfg->litellm_master_key && !*cfg->litellm_encryption_key)
			err_add(&e, "%slitellm_encryption_key: required when litellm_master_key is set", where(cfg, "litellm_encryption_key", at, sizeof(at)));
	}
	return e.count ? TG_EINPUT : TG_OK;
}

void config_free(struct tg_config *cfg)
{
	free(cfg->source_file);
	cfg->source_file = NULL;
	char *base = (char *)cfg;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type == K_STR || keys[i].secret) {
			char **slot = (char **)(base + keys[i].offset);
			if (*slot && keys[i].secret)
				explicit_bzero(*slot, strlen(*slot));
			free(*slot);
			*slot = NULL;
		}
}

int config_main_workers(const struct tg_config *cfg)
{
	if (cfg->workers > 0)
		return cfg->workers;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return (int)(2 * n);
}
