/* valid.c — declarative validation of body members and query parameters. */
#include "tollgate/valid.h"
#include "tollgate/arena.h"
#include "tollgate/http.h"
#include "tollgate/status.h"
#include "tollgate/uuid.h"

#include <errno.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>

size_t valid_utf8_chars(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += (*p & 0xc0) != 0x80;
	return n;
}

static const char *trim(struct arena *a, const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	return arena_strndup(a, s, n);
}

static bool has_control(const char *s, bool multiline)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && !(multiline && (*p == '\n' || *p == '\r' || *p == '\t'))) || *p == 0x7f)
			return true;
	return false;
}

/* The message for a bad value of f (static or arena). */
static const char *expectation(struct arena *a, const struct valid_field *f)
{
	if (f->reason)
		return f->reason;
	switch (f->type) {
	case VALID_BOOL:
		return f->flags & VALID_QUERY ? "must be 1, true, 0 or false" : "must be a boolean";
	case VALID_INT:
		return arena_printf(a, "must be an integer from %lld to %lld", f->min, f->max);
	case VALID_UUID:
		return "must be an id";
	case VALID_ENUM: {
		char *s = arena_strdup(a, "must be one of");
		for (const char *const *c = f->choices; c && *c; c++)
			s = arena_printf(a, "%s%s \"%s\"", s, c == f->choices ? "" : ",", *c);
		return s;
	}
	case VALID_STRING:
		break;
	}
	return "must be a string";
}

static const char *check_string(struct arena *a, const struct valid_field *f, const char **v)
{
	if (f->flags & VALID_TRIM)
		*v = trim(a, *v);
	if (!**v)
		return f->flags & VALID_REQUIRED ? "is required"
		       : f->min > 0		 ? (f->reason ? f->reason : arena_printf(a, "must be at least %lld characters", f->min))
					 : NULL;
	if (!(f->flags & VALID_RAW) && has_control(*v, f->flags & VALID_MULTILINE))
		return "must not contain control characters";
	size_t chars = valid_utf8_chars(*v);
	if ((long long)chars < f->min)
		return arena_printf(a, "must be at least %lld characters", f->min);
	if (f->max && (long long)chars > f->max)
		return arena_printf(a, "must be at most %lld characters", f->max);
	if (f->max_bytes && strlen(*v) > f->max_bytes)
		return arena_printf(a, "must be at most %zu bytes", f->max_bytes);
	return NULL;
}

/* One value from JSON (j) or the query (q, when j is NULL). Returns NULL or the reason. */
static const char *check_one(struct arena *a, const struct valid_field *f, json_object *j, const char *q,
			     struct valid_value *v)
{
	const char *why = NULL;
	switch (f->type) {
	case VALID_STRING:
	case VALID_ENUM:
	case VALID_UUID: {
		const char *s = q;
		if (j) {
			if (!json_object_is_type(j, json_type_string))
				return expectation(a, f);
			s = json_object_get_string(j);
			/* "\u0000" would cut the C string short */
			if (strlen(s) != (size_t)json_object_get_string_len(j))
				return "must not contain NUL characters";
		}
		if (f->type == VALID_STRING) {
			if ((why = check_string(a, f, &s)))
				return why;
		} else if (f->type == VALID_UUID) {
			if (!uuid_valid(s))
				return expectation(a, f);
		} else {
			const char *const *c = f->choices;
			while (c && *c && strcmp(*c, s))
				c++;
			if (!c || !*c)
				return expectation(a, f);
		}
		if (f->check && *s && (why = f->check(a, &s)))
			return why;
		v->str = s;
		return NULL;
	}
	case VALID_BOOL:
		if (j) {
			if (!json_object_is_type(j, json_type_boolean))
				return expectation(a, f);
			v->yes = json_object_get_boolean(j);
		} else if (!strcmp(q, "1") || !strcmp(q, "true")) {
			v->yes = true;
		} else if (!strcmp(q, "0") || !strcmp(q, "false")) {
			v->yes = false;
		} else {
			return expectation(a, f);
		}
		return NULL;
	case VALID_INT: {
		long long n;
		if (j) {
			if (!json_object_is_type(j, json_type_int))
				return expectation(a, f);
			errno = 0;
			n = json_object_get_int64(j);
			if (errno)
				return expectation(a, f);
		} else {
			char *end;
			errno = 0;
			n = strtoll(q, &end, 10);
			if (!*q || *end || errno)
				return expectation(a, f);
		}
		if (n < f->min || n > f->max)
			return expectation(a, f);
		v->num = n;
		return NULL;
	}
	}
	return expectation(a, f);
}

bool valid_request(struct http_req *req, struct http_res *res, const struct valid_field *fields,
		   struct valid_value *out)
{
	json_object *body = NULL;
	if (req->body_len)
		http_req_json(req, &body);
	json_object *errors = NULL;
	for (size_t i = 0; fields[i].name; i++) {
		const struct valid_field *f = &fields[i];
		struct valid_value *v = &out[i];
		memset(v, 0, sizeof(*v));
		v->num = f->dflt;
		json_object *j = NULL;
		const char *q = NULL, *why = NULL;
		if (f->flags & VALID_QUERY) {
			if (http_req_query(req, f->name, &q) != TG_OK)
				why = "is not a valid percent-encoded UTF-8 value";
			v->present = q != NULL;
		} else if (body) {
			v->present = json_object_object_get_ex(body, f->name, &j);
		}
		if (!why && v->present && !(f->flags & VALID_QUERY) && (!j || json_object_is_type(j, json_type_null))) {
			v->is_null = true;
			if (!(f->flags & VALID_NULLABLE))
				why = f->flags & VALID_REQUIRED ? "is required" : "must not be null";
		} else if (!why && v->present) {
			why = check_one(req->arena, f, j, q, v);
			if (!why && (f->flags & VALID_REQUIRED) && v->str && !*v->str)
				why = "is required";
		} else if (!why && (f->flags & VALID_REQUIRED)) {
			why = "is required";
		}
		if (why) {
			if (!errors)
				errors = json_object_new_object();
			if (!json_object_object_get_ex(errors, f->name, NULL))
				json_object_object_add(errors, f->name, json_object_new_string(why));
		}
	}
	if (!errors)
		return true;
	http_res_invalid(res, req, errors);
	return false;
}
