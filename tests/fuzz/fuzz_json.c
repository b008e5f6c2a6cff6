/* fuzz_json.c — JSON body validation: http_req_json (strict json-c, strict UTF-8, one object, the
 * depth cap) and the field readers the handlers apply before any database call: api_json_string,
 * account_normalize_email, account_normalize_name, account_name_valid, password_check_rules.
 *
 * Input: the request body. It is parsed twice, under the production cap (json_max_depth 32) and
 * under a cap of 3, and the nesting of an accepted document must stay within the cap. */
#include "fuzz.h"

#include "tollgate/account.h"
#include "tollgate/arena.h"
#include "tollgate/http.h"
#include "tollgate/password.h"
#include "tollgate/status.h"

#include "../../src/api/handlers.h" /* api_json_string: private to src/api, no database */

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

static void fields(struct arena *a, json_object *body)
{
	static const char *const keys[] = {"email", "password", "name", "session", "refresh_token", "token",
					   "current_password", "new_password", "plan", "interval"};
	const char *v[sizeof(keys) / sizeof(keys[0])];
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_object *raw;
		bool ok = api_json_string(body, keys[i], &v[i]);
		if (!ok) {
			FUZZ_CHECK(v[i] == NULL);
			FUZZ_CHECK(json_object_object_get_ex(body, keys[i], &raw));
			continue;
		}
		if (v[i]) {
			FUZZ_CHECK(json_object_object_get_ex(body, keys[i], &raw));
			/* no "\u0000" cuts a value short */
			FUZZ_CHECK(strlen(v[i]) == (size_t)json_object_get_string_len(raw));
			FUZZ_CHECK(utf8_ok(v[i]));
		}
	}
	const char *email_in = v[0], *password = v[1], *name = v[2];
	char *email = email_in ? account_normalize_email(a, email_in) : NULL;
	if (email) {
		size_t n = strlen(email);
		FUZZ_CHECK(n >= 5 && n <= 254);
		const char *at = strchr(email, '@');
		FUZZ_CHECK(at && at != email && !strchr(at + 1, '@'));
		for (const unsigned char *p = (const unsigned char *)email; *p; p++)
			FUZZ_CHECK(*p > 0x20 && *p < 0x7F && !isupper(*p));
		/* normalising is idempotent */
		char *again = account_normalize_email(a, email);
		FUZZ_CHECK(again && !strcmp(again, email));
	}
	if (name) {
		char *clean = NULL;
		const char *why = account_normalize_name(a, name, &clean);
		if (!why) {
			FUZZ_CHECK(clean && account_name_valid(clean));
			FUZZ_CHECK(!*clean || (!isspace((unsigned char)clean[0]) &&
					       !isspace((unsigned char)clean[strlen(clean) - 1])));
		}
	}
	for (size_t i = 1; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (v[i] && (i == 1 || i == 6 || i == 7)) /* the passwords */
			(void)password_check_rules(v[i], email);
	(void)password;
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
		fields(a, obj);
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
