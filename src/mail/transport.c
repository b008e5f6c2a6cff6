/* transport.c — delivering one rendered message: SMTP through libcurl, or a .eml file. */
#include "tollgate/mail.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/log.h"
#include "tollgate/status.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct reader {
	const char *p;
	size_t left;
};

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct reader *r = ud;
	size_t n = size * nmemb;
	if (n > r->left)
		n = r->left;
	memcpy(buf, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

static int send_smtp(const struct tg_config *cfg, const char *from_addr, const char *to, const char *message,
		     char *err, size_t errlen)
{
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "curl init failed");
		return TG_ENOMEM;
	}
	struct reader rd = {message, strlen(message)};
	struct curl_slist *rcpt = curl_slist_append(NULL, to);
	char curl_err[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from_addr);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &rd);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)cfg->smtp_timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	if (!strncmp(cfg->smtp_url, "smtp://", 7)) {
		long mode = !strcmp(cfg->smtp_starttls, "required") ? CURLUSESSL_ALL
			    : !strcmp(cfg->smtp_starttls, "optional") ? CURLUSESSL_TRY
								       : CURLUSESSL_NONE;
		curl_easy_setopt(c, CURLOPT_USE_SSL, mode);
	}
	if (*cfg->smtp_user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->smtp_password);
	}
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "smtp: %s%s%s", curl_easy_strerror(rc), *curl_err ? ": " : "", curl_err);
		return TG_EUNAVAIL;
	}
	return TG_OK;
}

static int send_file(const struct tg_config *cfg, struct arena *a, const char *message, long id, char *err,
		     size_t errlen)
{
	mkdir(cfg->mail_file_dir, 0700);
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	char *path = arena_printf(a, "%s/%s-%ld.eml", cfg->mail_file_dir, stamp, id);
	char *tmp = arena_printf(a, "%s/.%s-%ld.tmp", cfg->mail_file_dir, stamp, id);
	if (!path || !tmp)
		return TG_ENOMEM;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "file: %s: %s", tmp, strerror(errno));
		return TG_EIO;
	}
	size_t len = strlen(message);
	bool ok = write(fd, message, len) == (ssize_t)len;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		snprintf(err, errlen, "file: %s: %s", path, strerror(errno));
		unlink(tmp);
		return TG_EIO;
	}
	log_info("email written to %s", path);
	return TG_OK;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

int mail_transport_probe(const struct tg_config *cfg)
{
	if (strcmp(cfg->mail_transport, "smtp"))
		return TG_OK;
	CURL *c = curl_easy_init();
	if (!c)
		return TG_ENOMEM;
	curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "NOOP");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (!strncmp(cfg->smtp_url, "smtp://", 7) && !strcmp(cfg->smtp_starttls, "required"))
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? TG_OK : TG_EUNAVAIL;
}

int mail_transport_send(const struct tg_config *cfg, struct arena *a, const char *from, const char *to,
			const char *message, long outbox_id, char *err, size_t errlen)
{
	err[0] = '\0';
	if (!strcmp(cfg->mail_transport, "off"))
		return TG_OK;
	if (!strcmp(cfg->mail_transport, "file"))
		return send_file(cfg, a, message, outbox_id, err, errlen);
	char *from_addr = mail_address_of(a, from);
	if (!from_addr)
		return TG_ENOMEM;
	return send_smtp(cfg, from_addr, to, message, err, errlen);
}
