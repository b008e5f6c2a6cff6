/* test_product_search.c — full-text search of a project's documents (API.md: `?q=` in PostgreSQL
 * websearch_to_tsquery syntax adds `rank` and a highlighted `snippet`, terms in <mark>…</mark>, the
 * rest HTML-escaped, best first) and the passages a project-bound agent cites (sources:[{document_id,
 * title, snippet}], [] when none): ranking, the websearch syntax (or, -, "phrases"), scoping to the
 * project, re-indexing on update and delete, long documents, snippets that never carry the
 * document's markup unescaped, and what the model is given. */
#include "accounts_helpers.h"
#include "billing_helpers.h"
#include "itest.h"
#include "product_helpers.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const HIT_KEYS[] = {"id", "project_id", "title", "excerpt", "size_bytes", "created_at", "updated_at",
				       "rank", "snippet", NULL};

/* GET the project's documents with q (URL-encoded here). */
static struct it_resp *search(const struct it_user *u, const char *project, const char *q, const char *extra)
{
	char *eq = curl_easy_escape(NULL, q, 0);
	char *path = xprintf("/api/projects/%s/documents?q=%s%s", project, eq, extra ? extra : "");
	curl_free(eq);
	struct it_resp *r = pt_list(u, path);
	free(path);
	return r;
}

/* The ids of r's items, comma-separated (static). */
static const char *ids(const struct it_resp *r)
{
	static char out[1024];
	out[0] = '\0';
	json_object *items = it_at(r, "items");
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		size_t l = strlen(out);
		snprintf(out + l, sizeof(out) - l, "%s%s", i ? "," : "", jstr(json_object_array_get_idx(items, i), "id"));
	}
	return out;
}

static void expect_hits(const struct it_user *u, const char *project, const char *q, const char *want)
{
	struct it_resp *r = search(u, project, q, NULL);
	ck_assert_msg(!strcmp(ids(r), want), "q=%s: want [%s], got [%s]: %.600s", q, want, ids(r), r->body);
	long long n = *want ? 1 : 0;
	for (const char *p = want; *p; p++)
		n += *p == ',';
	ck_assert_int_eq(it_int(r, "total"), n);
	it_free(r);
}

/* A snippet decoded back to text: <mark> tags removed, the five entities turned back. Asserts that
 * nothing else of HTML is in it: no '<' or '>' but the marks', every '&' an entity. (malloc'd) */
static char *decode_snippet(const char *snippet)
{
	ck_assert_ptr_nonnull(snippet);
	char *out = malloc(strlen(snippet) + 1);
	size_t o = 0;
	for (const char *p = snippet; *p;) {
		static const struct { const char *from, *to; } map[] = {{"<mark>", ""}, {"</mark>", ""}, {"&lt;", "<"},
									 {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", "\""},
									 {"&#39;", "'"}};
		bool done = false;
		for (size_t k = 0; k < sizeof(map) / sizeof(map[0]) && !done; k++) {
			size_t l = strlen(map[k].from);
			if (!strncmp(p, map[k].from, l)) {
				memcpy(out + o, map[k].to, strlen(map[k].to));
				o += strlen(map[k].to);
				p += l;
				done = true;
			}
		}
		if (done)
			continue;
		ck_assert_msg(*p != '<' && *p != '>' && *p != '&', "unescaped '%c' in the snippet: %s", *p, snippet);
		out[o++] = *p++;
	}
	out[o] = '\0';
	return out;
}

/* Every fragment of the snippet (joined by " … ") is the document's own text, escaped. */
static void expect_snippet_of(const char *snippet, const char *content)
{
	char *text = decode_snippet(snippet);
	for (char *frag = text, *next; frag; frag = next) {
		next = strstr(frag, " \xe2\x80\xa6 ");
		if (next) {
			*next = '\0';
			next += 5;
		}
		ck_assert_msg(strstr(content, frag), "the snippet's fragment '%s' is not the document's text\nsnippet: %s", frag,
			      snippet);
	}
	free(text);
}

START_TEST(ranking_and_websearch_syntax)
{
	struct it_user u;
	it_register(&u, "pt-search");
	char p[64], q[64], a[64], b[64], c[64], d[64];
	pt_project(&u, "databases", p);
	pt_project(&u, "elsewhere", q);
	const char *ca = "Postgres vacuum reclaims storage. Tuning vacuum and autovacuum keeps postgres indexes healthy.";
	pt_document(&u, p, "Postgres vacuum guide", ca, a);
	pt_document(&u, p, "Cooking with postgres", "This recipe mentions postgres once, then talks about soup.", b);
	pt_document(&u, p, "Gardening", "Tomatoes need sun and water.", c);
	pt_document(&u, q, "Another project", "postgres vacuum indexes in another project", d);
	char ab[160];
	snprintf(ab, sizeof(ab), "%s,%s", a, b);
	expect_hits(&u, p, "postgres vacuum indexes", a);  /* every term: A only */
	expect_hits(&u, p, "postgres or vacuum or indexes", ab); /* any: more terms rank first */
	expect_hits(&u, p, "postgres -soup", a);
	expect_hits(&u, p, "\"vacuum reclaims\"", a);
	expect_hits(&u, p, "\"reclaims vacuum\"", "");
	expect_hits(&u, p, "tomato", c); /* stemmed */
	expect_hits(&u, p, "xylophone", "");
	expect_hits(&u, q, "postgres", d); /* another project's documents are not this one's */

	struct it_resp *r = search(&u, p, "postgres or vacuum or indexes", NULL);
	json_object *items = it_at(r, "items");
	json_object *ha = json_object_array_get_idx(items, 0), *hb = json_object_array_get_idx(items, 1);
	pt_expect_keys(ha, HIT_KEYS);
	pt_expect_keys(hb, HIT_KEYS);
	double ra = json_object_get_double(jget(ha, "rank")), rb = json_object_get_double(jget(hb, "rank"));
	ck_assert_msg(ra > rb && rb > 0, "ranks: %f (more terms) should be above %f > 0", ra, rb);
	const char *sa = jstr(ha, "snippet");
	ck_assert_msg(strstr(sa, "<mark>vacuum</mark>") && strstr(sa, "<mark>Postgres</mark>"), "terms not marked: %s", sa);
	expect_snippet_of(sa, ca);
	ck_assert_msg(strstr(jstr(hb, "snippet"), "<mark>postgres</mark>"), "term not marked: %s", jstr(hb, "snippet"));
	it_free(r);
	/* pages of results, best first */
	r = search(&u, p, "postgres or vacuum or indexes", "&per_page=1");
	ck_assert_str_eq(ids(r), a);
	ck_assert_int_eq(it_int(r, "total"), 2);
	it_free(r);
	r = search(&u, p, "postgres or vacuum or indexes", "&per_page=1&page=2");
	ck_assert_str_eq(ids(r), b);
	it_free(r);
	/* without q: every document, without rank or snippet */
	char *lp = xprintf("/api/projects/%s/documents", p);
	r = pt_list(&u, lp);
	ck_assert_int_eq(it_int(r, "total"), 3);
	ck_assert_ptr_null(jget(json_object_array_get_idx(it_at(r, "items"), 0), "snippet"));
	it_free(r);
	free(lp);
}
END_TEST

START_TEST(the_index_follows_updates_deletes_and_long_documents)
{
	struct it_user u;
	it_register(&u, "pt-reindex");
	char p[64], a[64], l[64];
	pt_project(&u, "changing", p);
	pt_document(&u, p, "Animals", "The platypus lays eggs.", a);
	expect_hits(&u, p, "platypus", a);
	struct it_resp *r = pt_req("PATCH", u.access, "{\"content\": \"The echidna lays eggs too.\"}",
				   "/api/projects/%s/documents/%s", p, a);
	it_expect(r, 200, NULL);
	it_free(r);
	expect_hits(&u, p, "platypus", "");
	expect_hits(&u, p, "echidna", a);
	r = pt_req("PATCH", u.access, "{\"title\": \"Monotremes\"}", "/api/projects/%s/documents/%s", p, a);
	it_free(r);
	expect_hits(&u, p, "echidna", a); /* a title change keeps the content's index */
	/* a long document: the term only at its very end, many passages later */
	char *filler = pt_fill("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 20000);
	char *content = xprintf("%s The hidden word is aardvark.", filler);
	pt_document(&u, p, "Long", content, l);
	r = search(&u, p, "aardvark", NULL);
	ck_assert_str_eq(ids(r), l);
	const char *sn = jstr(json_object_array_get_idx(it_at(r, "items"), 0), "snippet");
	ck_assert_msg(sn && strstr(sn, "<mark>aardvark</mark>"), "the snippet is not around the match: %s", sn);
	expect_snippet_of(sn, content);
	it_free(r);
	free(filler);
	free(content);
	r = pt_req("DELETE", u.access, NULL, "/api/projects/%s/documents/%s", p, a);
	it_expect(r, 204, NULL);
	it_free(r);
	expect_hits(&u, p, "echidna", "");
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM document_chunks WHERE document_id = '%s'", a), 0);
}
END_TEST

START_TEST(snippets_never_carry_markup_unescaped)
{
	struct it_user u;
	it_register(&u, "pt-xss");
	char p[64], a[64];
	pt_project(&u, "html", p);
	const char *content = "Warning: <script>alert(\"xss\")</script> & <b onclick='x()'>bold</b> claims about zebras,"
			      " \"quoted\" zebras & <img src=x onerror=alert(1)> more zebras.";
	char *c = pt_jstr(content);
	char *body = xprintf("{\"title\": \"<script>alert(1)</script>\", \"content\": %s}", c);
	struct it_resp *r = pt_req("POST", u.access, body, "/api/projects/%s/documents", p);
	it_expect(r, 201, NULL);
	copy_to(a, sizeof(a), it_str(r, "id"));
	expect_str(r, "content", content); /* stored as it was sent: it is text, not HTML */
	it_free(r);
	free(body);
	free(c);
	static const char *const queries[] = {"zebras", "alert", "bold", "quoted", "warning claims", "onerror or nothing",
						       /* words inside markup are words of the text too */
						       "script", "onclick"};
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		r = search(&u, p, queries[i], NULL);
		ck_assert_msg(it_int(r, "total") == 1, "q=%s: want the document: %s", queries[i], r->body);
		const char *sn = jstr(json_object_array_get_idx(it_at(r, "items"), 0), "snippet");
		ck_assert_msg(sn && strstr(sn, "<mark>"), "q=%s: no mark in %s", queries[i], sn ? sn : "(none)");
		ck_assert_msg(!strstr(sn, "<script") && !strstr(sn, "<b ") && !strstr(sn, "<img"), "q=%s: markup in %s",
			      queries[i], sn);
		expect_snippet_of(sn, content); /* escaped, not dropped: the text is all there */
		it_free(r);
	}
	r = search(&u, p, "zebras", NULL);
	const char *sn = jstr(json_object_array_get_idx(it_at(r, "items"), 0), "snippet");
	ck_assert_msg(strstr(sn, "&lt;script&gt;") || strstr(sn, "&lt;img"), "the document's markup should show, escaped: %s",
		      sn);
	it_free(r);
}
END_TEST

/* The sources of a chat are {document_id, title, snippet} with a marked snippet of that document. */
static void expect_source(json_object *src, const char *doc, const char *title, const char *content)
{
	static const char *const keys[] = {"document_id", "title", "snippet", NULL};
	pt_expect_keys(src, keys);
	ck_assert_str_eq(jstr(src, "document_id"), doc);
	ck_assert_str_eq(jstr(src, "title"), title);
	ck_assert_msg(strstr(jstr(src, "snippet"), "<mark>"), "no marked term in %s", jstr(src, "snippet"));
	expect_snippet_of(jstr(src, "snippet"), content);
}

START_TEST(a_project_bound_agent_cites_its_documents)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-cite", NULL, -1, -1, -1, -1);
	char p[64], d1[64], d2[64], bound[64], unbound[64], conv[64];
	pt_project(&u, "mission", p);
	const char *c1 = "The launch code for the rocket is zebra-42. Keep it <secret> & safe.";
	pt_document(&u, p, "Launch codes", c1, d1);
	pt_document(&u, p, "Banana bread", "A recipe with flour, bananas and sugar.", d2);
	pt_agent(&u, "mission control", p, bound);
	pt_agent(&u, "outsider", NULL, unbound);
	struct it_resp *r = pt_chat_ok(&u, bound, "what is the launch code for the rocket", NULL, conv);
	json_object *src = it_at(r, "sources");
	ck_assert_msg(json_object_array_length(src) == 1, "want the launch codes document only: %s", r->body);
	expect_source(json_object_array_get_idx(src, 0), d1, "Launch codes", c1);
	char *want_sources = strdup(json_object_to_json_string(src));
	it_free(r);
	/* the model was given the passage and its document's title */
	json_object *chats = pt_llm_chats(u.id);
	json_object *last = json_object_array_get_idx(chats, json_object_array_length(chats) - 1);
	json_object *msgs = jget(jget(last, "body"), "messages");
	const char *system = jstr(json_object_array_get_idx(msgs, 0), "content");
	ck_assert_msg(!strcmp(jstr(json_object_array_get_idx(msgs, 0), "role"), "system") && strstr(system, "zebra-42") &&
			      strstr(system, "Launch codes") && !strstr(system, "bananas"),
		      "the system message lacks the passage: %s", system ? system : "(none)");
	json_object_put(chats);
	/* stored with the reply */
	r = pt_conversation(&u, conv);
	json_object *stored = jget(json_object_array_get_idx(it_at(r, "messages"), 1), "sources");
	ck_assert_int_eq(json_object_array_length(stored), 1);
	expect_source(json_object_array_get_idx(stored, 0), d1, "Launch codes", c1);
	it_free(r);
	/* streamed: the done event carries the same sources */
	struct pt_stream s;
	pt_stream_chat(&u, bound, "{\"content\": \"what is the launch code for the rocket\", \"stream\": true}", 0, &s);
	ck_assert_str_eq(s.event[s.n - 1], "done");
	json_object *ss = jget(s.data[s.n - 1], "sources");
	ck_assert_int_eq(json_object_array_length(ss), 1);
	expect_source(json_object_array_get_idx(ss, 0), d1, "Launch codes", c1);
	pt_stream_free(&s);
	free(want_sources);
	/* nothing matches: sources [] and no passage sent */
	r = pt_chat_ok(&u, bound, "hello", NULL, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "sources")), 0);
	it_free(r);
	/* the same question to an agent bound to no project cites nothing */
	r = pt_chat_ok(&u, unbound, "what is the launch code for the rocket", NULL, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "sources")), 0);
	it_free(r);
	chats = pt_llm_chats(u.id);
	last = json_object_array_get_idx(chats, json_object_array_length(chats) - 1);
	ck_assert_msg(!strstr(json_object_to_json_string(jget(last, "body")), "zebra-42"), "an unbound agent got a passage");
	json_object_put(chats);
}
END_TEST

START_TEST(sources_are_capped_best_first)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-cap", NULL, -1, -1, -1, -1);
	long cap = cfg_long("chat_sources", 4);
	char p[64], d[64], best[64], agent[64];
	pt_project(&u, "physics", p);
	for (long i = 0; i < cap + 2; i++)
		pt_document(&u, p, "note", "Quantum notes: a passing mention.", d);
	pt_document(&u, p, "The quantum one", "Quantum entanglement, quantum states and quantum tunnelling.", best);
	pt_agent(&u, "physicist", p, agent);
	struct it_resp *r = pt_chat_ok(&u, agent, "explain quantum entanglement", NULL, NULL);
	json_object *src = it_at(r, "sources");
	ck_assert_msg((long)json_object_array_length(src) == cap, "want %ld sources (chat_sources), got %zu: %s", cap,
		      json_object_array_length(src), r->body);
	ck_assert_str_eq(jstr(json_object_array_get_idx(src, 0), "document_id"), best);
	it_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("product_search");
	TCase *tc = product_tcase(s, "search", 60);
	tcase_add_test(tc, ranking_and_websearch_syntax);
	tcase_add_test(tc, the_index_follows_updates_deletes_and_long_documents);
	tcase_add_test(tc, snippets_never_carry_markup_unescaped);
	tc = product_tcase(s, "sources", 60);
	tcase_add_test(tc, a_project_bound_agent_cites_its_documents);
	tcase_add_test(tc, sources_are_capped_best_first);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
