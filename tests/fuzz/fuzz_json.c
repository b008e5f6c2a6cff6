/* fuzz_json.c — JSON body validation: http_req_json (strict json-c, strict UTF-8, one object, the
 * depth cap) and the field checks the dispatcher applies before any handler (valid_request over the
 * field tables of several routes: types, bounds, UTF-8, the email and name normalisation), then
 * password_check_rules.
 *
 * Input: the request body. It is parsed twice, under the production cap (json_max_depth 32) and
 * under a cap of 3, and the nesting of an accepted document must stay within the cap. */
#include "fuzz.h"

#include "tollgate/account.h"
#include "tollgate/arena.h"
#include "tollgate/http.h"
#include "tollgate/password.h"
#include "tollgate/status.h"

#include "../../src/api/handlers.h" /* the route field tables: private to src/api, no database */

#include <ctype.h>

/* Nesting of v: 1 for a scalar or an empty container, 1 + the deepest member otherwise, as
 * json-c's tokener counts it (its depth includes the top-level value). */
static int depth(json_object *v)
{
	int d = 0;
	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, member)
		{
			(void)key;
			int m = depth(member);
			if (m > d)
				d = m;
		}
	} else if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			int m = depth(json_object_array_get_idx(v, i));
			if (m > d)
				d = m;
		}
	}
	return d + 1;
}

/* Strict UTF-8 (RFC 3629): what json-c hands back, escapes decoded, must be text PostgreSQL
 * accepts, like the raw body that passed the request's own check. */
static bool utf8_ok(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		unsigned long cp, min;
		size_t len;
		if (*s < 0x80) {
			s++;
			continue;
		} else if (*s >= 0xC2 && *s <= 0xDF) {
			len = 2, cp = *s & 0x1F, min = 0x80;
		} else if ((*s & 0xF0) == 0xE0) {
			len = 3, cp = *s & 0x0F, min = 0x800;
		} else if (*s >= 0xF0 && *s <= 0xF4) {
			len = 4, cp = *s & 0x07, min = 0x10000;
		} else {
			return false;
		}
		for (size_t k = 1; k < len; k++) {
			if ((s[k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		s += len;
	}
	return true;
}

/* The declared fields of a few routes over the body: accepted values are what the tables promise. */
static void fields(struct http_req *req)
{
	static const struct valid_field *const tables[] = {api_register_fields, api_login_fields, api_profile_fields,
							   api_project_create_fields, api_document_create_fields,
							   api_agent_create_fields, api_chat_fields, api_prefs_fields};
	struct valid_value v[16];
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		struct http_res res;
		http_res_init(&res);
		if (!valid_request(req, &res, tables[t], v)) {
			FUZZ_CHECK(res.status == 422);
			continue;
		}
		for (size_t i = 0; tables[t][i].name; i++) {
			const struct valid_field *f = &tables[t][i];
			if ((f->flags & VALID_REQUIRED))
				FUZZ_CHECK(v[i].present && !v[i].is_null);
			if (!v[i].str)
				continue;
			FUZZ_CHECK(utf8_ok(v[i].str)); /* what reaches a text column is UTF-8 */
			if (f->max)
				FUZZ_CHECK(valid_utf8_chars(v[i].str) <= (size_t)f->max);
			if (f->max_bytes)
				FUZZ_CHECK(strlen(v[i].str) <= f->max_bytes);
		}
	}
	/* register's email is normalised: lower-case ASCII, one @, idempotent */
	struct http_res res;
	http_res_init(&res);
	if (valid_request(req, &res, api_register_fields, v) && v[0].str) {
		const char *email = v[0].str;
		size_t n = strlen(email);
		FUZZ_CHECK(n >= 5 && n <= 254);
		const char *at = strchr(email, '@');
		FUZZ_CHECK(at && at != email && !strchr(at + 1, '@'));
		for (const unsigned char *p = (const unsigned char *)email; *p; p++)
			FUZZ_CHECK(*p > 0x20 && *p < 0x7F && !isupper(*p));
		char *again = account_normalize_email(req->arena, email);
		FUZZ_CHECK(again && !strcmp(again, email));
		if (v[1].str)
			(void)password_check_rules(v[1].str, email);
	}
}

static void parse(const char *body, size_t len, int cap)
{
	struct arena *a = arena_new(0);
	FUZZ_CHECK(a != NULL);
	struct http_req req;
	memset(&req, 0, sizeof(req));
	req.arena = a;
	req.body = body;
	req.body_len = len;
	req.json_max_depth = cap;
	json_object *obj;
	int rc = http_req_json(&req, &obj);
	FUZZ_CHECK(rc == TG_OK || rc == TG_EINPUT);
	if (rc == TG_OK) {
		FUZZ_CHECK(json_object_is_type(obj, json_type_object));
		FUZZ_CHECK(depth(obj) <= cap);
		FUZZ_CHECK(len > 0);
		fields(&req);
	}
	arena_destroy(a); /* releases obj */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = fuzz_dup_exact(data, size);
	parse(body, size, 32);
	parse(body, size, 3);
	free(body);
	return 0;
}
