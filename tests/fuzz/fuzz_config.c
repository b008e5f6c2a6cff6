/* fuzz_config.c — the configuration parser (src/core/config.c): config_load on a file whose text
 * is the input, then config_validate, config_origin_allowed and config_free.
 *
 * The text is written to a memfd and loaded through /proc/self/fd/N, as a file would be. The
 * `<secret>_file = path` lines read another file: to keep the fuzzer off /dev/stdin, FIFOs and
 * the like, an input whose *_file value holds a '/' is skipped, so such a path is relative to
 * the directory the fuzzer runs in (the repository root under make: LICENSE, Makefile, build/).
 * TOLLGATE_* variables must not be set (they would override the file). */
#include "fuzz.h"

#include "tollgate/config.h"
#include "tollgate/http.h"
#include "tollgate/status.h"

#include <sys/mman.h>
#include <unistd.h>

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (char **e = environ; e && *e; e++)
		FUZZ_CHECK(strncmp(*e, "TOLLGATE_", 9) != 0);
	fd = memfd_create("tollgate.conf", 0);
	FUZZ_CHECK(fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

/* True when a line "…_file… = value" has a '/' in its value (see the header comment). */
static bool reads_outside(const uint8_t *data, size_t size)
{
	struct fuzz_span in = {(const char *)data, size}, line;
	while (fuzz_next_line(&in, &line)) {
		const char *eq = memchr(line.p, '=', line.n);
		if (!eq)
			continue;
		size_t kl = (size_t)(eq - line.p);
		if (memmem(line.p, kl, "_file", 5) && memchr(eq, '/', line.n - kl))
			return true;
	}
	return false;
}

static void check_err(const char *err, size_t len)
{
	FUZZ_CHECK(memchr(err, '\0', len) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (reads_outside(data, size))
		return -1; /* not added to the corpus */
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size);

	struct tg_config cfg;
	char err[128], verr[4096], small[48];
	int rc = config_load(&cfg, path, err, sizeof(err));
	FUZZ_CHECK(rc == TG_OK || rc == TG_EINPUT);
	check_err(err, sizeof(err));
	if (rc == TG_OK)
		FUZZ_CHECK(err[0] == '\0');

	/* every value that was set stayed within its key's range */
	FUZZ_CHECK(cfg.environment && cfg.listen && cfg.public_origin && cfg.cors_origins && cfg.jwt_secret &&
		   cfg.mail_transport && cfg.smtp_url && cfg.smtp_starttls && cfg.stripe_webhook_secrets &&
		   cfg.litellm_encryption_key && cfg.log_level && cfg.trusted_proxies);
	FUZZ_CHECK(cfg.workers >= 0 && cfg.workers <= 256);
	FUZZ_CHECK(cfg.json_max_depth >= 2 && cfg.json_max_depth <= 1000);
	FUZZ_CHECK(cfg.max_body_bytes >= 1024 && cfg.max_body_bytes <= (1LL << 30));
	FUZZ_CHECK(cfg.bcrypt_cost >= 4 && cfg.bcrypt_cost <= 31);
	FUZZ_CHECK(cfg.access_token_ttl >= 30 && cfg.access_token_ttl <= 86400);
	FUZZ_CHECK(cfg.refresh_token_ttl >= 300 && cfg.refresh_token_ttl <= 365 * 86400);
	FUZZ_CHECK(cfg.mail_give_up_after >= 60 && cfg.mail_give_up_after <= 30 * 86400);

	int v1 = config_validate(&cfg, verr, sizeof(verr));
	int v2 = config_validate(&cfg, small, sizeof(small));
	FUZZ_CHECK(v1 == v2 && (v1 == TG_OK || v1 == TG_EINPUT));
	check_err(verr, sizeof(verr));
	check_err(small, sizeof(small));
	(void)config_is_production(&cfg);
	(void)config_main_workers(&cfg);
	static const char *const origins[] = {"https://localhost:8443", "https://app.example.com", "*", "",
					      "http://evil.example"};
	for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++)
		(void)http_origin_allowed(cfg.public_origin, cfg.cors_origins, origins[i]);
	FUZZ_CHECK(http_origin_allowed(cfg.public_origin, cfg.cors_origins, cfg.public_origin));
	config_free(&cfg);
	return 0;
}
