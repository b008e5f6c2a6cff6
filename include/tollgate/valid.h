/* valid.h — input validation declared as data (in the spirit of kcgi's kvalid): each route names
 * the body members and query parameters it takes, with type, bounds and whether they are required;
 * the dispatcher checks them all before the handler runs and answers 422 validation_failed naming
 * every bad field at once. Handlers read typed, checked values. */
#ifndef TOLLGATE_VALID_H
#define TOLLGATE_VALID_H

#include <stdbool.h>
#include <stddef.h>

struct arena;
struct http_req;
struct http_res;

enum valid_type {
	VALID_STRING, /* JSON string (query: any value); min/max in characters, max_bytes in bytes */
	VALID_BOOL,   /* JSON true/false (query: 1, true, 0, false) */
	VALID_INT,    /* JSON integer (query: decimal) in [min, max] */
	VALID_ENUM,   /* a string among choices */
	VALID_UUID,   /* a string in canonical UUID form */
};

enum valid_flags {
	VALID_REQUIRED = 1 << 0,  /* absent (or an empty string) is an error */
	VALID_NULLABLE = 1 << 1,  /* null is accepted (value.is_null) */
	VALID_QUERY = 1 << 2,     /* a query parameter, not a body member */
	VALID_MULTILINE = 1 << 3, /* strings may hold newlines and tabs (other control characters never) */
	VALID_TRIM = 1 << 4,      /* surrounding whitespace is removed before the checks */
	VALID_RAW = 1 << 5,       /* any characters (passwords, tokens): no control-character check */
};

/* A check beyond type and bounds: returns NULL when *value is acceptable (it may replace it with
 * a normalised arena copy), else the reason shown to the client. */
typedef const char *(*valid_check_fn)(struct arena *a, const char **value);

struct valid_field {
	const char *name;
	enum valid_type type;
	unsigned flags;
	long long min, max;           /* characters (strings; max 0 = no limit) or bounds (ints) */
	size_t max_bytes;             /* strings: 0 = no byte limit */
	const char *const *choices;   /* VALID_ENUM: NULL-terminated */
	valid_check_fn check;
	long long dflt;               /* VALID_INT when absent */
	const char *reason;           /* the message for a bad value (else a generated one) */
};

struct valid_value {
	bool present;   /* sent (null counts as sent) */
	bool is_null;
	const char *str; /* strings, enums, uuids (trimmed/normalised); NULL when absent */
	long long num;   /* ints (dflt when absent) */
	bool yes;        /* bools */
};

/* Checks req against fields (terminated by an entry whose name is NULL); fills out[i] for
 * fields[i]. On failure answers 422 validation_failed with every bad field and returns false.
 * Members not declared are ignored. A body must already be a parsed JSON object (or absent). */
bool valid_request(struct http_req *req, struct http_res *res, const struct valid_field *fields,
		   struct valid_value *out);
/* Number of characters (code points) of valid UTF-8 s. */
size_t valid_utf8_chars(const char *s);

#endif
