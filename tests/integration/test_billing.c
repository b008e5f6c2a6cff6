/* test_billing.c — the Billing section of ../shared/API.md, black-box through nginx over HTTPS,
 * against the stack's Stripe and LiteLLM stand-ins (tests/fixtures/stripe_standin.py,
 * tests/fixtures/litellm_standin.py; started by tests/fixtures/stack-extra.sh, which exports
 * TG_STRIPE_URL, TG_STRIPE_SECRET_KEY, TG_STRIPE_WEBHOOK_SECRET, TG_LITELLM_URL ... into stack.env).
 *
 * The stand-ins' control APIs (plain HTTP under /_control/) are driven with libcurl directly. Events
 * the test crafts itself are signed here with OpenSSL HMAC-SHA256 over "<t>.<body>" keyed with
 * $TG_STRIPE_WEBHOOK_SECRET, as Stripe does.
 *
 * Every test uses fresh users; nothing here depends on another test's state. Failure modes of the
 * stand-ins (/_control/fail, /_control/webhook, LiteLLM /_control/down) are reset by unchecked
 * fixtures, which run in the parent process, so a failing (forked) test cannot leave them set.
 * Two cases touch more than the stand-ins: "rotation" appends a second webhook secret to the
 * stack's tollgate.conf and reloads tollgate (the original file is restored and reloaded, also by
 * the fixture when the test fails), and "not_configured" starts and destroys a second stack with
 * TG_STANDINS=0 (Stripe not configured). Every wait is bounded; the suite takes about a minute.
 *
 * Cases: plans; full path (checkout → stand-in completes → signed events → subscription, me, invoices,
 * LiteLLM key; second checkout 409; portal); checkout validation and auth; portal needs a customer;
 * one customer under parallel first checkouts (plain, and with the customer inserts held back by a
 * table lock so they race); Stripe 500s retried with one key; a lost response; Stripe down → 503;
 * a 429 retried; account deletion refused while Stripe is down; each event 5 times and shuffled;
 * one event posted 8 times in parallel; first delivery in reverse order; older / equal / newer
 * `created`; bad signatures store nothing; unknown type; unknown customer applied later by the jobs
 * worker; payment failure (past_due, grace, notification, email, pages, renewal); cancellation
 * blocks the key; subscribing again after a cancellation; refunds; a plan change updates the key;
 * LiteLLM down; `tollgate stripe replay` (plain, and with events of the same second); account
 * deletion cancels at Stripe and deletes the key; every Stripe request well-formed and no key in
 * the log; webhook secret rotation; Stripe not configured → 503 billing_unavailable.
 *
 * Rules observed and pinned down here where API.md leaves them open:
 *  - an event whose `created` equals the last applied one for the same subscription IS applied
 *    (the server keeps the state of the event with the greatest `created`, ties go to the later
 *    arrival); an older one is stored, acknowledged, marked processed and changes nothing;
 *  - GET /api/billing/subscription also has `subscribed_plan` and, when past_due, `grace_period_end`;
 *  - checkout body errors are 422 validation_failed with errors.plan / errors.interval. */
#include "itest.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STRIPE_VERSION "2025-02-24.acacia"
#define KEY_WAIT_MS 15000   /* the jobs worker polls every second in the test stack */
#define EVENT_WAIT_MS 10000 /* an asynchronously delivered event must be applied within this */
#define MAIL_WAIT_MS 15000

/* ------------------------------------------------------------------ small helpers */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *env_need(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v && *v, "%s is not set (source the stack's stack.env)", name);
	return v;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	return s;
}

/* A random lowercase-alphanumeric token of n characters. */
static void rand_token(char *out, size_t n)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char buf[64];
	ck_assert_uint_le(n, sizeof(buf));
	int fd = open("/dev/urandom", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, n), (ssize_t)n);
	close(fd);
	for (size_t i = 0; i < n; i++)
		out[i] = alnum[buf[i] % 36];
	out[n] = '\0';
}

static void copy_to(char *dst, size_t cap, const char *src)
{
	ck_assert_msg(src != NULL, "expected a value, got NULL");
	ck_assert_msg(strlen(src) < cap, "value too long: %s", src);
	memcpy(dst, src, strlen(src) + 1);
}

/* it_sql into a caller-owned copy. */
static char *sql_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sql_text(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *q = NULL;
	int n = vasprintf(&q, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	char *out = strdup(it_sql("%s", q));
	free(q);
	ck_assert_ptr_nonnull(out);
	return out;
}

static bool is_rfc3339(const char *s)
{
	static regex_t re;
	static bool compiled;
	if (!compiled) {
		ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$",
					 REG_EXTENDED | REG_NOSUB),
				 0);
		compiled = true;
	}
	return s && regexec(&re, s, 0, NULL, 0) == 0;
}

static time_t parse_rfc3339(const char *s)
{
	struct tm tm = {0};
	ck_assert_msg(is_rfc3339(s), "not RFC 3339 UTC: %s", s ? s : "(null)");
	ck_assert_ptr_nonnull(strptime(s, "%Y-%m-%dT%H:%M:%S", &tm));
	return timegm(&tm);
}

static void expect_rfc3339(const struct it_resp *r, const char *path)
{
	const char *v = it_str(r, path);
	ck_assert_msg(is_rfc3339(v), "%s is not an RFC 3339 UTC time: %s", path, r->body);
}

static void expect_null(const struct it_resp *r, const char *path)
{
	json_object *o = r->json;
	/* it_at returns NULL both for a JSON null and for a missing key: check the key exists */
	char parent[128];
	const char *dot = strrchr(path, '.');
	const char *leaf = path;
	if (dot) {
		snprintf(parent, sizeof(parent), "%.*s", (int)(dot - path), path);
		o = it_at(r, parent);
		leaf = dot + 1;
	}
	json_object *v = NULL;
	ck_assert_msg(o && json_object_object_get_ex(o, leaf, &v), "%s missing in %s", path, r->body);
	ck_assert_msg(v == NULL, "%s should be null in %s", path, r->body);
}

static long long json_int_at(const struct it_resp *r, const char *path)
{
	json_object *o = it_at(r, path);
	ck_assert_msg(o && json_object_is_type(o, json_type_int), "%s is not an integer in %.600s", path, r->body);
	return json_object_get_int64(o);
}

static bool json_bool_at(const struct it_resp *r, const char *path)
{
	json_object *o = it_at(r, path);
	ck_assert_msg(o && json_object_is_type(o, json_type_boolean), "%s is not a boolean in %.600s", path, r->body);
	return json_object_get_boolean(o);
}

static void expect_str(const struct it_resp *r, const char *path, const char *want)
{
	const char *v = it_str(r, path);
	ck_assert_msg(v && !strcmp(v, want), "%s: expected \"%s\", got %s in %.800s", path, want, v ? v : "(none)",
		      r->body);
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* ------------------------------------------------------------------ plain HTTP (stand-ins) */

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t add = size * nmemb;
	char *np = realloc(b->p, b->n + add + 1);
	if (!np)
		return 0;
	memcpy(np + b->n, ptr, add);
	b->p = np;
	b->n += add;
	b->p[b->n] = '\0';
	return add;
}

/* A request to a stand-in (plain HTTP, no proxy). headers: NULL-terminated "Name: value" lines. */
static struct it_resp *http_do(const char *method, const char *url, const char *body, const char *ctype,
			       const char *const *headers)
{
	CURL *c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	struct buf b = {0}, h = {0};
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
	char line[512];
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		snprintf(line, sizeof(line), "Content-Type: %s", ctype ? ctype : "application/json");
		hl = curl_slist_append(hl, line);
	}
	for (int i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	CURLcode cc = curl_easy_perform(c);
	struct it_resp *r = calloc(1, sizeof(*r));
	ck_assert_ptr_nonnull(r);
	if (cc != CURLE_OK) {
		free(b.p);
		r->body = strdup(curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		r->body = b.p ? b.p : strdup("");
	}
	r->body_len = strlen(r->body);
	r->headers = h.p ? h.p : strdup("");
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
	if (r->body_len && (r->body[0] == '{' || r->body[0] == '['))
		r->json = json_tokener_parse(r->body);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return r;
}

/* The Stripe stand-in's control API (no auth, JSON). */
static struct it_resp *stripe_ctl(const char *method, const char *path, const char *json)
{
	char *url = xprintf("%s/_control/%s", env_need("TG_STRIPE_URL"), path);
	struct it_resp *r = http_do(method, url, json, "application/json", NULL);
	free(url);
	return r;
}

/* As stripe_ctl, asserting 200 JSON; returns a new reference to the body. */
static json_object *stripe_ctl_ok(const char *method, const char *path, const char *json)
{
	struct it_resp *r = stripe_ctl(method, path, json);
	ck_assert_msg(r->status == 200 && r->json, "stand-in %s /_control/%s: %ld %.500s", method, path, r->status,
		      r->body);
	json_object *o = json_object_get(r->json);
	it_free(r);
	return o;
}

/* The Stripe API of the stand-in with the secret key, as an SDK would call it. form: urlencoded. */
static struct it_resp *stripe_api(const char *method, const char *path, const char *form)
{
	char *url = xprintf("%s%s%s%s", env_need("TG_STRIPE_URL"), path,
			    (form && strcmp(method, "POST")) ? "?" : "", (form && strcmp(method, "POST")) ? form : "");
	char auth[512], idem[128], tok[40];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", env_need("TG_STRIPE_SECRET_KEY"));
	rand_token(tok, 32);
	snprintf(idem, sizeof(idem), "Idempotency-Key: itest-%s", tok);
	const char *hdrs[] = {auth, "Stripe-Version: " STRIPE_VERSION, !strcmp(method, "POST") ? idem : NULL, NULL};
	struct it_resp *r = http_do(method, url, !strcmp(method, "POST") ? (form ? form : "") : NULL,
				    "application/x-www-form-urlencoded", hdrs);
	free(url);
	return r;
}

static struct it_resp *litellm_ctl(const char *method, const char *path, const char *json)
{
	char *url = xprintf("%s/_control/%s", env_need("TG_LITELLM_URL"), path);
	struct it_resp *r = http_do(method, url, json, "application/json", NULL);
	free(url);
	return r;
}

/* Waits until the stand-in's background deliveries (events caused by API requests) are done. */
static void stripe_drain(void)
{
	json_object *o = stripe_ctl_ok("POST", "drain", "{\"timeout\": 15}");
	json_object_put(o);
}

/* Resets the failure modes of both stand-ins (never their objects: the stack mirrors them). */
static void standins_normal(void)
{
	const char *s = getenv("TG_STRIPE_URL"), *l = getenv("TG_LITELLM_URL");
	if (s && *s) {
		char *u1 = xprintf("%s/_control/fail", s), *u2 = xprintf("%s/_control/webhook", s);
		it_free(http_do("POST", u1, "{\"count\": 0}", NULL, NULL));
		it_free(http_do("POST", u2, "{\"enabled\": true}", NULL, NULL));
		free(u1);
		free(u2);
	}
	if (l && *l) {
		char *u = xprintf("%s/_control/down", l);
		it_free(http_do("POST", u, "{\"down\": false}", NULL, NULL));
		free(u);
	}
}

static void fixture_normal(void)
{
	/* unchecked fixtures run in the parent, outside any test */
	standins_normal();
}

/* ------------------------------------------------------------------ webhooks */

static void hmac_hex(const char *secret, long long t, const char *body, size_t body_len, char out[65])
{
	char prefix[32];
	int pl = snprintf(prefix, sizeof(prefix), "%lld.", t);
	unsigned char *msg = malloc((size_t)pl + body_len);
	ck_assert_ptr_nonnull(msg);
	memcpy(msg, prefix, (size_t)pl);
	memcpy(msg + pl, body, body_len);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, (size_t)pl + body_len, mac, &ml));
	free(msg);
	ck_assert_uint_eq(ml, 32);
	for (unsigned i = 0; i < ml; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	out[64] = '\0';
}

static const char *webhook_secret(void)
{
	return env_need("TG_STRIPE_WEBHOOK_SECRET");
}

/* POSTs body to the webhook with the given Stripe-Signature header value (NULL: no header). */
static struct it_resp *post_webhook(const char *body, const char *sig)
{
	char line[1024];
	struct it_req q = {.method = "POST", .path = "/api/webhooks/stripe", .body = body,
			   .content_type = "application/json; charset=utf-8"};
	if (sig) {
		snprintf(line, sizeof(line), "Stripe-Signature: %s", sig);
		q.headers[0] = line;
	}
	return it_do(&q);
}

/* POSTs body signed now with the stack's webhook secret. */
static struct it_resp *post_signed(const char *body)
{
	char hex[65], sig[128];
	long long t = (long long)time(NULL);
	hmac_hex(webhook_secret(), t, body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", t, hex);
	return post_webhook(body, sig);
}

/* A new event (unique id) wrapping obj (taken over). */
static json_object *make_event(const char *type, json_object *obj, long long created, char *id_out, size_t id_cap)
{
	char tok[25], id[40];
	rand_token(tok, 24);
	snprintf(id, sizeof(id), "evt_it%s", tok);
	if (id_out)
		copy_to(id_out, id_cap, id);
	json_object *ev = json_object_new_object();
	json_object_object_add(ev, "id", json_object_new_string(id));
	json_object_object_add(ev, "object", json_object_new_string("event"));
	json_object_object_add(ev, "api_version", json_object_new_string(STRIPE_VERSION));
	json_object_object_add(ev, "created", json_object_new_int64(created));
	json_object *data = json_object_new_object();
	json_object_object_add(data, "object", obj);
	json_object_object_add(ev, "data", data);
	json_object_object_add(ev, "livemode", json_object_new_boolean(0));
	json_object_object_add(ev, "pending_webhooks", json_object_new_int(1));
	json_object *req = json_object_new_object();
	json_object_object_add(req, "id", NULL);
	json_object_object_add(req, "idempotency_key", NULL);
	json_object_object_add(ev, "request", req);
	json_object_object_add(ev, "type", json_object_new_string(type));
	return ev;
}

static const char *event_text(json_object *ev)
{
	return json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
}

/* Posts ev signed; asserts 200 {"received": true} and the duplicate flag. */
static void post_event_expect(json_object *ev, bool duplicate)
{
	struct it_resp *r = post_signed(event_text(ev));
	it_expect(r, 200, NULL);
	ck_assert_msg(json_bool_at(r, "received"), "received should be true: %s", r->body);
	json_object *d = it_at(r, "duplicate");
	bool dup = d && json_object_get_boolean(d);
	ck_assert_msg(dup == duplicate, "event %s: expected duplicate=%d, got %s", jstr(ev, "id"), duplicate, r->body);
	it_free(r);
}

static long long stored_count(const char *event_id)
{
	return it_sql_long("SELECT count(*) FROM stripe_events WHERE id = '%s'", event_id);
}

/* ------------------------------------------------------------------ billing flows */

/* Everything one completed checkout made. */
struct paid {
	struct it_user u;
	char session[128];
	char customer[64];
	char subscription[64];
	char invoice[64];
	char charge[64];
	char events[8][64];
	int nevents;
};

static struct it_resp *checkout_req(const struct it_user *u, const char *plan, const char *interval)
{
	char *body = xprintf("{\"plan\":\"%s\",\"interval\":\"%s\"}", plan, interval);
	struct it_resp *r = it_post("/api/billing/checkout", u->access, body);
	free(body);
	return r;
}

/* POST /api/billing/checkout → 200 {url, session_id} with url on the stand-in; the session id in sid. */
static void checkout_ok(const struct it_user *u, const char *plan, const char *interval, char *sid, size_t cap)
{
	struct it_resp *r = checkout_req(u, plan, interval);
	it_expect(r, 200, NULL);
	const char *url = it_str(r, "url"), *id = it_str(r, "session_id");
	ck_assert_msg(url && id && *id, "checkout: url and session_id expected: %s", r->body);
	ck_assert_msg(!strncmp(url, env_need("TG_STRIPE_URL"), strlen(env_need("TG_STRIPE_URL"))) && strstr(url, id),
		      "checkout url should point at the stand-in's page for the session: %s", r->body);
	copy_to(sid, cap, id);
	it_free(r);
}

/* Completes a session at the stand-in (as the Subscribe button); fills p; asserts every event was
 * delivered with a 2xx when delivery is expected. */
static void complete_session(struct paid *p, bool expect_delivered)
{
	char path[256];
	snprintf(path, sizeof(path), "complete/%s", p->session);
	json_object *o = stripe_ctl_ok("POST", path, NULL);
	copy_to(p->customer, sizeof(p->customer), jstr(o, "customer"));
	copy_to(p->subscription, sizeof(p->subscription), jstr(o, "subscription"));
	copy_to(p->invoice, sizeof(p->invoice), jstr(o, "invoice"));
	copy_to(p->charge, sizeof(p->charge), jstr(o, "charge"));
	json_object *evs = jget(o, "events"), *dl = jget(o, "deliveries");
	ck_assert_ptr_nonnull(evs);
	p->nevents = (int)json_object_array_length(evs);
	ck_assert_int_eq(p->nevents, 3);
	for (int i = 0; i < p->nevents; i++)
		copy_to(p->events[i], sizeof(p->events[i]), json_object_get_string(json_object_array_get_idx(evs, i)));
	if (expect_delivered) {
		for (size_t i = 0; i < json_object_array_length(dl); i++) {
			json_object *d = json_object_array_get_idx(dl, i);
			ck_assert_msg(json_object_get_boolean(jget(d, "ok")), "event delivery failed: %s",
				      json_object_to_json_string(d));
		}
	}
	json_object_put(o);
}

/* register → checkout pro/month → complete at the stand-in → events delivered. */
static void subscribe(struct paid *p, const char *prefix)
{
	memset(p, 0, sizeof(*p));
	it_register(&p->u, prefix);
	checkout_ok(&p->u, "pro", "month", p->session, sizeof(p->session));
	complete_session(p, true);
}

static struct it_resp *get_sub(const struct it_user *u)
{
	struct it_resp *r = it_get("/api/billing/subscription", u->access);
	it_expect(r, 200, NULL);
	return r;
}

static void expect_sub(const struct it_user *u, const char *plan, const char *status)
{
	struct it_resp *r = get_sub(u);
	expect_str(r, "plan", plan);
	expect_str(r, "status", status);
	it_free(r);
}

/* Waits (bounded) until the subscription shows status: an event stamped with the same second as
 * the state it follows is settled by a job that asks Stripe (issue 8: no call inside the
 * webhook's transaction), a moment after the webhook is acknowledged. */
static void wait_sub_status(const struct it_user *u, const char *status)
{
	int64_t until = now_ms() + 15000;
	for (;;) {
		struct it_resp *r = get_sub(u);
		bool done = it_str(r, "status") && !strcmp(it_str(r, "status"), status);
		it_free(r);
		if (done)
			return;
		ck_assert_msg(now_ms() < until, "the subscription never became %s", status);
		it_sleep_ms(100);
	}
}

static void expect_me_plan(const struct it_user *u, const char *plan)
{
	struct it_resp *r = it_get("/api/auth/me", u->access);
	it_expect(r, 200, NULL);
	expect_str(r, "plan", plan);
	it_free(r);
}

/* The LiteLLM stand-in's live key of user (a new reference), or NULL; *deleted tells whether a
 * deleted key of that user is listed. */
static json_object *litellm_key(const char *user_id, bool *deleted)
{
	struct it_resp *r = litellm_ctl("GET", "keys", NULL);
	ck_assert_msg(r->status == 200 && r->json, "litellm /_control/keys: %ld %s", r->status, r->body);
	json_object *found = NULL, *keys = jget(r->json, "keys"), *del = jget(r->json, "deleted_keys");
	for (size_t i = 0; keys && i < json_object_array_length(keys); i++) {
		json_object *k = json_object_array_get_idx(keys, i);
		const char *uid = jstr(k, "user_id");
		if (uid && !strcmp(uid, user_id)) {
			ck_assert_msg(found == NULL, "two live LiteLLM keys for user %s", user_id);
			found = json_object_get(k);
		}
	}
	if (deleted) {
		*deleted = false;
		for (size_t i = 0; del && i < json_object_array_length(del); i++) {
			const char *uid = jstr(json_object_array_get_idx(del, i), "user_id");
			if (uid && !strcmp(uid, user_id))
				*deleted = true;
		}
	}
	it_free(r);
	return found;
}

/* Waits (bounded) until user's key exists and has blocked == want_blocked; returns it. */
static json_object *wait_key(const char *user_id, bool want_blocked)
{
	int64_t deadline = now_ms() + KEY_WAIT_MS;
	json_object *k = NULL;
	for (;;) {
		k = litellm_key(user_id, NULL);
		json_object *b = jget(k, "blocked");
		if (k && b && json_object_get_boolean(b) == want_blocked)
			return k;
		if (now_ms() > deadline)
			break;
		json_object_put(k);
		it_sleep_ms(200);
	}
	ck_assert_msg(0, "no %s LiteLLM key for user %s within %d ms (last: %s)", want_blocked ? "blocked" : "live",
		      user_id, KEY_WAIT_MS, k ? json_object_to_json_string(k) : "none");
	return NULL;
}

/* Our public id (a UUID) of the invoice with Stripe id inv, or "" when it is not stored. */
static const char *invoice_public_id(const char *inv)
{
	return it_sql("SELECT coalesce((SELECT id::text FROM invoices WHERE stripe_invoice_id = '%s'), '')", inv);
}

/* The invoice with Stripe id inv of u's list (a new reference), or NULL. The API shows our own
 * UUID as the id (API.md: public ids are UUIDs), never Stripe's. */
static json_object *find_invoice(const struct it_user *u, const char *inv)
{
	char id[64];
	snprintf(id, sizeof(id), "%s", invoice_public_id(inv));
	if (!*id)
		return NULL;
	struct it_resp *r = it_get("/api/billing/invoices", u->access);
	it_expect(r, 200, NULL);
	json_object *items = it_at(r, "items"), *found = NULL;
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		ck_assert_msg(jstr(it, "id") && strncmp(jstr(it, "id"), "in_", 3), "a Stripe id leaked as id: %s",
			      json_object_to_json_string(it));
		if (!strcmp(jstr(it, "id"), id))
			found = json_object_get(it);
	}
	it_free(r);
	return found;
}

static long long invoice_refunded(const struct it_user *u, const char *inv)
{
	json_object *it = find_invoice(u, inv);
	ck_assert_msg(it != NULL, "invoice %s not in the list", inv);
	long long v = json_object_get_int64(jget(it, "amount_refunded"));
	json_object_put(it);
	return v;
}

/* A snapshot of everything the server stores about a user's subscription and invoices. */
static char *billing_snapshot(const char *user_id)
{
	return sql_text("SELECT coalesce((SELECT json_agg(s ORDER BY s.stripe_subscription_id)::text FROM subscriptions s"
			" WHERE s.user_id = '%s'), '') || ' | ' || coalesce((SELECT json_agg(i ORDER BY"
			" i.stripe_invoice_id)::text FROM invoices i WHERE i.user_id = '%s'), '')",
			user_id, user_id);
}

/* The stand-in's stored event evt (a new reference). */
static json_object *standin_event(const char *evt)
{
	char *path = xprintf("objects/%s", evt);
	json_object *o = stripe_ctl_ok("GET", path, NULL);
	free(path);
	return o;
}

/* The stand-in's object (subscription etc.) through its API with the secret key (a new reference). */
static json_object *stripe_object(const char *path)
{
	struct it_resp *r = stripe_api("GET", path, NULL);
	ck_assert_msg(r->status == 200 && r->json, "GET %s: %ld %.300s", path, r->status, r->body);
	json_object *o = json_object_get(r->json);
	it_free(r);
	return o;
}

/* The stand-in's API request log (a new reference to its "data" array). */
static json_object *stripe_requests(const char *path_prefix)
{
	char *path = xprintf("requests?path=%s", path_prefix);
	json_object *o = stripe_ctl_ok("GET", path, NULL);
	free(path);
	json_object *data = json_object_get(jget(o, "data"));
	json_object_put(o);
	ck_assert_ptr_nonnull(data);
	return data;
}

static const char *param_of(json_object *req, const char *key)
{
	return jstr(jget(req, "params"), key);
}

/* ------------------------------------------------------------------ plans */

static void expect_limits(json_object *plan, long long projects, long long documents, long long agents,
			  long long tokens)
{
	json_object *l = jget(plan, "limits");
	ck_assert_msg(l && json_object_is_type(l, json_type_object), "limits missing: %s",
		      json_object_to_json_string(plan));
	const char *names[] = {"projects", "documents", "agents", "monthly_tokens"};
	long long want[] = {projects, documents, agents, tokens};
	for (int i = 0; i < 4; i++) {
		json_object *v = NULL;
		ck_assert_msg(json_object_object_get_ex(l, names[i], &v), "limits.%s missing: %s", names[i],
			      json_object_to_json_string(l));
		if (want[i] < 0)
			ck_assert_msg(v == NULL, "limits.%s should be null (unlimited): %s", names[i],
				      json_object_to_json_string(l));
		else
			ck_assert_msg(v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) == want[i],
				      "limits.%s should be %lld: %s", names[i], want[i], json_object_to_json_string(l));
	}
}

static void expect_price(json_object *plan, const char *interval, long long amount)
{
	json_object *prices = jget(plan, "prices");
	for (size_t i = 0; prices && i < json_object_array_length(prices); i++) {
		json_object *p = json_object_array_get_idx(prices, i);
		if (jstr(p, "interval") && !strcmp(jstr(p, "interval"), interval)) {
			json_object *a = jget(p, "amount");
			ck_assert_msg(a && json_object_is_type(a, json_type_int) && json_object_get_int64(a) == amount,
				      "price %s: amount %lld expected: %s", interval, amount, json_object_to_json_string(p));
			ck_assert_msg(jstr(p, "currency") && !strcmp(jstr(p, "currency"), "usd"), "currency usd: %s",
				      json_object_to_json_string(p));
			return;
		}
	}
	ck_assert_msg(0, "no %s price in %s", interval, json_object_to_json_string(plan));
}

START_TEST(plans_public)
{
	struct it_resp *r = it_get("/api/billing/plans", NULL);
	it_expect(r, 200, NULL);
	ck_assert_msg(it_header(r, "Content-Type") && !strncmp(it_header(r, "Content-Type"), "application/json", 16),
		      "JSON expected");
	json_object *items = it_at(r, "items");
	ck_assert_msg(items && json_object_is_type(items, json_type_array), "items: %s", r->body);
	ck_assert_int_eq(json_object_array_length(items), 3);
	const char *codes[] = {"free", "pro", "enterprise"};
	for (int i = 0; i < 3; i++) {
		json_object *p = json_object_array_get_idx(items, (size_t)i);
		ck_assert_str_eq(jstr(p, "code"), codes[i]);
		ck_assert_msg(jstr(p, "name") && *jstr(p, "name"), "name: %s", json_object_to_json_string(p));
		ck_assert_msg(jstr(p, "description") != NULL, "description: %s", json_object_to_json_string(p));
		json_object *f = jget(p, "features");
		ck_assert_msg(f && json_object_is_type(f, json_type_array) && json_object_array_length(f) > 0,
			      "features array: %s", json_object_to_json_string(p));
		for (size_t k = 0; k < json_object_array_length(f); k++)
			ck_assert(json_object_is_type(json_object_array_get_idx(f, k), json_type_string));
		json_object *prices = jget(p, "prices");
		ck_assert_msg(prices && json_object_is_type(prices, json_type_array), "prices array: %s",
			      json_object_to_json_string(p));
		for (size_t k = 0; k < json_object_array_length(prices); k++) {
			json_object *pr = json_object_array_get_idx(prices, k);
			const char *iv = jstr(pr, "interval");
			ck_assert_msg(iv && (!strcmp(iv, "month") || !strcmp(iv, "year")), "interval: %s",
				      json_object_to_json_string(pr));
			/* never the Stripe price id in the public list */
			ck_assert_msg(!strstr(json_object_to_json_string(pr), "price_"), "price id leaked: %s",
				      json_object_to_json_string(pr));
		}
	}
	json_object *free_p = json_object_array_get_idx(items, 0), *pro = json_object_array_get_idx(items, 1),
		    *ent = json_object_array_get_idx(items, 2);
	ck_assert_int_eq(json_object_array_length(jget(free_p, "prices")), 0);
	expect_limits(free_p, 3, 50, 1, 100000);
	expect_price(pro, "month", 1900);
	expect_price(pro, "year", 19000);
	expect_limits(pro, 20, 1000, 10, 2000000);
	expect_price(ent, "month", 9900);
	expect_price(ent, "year", 99000);
	expect_limits(ent, -1, -1, -1, -1);
	it_free(r);
}
END_TEST

/* ------------------------------------------------------------------ the full path */

START_TEST(full_path)
{
	struct paid p;
	memset(&p, 0, sizeof(p));
	it_register(&p.u, "bill-full");

	/* before: free, no subscription */
	struct it_resp *r = get_sub(&p.u);
	expect_str(r, "plan", "free");
	expect_str(r, "status", "none");
	it_free(r);
	r = it_get("/api/billing/invoices", p.u.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_int_at(r, "total"), 0);
	it_free(r);

	checkout_ok(&p.u, "pro", "month", p.session, sizeof(p.session));

	/* what Tollgate asked Stripe for */
	json_object *reqs = stripe_requests("/v1/checkout/sessions");
	json_object *mine = NULL;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		if (param_of(q, "client_reference_id") && !strcmp(param_of(q, "client_reference_id"), p.u.id) &&
		    !strcmp(jstr(q, "method"), "POST"))
			mine = q;
	}
	ck_assert_msg(mine, "no POST /v1/checkout/sessions with client_reference_id = %s", p.u.id);
	ck_assert_str_eq(param_of(mine, "mode"), "subscription");
	ck_assert_msg(param_of(mine, "customer") && !strncmp(param_of(mine, "customer"), "cus_", 4),
		      "checkout must name the user's customer: %s", json_object_to_json_string(mine));
	json_object *li = json_object_array_get_idx(jget(jget(mine, "params"), "line_items"), 0);
	ck_assert_str_eq(jstr(li, "price"), "price_pro_month");
	ck_assert_str_eq(jstr(li, "quantity"), "1");
	const char *success = param_of(mine, "success_url");
	ck_assert_msg(success && !strncmp(success, it_origin(), strlen(it_origin())) &&
			      strstr(success, "{CHECKOUT_SESSION_ID}"),
		      "success_url on the public origin with the session placeholder: %s", success);
	ck_assert_msg(jstr(mine, "idempotency_key") && *jstr(mine, "idempotency_key"), "Idempotency-Key missing");
	ck_assert_str_eq(jstr(mine, "stripe_version"), STRIPE_VERSION);
	ck_assert_msg(json_object_get_boolean(jget(mine, "authorization")) && json_object_get_boolean(jget(mine, "auth_ok")),
		      "Authorization header missing or wrong");
	json_object_put(reqs);

	complete_session(&p, true);

	r = get_sub(&p.u);
	expect_str(r, "plan", "pro");
	expect_str(r, "status", "active");
	expect_str(r, "interval", "month");
	expect_rfc3339(r, "current_period_start");
	expect_rfc3339(r, "current_period_end");
	time_t ps = parse_rfc3339(it_str(r, "current_period_start")), pe = parse_rfc3339(it_str(r, "current_period_end"));
	ck_assert_msg(pe - ps >= 28 * 86400 && pe - ps <= 31 * 86400, "a monthly period: %s", r->body);
	ck_assert_msg(llabs((long long)(ps - time(NULL))) < 120, "the period starts now: %s", r->body);
	ck_assert_msg(!json_bool_at(r, "cancel_at_period_end"), "cancel_at_period_end false: %s", r->body);
	expect_null(r, "canceled_at");
	ck_assert_msg(it_header(r, "Cache-Control") && strstr(it_header(r, "Cache-Control"), "no-store"),
		      "user-specific: Cache-Control no-store expected");
	it_free(r);
	expect_me_plan(&p.u, "pro");

	/* the paid invoice */
	r = it_get("/api/billing/invoices", p.u.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_int_at(r, "total"), 1);
	ck_assert_int_eq(json_int_at(r, "page"), 1);
	ck_assert_msg(json_int_at(r, "per_page") >= 1, "per_page: %s", r->body);
	char inv_id[64];
	snprintf(inv_id, sizeof(inv_id), "%s", invoice_public_id(p.invoice));
	ck_assert_msg(strlen(inv_id) == 36, "invoice %s not stored", p.invoice);
	expect_str(r, "items.0.id", inv_id);
	expect_str(r, "items.0.status", "paid");
	ck_assert_int_eq(json_int_at(r, "items.0.amount_paid"), 1900);
	ck_assert_int_eq(json_int_at(r, "items.0.amount_due"), 1900);
	ck_assert_int_eq(json_int_at(r, "items.0.amount_refunded"), 0);
	expect_str(r, "items.0.currency", "usd");
	ck_assert_msg(it_str(r, "items.0.hosted_invoice_url") && strstr(it_str(r, "items.0.hosted_invoice_url"), p.invoice),
		      "hosted_invoice_url: %s", r->body);
	ck_assert_msg(it_str(r, "items.0.invoice_pdf") && strstr(it_str(r, "items.0.invoice_pdf"), ".pdf"),
		      "invoice_pdf: %s", r->body);
	ck_assert_msg(it_str(r, "items.0.number") != NULL, "number: %s", r->body);
	expect_rfc3339(r, "items.0.created");
	expect_rfc3339(r, "items.0.period_start");
	expect_rfc3339(r, "items.0.period_end");
	it_free(r);

	/* the LiteLLM key with the pro plan's parameters (sql/0003_billing.sql) */
	json_object *k = wait_key(p.u.id, false);
	json_object *models = jget(k, "models");
	ck_assert_msg(models && json_object_array_length(models) == 2, "models: %s", json_object_to_json_string(k));
	bool mini = false, haiku = false;
	for (size_t i = 0; i < 2; i++) {
		const char *m = json_object_get_string(json_object_array_get_idx(models, i));
		mini |= !strcmp(m, "gpt-4o-mini");
		haiku |= !strcmp(m, "claude-3-5-haiku");
	}
	ck_assert_msg(mini && haiku, "pro models gpt-4o-mini and claude-3-5-haiku: %s", json_object_to_json_string(k));
	ck_assert_int_eq(json_object_get_int64(jget(k, "tpm_limit")), 100000);
	ck_assert_int_eq(json_object_get_int64(jget(k, "rpm_limit")), 60);
	json_object_put(k);

	/* a second checkout while subscribed */
	r = checkout_req(&p.u, "pro", "month");
	it_expect(r, 409, "already_subscribed");
	it_free(r);
	r = checkout_req(&p.u, "enterprise", "year");
	it_expect(r, 409, "already_subscribed");
	it_free(r);

	/* the portal for a customer */
	r = it_post("/api/billing/portal", p.u.access, NULL);
	it_expect(r, 200, NULL);
	ck_assert_msg(it_str(r, "url") && !strncmp(it_str(r, "url"), env_need("TG_STRIPE_URL"), strlen(env_need("TG_STRIPE_URL"))),
		      "portal url on the stand-in: %s", r->body);
	it_free(r);
}
END_TEST

/* ------------------------------------------------------------------ validation, portal, auth */

/* Review finding: two open checkouts for two plans could both be completed, and the customer
 * paid for two subscriptions. A new checkout now expires the customer's open sessions. */
START_TEST(second_checkout_expires_the_first)
{
	struct paid p;
	memset(&p, 0, sizeof(p));
	it_register(&p.u, "two-checkouts");
	char first[128];
	checkout_ok(&p.u, "pro", "month", first, sizeof(first));
	checkout_ok(&p.u, "enterprise", "year", p.session, sizeof(p.session));
	ck_assert_str_ne(first, p.session);
	/* the first one can no longer be paid */
	char path[256];
	snprintf(path, sizeof(path), "complete/%s", first);
	struct it_resp *r = stripe_ctl("POST", path, NULL);
	ck_assert_msg(r->status == 409, "completing the replaced session: %ld %s", r->status, r->body);
	it_free(r);
	complete_session(&p, true);
	expect_sub(&p.u, "enterprise", "active");
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM subscriptions WHERE user_id = '%s'", p.u.id), 1);
}
END_TEST

START_TEST(checkout_validation)
{
	struct it_user u;
	it_register(&u, "bill-val");
	struct {
		const char *body, *field;
	} bad[] = {
		{"{\"plan\":\"free\",\"interval\":\"month\"}", "plan"},
		{"{\"plan\":\"platinum\",\"interval\":\"month\"}", "plan"},
		{"{\"plan\":\"pro\",\"interval\":\"week\"}", "interval"},
		{"{\"plan\":\"pro\",\"interval\":5}", "interval"},
		{"{\"interval\":\"month\"}", "plan"},
		{"{\"plan\":\"\",\"interval\":\"month\"}", "plan"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct it_resp *r = it_post("/api/billing/checkout", u.access, bad[i].body);
		it_expect(r, 422, "validation_failed");
		char path[64];
		snprintf(path, sizeof(path), "errors.%s", bad[i].field);
		ck_assert_msg(it_at(r, path) != NULL, "%s: errors.%s expected: %s", bad[i].body, bad[i].field, r->body);
		it_free(r);
	}
	/* no customer was created at Stripe for any of these */
	long long n = it_sql_long("SELECT count(*) FROM stripe_customers WHERE user_id = '%s'", u.id);
	ck_assert_int_eq(n, 0);

	struct it_resp *r = it_post("/api/billing/checkout", u.access, "{\"plan\":");
	it_expect(r, 400, "invalid_json");
	it_free(r);
	struct it_req q = {.method = "POST", .path = "/api/billing/checkout", .bearer = u.access,
			   .body = "plan=pro", .content_type = "application/x-www-form-urlencoded"};
	r = it_do(&q);
	it_expect(r, 415, NULL);
	it_free(r);

	/* authentication */
	r = checkout_req(&(struct it_user){.access = "nope"}, "pro", "month");
	it_expect(r, 401, "unauthorized");
	it_free(r);
	const char *user_routes[][2] = {{"POST", "/api/billing/portal"},
					{"GET", "/api/billing/subscription"},
					{"GET", "/api/billing/invoices"}};
	for (int i = 0; i < 3; i++) {
		struct it_req q2 = {.method = user_routes[i][0], .path = user_routes[i][1]};
		r = it_do(&q2);
		it_expect(r, 401, "unauthorized");
		it_free(r);
	}
}
END_TEST

START_TEST(portal_needs_customer)
{
	struct it_user u;
	it_register(&u, "bill-portal");
	struct it_resp *r = it_post("/api/billing/portal", u.access, NULL);
	it_expect(r, 409, "no_customer");
	it_free(r);

	/* a checkout (even one never completed) makes the customer: the portal opens */
	char sid[128];
	checkout_ok(&u, "pro", "year", sid, sizeof(sid));
	r = it_post("/api/billing/portal", u.access, NULL);
	it_expect(r, 200, NULL);
	const char *url = it_str(r, "url");
	ck_assert_msg(url && strstr(url, "/portal/bps_"), "a portal session url: %s", r->body);
	it_free(r);
	json_object *reqs = stripe_requests("/v1/billing_portal/sessions");
	json_object *last = json_object_array_get_idx(reqs, json_object_array_length(reqs) - 1);
	char *cust = sql_text("SELECT stripe_customer_id FROM stripe_customers WHERE user_id = '%s'", u.id);
	ck_assert_str_eq(param_of(last, "customer"), cust);
	ck_assert_msg(param_of(last, "return_url") && !strncmp(param_of(last, "return_url"), it_origin(), strlen(it_origin())),
		      "return_url on the public origin: %s", json_object_to_json_string(last));
	ck_assert_msg(jstr(last, "idempotency_key") != NULL, "portal POST without Idempotency-Key");
	free(cust);
	json_object_put(reqs);
}
END_TEST

/* ------------------------------------------------------------------ one customer per user */

struct race {
	const char *access;
	long status;
	char session[128];
};

static void *race_checkout(void *arg)
{
	struct race *x = arg;
	struct it_req q = {.method = "POST", .path = "/api/billing/checkout", .bearer = x->access,
			   .json = "{\"plan\":\"pro\",\"interval\":\"month\"}"};
	struct it_resp *r = it_do(&q);
	x->status = r->status;
	const char *sid = it_str(r, "session_id");
	snprintf(x->session, sizeof(x->session), "%s", sid ? sid : "");
	it_free(r);
	return NULL;
}

/* Customers at the stand-in with this email (GET /v1/customers?email=). */
static int customers_with_email(const char *email)
{
	char *esc = curl_easy_escape(NULL, email, 0);
	char *form = xprintf("email=%s&limit=100", esc);
	curl_free(esc);
	struct it_resp *r = stripe_api("GET", "/v1/customers", form);
	free(form);
	ck_assert_msg(r->status == 200 && r->json, "GET /v1/customers: %ld %s", r->status, r->body);
	int n = (int)json_object_array_length(it_at(r, "data"));
	it_free(r);
	return n;
}

/* N parallel first checkouts of one new user. With hold_inserts, a separate database session holds
 * back every insert into stripe_customers for a second (a slow database), so that all the racing
 * requests reach the "save the customer" step together. Returns the statuses in st. */
enum { RACERS = 8 };

static void parallel_checkouts(const struct it_user *u, bool hold_inserts, long st[RACERS])
{
	struct race x[RACERS];
	pthread_t th[RACERS];
	if (hold_inserts) {
		it_sh("(scripts/stack psql '%s' -qtA -c 'BEGIN; LOCK TABLE stripe_customers IN SHARE ROW EXCLUSIVE MODE;"
		      " SELECT pg_sleep(1); COMMIT;' >/dev/null 2>&1 &)",
		      it_stack_dir());
		int64_t deadline = now_ms() + 5000;
		while (it_sql_long("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE"
				" c.relname = 'stripe_customers' AND l.mode = 'ShareRowExclusiveLock' AND l.granted") == 0)
			ck_assert_msg(now_ms() < deadline, "the lock session did not start");
	}
	for (int i = 0; i < RACERS; i++) {
		memset(&x[i], 0, sizeof(x[i]));
		x[i].access = u->access;
		ck_assert_int_eq(pthread_create(&th[i], NULL, race_checkout, &x[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < RACERS; i++) {
		st[i] = x[i].status;
		ck_assert_msg(x[i].status != 200 || x[i].session[0], "a 200 without session_id");
	}
}

static void expect_one_customer(const struct it_user *u)
{
	/* exactly one customer object for this user, at Stripe and in the database */
	ck_assert_int_eq(customers_with_email(u->email), 1);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM stripe_customers WHERE user_id = '%s'", u->id), 1);
}

/* Issue 8: checkouts of one user run one at a time without a transaction held through the Stripe
 * calls: a checkout that finds another one running answers 409 conflict at once (no waiting on a
 * request path). Every racer is one of the two, and at least one made a session. */
static void expect_one_at_a_time(const long st[RACERS], const char *what)
{
	char list[256] = "";
	int bad = 0, ok = 0;
	for (int i = 0; i < RACERS; i++) {
		snprintf(list + strlen(list), sizeof(list) - strlen(list), " %ld", st[i]);
		bad += st[i] != 200 && st[i] != 409;
		ok += st[i] == 200;
	}
	ck_assert_msg(bad == 0 && ok >= 1, "%s: each parallel checkout should be 200 or 409 (one at a time), got:%s",
		      what, list);
}

START_TEST(one_customer_parallel_checkouts_contended)
{
	/* a race: three rounds, each with a new user */
	for (int round = 0; round < 3; round++) {
		struct it_user u;
		it_register(&u, "bill-race2");
		long st[RACERS];
		parallel_checkouts(&u, true, st);
		expect_one_customer(&u);
		expect_one_at_a_time(st, "first checkouts racing to save the customer");
	}
}
END_TEST

START_TEST(one_customer_parallel_checkouts)
{
	struct it_user u;
	it_register(&u, "bill-race");
	long st[RACERS];
	parallel_checkouts(&u, false, st);
	expect_one_customer(&u);
	expect_one_at_a_time(st, "parallel first checkouts");

	json_object *reqs = stripe_requests("/v1/customers");
	const char *key = NULL;
	int posts = 0, created = 0;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		if (strcmp(jstr(q, "method"), "POST") || !param_of(q, "email") || strcmp(param_of(q, "email"), u.email))
			continue;
		posts++;
		const char *k = jstr(q, "idempotency_key");
		ck_assert_msg(k && *k, "POST /v1/customers without Idempotency-Key");
		if (!key)
			key = k;
		ck_assert_msg(!strcmp(k, key), "customer POSTs of one user must share one Idempotency-Key: %s vs %s", k, key);
		ck_assert_str_eq(jstr(q, "stripe_version"), STRIPE_VERSION);
		ck_assert_msg(json_object_get_boolean(jget(q, "authorization")), "Authorization header missing");
		ck_assert_str_eq(jstr(q, "auth_scheme"), "bearer");
		ck_assert_msg(json_object_get_boolean(jget(q, "auth_ok")), "wrong Stripe key");
		const char *md_user = jstr(jget(jget(q, "params"), "metadata"), "user_id");
		ck_assert_msg(md_user && !strcmp(md_user, u.id), "customer metadata[user_id] should be the user id");
		if (!json_object_get_boolean(jget(q, "replayed")) && json_object_get_int(jget(q, "status")) == 200)
			created++;
	}
	ck_assert_msg(posts >= 1, "no POST /v1/customers for %s", u.email);
	ck_assert_int_eq(created, 1);
	json_object_put(reqs);

	/* every checkout session POST of this user carried a key and the pinned version */
	reqs = stripe_requests("/v1/checkout/sessions");
	int sessions = 0;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		if (!param_of(q, "client_reference_id") || strcmp(param_of(q, "client_reference_id"), u.id))
			continue;
		sessions++;
		ck_assert_msg(jstr(q, "idempotency_key") && *jstr(q, "idempotency_key"), "session POST without key");
		ck_assert_str_eq(jstr(q, "stripe_version"), STRIPE_VERSION);
		ck_assert_msg(json_object_get_boolean(jget(q, "authorization")), "Authorization header missing");
	}
	ck_assert_int_ge(sessions, 1);
	json_object_put(reqs);
}
END_TEST

/* ------------------------------------------------------------------ Stripe failures */

START_TEST(stripe_500_retried)
{
	struct it_user u;
	it_register(&u, "bill-500");
	json_object_put(stripe_ctl_ok("POST", "fail", "{\"count\": 2, \"status\": 500}"));
	int64_t t0 = now_ms();
	char sid[128];
	checkout_ok(&u, "pro", "month", sid, sizeof(sid));
	int64_t took = now_ms() - t0;
	ck_assert_msg(took < 5000, "two retries should take about 1.5 s at most, took %lld ms", (long long)took);

	json_object *reqs = stripe_requests("/v1/customers");
	int n = 0, ok = 0;
	const char *key = NULL;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		if (strcmp(jstr(q, "method"), "POST") || !param_of(q, "email") || strcmp(param_of(q, "email"), u.email))
			continue;
		n++;
		const char *k = jstr(q, "idempotency_key");
		ck_assert_msg(k && *k, "retry without Idempotency-Key");
		if (!key)
			key = k;
		ck_assert_msg(!strcmp(key, k), "a retry must reuse the Idempotency-Key (%s vs %s)", key, k);
		int st = json_object_get_int(jget(q, "status"));
		if (n <= 2)
			ck_assert_msg(st == 500, "attempt %d: the injected 500 expected, got %d", n, st);
		else
			ok += st == 200;
	}
	ck_assert_msg(n == 3 && ok == 1, "POST /v1/customers: 2 failures then 1 success expected, got %d requests", n);
	json_object_put(reqs);
	ck_assert_int_eq(customers_with_email(u.email), 1);
}
END_TEST

START_TEST(stripe_lost_response_one_customer)
{
	/* Stripe executes the request but the response is lost (500 after the work): the retry with
	 * the same key gets the saved response; still one customer. */
	struct it_user u;
	it_register(&u, "bill-lost");
	json_object_put(stripe_ctl_ok("POST", "fail",
				      "{\"count\": 1, \"status\": 500, \"after\": true, \"path\": \"/v1/customers\"}"));
	char sid[128];
	checkout_ok(&u, "pro", "month", sid, sizeof(sid));
	ck_assert_int_eq(customers_with_email(u.email), 1);
	json_object *reqs = stripe_requests("/v1/customers");
	int n = 0, replayed = 0;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		if (strcmp(jstr(q, "method"), "POST") || !param_of(q, "email") || strcmp(param_of(q, "email"), u.email))
			continue;
		n++;
		replayed += json_object_get_boolean(jget(q, "replayed"));
	}
	ck_assert_msg(n == 2 && replayed == 1, "one lost response, one replay expected (got %d requests, %d replayed)", n,
		      replayed);
	json_object_put(reqs);
}
END_TEST

START_TEST(stripe_down_503)
{
	struct it_user u;
	it_register(&u, "bill-down");
	json_object_put(stripe_ctl_ok("POST", "fail", "{\"count\": 10, \"status\": 500}"));
	int64_t t0 = now_ms();
	struct it_resp *r = checkout_req(&u, "pro", "month");
	int64_t took = now_ms() - t0;
	it_expect(r, 503, "billing_unavailable");
	ck_assert_msg(took < 4000, "bounded: two retries with backoff (<= ~1.5 s), took %lld ms", (long long)took);
	ck_assert_msg(!strstr(r->body, env_need("TG_STRIPE_SECRET_KEY")), "the secret key leaked");
	it_free(r);
	/* three attempts (the first and two retries), all with one key */
	json_object *reqs = stripe_requests("/v1/customers");
	int n = 0;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		if (!strcmp(jstr(q, "method"), "POST") && param_of(q, "email") && !strcmp(param_of(q, "email"), u.email))
			n++;
	}
	ck_assert_int_eq(n, 3);
	json_object_put(reqs);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM stripe_customers WHERE user_id = '%s'", u.id), 0);
	/* Stripe back: the same user checks out */
	standins_normal();
	char sid[128];
	checkout_ok(&u, "pro", "month", sid, sizeof(sid));
	ck_assert_int_eq(customers_with_email(u.email), 1);
}
END_TEST

START_TEST(stripe_429_retried)
{
	/* API.md: every Stripe call "retries on 429/5xx/network errors with backoff" */
	struct it_user u;
	it_register(&u, "bill-429");
	json_object_put(stripe_ctl_ok("POST", "fail", "{\"count\": 1, \"status\": 429, \"path\": \"/v1/customers\"}"));
	struct it_resp *r = checkout_req(&u, "pro", "month");
	long st = r->status;
	char body[600];
	snprintf(body, sizeof(body), "%.500s", r->body);
	it_free(r);
	json_object *reqs = stripe_requests("/v1/customers");
	int n = 0;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		if (!strcmp(jstr(q, "method"), "POST") && param_of(q, "email") && !strcmp(param_of(q, "email"), u.email))
			n++;
	}
	json_object_put(reqs);
	ck_assert_msg(st == 200 && n == 2,
		      "one 429 from Stripe should be retried (API.md: retries on 429): checkout answered %ld after %d"
		      " POST /v1/customers: %s",
		      st, n, body);
}
END_TEST

START_TEST(delete_account_while_stripe_down)
{
	/* the subscription cannot be canceled: nothing is deleted */
	struct paid p;
	subscribe(&p, "bill-deldown");
	json_object_put(stripe_ctl_ok("POST", "fail", "{\"count\": 10, \"status\": 500}"));
	char *body = xprintf("{\"password\":\"%s\"}", p.u.password);
	struct it_resp *r = it_post("/api/profile/delete-account", p.u.access, body);
	ck_assert_msg(r->status == 503, "delete-account with Stripe down: 503 expected, got %ld %s", r->status, r->body);
	it_free(r);
	standins_normal();
	ck_assert_int_eq(it_login(&p.u), 200);
	expect_sub(&p.u, "pro", "active");
	json_object *sub = stripe_object(xprintf("/v1/subscriptions/%s", p.subscription));
	ck_assert_str_eq(jstr(sub, "status"), "active");
	json_object_put(sub);
	r = it_post("/api/profile/delete-account", p.u.access, body);
	it_expect(r, 204, NULL);
	it_free(r);
	free(body);
	stripe_drain();
}
END_TEST

/* ------------------------------------------------------------------ duplicates and order */

static void shuffle(int *a, int n)
{
	for (int i = n - 1; i > 0; i--) {
		unsigned char b;
		int fd = open("/dev/urandom", O_RDONLY);
		ck_assert_int_eq(read(fd, &b, 1), 1);
		close(fd);
		int j = b % (i + 1), t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

START_TEST(duplicates_and_shuffled)
{
	struct paid p;
	subscribe(&p, "bill-dup");
	stripe_drain(); /* customer.created of this user, delivered in the background */
	expect_sub(&p.u, "pro", "active");
	char *before = billing_snapshot(p.u.id);

	/* each event of the checkout 5 more times through the stand-in (fresh signatures each time) */
	for (int i = 0; i < p.nevents; i++) {
		char *body = xprintf("{\"event\": \"%s\", \"times\": 5}", p.events[i]);
		json_object *o = stripe_ctl_ok("POST", "deliver", body);
		free(body);
		json_object *res = jget(o, "results");
		ck_assert_int_eq(json_object_array_length(res), 5);
		for (size_t k = 0; k < 5; k++)
			ck_assert_int_eq(json_object_get_int(jget(json_object_array_get_idx(res, k), "status")), 200);
		json_object_put(o);
	}
	/* and posted by us, shuffled, three rounds: each answered 200 duplicate */
	json_object *evs[8];
	for (int i = 0; i < p.nevents; i++)
		evs[i] = standin_event(p.events[i]);
	for (int round = 0; round < 3; round++) {
		int order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
		shuffle(order, p.nevents);
		for (int i = 0; i < p.nevents; i++)
			post_event_expect(evs[order[i]], true);
	}
	for (int i = 0; i < p.nevents; i++)
		json_object_put(evs[i]);

	char *after = billing_snapshot(p.u.id);
	ck_assert_msg(!strcmp(before, after), "state changed by duplicates:\nbefore %s\nafter  %s", before, after);
	free(before);
	free(after);
	for (int i = 0; i < p.nevents; i++) {
		char *row = sql_text("SELECT count(*) || ' ' || min(attempts) || ' ' || bool_and(processed_at IS NOT NULL)"
				     " || ' ' || bool_and(last_error IS NULL) FROM stripe_events WHERE id = '%s'",
				     p.events[i]);
		ck_assert_msg(!strcmp(row, "1 1 true true"), "event %s: one row, applied once (count attempts processed noerror): %s",
			      p.events[i], row);
		free(row);
	}
	expect_sub(&p.u, "pro", "active");
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM invoices WHERE user_id = '%s'", p.u.id), 1);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM subscriptions WHERE user_id = '%s'", p.u.id), 1);
}
END_TEST

struct dup_post {
	const char *body;
	long status;
	int duplicate; /* -1 unknown */
};

static void *post_dup(void *arg)
{
	struct dup_post *d = arg;
	struct it_resp *r = post_signed(d->body);
	d->status = r->status;
	json_object *v = it_at(r, "duplicate");
	d->duplicate = r->json ? (v && json_object_get_boolean(v)) : -1;
	it_free(r);
	return NULL;
}

START_TEST(parallel_same_event_applied_once)
{
	struct paid p;
	subscribe(&p, "bill-par");
	json_object *sub = stripe_object(xprintf("/v1/subscriptions/%s", p.subscription));
	long long last = it_sql_long("SELECT last_event_created FROM subscriptions WHERE stripe_subscription_id = '%s'",
				  p.subscription);
	json_object_object_add(sub, "cancel_at_period_end", json_object_new_boolean(1));
	char id[64];
	json_object *ev = make_event("customer.subscription.updated", sub, last + 1, id, sizeof(id));
	char *body = strdup(event_text(ev));
	enum { N = 8 };
	struct dup_post d[N];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		d[i] = (struct dup_post){.body = body};
		ck_assert_int_eq(pthread_create(&th[i], NULL, post_dup, &d[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	int fresh = 0;
	for (int i = 0; i < N; i++) {
		ck_assert_msg(d[i].status == 200, "parallel delivery %d: %ld", i, d[i].status);
		fresh += d[i].duplicate == 0;
	}
	ck_assert_int_eq(fresh, 1);
	ck_assert_str_eq(it_sql("SELECT count(*) || ' ' || attempts || ' ' || (processed_at IS NOT NULL) FROM stripe_events"
				" WHERE id = '%s' GROUP BY attempts, processed_at", id),
			 "1 1 true");
	struct it_resp *r = get_sub(&p.u);
	ck_assert(json_bool_at(r, "cancel_at_period_end"));
	expect_str(r, "plan", "pro");
	it_free(r);
	free(body);
	json_object_put(ev);
}
END_TEST

START_TEST(first_delivery_in_reverse_order)
{
	/* Stripe may deliver in any order: the checkout's events arrive newest first. */
	struct paid p;
	memset(&p, 0, sizeof(p));
	it_register(&p.u, "bill-rev");
	json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": false}"));
	checkout_ok(&p.u, "pro", "month", p.session, sizeof(p.session));
	complete_session(&p, false);
	expect_sub(&p.u, "free", "none");
	for (int i = p.nevents - 1; i >= 0; i--) {
		json_object *ev = standin_event(p.events[i]);
		post_event_expect(ev, false);
		json_object_put(ev);
	}
	json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": true}"));
	expect_sub(&p.u, "pro", "active");
	json_object *inv = find_invoice(&p.u, p.invoice);
	ck_assert_msg(inv != NULL, "invoice %s missing", p.invoice);
	ck_assert_int_eq(json_object_get_int64(jget(inv, "amount_paid")), 1900);
	json_object_put(inv);
	for (int i = 0; i < p.nevents; i++)
		ck_assert_str_eq(it_sql("SELECT (processed_at IS NOT NULL) || ' ' || attempts FROM stripe_events WHERE id = '%s'",
					p.events[i]),
				 "true 1");
	json_object *k = wait_key(p.u.id, false);
	json_object_put(k);
	/* let the stand-in know they were delivered (duplicates now), so nothing stays pending */
	for (int i = 0; i < p.nevents; i++) {
		char *body = xprintf("{\"event\": \"%s\", \"times\": 1}", p.events[i]);
		json_object_put(stripe_ctl_ok("POST", "deliver", body));
		free(body);
	}
	json_object_put(stripe_ctl_ok("POST", "retry_pending", NULL));
}
END_TEST

START_TEST(older_event_never_rolls_back)
{
	struct paid p;
	subscribe(&p, "bill-old");
	char *path = xprintf("/v1/subscriptions/%s", p.subscription);
	long long last = it_sql_long("SELECT last_event_created FROM subscriptions WHERE stripe_subscription_id = '%s'",
				  p.subscription);
	ck_assert_int_gt(last, 0);

	/* older and canceled: stored, acknowledged, changes nothing */
	json_object *sub = stripe_object(path);
	json_object_object_add(sub, "status", json_object_new_string("canceled"));
	json_object_object_add(sub, "canceled_at", json_object_new_int64(last - 100));
	json_object_object_add(sub, "ended_at", json_object_new_int64(last - 100));
	char old_id[64];
	json_object *ev = make_event("customer.subscription.updated", sub, last - 100, old_id, sizeof(old_id));
	char *before = billing_snapshot(p.u.id);
	post_event_expect(ev, false);
	json_object_put(ev);
	ck_assert_int_eq(stored_count(old_id), 1);
	char *after = billing_snapshot(p.u.id);
	ck_assert_msg(!strcmp(before, after), "an older event changed the state:\nbefore %s\nafter  %s", before, after);
	free(before);
	free(after);
	expect_sub(&p.u, "pro", "active");
	expect_me_plan(&p.u, "pro");

	/* equal `created`: observed rule — applied (ties go to the later arrival) */
	sub = stripe_object(path);
	json_object_object_add(sub, "cancel_at_period_end", json_object_new_boolean(1));
	json_object_object_add(sub, "canceled_at", json_object_new_int64(last));
	ev = make_event("customer.subscription.updated", sub, last, NULL, 0);
	post_event_expect(ev, false);
	json_object_put(ev);
	struct it_resp *r = get_sub(&p.u);
	ck_assert_msg(json_bool_at(r, "cancel_at_period_end"), "an event with equal created is applied: %s", r->body);
	expect_str(r, "status", "active");
	it_free(r);

	/* newer and canceled: applied */
	sub = stripe_object(path);
	json_object_object_add(sub, "status", json_object_new_string("canceled"));
	json_object_object_add(sub, "canceled_at", json_object_new_int64(last + 10));
	json_object_object_add(sub, "ended_at", json_object_new_int64(last + 10));
	ev = make_event("customer.subscription.deleted", sub, last + 10, NULL, 0);
	post_event_expect(ev, false);
	json_object_put(ev);
	r = get_sub(&p.u);
	expect_str(r, "status", "canceled");
	expect_str(r, "plan", "free");
	expect_rfc3339(r, "canceled_at");
	it_free(r);

	/* a later-arriving but older "active" does not resurrect it */
	sub = stripe_object(path);
	json_object_object_add(sub, "status", json_object_new_string("active"));
	json_object_object_add(sub, "cancel_at_period_end", json_object_new_boolean(0));
	ev = make_event("customer.subscription.updated", sub, last + 5, NULL, 0);
	post_event_expect(ev, false);
	json_object_put(ev);
	expect_sub(&p.u, "free", "canceled");
	ck_assert_int_eq(it_sql_long("SELECT last_event_created FROM subscriptions WHERE stripe_subscription_id = '%s'",
				  p.subscription),
			 last + 10);
	free(path);
}
END_TEST

/* ------------------------------------------------------------------ payment failure, cancellation */

/* Whether a saved message to addr whose Subject contains needle (case-insensitive) exists. */
static bool mail_to_exists(const char *addr, const char *needle)
{
	const char *dir = getenv("TG_MAIL_DIR");
	ck_assert_msg(dir && *dir, "TG_MAIL_DIR not set");
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".eml"))
			continue;
		char *path = xprintf("%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		free(path);
		if (!f)
			continue;
		char *text = calloc(1, 1 << 16);
		size_t n = fread(text, 1, (1 << 16) - 1, f);
		fclose(f);
		text[n] = '\0';
		char *end = strstr(text, "\r\n\r\n"); /* the header block only */
		if (end)
			*end = '\0';
		bool to = false, subject = false;
		for (char *line = text; line && *line;) {
			char *eol = strstr(line, "\r\n");
			if (eol)
				*eol = '\0';
			if (!strncasecmp(line, "To:", 3) && strcasestr(line, addr))
				to = true;
			if (!strncasecmp(line, "Subject:", 8) && strcasestr(line, needle))
				subject = true;
			line = eol ? eol + 2 : NULL;
		}
		found = to && subject;
		free(text);
	}
	closedir(d);
	return found;
}

START_TEST(payment_failed_grace_then_free)
{
	struct paid p;
	subscribe(&p, "bill-pf");
	json_object *k = wait_key(p.u.id, false);
	json_object_put(k);
	char *body = xprintf("{\"subscription\": \"%s\"}", p.subscription);
	json_object *o = stripe_ctl_ok("POST", "payment_failed", body);
	free(body);
	json_object *dl = jget(o, "deliveries");
	for (size_t i = 0; i < json_object_array_length(dl); i++)
		ck_assert_msg(json_object_get_boolean(jget(json_object_array_get_idx(dl, i), "ok")), "delivery failed: %s",
			      json_object_to_json_string(o));
	char open_inv[64];
	copy_to(open_inv, sizeof(open_inv), jstr(o, "invoice"));
	json_object_put(o);

	struct it_resp *r = get_sub(&p.u);
	expect_str(r, "status", "past_due");
	expect_str(r, "plan", "pro"); /* grace period */
	expect_str(r, "subscribed_plan", "pro");
	expect_rfc3339(r, "grace_period_end");
	time_t grace = parse_rfc3339(it_str(r, "grace_period_end"));
	time_t want = time(NULL) + 7 * 86400;
	ck_assert_msg(grace > want - 300 && grace <= want + 5, "grace_period_end about 7 days from now: %s", r->body);
	it_free(r);
	expect_me_plan(&p.u, "pro");

	/* the failed invoice is listed, unpaid */
	json_object *inv = find_invoice(&p.u, open_inv);
	ck_assert_msg(inv != NULL, "the failed invoice %s should be listed", open_inv);
	ck_assert_str_eq(jstr(inv, "status"), "open");
	ck_assert_int_eq(json_object_get_int64(jget(inv, "amount_paid")), 0);
	ck_assert_int_eq(json_object_get_int64(jget(inv, "amount_due")), 1900);
	json_object_put(inv);

	/* two invoices now, one per page */
	r = it_get("/api/billing/invoices?per_page=1&page=2", p.u.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_int_at(r, "total"), 2);
	ck_assert_int_eq(json_int_at(r, "page"), 2);
	ck_assert_int_eq(json_int_at(r, "per_page"), 1);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 1);
	char second[64];
	copy_to(second, sizeof(second), it_str(r, "items.0.id"));
	it_free(r);
	r = it_get("/api/billing/invoices?per_page=1&page=1", p.u.access);
	it_expect(r, 200, NULL);
	ck_assert_msg(it_str(r, "items.0.id") && strcmp(it_str(r, "items.0.id"), second), "pages overlap: %s", r->body);
	it_free(r);
	r = it_get("/api/billing/invoices?per_page=201", p.u.access);
	it_expect(r, 422, "validation_failed");
	it_free(r);

	/* past_due is still a subscription: no second checkout */
	r = checkout_req(&p.u, "pro", "month");
	it_expect(r, 409, "already_subscribed");
	it_free(r);

	/* in-app notification */
	r = it_get("/api/notifications", p.u.access);
	it_expect(r, 200, NULL);
	json_object *items = it_at(r, "items");
	int n = 0;
	for (size_t i = 0; items && i < json_object_array_length(items); i++)
		n += jstr(json_object_array_get_idx(items, i), "kind") &&
		     !strcmp(jstr(json_object_array_get_idx(items, i), "kind"), "payment_failed");
	ck_assert_msg(n == 1, "one payment_failed notification expected: %s", r->body);
	it_free(r);

	/* the email, through the outbox to the SMTP server */
	int64_t deadline = now_ms() + MAIL_WAIT_MS;
	while (!mail_to_exists(p.u.email, "payment failed") && now_ms() < deadline)
		it_sleep_ms(200);
	ck_assert_msg(mail_to_exists(p.u.email, "payment failed"), "no payment_failed email to %s in %s within %d ms",
		      p.u.email, getenv("TG_MAIL_DIR"), MAIL_WAIT_MS);

	/* still inside the grace period after 6 days */
	it_sql("UPDATE subscriptions SET past_due_since = now() - interval '6 days', grace_until = now() + interval '1 day' WHERE user_id = '%s'", p.u.id);
	expect_sub(&p.u, "pro", "past_due");
	/* past it: free */
	it_sql("UPDATE subscriptions SET past_due_since = now() - interval '8 days', grace_until = now() - interval '1 day' WHERE user_id = '%s'", p.u.id);
	r = get_sub(&p.u);
	expect_str(r, "plan", "free");
	expect_str(r, "status", "past_due");
	expect_str(r, "subscribed_plan", "pro");
	it_free(r);
	expect_me_plan(&p.u, "free");

	/* the card works again: Stripe collects the open invoice, the subscription is active */
	body = xprintf("{\"subscription\": \"%s\"}", p.subscription);
	json_object_put(stripe_ctl_ok("POST", "renew", body));
	free(body);
	r = get_sub(&p.u);
	expect_str(r, "status", "active");
	expect_str(r, "plan", "pro");
	ck_assert_msg(it_at(r, "grace_period_end") == NULL, "no grace_period_end when active: %s", r->body);
	it_free(r);
	inv = find_invoice(&p.u, open_inv);
	ck_assert_str_eq(jstr(inv, "status"), "paid");
	ck_assert_int_eq(json_object_get_int64(jget(inv, "amount_paid")), 1900);
	json_object_put(inv);
	ck_assert_str_eq(it_sql("SELECT past_due_since IS NULL FROM subscriptions WHERE user_id = '%s'", p.u.id), "t");
}
END_TEST

START_TEST(cancel_blocks_key)
{
	struct paid p;
	subscribe(&p, "bill-cancel");
	json_object *k = wait_key(p.u.id, false);
	json_object_put(k);
	char *body = xprintf("{\"subscription\": \"%s\"}", p.subscription);
	json_object_put(stripe_ctl_ok("POST", "cancel", body));
	free(body);
	wait_sub_status(&p.u, "canceled");
	struct it_resp *r = get_sub(&p.u);
	expect_str(r, "status", "canceled");
	expect_str(r, "plan", "free");
	expect_rfc3339(r, "canceled_at");
	it_free(r);
	expect_me_plan(&p.u, "free");
	k = wait_key(p.u.id, true);
	json_object_put(k);
	/* a canceled subscription is no obstacle to a new checkout */
	char sid[128];
	checkout_ok(&p.u, "pro", "month", sid, sizeof(sid));
}
END_TEST

START_TEST(resubscribe_after_cancel)
{
	/* cancel, then subscribe again (same plan and interval, within the hour): the user must get a
	 * new, open checkout session that can be completed, not the one already paid. */
	struct paid p;
	subscribe(&p, "bill-resub");
	char *body = xprintf("{\"subscription\": \"%s\"}", p.subscription);
	json_object_put(stripe_ctl_ok("POST", "cancel", body));
	free(body);
	wait_sub_status(&p.u, "canceled");
	expect_sub(&p.u, "free", "canceled");

	struct paid again = p;
	checkout_ok(&p.u, "pro", "month", again.session, sizeof(again.session));
	ck_assert_msg(strcmp(again.session, p.session) != 0,
		      "checkout after a cancellation returned the completed session %s again", p.session);
	json_object *s = stripe_object(xprintf("/v1/checkout/sessions/%s", again.session));
	ck_assert_msg(jstr(s, "status") && !strcmp(jstr(s, "status"), "open"), "the new session must be open: %s",
		      jstr(s, "status"));
	json_object_put(s);
	complete_session(&again, true);
	expect_sub(&p.u, "pro", "active");
	json_object *k = wait_key(p.u.id, false);
	json_object_put(k);
}
END_TEST

START_TEST(plan_change_updates_key)
{
	struct paid p;
	subscribe(&p, "bill-upgrade");
	json_object *k0 = wait_key(p.u.id, false);
	char token[128];
	copy_to(token, sizeof(token), jstr(k0, "token"));
	json_object_put(k0);
	/* the customer upgrades in the portal: Stripe changes the subscription's price */
	json_object *sub = stripe_object(xprintf("/v1/subscriptions/%s", p.subscription));
	const char *si = jstr(json_object_array_get_idx(jget(jget(sub, "items"), "data"), 0), "id");
	ck_assert_ptr_nonnull(si);
	char *form = xprintf("items[0][id]=%s&items[0][price]=price_ent_month&proration_behavior=always_invoice", si);
	struct it_resp *r = stripe_api("POST", xprintf("/v1/subscriptions/%s", p.subscription), form);
	ck_assert_msg(r->status == 200, "subscription update at the stand-in: %ld %.300s", r->status, r->body);
	it_free(r);
	free(form);
	json_object_put(sub);
	stripe_drain();
	int64_t deadline = now_ms() + EVENT_WAIT_MS;
	for (;;) {
		r = get_sub(&p.u);
		bool done = it_str(r, "plan") && !strcmp(it_str(r, "plan"), "enterprise");
		if (done || now_ms() > deadline) {
			expect_str(r, "plan", "enterprise");
			expect_str(r, "subscribed_plan", "enterprise");
			expect_str(r, "status", "active");
			it_free(r);
			break;
		}
		it_free(r);
		it_sleep_ms(200);
	}
	expect_me_plan(&p.u, "enterprise");
	/* the same key, now with the enterprise parameters */
	deadline = now_ms() + KEY_WAIT_MS;
	json_object *k;
	for (;;) {
		k = litellm_key(p.u.id, NULL);
		if (k && json_object_get_int64(jget(k, "tpm_limit")) == 1000000)
			break;
		ck_assert_msg(now_ms() < deadline, "the key was not updated to the enterprise limits: %s",
			      k ? json_object_to_json_string(k) : "none");
		json_object_put(k);
		it_sleep_ms(200);
	}
	ck_assert_str_eq(jstr(k, "token"), token);
	ck_assert_int_eq(json_object_get_int64(jget(k, "rpm_limit")), 600);
	ck_assert_int_eq(json_object_array_length(jget(k, "models")), 4);
	ck_assert(!json_object_get_boolean(jget(k, "blocked")));
	json_object_put(k);
	/* the proration invoice is listed too */
	r = it_get("/api/billing/invoices", p.u.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_int_at(r, "total"), 2);
	it_free(r);
}
END_TEST

START_TEST(litellm_down_billing_still_works)
{
	struct it_resp *r = litellm_ctl("POST", "down", "{\"down\": true}");
	ck_assert_int_eq(r->status, 200);
	it_free(r);
	struct paid p;
	subscribe(&p, "bill-lldown");
	expect_sub(&p.u, "pro", "active");
	expect_me_plan(&p.u, "pro");
	it_sleep_ms(1500); /* the jobs worker has tried the key at least once */
	ck_assert_msg(litellm_key(p.u.id, NULL) == NULL, "no key can exist while LiteLLM is down");

	/* the key work waiting for LiteLLM must not hold up the other background jobs */
	struct it_user v;
	it_register(&v, "bill-lldown-other");
	char *body = xprintf("{\"email\":\"%s\"}", v.email);
	r = it_post("/api/auth/forgot-password", NULL, body);
	free(body);
	it_expect(r, 202, NULL);
	it_free(r);
	int64_t deadline = now_ms() + MAIL_WAIT_MS;
	bool mailed;
	while (!(mailed = mail_to_exists(v.email, "Reset your")) && now_ms() < deadline)
		it_sleep_ms(250);

	/* LiteLLM back: the key is made */
	r = litellm_ctl("POST", "down", "{\"down\": false}");
	ck_assert_int_eq(r->status, 200);
	it_free(r);
	json_object *k = wait_key(p.u.id, false);
	ck_assert_int_eq(json_object_get_int64(jget(k, "tpm_limit")), 100000);
	json_object_put(k);
	ck_assert_msg(mailed, "while LiteLLM was down, a password-reset email to %s did not arrive within %d ms:"
			      " the pending LiteLLM key job blocks the jobs queue",
		      v.email, MAIL_WAIT_MS);
}
END_TEST

/* ------------------------------------------------------------------ refunds */

static void refund(const char *charge, long long amount)
{
	char *form = amount > 0 ? xprintf("charge=%s&amount=%lld", charge, amount) : xprintf("charge=%s", charge);
	struct it_resp *r = stripe_api("POST", "/v1/refunds", form);
	free(form);
	ck_assert_msg(r->status == 200, "POST /v1/refunds: %ld %.300s", r->status, r->body);
	it_free(r);
	stripe_drain(); /* charge.refunded is delivered in the background */
}

static void wait_refunded(const struct it_user *u, const char *inv, long long want)
{
	int64_t deadline = now_ms() + EVENT_WAIT_MS;
	long long v;
	while ((v = invoice_refunded(u, inv)) != want && now_ms() < deadline)
		it_sleep_ms(200);
	ck_assert_msg(v == want, "invoice %s: amount_refunded %lld expected, got %lld", inv, want, v);
}

START_TEST(refund_updates_invoice)
{
	struct paid p;
	subscribe(&p, "bill-refund");
	ck_assert_msg(p.charge[0], "the checkout made no charge");
	refund(p.charge, 500);
	wait_refunded(&p.u, p.invoice, 500);
	json_object *inv = find_invoice(&p.u, p.invoice);
	ck_assert_int_eq(json_object_get_int64(jget(inv, "amount_paid")), 1900);
	json_object_put(inv);
	refund(p.charge, 0); /* the rest */
	wait_refunded(&p.u, p.invoice, 1900);
	/* every charge.refunded event for this charge was applied */
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM stripe_events WHERE type = 'charge.refunded' AND"
				  " payload->'data'->'object'->>'id' = '%s' AND processed_at IS NOT NULL",
				  p.charge),
			 2);
}
END_TEST

/* ------------------------------------------------------------------ signatures */

START_TEST(bad_signatures_store_nothing)
{
	json_object *obj = json_tokener_parse("{\"id\": \"x_sig\", \"object\": \"thing\"}");
	char id[64];
	json_object *ev = make_event("tollgate.test.signature", obj, (long long)time(NULL), id, sizeof(id));
	char *body = strdup(event_text(ev));
	const char *secret = webhook_secret();
	char hex[65], sig[512];
	long long now = (long long)time(NULL);

	/* missing header */
	struct it_resp *r = post_webhook(body, NULL);
	it_expect(r, 400, "invalid_signature");
	it_free(r);

	/* wrong secret */
	hmac_hex("whsec_not_the_right_one", now, body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", now, hex);
	r = post_webhook(body, sig);
	it_expect(r, 400, "invalid_signature");
	it_free(r);

	/* tampered body (signature over the original) */
	hmac_hex(secret, now, body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", now, hex);
	char *tampered = strdup(body);
	char *t = strstr(tampered, "tollgate.test.signature");
	ck_assert_ptr_nonnull(t);
	t[0] = 'T';
	r = post_webhook(tampered, sig);
	it_expect(r, 400, "invalid_signature");
	it_free(r);
	free(tampered);

	/* signed timestamp altered (signature for another t) */
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", now - 1, hex);
	r = post_webhook(body, sig);
	it_expect(r, 400, "invalid_signature");
	it_free(r);

	/* 301 s in the past; 302 s in the future (one more second: the request may cross a second
	 * boundary before the server reads its clock) */
	long long olds[] = {(long long)time(NULL) - 301, (long long)time(NULL) + 302, (long long)time(NULL) - 3600};
	for (int i = 0; i < 3; i++) {
		hmac_hex(secret, olds[i], body, strlen(body), hex);
		snprintf(sig, sizeof(sig), "t=%lld,v1=%s", olds[i], hex);
		r = post_webhook(body, sig);
		it_expect(r, 400, "invalid_signature");
		it_free(r);
	}

	/* malformed headers */
	hmac_hex(secret, now, body, strlen(body), hex);
	char *malformed[] = {
		xprintf("v1=%s", hex),                /* no t */
		xprintf("t=%lld", now),               /* no v1 */
		xprintf("t=%lld,v0=%s", now, hex),    /* another scheme only */
		xprintf("t=abc,v1=%s", hex),          /* t not a number */
		xprintf("t=%lld,v1=%.63s", now, hex), /* truncated */
		xprintf("garbage"),
		xprintf("%s", ""),
	};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		r = post_webhook(body, malformed[i]);
		ck_assert_msg(r->status == 400 && it_code(r) && !strcmp(it_code(r), "invalid_signature"),
			      "header '%s': 400 invalid_signature expected, got %ld %s", malformed[i], r->status, r->body);
		it_free(r);
		free(malformed[i]);
	}
	ck_assert_int_eq(stored_count(id), 0);

	/* correctly signed but not JSON */
	const char *junk = "this is not an event";
	hmac_hex(secret, now, junk, strlen(junk), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", now, hex);
	r = post_webhook(junk, sig);
	it_expect(r, 400, NULL);
	it_free(r);

	/* the same body correctly signed is accepted: with extra v1 values and another scheme around it */
	now = (long long)time(NULL);
	hmac_hex(secret, now, body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%064d,v0=abc,v1=%s", now, 0, hex);
	r = post_webhook(body, sig);
	it_expect(r, 200, NULL);
	it_free(r);
	ck_assert_int_eq(stored_count(id), 1);

	/* within the tolerance (290 s old, 290 s ahead) is accepted */
	for (int i = 0; i < 2; i++) {
		char id2[64];
		json_object *ev2 = make_event("tollgate.test.signature", json_tokener_parse("{\"id\": \"x\"}"),
					      (long long)time(NULL), id2, sizeof(id2));
		const char *b2 = event_text(ev2);
		long long ts = (long long)time(NULL) + (i ? 290 : -290);
		hmac_hex(secret, ts, b2, strlen(b2), hex);
		snprintf(sig, sizeof(sig), "t=%lld,v1=%s", ts, hex);
		r = post_webhook(b2, sig);
		it_expect(r, 200, NULL);
		it_free(r);
		ck_assert_int_eq(stored_count(id2), 1);
		json_object_put(ev2);
	}
	free(body);
	json_object_put(ev);
}
END_TEST

START_TEST(unknown_event_type_stored)
{
	json_object *obj = json_tokener_parse("{\"id\": \"prod_itest\", \"object\": \"product\", \"name\": \"X\"}");
	char id[64];
	json_object *ev = make_event("product.updated", obj, (long long)time(NULL), id, sizeof(id));
	post_event_expect(ev, false);
	ck_assert_str_eq(it_sql("SELECT type || ' ' || (processed_at IS NOT NULL) || ' ' || attempts || ' ' ||"
				" (last_error IS NULL) FROM stripe_events WHERE id = '%s'",
				id),
			 "product.updated true 1 true");
	post_event_expect(ev, true);
	json_object_put(ev);
}
END_TEST

START_TEST(unknown_customer_applied_later)
{
	struct it_user u;
	it_register(&u, "bill-ghost");
	char tok[17];
	rand_token(tok, 16);
	long long now = (long long)time(NULL);
	char *obj_text = xprintf(
		"{\"id\": \"sub_ghost%s\", \"object\": \"subscription\", \"customer\": \"cus_ghost%s\","
		" \"status\": \"active\", \"cancel_at_period_end\": false, \"canceled_at\": null, \"ended_at\": null,"
		" \"current_period_start\": %lld, \"current_period_end\": %lld, \"metadata\": {}, \"created\": %lld,"
		" \"items\": {\"object\": \"list\", \"data\": [{\"id\": \"si_ghost%s\", \"object\": \"subscription_item\","
		" \"quantity\": 1, \"price\": {\"id\": \"price_pro_month\", \"object\": \"price\", \"currency\": \"usd\","
		" \"unit_amount\": 1900, \"recurring\": {\"interval\": \"month\", \"interval_count\": 1}}}]}}",
		tok, tok, now, now + 30 * 86400, now, tok);
	json_object *obj = json_tokener_parse(obj_text);
	free(obj_text);
	ck_assert_ptr_nonnull(obj);
	char id[64];
	json_object *ev = make_event("customer.subscription.created", obj, now, id, sizeof(id));
	post_event_expect(ev, false);
	ck_assert_str_eq(it_sql("SELECT (processed_at IS NULL) || ' ' || (last_error IS NOT NULL AND last_error <> '')"
				" || ' ' || attempts || ' ' || (next_attempt_at > now()) FROM stripe_events WHERE id = '%s'",
				id),
			 "true true 1 true");
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM subscriptions WHERE stripe_subscription_id = 'sub_ghost%s'", tok), 0);
	/* a duplicate of a stored-but-unapplied event is still a duplicate */
	post_event_expect(ev, true);
	json_object_put(ev);

	/* link the customer to our user, make the retry due now: the jobs worker applies it */
	it_sql("INSERT INTO stripe_customers (user_id, stripe_customer_id) VALUES ('%s', 'cus_ghost%s')", u.id, tok);
	it_sql("UPDATE stripe_events SET next_attempt_at = now() WHERE id = '%s' AND processed_at IS NULL", id);
	int64_t deadline = now_ms() + EVENT_WAIT_MS;
	while (strcmp(it_sql("SELECT processed_at IS NOT NULL FROM stripe_events WHERE id = '%s'", id), "t") &&
	       now_ms() < deadline)
		it_sleep_ms(200);
	ck_assert_str_eq(it_sql("SELECT (processed_at IS NOT NULL) || ' ' || coalesce(last_error, '-') || ' ' || attempts"
				" FROM stripe_events WHERE id = '%s'",
				id),
			 "true - 2");
	struct it_resp *r = get_sub(&u);
	expect_str(r, "plan", "pro");
	expect_str(r, "status", "active");
	expect_str(r, "interval", "month");
	it_free(r);
	json_object *k = wait_key(u.id, false);
	json_object_put(k);
}
END_TEST

/* ------------------------------------------------------------------ replay */

START_TEST(replay_undelivered)
{
	struct paid p;
	memset(&p, 0, sizeof(p));
	it_register(&p.u, "bill-replay");
	json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": false}"));
	checkout_ok(&p.u, "pro", "month", p.session, sizeof(p.session));
	complete_session(&p, false);
	stripe_drain();
	expect_sub(&p.u, "free", "none");
	for (int i = 0; i < p.nevents; i++)
		ck_assert_int_eq(stored_count(p.events[i]), 0);

	const char *out = it_sh_out("'%s' --config '%s' stripe replay --since 72h 2>&1; echo \"exit=$?\"", it_tollgate_bin(),
				    env_need("TG_CONFIG"));
	char *copy = strdup(out);
	ck_assert_msg(strstr(copy, "exit=0"), "stripe replay should exit 0:\n%s", copy);
	for (int i = 0; i < p.nevents; i++)
		ck_assert_msg(strstr(copy, p.events[i]), "replay did not mention %s:\n%s", p.events[i], copy);
	ck_assert_msg(!strstr(copy, env_need("TG_STRIPE_SECRET_KEY")), "replay printed the secret key");
	free(copy);

	struct it_resp *r = get_sub(&p.u);
	expect_str(r, "plan", "pro");
	expect_str(r, "status", "active");
	it_free(r);
	ck_assert_msg(find_invoice(&p.u, p.invoice) != NULL, "the invoice came with the replay");
	for (int i = 0; i < p.nevents; i++)
		ck_assert_str_eq(it_sql("SELECT (processed_at IS NOT NULL) || ' ' || attempts FROM stripe_events WHERE id = '%s'",
					p.events[i]),
				 "true 1");

	/* a second replay finds them applied */
	out = it_sh_out("'%s' --config '%s' stripe replay --since 72h 2>&1; echo \"exit=$?\"", it_tollgate_bin(),
			env_need("TG_CONFIG"));
	ck_assert_msg(strstr(out, "exit=0"), "second replay should exit 0:\n%s", out);

	/* delivery back on: the stand-in delivers what it still holds (duplicates for Tollgate) */
	json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": true}"));
	json_object_put(stripe_ctl_ok("POST", "retry_pending", NULL));
	expect_sub(&p.u, "pro", "active");

	/* bad arguments */
	ck_assert_int_eq(it_sh("'%s' --config '%s' stripe replay --since forever >/dev/null 2>&1", it_tollgate_bin(),
			       env_need("TG_CONFIG")),
			 2);
}
END_TEST

START_TEST(replay_same_second_keeps_latest_state)
{
	/* While webhooks are down a subscription starts and is canceled within the same second. Stripe
	 * lists events newest first; the replay must end in Stripe's state (canceled). */
	struct paid p;
	bool tie = false;
	for (int attempt = 0; attempt < 4 && !tie; attempt++) {
		memset(&p, 0, sizeof(p));
		it_register(&p.u, "bill-replay2");
		json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": false}"));
		checkout_ok(&p.u, "pro", "month", p.session, sizeof(p.session));
		complete_session(&p, false);
		char *body = xprintf("{\"subscription\": \"%s\"}", p.subscription);
		json_object *o = stripe_ctl_ok("POST", "cancel", body);
		free(body);
		json_object *created = standin_event(p.events[1]); /* customer.subscription.created */
		json_object *deleted = standin_event(json_object_get_string(json_object_array_get_idx(jget(o, "events"), 0)));
		ck_assert_str_eq(jstr(created, "type"), "customer.subscription.created");
		ck_assert_str_eq(jstr(deleted, "type"), "customer.subscription.deleted");
		tie = json_object_get_int64(jget(created, "created")) == json_object_get_int64(jget(deleted, "created"));
		json_object_put(created);
		json_object_put(deleted);
		json_object_put(o);
		if (!tie) { /* crossed a second boundary: deliver these and try again */
			json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": true}"));
			json_object_put(stripe_ctl_ok("POST", "retry_pending", NULL));
		}
	}
	ck_assert_msg(tie, "could not make two events in the same second");
	const char *out = it_sh_out("'%s' --config '%s' stripe replay --since 72h 2>&1; echo \"exit=$?\"", it_tollgate_bin(),
				    env_need("TG_CONFIG"));
	char *copy = strdup(out);
	json_object_put(stripe_ctl_ok("POST", "webhook", "{\"enabled\": true}"));
	json_object_put(stripe_ctl_ok("POST", "retry_pending", NULL));
	ck_assert_msg(strstr(copy, "exit=0"), "stripe replay should exit 0:\n%s", copy);
	json_object *sub = stripe_object(xprintf("/v1/subscriptions/%s", p.subscription));
	ck_assert_str_eq(jstr(sub, "status"), "canceled");
	json_object_put(sub);
	struct it_resp *r = get_sub(&p.u);
	ck_assert_msg(it_str(r, "status") && !strcmp(it_str(r, "status"), "canceled") && !strcmp(it_str(r, "plan"), "free"),
		      "after the replay the subscription should be canceled (as at Stripe), got %s\nreplay output:\n%s",
		      r->body, copy);
	it_free(r);
	free(copy);
}
END_TEST

/* ------------------------------------------------------------------ account deletion */

START_TEST(delete_account_cancels_and_deletes_key)
{
	struct paid p;
	subscribe(&p, "bill-del");
	json_object *k = wait_key(p.u.id, false);
	json_object_put(k);
	char *body = xprintf("{\"password\":\"%s\"}", p.u.password);
	struct it_resp *r = it_post("/api/profile/delete-account", p.u.access, body);
	free(body);
	it_expect(r, 204, NULL);
	it_free(r);

	json_object *sub = stripe_object(xprintf("/v1/subscriptions/%s", p.subscription));
	ck_assert_msg(jstr(sub, "status") && !strcmp(jstr(sub, "status"), "canceled"),
		      "the Stripe subscription must be canceled at once, is %s", jstr(sub, "status"));
	json_object_put(sub);

	int64_t deadline = now_ms() + KEY_WAIT_MS;
	bool deleted = false;
	for (;;) {
		k = litellm_key(p.u.id, &deleted);
		if (!k && deleted)
			break;
		json_object_put(k);
		ck_assert_msg(now_ms() < deadline, "the LiteLLM key of the deleted user still exists after %d ms", KEY_WAIT_MS);
		it_sleep_ms(200);
	}
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM litellm_keys WHERE user_id = '%s'", p.u.id), 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM subscriptions WHERE user_id = '%s'", p.u.id), 0);
	stripe_drain();
}
END_TEST

/* ------------------------------------------------------------------ hygiene of every Stripe call */

START_TEST(stripe_requests_well_formed)
{
	json_object *reqs = stripe_requests("/v1/");
	int posts = 0;
	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		json_object *q = json_object_array_get_idx(reqs, i);
		const char *m = jstr(q, "method"), *path = jstr(q, "path");
		ck_assert_msg(json_object_get_boolean(jget(q, "authorization")), "%s %s without Authorization", m, path);
		ck_assert_msg(jstr(q, "stripe_version") && !strcmp(jstr(q, "stripe_version"), STRIPE_VERSION),
			      "%s %s: Stripe-Version %s", m, path, jstr(q, "stripe_version"));
		if (!strcmp(m, "POST")) {
			posts++;
			ck_assert_msg(jstr(q, "idempotency_key") && *jstr(q, "idempotency_key"), "POST %s without Idempotency-Key",
				      path);
		}
	}
	ck_assert_int_gt(posts, 0);
	json_object_put(reqs);
	/* the keys never reach the log */
	const char *log = getenv("TG_LOG_FILE");
	if (log && *log) {
		ck_assert_int_ne(it_sh("grep -qF -- \"$TG_STRIPE_SECRET_KEY\" '%s'", log), 0);
		ck_assert_int_ne(it_sh("grep -qF -- \"$TG_LITELLM_MASTER_KEY\" '%s'", log), 0);
		ck_assert_int_ne(it_sh("grep -qF -- \"$TG_STRIPE_WEBHOOK_SECRET\" '%s'", log), 0);
	}
}
END_TEST

/* ------------------------------------------------------------------ rotation of the webhook secret */

static char conf_backup[1100];

static void rotation_setup(void)
{
	const char *conf = getenv("TG_CONFIG");
	conf_backup[0] = '\0';
	if (conf && *conf) {
		snprintf(conf_backup, sizeof(conf_backup), "%s.itb-rotation", conf);
		char *cmd = xprintf("cp -p '%s' '%s'", conf, conf_backup);
		if (system(cmd) != 0)
			conf_backup[0] = '\0';
		free(cmd);
	}
	fixture_normal();
}

static void reload_tollgate(void)
{
	char *cmd = xprintf("scripts/stack reload '%s' >/dev/null 2>&1", it_stack_dir());
	if (system(cmd) != 0)
		fprintf(stderr, "test_billing: scripts/stack reload failed\n");
	free(cmd);
}

static void rotation_teardown(void)
{
	const char *conf = getenv("TG_CONFIG");
	if (conf_backup[0] && conf && access(conf_backup, F_OK) == 0) {
		char *cmd = xprintf("cmp -s '%s' '%s' || { cp -p '%s' '%s' && scripts/stack reload '%s' >/dev/null 2>&1; };"
				    " rm -f '%s'",
				    conf, conf_backup, conf_backup, conf, it_stack_dir(), conf_backup);
		if (system(cmd) != 0)
			fprintf(stderr, "test_billing: could not restore %s\n", conf);
		free(cmd);
		it_sleep_ms(1000);
	}
	standins_normal();
}

/* Posts a fresh event signed with secret; returns the status. */
static long post_fresh_signed_with(const char *secret)
{
	json_object *ev = make_event("tollgate.test.rotation", json_tokener_parse("{\"id\": \"x\"}"), (long long)time(NULL),
				     NULL, 0);
	const char *body = event_text(ev);
	char hex[65], sig[160];
	long long t = (long long)time(NULL);
	hmac_hex(secret, t, body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", t, hex);
	struct it_resp *r = post_webhook(body, sig);
	long st = r->status;
	it_free(r);
	json_object_put(ev);
	return st;
}

static void wait_status_with(const char *secret, long want)
{
	int64_t deadline = now_ms() + 15000;
	long st;
	while ((st = post_fresh_signed_with(secret)) != want && now_ms() < deadline)
		it_sleep_ms(250);
	ck_assert_msg(st == want, "an event signed with the %s secret: %ld expected, got %ld",
		      strcmp(secret, webhook_secret()) ? "rotated" : "current", want, st);
}

START_TEST(webhook_secret_rotation)
{
	const char *conf = env_need("TG_CONFIG");
	char tok[33], newsecret[64];
	rand_token(tok, 32);
	snprintf(newsecret, sizeof(newsecret), "whsec_rot%s", tok);
	char *file = xprintf("%s/secrets/itb_rotation_secrets", it_stack_dir());
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s %s\n", webhook_secret(), newsecret);
	fclose(f);
	chmod(file, 0600);
	ck_assert_int_eq(post_fresh_signed_with(newsecret), 400);
	f = fopen(conf, "a");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "stripe_webhook_secrets_file = %s\n", file);
	fclose(f);
	reload_tollgate();
	wait_status_with(newsecret, 200);
	ck_assert_int_eq(post_fresh_signed_with(webhook_secret()), 200);
	/* one v1 per secret, as Stripe sends during a rotation */
	json_object *ev = make_event("tollgate.test.rotation", json_tokener_parse("{\"id\": \"y\"}"), (long long)time(NULL),
				     NULL, 0);
	const char *body = event_text(ev);
	char h1[65], h2[65], sig[256];
	long long t = (long long)time(NULL);
	hmac_hex(webhook_secret(), t, body, strlen(body), h1);
	hmac_hex(newsecret, t, body, strlen(body), h2);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s,v1=%s", t, h2, h1);
	struct it_resp *r = post_webhook(body, sig);
	it_expect(r, 200, NULL);
	it_free(r);
	json_object_put(ev);

	/* back to one secret: the rotated one is refused again */
	char *cmd = xprintf("cp -p '%s' '%s'", conf_backup, conf);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	reload_tollgate();
	wait_status_with(newsecret, 400);
	ck_assert_int_eq(post_fresh_signed_with(webhook_secret()), 200);
	unlink(file);
	free(file);
}
END_TEST

/* ------------------------------------------------------------------ Stripe not configured */

static char nostripe_dir[256];

static void nostripe_setup(void)
{
	snprintf(nostripe_dir, sizeof(nostripe_dir), "/tmp/itb-nostripe.%d", (int)getpid());
	fixture_normal();
}

static void nostripe_teardown(void)
{
	if (nostripe_dir[0] && access(nostripe_dir, F_OK) == 0) {
		char *cmd = xprintf("scripts/stack destroy '%s' >/dev/null 2>&1", nostripe_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "test_billing: could not destroy %s\n", nostripe_dir);
		free(cmd);
	}
	char log[300];
	snprintf(log, sizeof(log), "%s.log", nostripe_dir);
	unlink(log);
}

START_TEST(billing_unavailable_without_stripe)
{
	/* A second, throwaway stack with no stand-ins: tollgate runs without Stripe and LiteLLM. */
	int64_t t0 = now_ms();
	int rc = it_sh("env -u TG_STRIPE_URL -u TG_LITELLM_URL -u TG_HTTPS_PORT -u TG_HTTP_PORT TG_STANDINS=0"
		       " TOLLGATE_BIN='%s' scripts/stack start '%s' >'%s.log' 2>&1",
		       it_tollgate_bin(), nostripe_dir, nostripe_dir);
	ck_assert_msg(rc == 0, "second stack did not start:\n%s", it_sh_out("tail -n 30 '%s.log'", nostripe_dir));
	const char *url = it_sh_out(". '%s/stack.env' && printf %%s \"$TG_URL\"", nostripe_dir);
	ck_assert_msg(!strncmp(url, "https://", 8), "no TG_URL in the second stack: %s", url);
	setenv("TG_URL", url, 1); /* this forked test only */
	ck_assert_int_ne(it_sh("grep -q '^stripe_secret_key' '%s/tollgate.conf'", nostripe_dir), 0);

	struct it_user u;
	it_register(&u, "bill-nostripe");
	struct it_resp *r = checkout_req(&u, "pro", "month");
	it_expect(r, 503, "billing_unavailable");
	it_free(r);
	r = it_post("/api/billing/portal", u.access, NULL);
	it_expect(r, 503, "billing_unavailable");
	it_free(r);
	/* body errors still come first */
	r = checkout_req(&u, "free", "month");
	it_expect(r, 422, "validation_failed");
	it_free(r);
	/* what needs no Stripe still works */
	r = it_get("/api/billing/plans", NULL);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 3);
	it_free(r);
	expect_sub(&u, "free", "none");
	r = it_get("/api/billing/invoices", u.access);
	it_expect(r, 200, NULL);
	it_free(r);
	/* a webhook with nothing to verify it against is not accepted */
	r = post_webhook("{\"id\": \"evt_x\", \"type\": \"x\", \"created\": 1}", "t=1,v1=00");
	ck_assert_msg(r->status == 503 || r->status == 400, "webhook without secrets: %ld %s", r->status, r->body);
	it_free(r);
	fprintf(stderr, "billing_unavailable_without_stripe: second stack took %lld ms\n", (long long)(now_ms() - t0));
}
END_TEST

/* ------------------------------------------------------------------ suite */

static TCase *tcase(Suite *s, const char *name, int timeout)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, timeout);
	tcase_add_unchecked_fixture(tc, fixture_normal, standins_normal);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *suite(void)
{
	Suite *s = suite_create("billing");
	TCase *tc = tcase(s, "plans", 30);
	tcase_add_test(tc, plans_public);

	tc = tcase(s, "checkout", 60);
	tcase_add_test(tc, full_path);
	tcase_add_test(tc, checkout_validation);
	tcase_add_test(tc, second_checkout_expires_the_first);
	tcase_add_test(tc, portal_needs_customer);
	tcase_add_test(tc, one_customer_parallel_checkouts);
	tcase_add_test(tc, one_customer_parallel_checkouts_contended);

	tc = tcase(s, "stripe_failures", 60);
	tcase_add_test(tc, stripe_500_retried);
	tc = tcase(s, "stripe_lost_response", 60);
	tcase_add_test(tc, stripe_lost_response_one_customer);
	tc = tcase(s, "stripe_down", 60);
	tcase_add_test(tc, stripe_down_503);
	tc = tcase(s, "stripe_429", 60);
	tcase_add_test(tc, stripe_429_retried);
	tc = tcase(s, "stripe_down_delete", 60);
	tcase_add_test(tc, delete_account_while_stripe_down);

	tc = tcase(s, "events", 60);
	tcase_add_test(tc, duplicates_and_shuffled);
	tcase_add_test(tc, parallel_same_event_applied_once);
	tcase_add_test(tc, older_event_never_rolls_back);
	tcase_add_test(tc, bad_signatures_store_nothing);
	tcase_add_test(tc, unknown_event_type_stored);
	tcase_add_test(tc, unknown_customer_applied_later);
	tc = tcase(s, "events_reverse", 60);
	tcase_add_test(tc, first_delivery_in_reverse_order);

	tc = tcase(s, "lifecycle", 60);
	tcase_add_test(tc, payment_failed_grace_then_free);
	tcase_add_test(tc, cancel_blocks_key);
	tcase_add_test(tc, resubscribe_after_cancel);
	tcase_add_test(tc, refund_updates_invoice);
	tcase_add_test(tc, plan_change_updates_key);
	tcase_add_test(tc, delete_account_cancels_and_deletes_key);

	tc = tcase(s, "replay", 60);
	tcase_add_test(tc, replay_undelivered);
	tc = tcase(s, "replay_order", 60);
	tcase_add_test(tc, replay_same_second_keeps_latest_state);

	tc = tcase(s, "litellm_down", 60);
	tcase_add_test(tc, litellm_down_billing_still_works);

	tc = tcase(s, "hygiene", 30);
	tcase_add_test(tc, stripe_requests_well_formed);

	tc = tcase_create("rotation");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, rotation_setup, rotation_teardown);
	tcase_add_test(tc, webhook_secret_rotation);
	suite_add_tcase(s, tc);

	tc = tcase_create("not_configured");
	tcase_set_timeout(tc, 90);
	tcase_add_unchecked_fixture(tc, nostripe_setup, nostripe_teardown);
	tcase_add_test(tc, billing_unavailable_without_stripe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
