/* config.h — the service configuration: one struct, one table of keys (config.c).
 *
 * Sources, later wins: built-in defaults, the file (`key = value`, `#` comments),
 * environment variables TOLLGATE_<KEY> (upper-case). A key `<secret>_file` reads the
 * secret from a file (trailing newline stripped). */
#ifndef TOLLGATE_CONFIG_H
#define TOLLGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_MAX_KEYS 96

struct tg_config {
	/* where the values came from, for error messages: the file and the line of each key
	 * (0: default or environment) */
	char *source_file;
	int source_line[CONFIG_MAX_KEYS];

	/* service */
	char *environment;          /* development | production */
	char *listen;               /* main pool FastCGI socket: path or host:port */
	char *password_listen;      /* password pool FastCGI socket */
	char *chat_listen;          /* chat pool FastCGI socket (long LLM streams) */
	char *socket_mode;          /* octal mode for unix sockets */
	int workers;                /* 0 = 2 × cores */
	int password_workers;
	int chat_workers;
	int jobs_workers;
	int max_requests;
	int drain_timeout;          /* seconds */
	int listen_backlog;
	char *log_level;
	char *data_dir;             /* sql/ and templates/ live here */
	char *public_origin;        /* https://example.com — links, Origin checks */
	char *cors_origins;         /* space-separated; empty = same-origin only */
	char *trusted_proxies;      /* space-separated addresses whose X-Forwarded-For is believed */
	long long max_body_bytes;
	int json_max_depth;

	/* database */
	char *database_url;
	int db_statement_timeout_ms;
	int db_connect_timeout;

	/* auth */
	char *jwt_secret;
	char *jwt_issuer;
	char *jwt_audience;
	int access_token_ttl;       /* seconds */
	int refresh_token_ttl;      /* seconds */
	int refresh_reuse_interval; /* seconds */
	int principal_cache_entries; /* sessions each worker keeps checked in memory (0 = none) */
	int principal_cache_ttl;    /* seconds a cached session is trusted without news from PostgreSQL */
	int bcrypt_cost;
	int login_max_failures;
	int login_failure_window;   /* seconds */
	int login_lockout_base;     /* seconds, doubles per lockout */
	int login_lockout_max;      /* seconds */
	int register_ip_limit;      /* per hour per client IP, 0 = off */
	bool registration_open;

	/* email */
	char *mail_transport;       /* file | smtp | off */
	char *mail_from;
	char *mail_file_dir;
	char *smtp_url;             /* smtp://host:587 or smtps://host:465 */
	char *smtp_starttls;        /* required | optional | off */
	char *smtp_user;
	char *smtp_password;
	int smtp_timeout;
	int forgot_ip_limit;        /* per hour per client IP */
	int forgot_email_limit;     /* reset emails per hour per address (quietly dropped beyond) */
	int resend_interval;        /* seconds between verification emails per user */
	int jobs_poll_interval;     /* seconds */
	int mail_retry_base;        /* seconds before the first retry; doubles per attempt */
	int mail_retry_max;         /* seconds: the longest wait between attempts */
	int mail_give_up_after;     /* seconds after which an undelivered email is marked failed */
	char *templates_dir;        /* "" = <data_dir>/templates, then <data_dir>/conf/templates */
	char *app_name;             /* product name used in emails */
	/* The operator, as the legal pages name it (GET /api/site); production requires them all. */
	char *company_name, *company_address, *contact_email;
	char *legal_effective_date; /* YYYY-MM-DD: the date the current terms and policies took effect */
	char *legal_jurisdiction;   /* whose law governs the terms, e.g. "Ireland" */
	int verify_token_ttl;       /* seconds */
	int reset_token_ttl;        /* seconds */

	/* billing */
	char *stripe_api_base;
	char *stripe_secret_key;
	char *stripe_webhook_secrets; /* space-separated, for rotation */
	int stripe_timeout;
	int outbound_deadline;      /* seconds a request's outbound calls may take in all, retries included */
	int past_due_grace_days;
	int event_retry_base;       /* seconds before a failed webhook event is applied again; doubles */
	char *stripe_prices;        /* "pro:month:price_… pro:year:price_…": Stripe price per plan and interval */
	char *litellm_base;
	char *litellm_master_key;
	char *litellm_encryption_key; /* 64 hex chars: AES-256-GCM key for stored virtual keys */
	char *mfa_encryption_key;   /* 64 hex chars: AES-256-GCM key sealing the TOTP secrets ("" = 2FA off) */
	int litellm_timeout;
	int chat_timeout;           /* seconds a whole chat (LiteLLM's answer or stream) may take */
	int chat_max_tokens;        /* max_tokens of a reply */
	int chat_context_tokens;    /* estimated tokens of history and passages sent with a message */
	int chat_sources;           /* project passages retrieved per message */
};

/* Loads defaults, then path (may be NULL: defaults + environment only), then the environment.
 * On failure returns TG_EINPUT and writes "file:line: reason" lines into err (size errlen). */
int config_load(struct tg_config *cfg, const char *path, char *err, size_t errlen);
/* Checks cross-key rules and production rules. Returns 0, or TG_EINPUT with reasons in err. */
int config_validate(const struct tg_config *cfg, char *err, size_t errlen);
void config_free(struct tg_config *cfg);
bool config_is_production(const struct tg_config *cfg);
/* Number of worker processes for the main pool after applying the 0 = 2 × cores rule. */
int config_main_workers(const struct tg_config *cfg);

#endif
