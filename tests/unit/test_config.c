/* test_config.c — defaults, the file format, environment overrides, secrets from files,
 * validation rules and the CORS origin check. */
#include "unit.h"

#include "tollgate/config.h"
#include "tollgate/status.h"

static char dir[256];
static char path[300];
static char err[4096];
static struct tg_config cfg;

static const char secret32[] = "0123456789abcdef0123456789abcdef";

static void setup(void)
{
	unit_clear_tollgate_env();
	unit_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/tollgate.conf", dir);
	memset(&cfg, 0, sizeof(cfg));
	err[0] = '\0';
}

static void teardown(void)
{
	config_free(&cfg);
	unit_rmtree(dir);
	unit_clear_tollgate_env();
}

/* Writes text as the config file and loads it. */
static int load_text(const char *text)
{
	unit_write_file(path, text, strlen(text));
	return config_load(&cfg, path, err, sizeof(err));
}

/* "<path>:<line>:" must appear in err. */
static void assert_err_at(int line, const char *also)
{
	char want[400];
	snprintf(want, sizeof(want), "%s:%d:", path, line);
	ck_assert_msg(strstr(err, want) != NULL, "expected \"%s\" in \"%s\"", want, err);
	if (also)
		ck_assert_msg(strstr(err, also) != NULL, "expected \"%s\" in \"%s\"", also, err);
}

static void set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = strdup(v);
	ck_assert_ptr_nonnull(*slot);
}

/* ---- defaults ---- */

START_TEST(test_defaults)
{
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(cfg.environment, "development");
	ck_assert(!config_is_production(&cfg));
	ck_assert_str_eq(cfg.listen, "/run/tollgate/tollgate.sock");
	ck_assert_str_eq(cfg.password_listen, "/run/tollgate/tollgate-password.sock");
	ck_assert_str_eq(cfg.socket_mode, "0660");
	ck_assert_int_eq(cfg.workers, 0);
	ck_assert_int_eq(cfg.password_workers, 2);
	ck_assert_int_eq(cfg.jobs_workers, 1);
	ck_assert_int_eq(cfg.max_requests, 10000);
	ck_assert_int_eq(cfg.drain_timeout, 10);
	ck_assert_int_eq(cfg.listen_backlog, 1024);
	ck_assert_str_eq(cfg.log_level, "info");
	ck_assert_str_eq(cfg.data_dir, TOLLGATE_DATADIR);
	ck_assert_str_eq(cfg.public_origin, "https://localhost:8443");
	ck_assert_str_eq(cfg.cors_origins, "");
	ck_assert_str_eq(cfg.trusted_proxies, "");
	ck_assert_int_eq(cfg.max_body_bytes, 1048576); /* 1 MiB, as API.md says */
	ck_assert_int_eq(cfg.json_max_depth, 32);
	ck_assert_str_eq(cfg.database_url, "postgresql:///tollgate");
	ck_assert_int_eq(cfg.db_connect_timeout, 5);
	ck_assert_str_eq(cfg.jwt_secret, ""); /* no built-in secret */
	ck_assert_str_eq(cfg.jwt_issuer, "tollgate");
	ck_assert_str_eq(cfg.jwt_audience, "tollgate");
	ck_assert_int_eq(cfg.access_token_ttl, 15 * 60);
	ck_assert_int_eq(cfg.refresh_token_ttl, 30 * 86400);
	ck_assert_int_eq(cfg.refresh_reuse_interval, 10);
	ck_assert_int_eq(cfg.bcrypt_cost, 12);
	ck_assert_int_eq(cfg.login_max_failures, 5);
	ck_assert_int_eq(cfg.login_failure_window, 15 * 60);
	ck_assert_int_eq(cfg.login_lockout_max, 3600);
	ck_assert(cfg.registration_open);
	ck_assert_str_eq(cfg.mail_transport, "file");
	ck_assert_str_eq(cfg.smtp_password, "");
	ck_assert_int_eq(cfg.resend_interval, 60);
	ck_assert_str_eq(cfg.stripe_secret_key, "");
	ck_assert_int_eq(cfg.past_due_grace_days, 7);
	ck_assert_str_eq(cfg.litellm_encryption_key, "");
}
END_TEST

START_TEST(test_defaults_need_only_a_secret)
{
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), TG_EINPUT); /* no jwt_secret */
	set_str(&cfg.jwt_secret, secret32);
	ck_assert_msg(config_validate(&cfg, err, sizeof(err)) == TG_OK, "%s", err);
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(test_main_workers)
{
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK);
	cfg.workers = 3;
	ck_assert_int_eq(config_main_workers(&cfg), 3);
	cfg.workers = 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	ck_assert_int_eq(config_main_workers(&cfg), 2 * (cores > 0 ? cores : 1));
}
END_TEST

START_TEST(test_free_twice)
{
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK);
	config_free(&cfg);
	ck_assert_ptr_null(cfg.environment);
	ck_assert_ptr_null(cfg.jwt_secret);
	config_free(&cfg); /* teardown frees a third time */
}
END_TEST

/* ---- the file ---- */

START_TEST(test_file_comments_blank_lines_and_spacing)
{
	int rc = load_text("# a comment\n"
			   "\n"
			   "   # an indented comment\n"
			   "workers=3\n"
			   "  password_workers   =   4  \n"
			   "\tjwt_issuer\t=\tissuer.example\t\n"
			   "registration_open = false\n"
			   "access_token_ttl = 5m\n"
			   "max_body_bytes = 2048\n");
	ck_assert_msg(rc == TG_OK, "%s", err);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(cfg.workers, 3);
	ck_assert_int_eq(cfg.password_workers, 4);
	ck_assert_str_eq(cfg.jwt_issuer, "issuer.example");
	ck_assert(!cfg.registration_open);
	ck_assert_int_eq(cfg.access_token_ttl, 300);
	ck_assert_int_eq(cfg.max_body_bytes, 2048);
	/* untouched keys keep their defaults */
	ck_assert_int_eq(cfg.bcrypt_cost, 12);
}
END_TEST

START_TEST(test_file_no_trailing_newline_and_crlf)
{
	int rc = load_text("workers = 5\r\njwt_audience = aud\r\nbcrypt_cost = 11");
	ck_assert_msg(rc == TG_OK, "%s", err);
	ck_assert_int_eq(cfg.workers, 5);
	ck_assert_str_eq(cfg.jwt_audience, "aud");
	ck_assert_int_eq(cfg.bcrypt_cost, 11);
}
END_TEST

START_TEST(test_file_quotes)
{
	int rc = load_text("mail_from = \"Tollgate <no-reply@example.com>\"\n"
			   "jwt_issuer = \"  padded  \"\n"
			   "jwt_audience = \"\"\n"
			   "smtp_user = \"has # hash\"\n"
			   "cors_origins = \"https://a.example https://b.example\"\n");
	ck_assert_msg(rc == TG_OK, "%s", err);
	ck_assert_str_eq(cfg.mail_from, "Tollgate <no-reply@example.com>");
	ck_assert_str_eq(cfg.jwt_issuer, "  padded  ");
	ck_assert_str_eq(cfg.jwt_audience, "");
	ck_assert_str_eq(cfg.smtp_user, "has # hash");
	ck_assert_str_eq(cfg.cors_origins, "https://a.example https://b.example");
}
END_TEST

START_TEST(test_file_value_keeps_hash_and_equals)
{
	/* no inline comments: a '#' or '=' inside a value (passwords, URLs) is kept */
	int rc = load_text("smtp_password = ab#cd=ef\n"
			   "database_url = postgresql://u@h/db?sslmode=require\n");
	ck_assert_msg(rc == TG_OK, "%s", err);
	ck_assert_str_eq(cfg.smtp_password, "ab#cd=ef");
	ck_assert_str_eq(cfg.database_url, "postgresql://u@h/db?sslmode=require");
}
END_TEST

START_TEST(test_file_later_line_wins)
{
	ck_assert_int_eq(load_text("workers = 2\nworkers = 7\n"), TG_OK);
	ck_assert_int_eq(cfg.workers, 7);
}
END_TEST

START_TEST(test_file_bool_spellings)
{
	static const struct {
		const char *text;
		bool v;
	} v[] = {
		{"true", true}, {"yes", true}, {"on", true}, {"1", true},
		{"false", false}, {"no", false}, {"off", false}, {"0", false},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "registration_open = %s\n", v[i].text);
		config_free(&cfg);
		ck_assert_msg(load_text(text) == TG_OK, "%s: %s", v[i].text, err);
		ck_assert_msg(cfg.registration_open == v[i].v, "%s", v[i].text);
	}
}
END_TEST

START_TEST(test_file_unknown_key)
{
	int rc = load_text("# header\n"
			   "workers = 2\n"
			   "no_such_key = 1\n");
	ck_assert_int_eq(rc, TG_EINPUT);
	assert_err_at(3, "no_such_key");
}
END_TEST

START_TEST(test_file_file_suffix_only_for_secrets)
{
	ck_assert_int_eq(load_text("listen_file = /etc/passwd\n"), TG_EINPUT);
	assert_err_at(1, "listen_file");
}
END_TEST

START_TEST(test_file_missing_equals)
{
	ck_assert_int_eq(load_text("workers = 2\njust some words\n"), TG_EINPUT);
	assert_err_at(2, NULL);
}
END_TEST

START_TEST(test_file_bad_int)
{
	ck_assert_int_eq(load_text("\nworkers = four\n"), TG_EINPUT);
	assert_err_at(2, "workers");
	config_free(&cfg);
	ck_assert_int_eq(load_text("workers = 4x\n"), TG_EINPUT);
	assert_err_at(1, "workers");
	config_free(&cfg);
	ck_assert_int_eq(load_text("workers =\n"), TG_EINPUT);
	assert_err_at(1, "workers");
	config_free(&cfg);
	ck_assert_int_eq(load_text("max_body_bytes = 99999999999999999999999\n"), TG_EINPUT);
	assert_err_at(1, "max_body_bytes");
}
END_TEST

START_TEST(test_file_int_out_of_range)
{
	ck_assert_int_eq(load_text("bcrypt_cost = 3\n"), TG_EINPUT);
	assert_err_at(1, "bcrypt_cost");
	config_free(&cfg);
	ck_assert_int_eq(load_text("bcrypt_cost = 32\n"), TG_EINPUT);
	assert_err_at(1, "bcrypt_cost");
	config_free(&cfg);
	/* would wrap an int if it were only range-checked after the cast */
	ck_assert_int_eq(load_text("workers = 4294967297\n"), TG_EINPUT);
	assert_err_at(1, "workers");
	config_free(&cfg);
	ck_assert_int_eq(load_text("workers = -1\n"), TG_EINPUT);
	assert_err_at(1, "workers");
}
END_TEST

START_TEST(test_file_bad_duration)
{
	ck_assert_int_eq(load_text("access_token_ttl = 15x\n"), TG_EINPUT);
	assert_err_at(1, "access_token_ttl");
	config_free(&cfg);
	ck_assert_int_eq(load_text("# c\n# c\naccess_token_ttl = fifteen minutes\n"), TG_EINPUT);
	assert_err_at(3, "access_token_ttl");
	config_free(&cfg);
	/* parses, but below the key's minimum (30 s) */
	ck_assert_int_eq(load_text("access_token_ttl = 10s\n"), TG_EINPUT);
	assert_err_at(1, "access_token_ttl");
	config_free(&cfg);
	/* a duration that does not fit the int field */
	ck_assert_int_eq(load_text("refresh_token_ttl = 100000d\n"), TG_EINPUT);
	assert_err_at(1, "refresh_token_ttl");
}
END_TEST

START_TEST(test_file_bad_bool)
{
	ck_assert_int_eq(load_text("workers = 1\nregistration_open = maybe\n"), TG_EINPUT);
	assert_err_at(2, "registration_open");
	config_free(&cfg);
	ck_assert_int_eq(load_text("registration_open = TRUE\n"), TG_EINPUT);
	assert_err_at(1, "registration_open");
}
END_TEST

START_TEST(test_file_every_error_reported)
{
	ck_assert_int_eq(load_text("nope = 1\nworkers = x\nregistration_open = maybe\n"), TG_EINPUT);
	assert_err_at(1, "nope");
	assert_err_at(2, "workers");
	assert_err_at(3, "registration_open");
}
END_TEST

START_TEST(test_file_missing)
{
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", dir);
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof(err)), TG_EINPUT);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
}
END_TEST

START_TEST(test_error_buffer_is_bounded)
{
	char small[16];
	memset(small, 'Z', sizeof(small));
	unit_write_file(path, "a = 1\nb = 2\nc = 3\n", 18);
	ck_assert_int_eq(config_load(&cfg, path, small, sizeof(small)), TG_EINPUT);
	ck_assert(memchr(small, '\0', sizeof(small)) != NULL);
	config_free(&cfg);
	ck_assert_int_eq(config_load(&cfg, path, NULL, 0), TG_EINPUT);
}
END_TEST

/* ---- environment ---- */

START_TEST(test_env_overrides_file)
{
	setenv("TOLLGATE_WORKERS", "6", 1);
	setenv("TOLLGATE_ACCESS_TOKEN_TTL", "2m", 1);
	setenv("TOLLGATE_REGISTRATION_OPEN", "off", 1);
	setenv("TOLLGATE_JWT_ISSUER", "from-env", 1);
	ck_assert_int_eq(load_text("workers = 4\njwt_issuer = from-file\nbcrypt_cost = 11\n"), TG_OK);
	ck_assert_int_eq(cfg.workers, 6);
	ck_assert_int_eq(cfg.access_token_ttl, 120);
	ck_assert(!cfg.registration_open);
	ck_assert_str_eq(cfg.jwt_issuer, "from-env");
	ck_assert_int_eq(cfg.bcrypt_cost, 11); /* file value where the environment is silent */
}
END_TEST

START_TEST(test_env_without_file)
{
	setenv("TOLLGATE_ENVIRONMENT", "production", 1);
	setenv("TOLLGATE_JWT_SECRET", secret32, 1);
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK);
	ck_assert(config_is_production(&cfg));
	ck_assert_str_eq(cfg.jwt_secret, secret32);
}
END_TEST

START_TEST(test_env_lower_case_ignored)
{
	setenv("tollgate_workers", "9", 1);
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK);
	ck_assert_int_eq(cfg.workers, 0);
	unsetenv("tollgate_workers");
}
END_TEST

START_TEST(test_env_bad_value)
{
	setenv("TOLLGATE_WORKERS", "many", 1);
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_EINPUT);
	ck_assert_msg(strstr(err, "TOLLGATE_WORKERS") != NULL, "%s", err);
}
END_TEST

/* ---- secrets from files ---- */

START_TEST(test_secret_file_key)
{
	char spath[300];
	snprintf(spath, sizeof(spath), "%s/jwt.key", dir);
	unit_write_file(spath, "s3cret-s3cret-s3cret-s3cret-s3cret\n", 35);
	char text[512];
	snprintf(text, sizeof(text), "jwt_secret_file = %s\n", spath);
	ck_assert_msg(load_text(text) == TG_OK, "%s", err);
	ck_assert_str_eq(cfg.jwt_secret, "s3cret-s3cret-s3cret-s3cret-s3cret");
}
END_TEST

START_TEST(test_secret_file_crlf_stripped_inner_kept)
{
	char spath[300];
	snprintf(spath, sizeof(spath), "%s/smtp.pw", dir);
	unit_write_file(spath, "pa ss\nword\r\n\n", 13);
	char text[512];
	snprintf(text, sizeof(text), "smtp_password_file = \"%s\"\n", spath);
	ck_assert_msg(load_text(text) == TG_OK, "%s", err);
	ck_assert_str_eq(cfg.smtp_password, "pa ss\nword");
}
END_TEST

START_TEST(test_secret_file_env)
{
	char spath[300];
	snprintf(spath, sizeof(spath), "%s/stripe.key", dir);
	unit_write_file(spath, "sk_test_123", 11);
	setenv("TOLLGATE_STRIPE_SECRET_KEY_FILE", spath, 1);
	ck_assert_msg(load_text("stripe_secret_key = from-file\n") == TG_OK, "%s", err);
	ck_assert_str_eq(cfg.stripe_secret_key, "sk_test_123");
}
END_TEST

START_TEST(test_secret_file_missing)
{
	char text[512];
	snprintf(text, sizeof(text), "workers = 1\njwt_secret_file = %s/nope.key\n", dir);
	ck_assert_int_eq(load_text(text), TG_EINPUT);
	assert_err_at(2, "jwt_secret");
}
END_TEST

/* ---- validation ---- */

/* A configuration production accepts. */
static void load_production(void)
{
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK);
	set_str(&cfg.environment, "production");
	set_str(&cfg.jwt_secret, secret32);
	set_str(&cfg.public_origin, "https://app.example.com");
	set_str(&cfg.mail_transport, "smtp");
	set_str(&cfg.smtp_url, "smtp://mail.example.com:587");
	set_str(&cfg.smtp_starttls, "required");
	cfg.bcrypt_cost = 12;
	set_str(&cfg.company_name, "Example Ltd");
	set_str(&cfg.company_address, "1 Example Street, Dublin");
	set_str(&cfg.contact_email, "legal@example.com");
	set_str(&cfg.legal_effective_date, "2026-12-01");
	set_str(&cfg.legal_jurisdiction, "Ireland");
	ck_assert_msg(config_validate(&cfg, err, sizeof(err)) == TG_OK, "baseline refused: %s", err);
}


static void assert_invalid(const char *mention)
{
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), TG_EINPUT);
	ck_assert_msg(strstr(err, mention) != NULL, "expected \"%s\" in \"%s\"", mention, err);
}

START_TEST(test_validate_jwt_secret_length)
{
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK);
	set_str(&cfg.jwt_secret, "");
	assert_invalid("jwt_secret");
	set_str(&cfg.jwt_secret, "0123456789abcdef0123456789abcde"); /* 31 bytes */
	assert_invalid("jwt_secret");
	set_str(&cfg.jwt_secret, secret32);
	ck_assert_msg(config_validate(&cfg, err, sizeof(err)) == TG_OK, "%s", err);
}
END_TEST

/* The legal pages never show a blank: production refuses to start without the operator's details. */
START_TEST(test_validate_production_legal_details)
{
	static const char *const keys[] = {"company_name", "company_address", "contact_email", "legal_effective_date",
					   "legal_jurisdiction"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		load_production();
		char **slot = i == 0 ? &cfg.company_name : i == 1 ? &cfg.company_address : i == 2 ? &cfg.contact_email
					     : i == 3 ? &cfg.legal_effective_date : &cfg.legal_jurisdiction;
		set_str(slot, "");
		assert_invalid(keys[i]);
		config_free(&cfg);
	}
	/* a date that does not exist, an address without @ — refused in any environment */
	static const char *const bad_dates[] = {"2026-02-30", "2026-13-01", "1 Dec 2026", "2026-12-1", "2025-02-29"};
	for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
		load_production();
		set_str(&cfg.legal_effective_date, bad_dates[i]);
		assert_invalid("legal_effective_date");
		config_free(&cfg);
	}
	load_production();
	set_str(&cfg.legal_effective_date, "2028-02-29");
	ck_assert_msg(config_validate(&cfg, err, sizeof(err)) == TG_OK, "a leap day refused: %s", err);
	set_str(&cfg.contact_email, "legal.example.com");
	assert_invalid("contact_email");
}
END_TEST

START_TEST(test_validate_production_baseline)
{
	load_production();
	ck_assert(config_is_production(&cfg));
}
END_TEST

START_TEST(test_validate_production_http_origin)
{
	load_production();
	set_str(&cfg.public_origin, "http://app.example.com");
	assert_invalid("public_origin");
}
END_TEST

START_TEST(test_validate_production_wildcard_cors)
{
	load_production();
	set_str(&cfg.cors_origins, "*");
	assert_invalid("cors_origins");
	set_str(&cfg.cors_origins, "https://a.example *");
	assert_invalid("cors_origins");
	set_str(&cfg.cors_origins, "https://a.example https://b.example");
	ck_assert_msg(config_validate(&cfg, err, sizeof(err)) == TG_OK, "%s", err);
}
END_TEST

START_TEST(test_validate_production_bcrypt_cost)
{
	load_production();
	cfg.bcrypt_cost = 9;
	assert_invalid("bcrypt_cost");
	cfg.bcrypt_cost = 10;
	ck_assert_msg(config_validate(&cfg, err, sizeof(err)) == TG_OK, "%s", err);
}
END_TEST

START_TEST(test_validate_production_file_mail)
{
	load_production();
	set_str(&cfg.mail_transport, "file");
	assert_invalid("mail_transport");
	set_str(&cfg.mail_transport, "off");
	ck_assert_msg(config_validate(&cfg, err, sizeof(err)) == TG_OK, "%s", err);
}
END_TEST

START_TEST(test_validate_production_plaintext_smtp)
{
	load_production();
	set_str(&cfg.smtp_starttls, "off");
	assert_invalid("smtp_starttls");
	set_str(&cfg.smtp_url, "smtps://mail.example.com:465"); /* implicit TLS is fine */
	ck_assert_msg(config_validate(&cfg, err, sizeof(err)) == TG_OK, "%s", err);
}
END_TEST

START_TEST(test_validate_development_is_lenient)
{
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK);
	set_str(&cfg.jwt_secret, secret32);
	set_str(&cfg.public_origin, "http://localhost:8080");
	set_str(&cfg.cors_origins, "*");
	cfg.bcrypt_cost = 4;
	ck_assert_msg(config_validate(&cfg, err, sizeof(err)) == TG_OK, "%s", err);
}
END_TEST

START_TEST(test_validate_enums_and_shapes)
{
	ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK);
	set_str(&cfg.jwt_secret, secret32);
	set_str(&cfg.environment, "staging");
	assert_invalid("environment");
	set_str(&cfg.environment, "development");
	set_str(&cfg.log_level, "verbose");
	assert_invalid("log_level");
	set_str(&cfg.log_level, "debug");
	set_str(&cfg.public_origin, "https://app.example.com/");
	assert_invalid("public_origin");
	set_str(&cfg.public_origin, "app.example.com");
	assert_invalid("public_origin");
	set_str(&cfg.public_origin, "https://app.example.com");
	set_str(&cfg.password_listen, cfg.listen);
	assert_invalid("password_listen");
	set_str(&cfg.password_listen, "/run/tollgate/pw.sock");
	set_str(&cfg.mail_transport, "pigeon");
	assert_invalid("mail_transport");
	set_str(&cfg.mail_transport, "off");
	set_str(&cfg.litellm_encryption_key, "abcd");
	assert_invalid("litellm_encryption_key");
	set_str(&cfg.litellm_encryption_key,
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	ck_assert_msg(config_validate(&cfg, err, sizeof(err)) == TG_OK, "%s", err);
}
END_TEST


/* A rule that spans keys (production's) still says which line set the offending value; a value
 * from a default or the environment has no line to name. */
START_TEST(test_validate_names_the_line)
{
	ck_assert_int_eq(load_text("# production\n"
				   "environment = production\n"
				   "\n"
				   "public_origin = http://example.com\n"
				   "cors_origins = *\n"),
			 TG_OK);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), TG_EINPUT);
	assert_err_at(4, "public_origin: production requires https://");
	assert_err_at(5, "cors_origins: production refuses a wildcard origin");
	ck_assert_msg(strstr(err, "jwt_secret: missing") && !strstr(err, ":0:"), "%s", err);
	config_free(&cfg);
	setenv("TOLLGATE_PUBLIC_ORIGIN", "http://from-env.example", 1);
	ck_assert_int_eq(load_text("environment = production\npublic_origin = https://example.com\n"), TG_OK);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), TG_EINPUT);
	char at2[400];
	snprintf(at2, sizeof(at2), "%s:2:", path);
	ck_assert_msg(strstr(err, "public_origin: production requires https://") && !strstr(err, at2),
		      "an environment value is not the file's line 2: %s", err);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("defaults");
	tcase_add_unchecked_fixture(tc, unit_base_setup, unit_base_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_defaults_need_only_a_secret);
	tcase_add_test(tc, test_main_workers);
	tcase_add_test(tc, test_free_twice);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_unchecked_fixture(tc, unit_base_setup, unit_base_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_file_comments_blank_lines_and_spacing);
	tcase_add_test(tc, test_file_no_trailing_newline_and_crlf);
	tcase_add_test(tc, test_file_quotes);
	tcase_add_test(tc, test_file_value_keeps_hash_and_equals);
	tcase_add_test(tc, test_file_later_line_wins);
	tcase_add_test(tc, test_file_bool_spellings);
	tcase_add_test(tc, test_file_unknown_key);
	tcase_add_test(tc, test_file_file_suffix_only_for_secrets);
	tcase_add_test(tc, test_file_missing_equals);
	tcase_add_test(tc, test_file_bad_int);
	tcase_add_test(tc, test_file_int_out_of_range);
	tcase_add_test(tc, test_file_bad_duration);
	tcase_add_test(tc, test_file_bad_bool);
	tcase_add_test(tc, test_file_every_error_reported);
	tcase_add_test(tc, test_file_missing);
	tcase_add_test(tc, test_error_buffer_is_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("environment");
	tcase_add_unchecked_fixture(tc, unit_base_setup, unit_base_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_env_overrides_file);
	tcase_add_test(tc, test_env_without_file);
	tcase_add_test(tc, test_env_lower_case_ignored);
	tcase_add_test(tc, test_env_bad_value);
	tcase_add_test(tc, test_secret_file_key);
	tcase_add_test(tc, test_secret_file_crlf_stripped_inner_kept);
	tcase_add_test(tc, test_secret_file_env);
	tcase_add_test(tc, test_secret_file_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("validate");
	tcase_add_unchecked_fixture(tc, unit_base_setup, unit_base_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_validate_jwt_secret_length);
	tcase_add_test(tc, test_validate_production_baseline);
	tcase_add_test(tc, test_validate_production_legal_details);
	tcase_add_test(tc, test_validate_production_http_origin);
	tcase_add_test(tc, test_validate_production_wildcard_cors);
	tcase_add_test(tc, test_validate_production_bcrypt_cost);
	tcase_add_test(tc, test_validate_production_file_mail);
	tcase_add_test(tc, test_validate_production_plaintext_smtp);
	tcase_add_test(tc, test_validate_development_is_lenient);
	tcase_add_test(tc, test_validate_enums_and_shapes);
	tcase_add_test(tc, test_validate_names_the_line);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(config_suite)
