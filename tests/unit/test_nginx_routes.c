/* test_nginx_routes.c — nginx/tollgate-api.conf agrees with the route table (src/api/routes.c):
 * every ROUTE_PASSWORD route reaches the password pool, every ROUTE_CREDENTIAL route gets the
 * per-IP limit, no other route gets either; nginx's own errors map to valid problem+json bodies;
 * the production and dev sites include the block and share the TLS profile.
 *
 * The files are read with a small reader of nginx's syntax and the locations chosen as nginx
 * chooses them (exact, longest prefix, ^~, then regexes in order), with PCRE2 as nginx uses. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <json.h>
#include <pcre2.h>

#include "unit.h"

#include "tollgate/app.h"
#include "tollgate/arena.h"
#include "tollgate/router.h"

#define SAMPLE_UUID "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"
#define MAX_ARGS 16

/* ---- a reader of nginx's configuration syntax ------------------------------------------- */

struct ngx_block;

struct ngx_dir {
	const char *name;
	const char *args[MAX_ARGS];
	size_t nargs;
	struct ngx_block *block; /* the { } of a block directive, else NULL */
	int line;
};

struct ngx_block {
	struct ngx_dir *dirs;
	size_t n, cap;
};

enum tok { T_WORD, T_OPEN, T_CLOSE, T_SEMI, T_END };

struct reader {
	struct arena *a;
	const char *file;
	const char *p;
	int line;
};

static struct arena *A;

/* Next token; words are unquoted, with nginx's escapes in quoted strings applied. */
static enum tok next_tok(struct reader *r, const char **word)
{
	for (;;) {
		while (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n') {
			if (*r->p == '\n')
				r->line++;
			r->p++;
		}
		if (*r->p != '#')
			break;
		while (*r->p && *r->p != '\n')
			r->p++;
	}
	switch (*r->p) {
	case '\0':
		return T_END;
	case '{':
		r->p++;
		return T_OPEN;
	case '}':
		r->p++;
		return T_CLOSE;
	case ';':
		r->p++;
		return T_SEMI;
	default:
		break;
	}
	size_t len = strlen(r->p);
	char *out = arena_alloc(r->a, len + 1);
	ck_assert_ptr_nonnull(out);
	size_t n = 0;
	if (*r->p == '"' || *r->p == '\'') {
		char q = *r->p++;
		while (*r->p && *r->p != q) {
			if (*r->p == '\\' && r->p[1]) {
				char c = r->p[1];
				if (c == q || c == '\\')
					out[n++] = c;
				else if (c == 'n')
					out[n++] = '\n';
				else if (c == 't')
					out[n++] = '\t';
				else if (c == 'r')
					out[n++] = '\r';
				else {
					out[n++] = '\\';
					out[n++] = c;
				}
				r->p += 2;
				continue;
			}
			if (*r->p == '\n')
				r->line++;
			out[n++] = *r->p++;
		}
		ck_assert_msg(*r->p == q, "%s:%d: unterminated string", r->file, r->line);
		r->p++;
	} else {
		while (*r->p && !strchr(" \t\r\n;{}", *r->p))
			out[n++] = *r->p++;
	}
	out[n] = '\0';
	*word = out;
	return T_WORD;
}

static struct ngx_dir *block_add(struct arena *a, struct ngx_block *b)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct ngx_dir *d = arena_alloc(a, cap * sizeof(*d));
		ck_assert_ptr_nonnull(d);
		if (b->n)
			memcpy(d, b->dirs, b->n * sizeof(*d));
		b->dirs = d;
		b->cap = cap;
	}
	return &b->dirs[b->n++];
}

static struct ngx_block *parse_block(struct reader *r, bool top)
{
	struct ngx_block *b = arena_alloc(r->a, sizeof(*b));
	ck_assert_ptr_nonnull(b);
	for (;;) {
		const char *w = NULL;
		enum tok t = next_tok(r, &w);
		if (t == T_END) {
			ck_assert_msg(top, "%s:%d: missing }", r->file, r->line);
			return b;
		}
		if (t == T_CLOSE) {
			ck_assert_msg(!top, "%s:%d: unexpected }", r->file, r->line);
			return b;
		}
		ck_assert_msg(t == T_WORD, "%s:%d: directive expected", r->file, r->line);
		struct ngx_dir *d = block_add(r->a, b);
		d->name = w;
		d->line = r->line;
		for (;;) {
			t = next_tok(r, &w);
			if (t == T_WORD) {
				ck_assert_msg(d->nargs < MAX_ARGS, "%s:%d: too many arguments", r->file, r->line);
				d->args[d->nargs++] = w;
				continue;
			}
			ck_assert_msg(t == T_SEMI || t == T_OPEN, "%s:%d: ; or { expected after %s", r->file, r->line,
				      d->name);
			if (t == T_OPEN) {
				/* parse_block may grow b->dirs: keep the index, not the pointer */
				size_t i = (size_t)(d - b->dirs);
				struct ngx_block *inner = parse_block(r, false);
				b->dirs[i].block = inner;
			}
			break;
		}
	}
}

static char *read_repo_file(const char *rel)
{
	const char *repo = getenv("TG_REPO");
	char *path = arena_printf(A, "%s/%s", repo && *repo ? repo : ".", rel);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s (run from the repository root or set TG_REPO)", path);
	char *buf = arena_alloc(A, 1 << 20);
	ck_assert_ptr_nonnull(buf);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static struct ngx_block *parse_file(const char *rel)
{
	struct reader r = {.a = A, .file = rel, .p = read_repo_file(rel), .line = 1};
	return parse_block(&r, true);
}

static const struct ngx_dir *find_dir(const struct ngx_block *b, const char *name)
{
	for (size_t i = 0; b && i < b->n; i++)
		if (!strcmp(b->dirs[i].name, name))
			return &b->dirs[i];
	return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static bool is_api_include(const struct ngx_dir *d)
{
	return !strcmp(d->name, "include") && d->nargs == 1 && ends_with(d->args[0], "/tollgate-api.conf");
}

/* The server block of a site that includes the API block, with the include replaced by the
 * block's directives (as nginx reads it). */
static struct ngx_block *site_server(const char *rel, const struct ngx_block *api)
{
	struct ngx_block *top = parse_file(rel);
	const struct ngx_dir *http = find_dir(top, "http");
	const struct ngx_block *outer = http && http->block ? http->block : top; /* the site sits in http { } */
	for (size_t i = 0; i < outer->n; i++) {
		const struct ngx_dir *s = &outer->dirs[i];
		if (strcmp(s->name, "server") || !s->block)
			continue;
		int found = -1;
		for (size_t j = 0; j < s->block->n; j++)
			if (is_api_include(&s->block->dirs[j])) {
				ck_assert_msg(found < 0, "%s: tollgate-api.conf included twice", rel);
				found = (int)j;
			}
		if (found < 0)
			continue;
		struct ngx_block *merged = arena_alloc(A, sizeof(*merged));
		ck_assert_ptr_nonnull(merged);
		for (size_t j = 0; j < s->block->n; j++) {
			if ((int)j != found) {
				*block_add(A, merged) = s->block->dirs[j];
				continue;
			}
			for (size_t k = 0; k < api->n; k++)
				*block_add(A, merged) = api->dirs[k];
		}
		return merged;
	}
	ck_abort_msg("%s: no server block includes tollgate-api.conf", rel);
	return NULL;
}

/* ---- locations as nginx picks them -------------------------------------------------------- */

static bool regex_matches(const char *re, bool caseless, const char *subject)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, caseless ? PCRE2_CASELESS : 0, &err,
					 &off, NULL);
	ck_assert_msg(code != NULL, "regex %s does not compile (error %d at %zu)", re, err, (size_t)off);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
	ck_assert_ptr_nonnull(md);
	int rc = pcre2_match(code, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	ck_assert_msg(rc >= 0 || rc == PCRE2_ERROR_NOMATCH, "matching %s failed: %d", re, rc);
	return rc >= 0;
}

/* location [mod] pattern: mod is "", "=", "^~", "~" or "~*"; named locations are skipped. */
static bool loc_parts(const struct ngx_dir *d, const char **mod, const char **pat)
{
	if (strcmp(d->name, "location") || !d->block)
		return false;
	if (d->nargs == 1) {
		*mod = "";
		*pat = d->args[0];
	} else {
		ck_assert_msg(d->nargs == 2, "line %d: location with %zu arguments", d->line, d->nargs);
		*mod = d->args[0];
		*pat = d->args[1];
	}
	return (*pat)[0] != '@';
}

static bool is_regex(const char *mod)
{
	return !strcmp(mod, "~") || !strcmp(mod, "~*");
}

static const struct ngx_dir *pick_location(const struct ngx_block *server, const char *uri)
{
	const struct ngx_dir *prefix = NULL;
	size_t prefix_len = 0;
	const char *mod, *pat;
	for (size_t i = 0; i < server->n; i++) {
		const struct ngx_dir *d = &server->dirs[i];
		if (!loc_parts(d, &mod, &pat))
			continue;
		if (!strcmp(mod, "=") && !strcmp(pat, uri))
			return d;
		if ((!*mod || !strcmp(mod, "^~")) && !strncmp(uri, pat, strlen(pat)) && strlen(pat) > prefix_len) {
			prefix = d;
			prefix_len = strlen(pat);
		}
	}
	if (prefix && !strcmp(prefix->args[0], "^~"))
		return prefix;
	for (size_t i = 0; i < server->n; i++) {
		const struct ngx_dir *d = &server->dirs[i];
		if (loc_parts(d, &mod, &pat) && is_regex(mod) && regex_matches(pat, !strcmp(mod, "~*"), uri))
			return d;
	}
	return prefix;
}

static const char *loc_pool(const struct ngx_dir *loc)
{
	const struct ngx_dir *d = find_dir(loc->block, "fastcgi_pass");
	return d && d->nargs == 1 ? d->args[0] : NULL;
}

static bool loc_limited(const struct ngx_dir *loc)
{
	for (size_t i = 0; i < loc->block->n; i++) {
		const struct ngx_dir *d = &loc->block->dirs[i];
		if (!strcmp(d->name, "set") && d->nargs == 2 && !strcmp(d->args[0], "$tollgate_credential_client"))
			return !strcmp(d->args[1], "$binary_remote_addr");
	}
	return false;
}

/* A route's pattern with every {param} replaced by a sample uuid. */
static const char *sample_path(const char *pattern)
{
	char *out = arena_alloc(A, strlen(pattern) * 40 + 1);
	ck_assert_ptr_nonnull(out);
	size_t n = 0;
	for (const char *p = pattern; *p;) {
		if (*p == '{') {
			const char *end = strchr(p, '}');
			ck_assert_msg(end != NULL, "pattern %s: unclosed {", pattern);
			memcpy(out + n, SAMPLE_UUID, strlen(SAMPLE_UUID));
			n += strlen(SAMPLE_UUID);
			p = end + 1;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	return out;
}

static const struct route *routes(size_t *n)
{
	const struct route *r = api_routes(n);
	ck_assert_msg(r != NULL && *n > 10, "api_routes() is empty");
	return r;
}

/* Paths of routes still to come that must already be limited per IP (and some that must not). */
static const char *const future_credential[] = {
	"/api/auth/login/mfa",
	"/api/auth/mfa/totp/verify",
	"/api/auth/mfa/recovery",
	"/api/auth/oauth/google/start",
	"/api/auth/oauth/github/callback",
};
static const char *const never_limited[] = {
	"/api/auth/me",
	"/api/auth/sessions",
	"/api/auth/sessions/" SAMPLE_UUID,
	"/api/auth/logout-all",
	"/api/auth/mfa",
	"/api/health",
	"/api/profile",
};

static struct ngx_block *api_block(void)
{
	return parse_file("nginx/tollgate-api.conf");
}

static void setup(void)
{
	A = arena_new(0);
	ck_assert_ptr_nonnull(A);
}

static void teardown(void)
{
	arena_destroy(A);
	A = NULL;
}

/* ---- the route table against the locations ------------------------------------------------ */

/* Whether location d sets directive name to value. */
static bool loc_has(const struct ngx_dir *d, const char *name, const char *value)
{
	if (!d->block)
		return false;
	for (size_t i = 0; i < d->block->n; i++) {
		const struct ngx_dir *x = &d->block->dirs[i];
		if (x->nargs >= 1 && !strcmp(x->name, name) && !strcmp(x->args[0], value))
			return true;
	}
	return false;
}

static const char *const sites[] = {"nginx/tollgate.conf", "nginx/dev.conf.template"};

/* Each route as nginx routes it in each site: FastCGI, the right pool, the limit iff flagged. */
START_TEST(every_route_reaches_its_pool_and_limit)
{
	const struct ngx_block *api = api_block();
	const struct ngx_block *server = site_server(sites[_i], api);
	size_t n;
	const struct route *r = routes(&n);
	int password = 0, credential = 0;
	for (size_t i = 0; i < n; i++) {
		const char *path = sample_path(r[i].pattern);
		const struct ngx_dir *loc = pick_location(server, path);
		ck_assert_msg(loc != NULL, "%s: no location for %s", sites[_i], path);
		const char *pool = loc_pool(loc);
		ck_assert_msg(pool != NULL, "%s: %s lands in a location without fastcgi_pass (line %d)", sites[_i], path,
			      loc->line);
		bool want_pw = r[i].flags & ROUTE_PASSWORD, want_lim = r[i].flags & ROUTE_CREDENTIAL;
		bool want_chat = r[i].flags & ROUTE_CHAT;
		const char *want_pool = want_pw ? "tollgate_password" : want_chat ? "tollgate_chat" : "tollgate_main";
		ck_assert_msg(!strcmp(pool, want_pool), "%s: %s goes to %s, its flags say %s", sites[_i], path, pool,
			      want_pool);
		/* a chat streams: nginx must pass each event on as it comes */
		ck_assert_msg(want_chat == loc_has(loc, "fastcgi_buffering", "off"),
			      "%s: %s: fastcgi_buffering off must be set exactly for ROUTE_CHAT routes", sites[_i], path);
		/* ROUTE_LARGE_BODY routes take 2 MiB; nginx must let such a body through */
		ck_assert_msg(!(r[i].flags & ROUTE_LARGE_BODY) || loc_has(loc, "client_max_body_size", "2m"),
			      "%s: %s takes large bodies (ROUTE_LARGE_BODY) but its location keeps nginx's 1m", sites[_i], path);
		ck_assert_msg(loc_limited(loc) == want_lim, "%s: %s is %s per IP, its flags say %s", sites[_i], path,
			      loc_limited(loc) ? "limited" : "not limited",
			      want_lim ? "ROUTE_CREDENTIAL" : "no ROUTE_CREDENTIAL");
		password += want_pw;
		credential += want_lim;
	}
	ck_assert_int_ge(password, 3);
	ck_assert_int_ge(credential, 6);
	for (size_t i = 0; i < sizeof(future_credential) / sizeof(*future_credential); i++) {
		const struct ngx_dir *loc = pick_location(server, future_credential[i]);
		ck_assert_msg(loc && loc_pool(loc) && loc_limited(loc), "%s: %s is not limited per IP", sites[_i],
			      future_credential[i]);
	}
	for (size_t i = 0; i < sizeof(never_limited) / sizeof(*never_limited); i++) {
		const struct ngx_dir *loc = pick_location(server, never_limited[i]);
		ck_assert_msg(loc && loc_pool(loc) && !strcmp(loc_pool(loc), "tollgate_main") && !loc_limited(loc),
			      "%s: %s must go to the main pool without a per-IP limit", sites[_i], never_limited[i]);
	}
}
END_TEST

/* The regexes of the locations that pass to tollgate_password match exactly the paths of the
 * ROUTE_PASSWORD routes; those that set the credential key exactly the ROUTE_CREDENTIAL ones. */
static void check_regex_set(bool password)
{
	const struct ngx_block *api = api_block();
	const char *res[16];
	bool caseless[16];
	size_t nre = 0;
	const char *mod, *pat;
	for (size_t i = 0; i < api->n; i++) {
		const struct ngx_dir *d = &api->dirs[i];
		if (!loc_parts(d, &mod, &pat))
			continue;
		bool hit = password ? loc_pool(d) && !strcmp(loc_pool(d), "tollgate_password") : loc_limited(d);
		if (!hit)
			continue;
		ck_assert_msg(is_regex(mod), "line %d: %s location %s is not a regex location", d->line,
			      password ? "password-pool" : "credential", pat);
		ck_assert_uint_lt(nre, 16);
		caseless[nre] = !strcmp(mod, "~*");
		res[nre++] = pat;
	}
	ck_assert_msg(nre > 0, "no %s location in nginx/tollgate-api.conf", password ? "password-pool" : "credential");
	size_t n;
	const struct route *r = routes(&n);
	for (size_t i = 0; i < n; i++) {
		const char *path = sample_path(r[i].pattern);
		bool matched = false;
		for (size_t k = 0; k < nre && !matched; k++)
			matched = regex_matches(res[k], caseless[k], path);
		bool want = r[i].flags & (password ? ROUTE_PASSWORD : ROUTE_CREDENTIAL);
		ck_assert_msg(matched == want, "%s %s the %s regexes of nginx/tollgate-api.conf, but is %sflagged %s",
			      path, matched ? "matches" : "does not match", password ? "password-pool" : "credential",
			      want ? "" : "not ", password ? "ROUTE_PASSWORD" : "ROUTE_CREDENTIAL");
	}
}

START_TEST(password_regex_matches_password_routes_only)
{
	check_regex_set(true);
}
END_TEST

START_TEST(credential_regex_matches_credential_routes_only)
{
	check_regex_set(false);
}
END_TEST

/* ---- nginx's errors ----------------------------------------------------------------------- */

/* The location = URI with its return directive, inside the ^~ /_tollgate/problems/ block. */
static const struct ngx_dir *problem_location(const struct ngx_block *api, const char *uri)
{
	const char *mod, *pat;
	for (size_t i = 0; i < api->n; i++) {
		const struct ngx_dir *d = &api->dirs[i];
		if (!loc_parts(d, &mod, &pat) || strcmp(mod, "^~") || strncmp(uri, pat, strlen(pat)))
			continue;
		const struct ngx_dir *in = find_dir(d->block, "internal");
		ck_assert_msg(in != NULL, "location %s is not internal", pat);
		for (size_t j = 0; j < d->block->n; j++) {
			const struct ngx_dir *e = &d->block->dirs[j];
			const char *m2, *p2;
			if (loc_parts(e, &m2, &p2) && !strcmp(m2, "=") && !strcmp(p2, uri))
				return e;
		}
	}
	return NULL;
}

/* Every status nginx can answer with maps to an internal location whose body is problem+json with
 * the same status, a code and the type that names it. */
START_TEST(every_nginx_error_is_problem_json)
{
	static const struct {
		int from, to;
		const char *code;
	} want[] = {
		{400, 400, "bad_request"}, {497, 400, "bad_request"}, {403, 403, "forbidden"},
		{404, 404, "not_found"}, {405, 405, "method_not_allowed"}, {408, 408, "request_timeout"},
		{411, 411, "length_required"}, {413, 413, "payload_too_large"}, {414, 414, "uri_too_long"},
		{429, 429, "rate_limited"}, {494, 431, "request_header_too_large"}, {500, 500, "internal"},
		{501, 501, "not_implemented"}, {502, 503, "unavailable"}, {503, 503, "unavailable"},
		{504, 503, "unavailable"}, {505, 505, "http_version_not_supported"},
	};
	const struct ngx_block *api = api_block();
	for (size_t w = 0; w < sizeof(want) / sizeof(*want); w++) {
		const char *target = NULL;
		int to = 0;
		for (size_t i = 0; i < api->n && !target; i++) {
			const struct ngx_dir *d = &api->dirs[i];
			if (strcmp(d->name, "error_page"))
				continue;
			ck_assert_uint_ge(d->nargs, 2);
			const char *uri = d->args[d->nargs - 1];
			int over = 0;
			size_t codes = d->nargs - 1;
			if (d->args[codes - 1][0] == '=') {
				over = (int)strtol(d->args[codes - 1] + 1, NULL, 10);
				codes--;
			}
			for (size_t k = 0; k < codes; k++)
				if (strtol(d->args[k], NULL, 10) == want[w].from) {
					target = uri;
					to = over ? over : want[w].from;
				}
		}
		ck_assert_msg(target != NULL, "no server-level error_page for %d", want[w].from);
		ck_assert_msg(target[0] == '/', "error_page %d goes to %s: named locations cannot serve errors of the"
			      " request line", want[w].from, target);
		ck_assert_int_eq(to, want[w].to);
		const struct ngx_dir *loc = problem_location(api, target);
		ck_assert_msg(loc != NULL, "error_page %d: no location = %s", want[w].from, target);
		const struct ngx_dir *ret = find_dir(loc->block, "return");
		ck_assert_msg(ret && ret->nargs == 2, "location %s: return CODE BODY expected", target);
		ck_assert_int_eq(strtol(ret->args[0], NULL, 10), want[w].to);
		json_object *j = json_tokener_parse(ret->args[1]);
		ck_assert_msg(j != NULL, "location %s: the body is not JSON: %s", target, ret->args[1]);
		json_object *v;
		ck_assert(json_object_object_get_ex(j, "status", &v) && json_object_get_int(v) == want[w].to);
		ck_assert(json_object_object_get_ex(j, "code", &v));
		ck_assert_str_eq(json_object_get_string(v), want[w].code);
		ck_assert(json_object_object_get_ex(j, "type", &v));
		const char *type = arena_printf(A, "https://tollgate.invalid/problems/%s", want[w].code);
		ck_assert_str_eq(json_object_get_string(v), type);
		ck_assert(json_object_object_get_ex(j, "title", &v) && json_object_get_string_len(v) > 0);
		ck_assert(json_object_object_get_ex(j, "detail", &v) && json_object_get_string_len(v) > 0);
		ck_assert(json_object_object_get_ex(j, "request_id", &v));
		ck_assert_str_eq(json_object_get_string(v), "$request_id");
		json_object_put(j);
	}
	/* the block that holds them answers problem+json and never reads a client's body limit */
	const struct ngx_dir *outer = NULL;
	const char *mod, *pat;
	for (size_t i = 0; i < api->n; i++)
		if (loc_parts(&api->dirs[i], &mod, &pat) && !strcmp(pat, "/_tollgate/problems/"))
			outer = &api->dirs[i];
	ck_assert_ptr_nonnull(outer);
	const struct ngx_dir *dt = find_dir(outer->block, "default_type");
	ck_assert(dt && dt->nargs == 1 && !strcmp(dt->args[0], "application/problem+json"));
	const struct ngx_dir *mb = find_dir(outer->block, "client_max_body_size");
	ck_assert(mb && mb->nargs == 1 && !strcmp(mb->args[0], "0"));
}
END_TEST

/* ---- the two sites ------------------------------------------------------------------------ */

static const struct ngx_dir *site_dir(const struct ngx_block *server, const char *name)
{
	const struct ngx_dir *d = find_dir(server, name);
	ck_assert_msg(d != NULL, "no %s in the TLS server", name);
	return d;
}

static const char *joined(const struct ngx_dir *d)
{
	const char *s = "";
	for (size_t i = 0; i < d->nargs; i++)
		s = arena_printf(A, "%s%s%s", s, i ? " " : "", d->args[i]);
	return s;
}

/* Production and dev use the same TLS profile, the per-IP key of the API block and no
 * placeholder in the shared block. */
START_TEST(sites_share_tls_profile_and_limit)
{
	const struct ngx_block *api = api_block();
	const struct ngx_block *prod = site_server(sites[0], api);
	const struct ngx_block *dev = site_server(sites[1], api);
	static const char *const same[] = {"ssl_protocols", "ssl_ciphers", "ssl_prefer_server_ciphers",
					   "ssl_session_timeout", "ssl_session_tickets"};
	for (size_t i = 0; i < sizeof(same) / sizeof(*same); i++)
		ck_assert_msg(!strcmp(joined(site_dir(prod, same[i])), joined(site_dir(dev, same[i]))),
			      "%s differs: production '%s', dev '%s'", same[i], joined(site_dir(prod, same[i])),
			      joined(site_dir(dev, same[i])));
	ck_assert_str_eq(joined(site_dir(prod, "ssl_protocols")), "TLSv1.2 TLSv1.3");
	ck_assert_str_eq(joined(site_dir(prod, "ssl_prefer_server_ciphers")), "off");
	ck_assert_msg(ends_with(joined(site_dir(prod, "ssl_dhparam")), "/ffdhe2048.pem"), "production: no ffdhe2048");
	site_dir(dev, "ssl_dhparam");
	/* no suite without forward secrecy, no CBC, no SHA-1 MAC in the list itself */
	char *ciphers = arena_strdup(A, joined(site_dir(prod, "ssl_ciphers")));
	for (char *save = NULL, *c = strtok_r(ciphers, ":", &save); c; c = strtok_r(NULL, ":", &save)) {
		ck_assert_msg(!strncmp(c, "ECDHE-", 6) || !strncmp(c, "DHE-", 4), "%s: no forward secrecy", c);
		ck_assert_msg(strstr(c, "GCM") || strstr(c, "CHACHA20-POLY1305"), "%s: not an AEAD suite", c);
		ck_assert_msg(!ends_with(c, "-SHA"), "%s: SHA-1 MAC", c);
	}

	for (int s = 0; s < 2; s++) {
		const struct ngx_block *server = s ? dev : prod;
		const struct ngx_dir *lr = site_dir(server, "limit_req");
		ck_assert_msg(lr->nargs >= 1 && !strcmp(lr->args[0], "zone=tollgate_credentials"), "%s: limit_req %s",
			      sites[s], joined(lr));
		/* the zone's key is the one the credential locations set */
		const struct ngx_block *top = parse_file(sites[s]);
		const struct ngx_dir *http = find_dir(top, "http");
		const struct ngx_dir *zone = find_dir(http && http->block ? http->block : top, "limit_req_zone");
		ck_assert_msg(zone && zone->nargs == 3 && !strcmp(zone->args[0], "$tollgate_credential_client") &&
				      !strncmp(zone->args[1], "zone=tollgate_credentials:", 26),
			      "%s: limit_req_zone must be keyed by $tollgate_credential_client", sites[s]);
	}
	/* every request starts with an empty key (requests with an empty key are not counted) */
	const struct ngx_dir *set = find_dir(api, "set");
	ck_assert(set && set->nargs == 2 && !strcmp(set->args[0], "$tollgate_credential_client") &&
		  !strcmp(set->args[1], ""));

	const char *text = read_repo_file("nginx/tollgate-api.conf");
	for (const char *p = strchr(text, '@'); p; p = strchr(p + 1, '@')) {
		size_t n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
		ck_assert_msg(!(n > 0 && p[1 + n] == '@'), "nginx/tollgate-api.conf holds a placeholder: %.30s", p);
	}
}
END_TEST

/* The reader itself: the location choice follows nginx's order. */
START_TEST(location_choice_follows_nginx)
{
	struct reader r = {.a = A, .file = "inline", .line = 1,
			   .p = "location / { a; }\n"
				"location /api/ { fastcgi_pass main; }\n"
				"location ^~ /static/ { b; }\n"
				"location ~ ^/api/auth/(login)$ { fastcgi_pass pw; }   # comment\n"
				"location ~* \\.PNG$ { c; }\n"
				"location = /api { return 404 '{\"x\":\"it\\'s\"}'; }\n"};
	const struct ngx_block *b = parse_block(&r, true);
	ck_assert_uint_eq(b->n, 6);
	ck_assert_int_eq(pick_location(b, "/api/auth/login")->line, 4);
	ck_assert_int_eq(pick_location(b, "/api/auth/login/x")->line, 2);
	ck_assert_int_eq(pick_location(b, "/api")->line, 6);
	ck_assert_int_eq(pick_location(b, "/static/a.png")->line, 3);
	ck_assert_int_eq(pick_location(b, "/a.png")->line, 5);
	ck_assert_int_eq(pick_location(b, "/x")->line, 1);
	ck_assert_str_eq(find_dir(b->dirs[5].block, "return")->args[1], "{\"x\":\"it's\"}");
	ck_assert_str_eq(sample_path("/api/a/{id}/b/{x}"), "/api/a/" SAMPLE_UUID "/b/" SAMPLE_UUID);
}
END_TEST

static Suite *nginx_routes_suite(void)
{
	Suite *s = suite_create("nginx_routes");
	TCase *tc = tcase_create("nginx_routes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, location_choice_follows_nginx);
	tcase_add_loop_test(tc, every_route_reaches_its_pool_and_limit, 0, 2);
	tcase_add_test(tc, password_regex_matches_password_routes_only);
	tcase_add_test(tc, credential_regex_matches_credential_routes_only);
	tcase_add_test(tc, every_nginx_error_is_problem_json);
	tcase_add_test(tc, sites_share_tls_profile_and_limit);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(nginx_routes_suite)
