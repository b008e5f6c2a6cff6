/* stripe.c — the Stripe HTTP client: form encoding, retries, idempotency, error mapping. */
#include "tollgate/stripe.h"
#include "tollgate/mem.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/crypto.h"
#include "tollgate/deadline.h"
#include "tollgate/fetch.h"
#include "tollgate/log.h"
#include "tollgate/status.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define STRIPE_MAX_RESPONSE (4 * 1024 * 1024)

struct stripe_form {
	struct arena *a;
	char *buf;
	size_t len, cap;
};

struct stripe_form *stripe_form_new(struct arena *a)
{
	struct stripe_form *f = arena_alloc(a, sizeof(*f));
	if (f)
		f->a = a;
	return f;
}

static void form_put(struct stripe_form *f, const char *s, size_t n)
{
	if (f->len + n + 1 > f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 256;
		while (cap < f->len + n + 1)
			cap *= 2;
		char *nb = arena_alloc(f->a, cap);
		if (!nb)
			return;
		if (f->len)
			memcpy(nb, f->buf, f->len);
		f->buf = nb;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
}

/* application/x-www-form-urlencoded; brackets stay readable in keys, as the SDKs send them. */
static void form_escape(struct stripe_form *f, const char *s, bool key)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' || (key && (*p == '[' || *p == ']'))) {
			form_put(f, (const char *)p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			form_put(f, e, 3);
		}
	}
}

void stripe_form_add(struct stripe_form *f, const char *key, const char *value)
{
	if (!f || !value)
		return;
	if (f->len)
		form_put(f, "&", 1);
	form_escape(f, key, true);
	form_put(f, "=", 1);
	form_escape(f, value, false);
}

const char *stripe_form_encode(const struct stripe_form *f)
{
	return f && f->buf ? f->buf : "";
}

bool stripe_configured(const struct tg_config *cfg)
{
	return cfg->stripe_secret_key && *cfg->stripe_secret_key;
}

long stripe_backoff_ms(int n)
{
	long ms = 500;
	for (int i = 1; i < n && ms < 5000; i++)
		ms *= 2;
	return ms > 5000 ? 5000 : ms;
}

bool stripe_should_retry(long http_status, const char *should_retry_header, bool network_error)
{
	if (network_error)
		return true;
	if (should_retry_header) {
		if (!strcasecmp(should_retry_header, "false"))
			return false;
		if (!strcasecmp(should_retry_header, "true"))
			return true;
	}
	/* API.md retries 429 too (Stripe's SDKs do not; its docs advise backing off and retrying) */
	return http_status == 409 || http_status == 429 || http_status >= 500;
}

struct response {
	struct fetch_body body;
	char should_retry[8];
};

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct response *r = ud;
	size_t n = size * nmemb;
	static const char name[] = "stripe-should-retry:";
	if (n > sizeof(name) && !strncasecmp(ptr, name, sizeof(name) - 1)) {
		const char *v = ptr + sizeof(name) - 1;
		while (*v == ' ')
			v++;
		size_t vl = strcspn(v, "\r\n");
		if (vl < sizeof(r->should_retry)) {
			memcpy(r->should_retry, v, vl);
			r->should_retry[vl] = '\0';
		}
	}
	return n;
}

static void fill_error(struct stripe_error *err, long status, json_object *body)
{
	memset(err, 0, sizeof(*err));
	err->http_status = status;
	json_object *e;
	if (body && json_object_object_get_ex(body, "error", &e)) {
		const char *v;
		if ((v = stripe_str(e, "type")))
			snprintf(err->type, sizeof(err->type), "%s", v);
		if ((v = stripe_str(e, "code")))
			snprintf(err->code, sizeof(err->code), "%s", v);
		if ((v = stripe_str(e, "message")))
			snprintf(err->message, sizeof(err->message), "%s", v);
		if ((v = stripe_str(e, "param")))
			snprintf(err->param, sizeof(err->param), "%s", v);
	}
}

int stripe_call(const struct tg_config *cfg, struct arena *a, const struct deadline *dl, const char *method,
		const char *path, const struct stripe_form *form, const char *idempotency_key, json_object **out,
		struct stripe_error *err)
{
	memset(err, 0, sizeof(*err));
	*out = NULL;
	if (!stripe_configured(cfg)) {
		snprintf(err->message, sizeof(err->message), "Stripe is not configured");
		return TG_EUNAVAIL;
	}
	bool is_post = !strcmp(method, "POST");
	const char *body = stripe_form_encode(form);
	char *url = (!is_post && *body) ? arena_printf(a, "%s%s?%s", cfg->stripe_api_base, path, body)
					: arena_printf(a, "%s%s", cfg->stripe_api_base, path);
	char *auth = arena_printf(a, "Authorization: Bearer %s", cfg->stripe_secret_key);
	char *idem = is_post && idempotency_key ? arena_printf(a, "Idempotency-Key: %s", idempotency_key) : NULL;
	if (!url || !auth)
		return TG_ENOMEM;
	int rc = TG_EUNAVAIL;
	/* backoff as Stripe's SDKs do, but never past the deadline */
	for (int attempt = 0; attempt <= STRIPE_MAX_RETRIES; attempt++) {
		if (attempt) {
			long ms = stripe_backoff_ms(attempt);
			unsigned char j;
			crypto_random(&j, 1);
			ms = ms / 2 + (ms / 2) * j / 255; /* jitter to 50–100 % */
			if (ms >= deadline_left_ms(dl))
				break;
			usleep((useconds_t)ms * 1000);
		}
		long left = deadline_left_ms(dl);
		if (left < 50) {
			if (!attempt)
				snprintf(err->message, sizeof(err->message), "no time left for the call");
			break;
		}
		long timeout_ms = (long)cfg->stripe_timeout * 1000 < left ? (long)cfg->stripe_timeout * 1000 : left;
		CURL *c = curl_easy_init();
		if (!c)
			return TG_ENOMEM;
		struct response r = {.body = {.max = STRIPE_MAX_RESPONSE}};
		struct curl_slist *h = NULL;
		h = curl_slist_append(h, auth);
		h = curl_slist_append(h, "Stripe-Version: " STRIPE_API_VERSION);
		h = curl_slist_append(h, "User-Agent: Tollgate/" TOLLGATE_VERSION);
		if (idem)
			h = curl_slist_append(h, idem);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
		if (is_post) {
			curl_easy_setopt(c, CURLOPT_POST, 1L);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		} else if (strcmp(method, "GET")) {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		}
		CURLcode cc = curl_easy_perform(c);
		long status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
		json_object *j = NULL;
		if (cc == CURLE_OK && r.body.data) {
			j = json_tokener_parse(r.body.data);
			arena_own_json(a, j);
		}
		free(r.body.data);
		bool network = cc != CURLE_OK;
		if (!network && status >= 200 && status < 300 && j) {
			*out = j;
			return TG_OK;
		}
		fill_error(err, network ? 0 : status, j);
		if (network)
			snprintf(err->message, sizeof(err->message), "%s", curl_easy_strerror(cc));
		if (!stripe_should_retry(status, r.should_retry[0] ? r.should_retry : NULL, network)) {
			rc = !strcmp(err->type, "idempotency_error") ? TG_ECONFLICT
			     : status == 429			  ? TG_EUNAVAIL
								  : TG_EINPUT;
			break;
		}
		log_warn("stripe %s %s failed (status %ld%s%s), attempt %d", method, path, status, network ? ", " : "",
			 network ? err->message : "", attempt + 1);
		rc = TG_EUNAVAIL;
	}
	if (rc != TG_OK)
		log_warn("stripe %s %s: %s %s (%ld)", method, path, err->type, err->message, err->http_status);
	return rc;
}

bool stripe_verify_signature(const char *header, const char *body, size_t body_len, const char *secrets,
			     time_t now, long tolerance)
{
	if (!header || !secrets || !*secrets)
		return false;
	long long t = -1;
	const char *v1[16];
	size_t v1_len[16];
	int nv1 = 0;
	for (const char *p = header; *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n && *p == ' ') {
			p++;
			n--;
		}
		const char *eq = memchr(p, '=', n);
		if (eq) {
			size_t kl = (size_t)(eq - p);
			const char *val = eq + 1;
			size_t vl = n - kl - 1;
			if (kl == 1 && *p == 't') {
				char tmp[24];
				if (vl == 0 || vl >= sizeof(tmp))
					return false;
				memcpy(tmp, val, vl);
				tmp[vl] = '\0';
				char *e;
				t = strtoll(tmp, &e, 10);
				if (*e || t < 0)
					return false;
			} else if (kl == 2 && !memcmp(p, "v1", 2) && nv1 < 16) {
				v1[nv1] = val;
				v1_len[nv1] = vl;
				nv1++;
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (t < 0 || nv1 == 0)
		return false;
	if ((long long)now - t > tolerance || t - (long long)now > tolerance)
		return false;
	char prefix[32];
	int pl = snprintf(prefix, sizeof(prefix), "%lld.", t);
	bool ok = false;
	for (const char *s = secrets; *s;) {
		while (*s == ' ' || *s == ',')
			s++;
		const char *e = s;
		while (*e && *e != ' ' && *e != ',')
			e++;
		if (e == s)
			break;
		/* HMAC-SHA256("<t>." + body) keyed with the whole secret string */
		unsigned char mac[CRYPTO_SHA256_LEN];
		char *msg = mem_alloc((size_t)pl + body_len);
		memcpy(msg, prefix, (size_t)pl);
		memcpy(msg + pl, body, body_len);
		int hr = crypto_hmac_sha256(s, (size_t)(e - s), msg, (size_t)pl + body_len, mac);
		free(msg);
		if (hr == 0) {
			char hex[2 * CRYPTO_SHA256_LEN + 1];
			crypto_hex(mac, sizeof(mac), hex);
			for (int i = 0; i < nv1; i++)
				if (crypto_equal(hex, strlen(hex), v1[i], v1_len[i]))
					ok = true; /* keep comparing: no early exit on a match */
		}
		s = e;
	}
	return ok;
}

const char *stripe_str(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

long long stripe_int(json_object *o, const char *key, long long dflt)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return dflt;
	return json_object_get_int64(v);
}

bool stripe_bool(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

const char *stripe_id(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	if (json_object_is_type(v, json_type_object))
		return stripe_str(v, "id");
	return NULL;
}
