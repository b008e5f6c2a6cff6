/* billing_helpers.c — see billing_helpers.h. */
#include "billing_helpers.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers */

const char *env_need(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v && *v, "%s is not set (source the stack's stack.env)", name);
	return v;
}

char *xprintf(const char *fmt, ...)
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
void rand_token(char *out, size_t n)
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

void copy_to(char *dst, size_t cap, const char *src)
{
	ck_assert_msg(src != NULL, "expected a value, got NULL");
	ck_assert_msg(strlen(src) < cap, "value too long: %s", src);
	memcpy(dst, src, strlen(src) + 1);
}

char *sql_text(const char *fmt, ...)
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

bool is_rfc3339(const char *s)
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

time_t parse_rfc3339(const char *s)
{
	struct tm tm = {0};
	ck_assert_msg(is_rfc3339(s), "not RFC 3339 UTC: %s", s ? s : "(null)");
	ck_assert_ptr_nonnull(strptime(s, "%Y-%m-%dT%H:%M:%S", &tm));
	return timegm(&tm);
}

void expect_rfc3339(const struct it_resp *r, const char *path)
{
	const char *v = it_str(r, path);
	ck_assert_msg(is_rfc3339(v), "%s is not an RFC 3339 UTC time: %s", path, r->body);
}

void expect_null(const struct it_resp *r, const char *path)
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

void expect_str(const struct it_resp *r, const char *path, const char *want)
{
	const char *v = it_str(r, path);
	ck_assert_msg(v && !strcmp(v, want), "%s: expected \"%s\", got %s in %.800s", path, want, v ? v : "(none)",
		      r->body);
}

const char *jstr(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

json_object *jget(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* ---- plain HTTP (stand-ins) */

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
struct it_resp *stripe_ctl(const char *method, const char *path, const char *json)
{
	char *url = xprintf("%s/_control/%s", env_need("TG_STRIPE_URL"), path);
	struct it_resp *r = http_do(method, url, json, "application/json", NULL);
	free(url);
	return r;
}

/* As stripe_ctl, asserting 200 JSON; returns a new reference to the body. */
json_object *stripe_ctl_ok(const char *method, const char *path, const char *json)
{
	struct it_resp *r = stripe_ctl(method, path, json);
	ck_assert_msg(r->status == 200 && r->json, "stand-in %s /_control/%s: %ld %.500s", method, path, r->status,
		      r->body);
	json_object *o = json_object_get(r->json);
	it_free(r);
	return o;
}

/* The Stripe API of the stand-in with the secret key, as an SDK would call it. form: urlencoded. */
struct it_resp *stripe_api(const char *method, const char *path, const char *form)
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

struct it_resp *litellm_ctl(const char *method, const char *path, const char *json)
{
	char *url = xprintf("%s/_control/%s", env_need("TG_LITELLM_URL"), path);
	struct it_resp *r = http_do(method, url, json, "application/json", NULL);
	free(url);
	return r;
}

/* Waits until the stand-in's background deliveries (events caused by API requests) are done. */
void stripe_drain(void)
{
	json_object *o = stripe_ctl_ok("POST", "drain", "{\"timeout\": 15}");
	json_object_put(o);
}

/* Resets the failure modes of both stand-ins (never their objects: the stack mirrors them). */
void standins_normal(void)
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

void fixture_normal(void)
{
	/* unchecked fixtures run in the parent, outside any test */
	standins_normal();
}

TCase *billing_tcase(Suite *s, const char *name, int timeout)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, timeout);
	tcase_add_unchecked_fixture(tc, fixture_normal, standins_normal);
	suite_add_tcase(s, tc);
	return tc;
}

/* The stand-in's stored event evt (a new reference). */
json_object *standin_event(const char *evt)
{
	char *path = xprintf("objects/%s", evt);
	json_object *o = stripe_ctl_ok("GET", path, NULL);
	free(path);
	return o;
}

/* The stand-in's object (subscription etc.) through its API with the secret key (a new reference). */
json_object *stripe_object(const char *path)
{
	struct it_resp *r = stripe_api("GET", path, NULL);
	ck_assert_msg(r->status == 200 && r->json, "GET %s: %ld %.300s", path, r->status, r->body);
	json_object *o = json_object_get(r->json);
	it_free(r);
	return o;
}

/* The stand-in's API request log (a new reference to its "data" array). */
json_object *stripe_requests(const char *path_prefix)
{
	char *path = xprintf("requests?path=%s", path_prefix);
	json_object *o = stripe_ctl_ok("GET", path, NULL);
	free(path);
	json_object *data = json_object_get(jget(o, "data"));
	json_object_put(o);
	ck_assert_ptr_nonnull(data);
	return data;
}

const char *param_of(json_object *req, const char *key)
{
	return jstr(jget(req, "params"), key);
}

/* Customers at the stand-in with this email (GET /v1/customers?email=). */
int customers_with_email(const char *email)
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

/* ---- webhooks */

void hmac_hex(const char *secret, long long t, const char *body, size_t body_len, char out[65])
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

const char *webhook_secret(void)
{
	return env_need("TG_STRIPE_WEBHOOK_SECRET");
}

/* POSTs body to the webhook with the given Stripe-Signature header value (NULL: no header). */
struct it_resp *post_webhook(const char *body, const char *sig)
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
struct it_resp *post_signed(const char *body)
{
	char hex[65], sig[128];
	long long t = (long long)time(NULL);
	hmac_hex(webhook_secret(), t, body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "t=%lld,v1=%s", t, hex);
	return post_webhook(body, sig);
}

/* A new event (unique id) wrapping obj (taken over). */
json_object *make_event(const char *type, json_object *obj, long long created, char *id_out, size_t id_cap)
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

const char *event_text(json_object *ev)
{
	return json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
}

/* Posts ev signed; asserts 200 {"received": true} and the duplicate flag. */
void post_event_expect(json_object *ev, bool duplicate)
{
	struct it_resp *r = post_signed(event_text(ev));
	it_expect(r, 200, NULL);
	ck_assert_msg(it_bool(r, "received"), "received should be true: %s", r->body);
	json_object *d = it_at(r, "duplicate");
	bool dup = d && json_object_get_boolean(d);
	ck_assert_msg(dup == duplicate, "event %s: expected duplicate=%d, got %s", jstr(ev, "id"), duplicate, r->body);
	it_free(r);
}

long long stored_count(const char *event_id)
{
	return it_sql_long("SELECT count(*) FROM stripe_events WHERE id = '%s'", event_id);
}

/* ---- billing flows */

struct it_resp *checkout_req(const struct it_user *u, const char *plan, const char *interval)
{
	char *body = xprintf("{\"plan\":\"%s\",\"interval\":\"%s\"}", plan, interval);
	struct it_resp *r = it_post("/api/billing/checkout", u->access, body);
	free(body);
	return r;
}

/* POST /api/billing/checkout → 200 {url, session_id} with url on the stand-in; the session id in sid. */
void checkout_ok(const struct it_user *u, const char *plan, const char *interval, char *sid, size_t cap)
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
void complete_session(struct paid *p, bool expect_delivered)
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
void subscribe(struct paid *p, const char *prefix)
{
	memset(p, 0, sizeof(*p));
	it_register(&p->u, prefix);
	checkout_ok(&p->u, "pro", "month", p->session, sizeof(p->session));
	complete_session(p, true);
}

struct it_resp *get_sub(const struct it_user *u)
{
	struct it_resp *r = it_get("/api/billing/subscription", u->access);
	it_expect(r, 200, NULL);
	return r;
}

void wait_sub_status(const struct it_user *u, const char *status)
{
	int64_t until = it_now_ms() + 15000;
	for (;;) {
		struct it_resp *r = get_sub(u);
		bool done = it_str(r, "status") && !strcmp(it_str(r, "status"), status);
		it_free(r);
		if (done)
			return;
		ck_assert_msg(it_now_ms() < until, "the subscription never became %s", status);
		it_sleep_ms(100);
	}
}

void expect_sub(const struct it_user *u, const char *plan, const char *status)
{
	struct it_resp *r = get_sub(u);
	expect_str(r, "plan", plan);
	expect_str(r, "status", status);
	it_free(r);
}

void expect_me_plan(const struct it_user *u, const char *plan)
{
	struct it_resp *r = it_get("/api/auth/me", u->access);
	it_expect(r, 200, NULL);
	expect_str(r, "plan", plan);
	it_free(r);
}

/* The LiteLLM stand-in's live key of user (a new reference), or NULL; *deleted tells whether a
 * deleted key of that user is listed. */
json_object *litellm_key(const char *user_id, bool *deleted)
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
json_object *wait_key(const char *user_id, bool want_blocked)
{
	int64_t deadline = it_now_ms() + KEY_WAIT_MS;
	json_object *k = NULL;
	for (;;) {
		k = litellm_key(user_id, NULL);
		json_object *b = jget(k, "blocked");
		if (k && b && json_object_get_boolean(b) == want_blocked)
			return k;
		if (it_now_ms() > deadline)
			break;
		json_object_put(k);
		it_sleep_ms(200);
	}
	ck_assert_msg(0, "no %s LiteLLM key for user %s within %d ms (last: %s)", want_blocked ? "blocked" : "live",
		      user_id, KEY_WAIT_MS, k ? json_object_to_json_string(k) : "none");
	return NULL;
}

/* Our public id (a UUID) of the invoice with Stripe id inv, or "" when it is not stored. */
const char *invoice_public_id(const char *inv)
{
	return it_sql("SELECT coalesce((SELECT id::text FROM invoices WHERE stripe_invoice_id = '%s'), '')", inv);
}

/* The invoice with Stripe id inv of u's list (a new reference), or NULL. The API shows our own
 * UUID as the id (API.md: public ids are UUIDs), never Stripe's. */
json_object *find_invoice(const struct it_user *u, const char *inv)
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

long long invoice_refunded(const struct it_user *u, const char *inv)
{
	json_object *it = find_invoice(u, inv);
	ck_assert_msg(it != NULL, "invoice %s not in the list", inv);
	long long v = json_object_get_int64(jget(it, "amount_refunded"));
	json_object_put(it);
	return v;
}

/* A snapshot of everything the server stores about a user's subscription and invoices. */
char *billing_snapshot(const char *user_id)
{
	return sql_text("SELECT coalesce((SELECT json_agg(s ORDER BY s.stripe_subscription_id)::text FROM subscriptions s"
			" WHERE s.user_id = '%s'), '') || ' | ' || coalesce((SELECT json_agg(i ORDER BY"
			" i.stripe_invoice_id)::text FROM invoices i WHERE i.user_id = '%s'), '')",
			user_id, user_id);
}

/* Whether a saved message to addr whose Subject contains needle (case-insensitive) exists. */
bool mail_to_exists(const char *addr, const char *needle)
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
