/* test_product_ownership.c — every product resource belongs to one user (API.md: "anyone else's id is
 * 404 not_found, never 403"): user B can neither see, edit, delete nor chat with user A's projects,
 * documents, agents and conversations, cannot bind an agent to A's project or continue A's
 * conversation (422 on those body fields), and A's lists never show B's things; an id that is not a
 * UUID is 404 too; without a token every product route is 401. Afterwards A's things are intact. */
#include "accounts_helpers.h"
#include "billing_helpers.h"
#include "itest.h"
#include "product_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct world {
	struct it_user a, b;
	char pa[64], da[64], aa[64], ca[64]; /* A's project, document, agent (bound), conversation */
	char pb[64], ab[64];                 /* B's project and agent */
};

static void make_world(struct world *w)
{
	pt_user_on_plan(&w->a, "pt-own-a", NULL, -1, -1, -1, -1);
	pt_user_on_plan(&w->b, "pt-own-b", NULL, -1, -1, -1, -1);
	pt_project(&w->a, "A's secrets", w->pa);
	pt_document(&w->a, w->pa, "A's plans", "the treasure is under the old oak tree", w->da);
	pt_agent(&w->a, "A's agent", w->pa, w->aa);
	it_free(pt_chat_ok(&w->a, w->aa, "where is the treasure", NULL, w->ca));
	pt_project(&w->b, "B's project", w->pb);
	pt_agent(&w->b, "B's agent", NULL, w->ab);
}

/* method path (as B) answers 404 not_found. */
static void expect_404(const char *bearer, const char *method, const char *json, const char *path)
{
	struct it_resp *r = pt_req(method, bearer, json, "%s", path);
	if (r->status != 404)
		ck_assert_msg(0, "%s %s as another user: want 404, got %ld %.300s", method, path, r->status, r->body);
	it_expect_problem(r, 404, "not_found");
	it_free(r);
}

/* A's things, as A sees them: a fingerprint that must not change. */
static char *fingerprint(const struct world *w)
{
	char *paths[] = {xprintf("/api/projects/%s", w->pa), xprintf("/api/projects/%s/documents/%s", w->pa, w->da),
			 xprintf("/api/agents/%s", w->aa), xprintf("/api/conversations/%s", w->ca)};
	char *out = strdup("");
	for (int i = 0; i < 4; i++) {
		struct it_resp *r = it_get(paths[i], w->a.access);
		ck_assert_msg(r->status == 200, "A cannot read %s any more: %ld %s", paths[i], r->status, r->body);
		char *n = xprintf("%s\n%s", out, r->body);
		free(out);
		out = n;
		it_free(r);
		free(paths[i]);
	}
	return out;
}

START_TEST(another_users_things_are_404)
{
	struct world w;
	make_world(&w);
	char *before = fingerprint(&w);
	const char *b = w.b.access;
	char p[256];
	snprintf(p, sizeof(p), "/api/projects/%s", w.pa);
	expect_404(b, "GET", NULL, p);
	expect_404(b, "PATCH", "{\"name\": \"mine now\"}", p);
	expect_404(b, "DELETE", NULL, p);
	snprintf(p, sizeof(p), "/api/projects/%s/documents", w.pa);
	expect_404(b, "GET", NULL, p);
	snprintf(p, sizeof(p), "/api/projects/%s/documents?q=treasure", w.pa);
	expect_404(b, "GET", NULL, p);
	snprintf(p, sizeof(p), "/api/projects/%s/documents", w.pa);
	expect_404(b, "POST", "{\"title\": \"planted\", \"content\": \"x\"}", p);
	snprintf(p, sizeof(p), "/api/projects/%s/documents/%s", w.pa, w.da);
	expect_404(b, "GET", NULL, p);
	expect_404(b, "PATCH", "{\"content\": \"overwritten\"}", p);
	expect_404(b, "DELETE", NULL, p);
	/* A's document under B's own project */
	snprintf(p, sizeof(p), "/api/projects/%s/documents/%s", w.pb, w.da);
	expect_404(b, "GET", NULL, p);
	expect_404(b, "PATCH", "{\"title\": \"moved\"}", p);
	expect_404(b, "DELETE", NULL, p);
	snprintf(p, sizeof(p), "/api/agents/%s", w.aa);
	expect_404(b, "GET", NULL, p);
	expect_404(b, "PATCH", "{\"name\": \"hijacked\"}", p);
	expect_404(b, "DELETE", NULL, p);
	snprintf(p, sizeof(p), "/api/agents/%s/conversations", w.aa);
	expect_404(b, "GET", NULL, p);
	snprintf(p, sizeof(p), "/api/agents/%s/chat", w.aa);
	expect_404(b, "POST", "{\"content\": \"where is the treasure\"}", p);
	expect_404(b, "POST", "{\"content\": \"where is the treasure\", \"stream\": true}", p);
	snprintf(p, sizeof(p), "/api/conversations/%s", w.ca);
	expect_404(b, "GET", NULL, p);
	expect_404(b, "DELETE", NULL, p);

	/* nothing of B's reached LiteLLM or the database */
	ck_assert_int_eq(pt_llm_chat_count(w.b.id), 0);
	ck_assert_int_eq(pt_stored_conversations(w.b.id), 0);
	struct pt_metric m;
	pt_usage(&w.b, "documents", &m);
	ck_assert_int_eq(m.used, 0);
	pt_usage(&w.b, "monthly_tokens", &m);
	ck_assert_int_eq(m.used + m.reserved, 0);
	/* and A's things are as they were */
	char *after = fingerprint(&w);
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
}
END_TEST

START_TEST(another_users_ids_in_bodies_are_422)
{
	struct world w;
	make_world(&w);
	/* an agent bound to A's project: project_id must be one of the caller's projects */
	char *body = xprintf("{\"name\": \"spy\", \"model\": \"" PT_MODEL "\", \"project_id\": \"%s\"}", w.pa);
	struct it_resp *r = it_post("/api/agents", w.b.access, body);
	expect_invalid(r, "project_id");
	it_free(r);
	free(body);
	body = xprintf("{\"project_id\": \"%s\"}", w.pa);
	r = pt_req("PATCH", w.b.access, body, "/api/agents/%s", w.ab);
	expect_invalid(r, "project_id");
	it_free(r);
	free(body);
	r = pt_req("PATCH", w.b.access, "{\"project_id\": \"not-a-uuid\"}", "/api/agents/%s", w.ab);
	expect_invalid(r, "project_id");
	it_free(r);
	r = pt_req("GET", w.b.access, NULL, "/api/agents/%s", w.ab);
	expect_null(r, "project_id"); /* the refused PATCH changed nothing */
	expect_str(r, "name", "B's agent");
	it_free(r);
	/* continuing A's conversation with B's own agent */
	body = xprintf("{\"content\": \"and then?\", \"conversation_id\": \"%s\"}", w.ca);
	r = pt_req("POST", w.b.access, body, "/api/agents/%s/chat", w.ab);
	expect_invalid(r, "conversation_id");
	it_free(r);
	free(body);
	/* A's own conversation with another of A's agents is not that agent's either */
	char a2[64];
	pt_agent(&w.a, "A's second agent", NULL, a2);
	body = xprintf("{\"content\": \"and then?\", \"conversation_id\": \"%s\"}", w.ca);
	r = pt_req("POST", w.a.access, body, "/api/agents/%s/chat", a2);
	expect_invalid(r, "conversation_id");
	it_free(r);
	free(body);
	ck_assert_int_eq(pt_llm_chat_count(w.b.id), 0);
	ck_assert_int_eq(pt_stored_conversations(w.b.id), 0);
	r = pt_conversation(&w.a, w.ca);
	ck_assert_int_eq(json_object_array_length(it_at(r, "messages")), 2);
	it_free(r);
}
END_TEST

START_TEST(lists_show_only_ones_own)
{
	struct world w;
	make_world(&w);
	struct { const struct it_user *u; const char *path, *want; } cases[] = {
		{&w.a, "/api/projects", w.pa}, {&w.b, "/api/projects", w.pb},
		{&w.a, "/api/agents", w.aa},   {&w.b, "/api/agents", w.ab},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct it_resp *r = pt_list(cases[i].u, cases[i].path);
		ck_assert_msg(it_int(r, "total") == 1 && json_object_array_length(it_at(r, "items")) == 1 &&
				      pt_index_of(r, cases[i].want) == 0,
			      "%s of %s: want exactly %s: %s", cases[i].path, cases[i].u->email, cases[i].want, r->body);
		it_free(r);
	}
	char *lp = xprintf("/api/projects/%s/documents", w.pb);
	struct it_resp *r = pt_list(&w.b, lp);
	ck_assert_int_eq(it_int(r, "total"), 0);
	it_free(r);
	free(lp);
	/* B's search for A's words finds nothing in B's project */
	lp = xprintf("/api/projects/%s/documents?q=treasure", w.pb);
	r = pt_list(&w.b, lp);
	ck_assert_int_eq(it_int(r, "total"), 0);
	it_free(r);
	free(lp);
	lp = xprintf("/api/agents/%s/conversations", w.ab);
	r = pt_list(&w.b, lp);
	ck_assert_int_eq(it_int(r, "total"), 0);
	it_free(r);
	free(lp);
	/* B's usage counts B's things only */
	struct pt_metric m;
	pt_usage(&w.b, "projects", &m);
	ck_assert_int_eq(m.used, 1);
	pt_usage(&w.b, "agents", &m);
	ck_assert_int_eq(m.used, 1);
}
END_TEST

START_TEST(ids_that_are_not_uuids_are_404)
{
	struct world w;
	make_world(&w);
	const char *a = w.a.access;
	char p[256];
	static const char *const bad[] = {"not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g",
					  "00000000-0000-0000-0000-0000000000000"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(p, sizeof(p), "/api/projects/%s", bad[i]);
		expect_404(a, "GET", NULL, p);
		expect_404(a, "PATCH", "{\"name\": \"x\"}", p);
		expect_404(a, "DELETE", NULL, p);
		snprintf(p, sizeof(p), "/api/projects/%s/documents", bad[i]);
		expect_404(a, "GET", NULL, p);
		expect_404(a, "POST", "{\"title\": \"x\"}", p);
		snprintf(p, sizeof(p), "/api/projects/%s/documents/%s", w.pa, bad[i]);
		expect_404(a, "GET", NULL, p);
		expect_404(a, "PATCH", "{\"title\": \"x\"}", p);
		expect_404(a, "DELETE", NULL, p);
		snprintf(p, sizeof(p), "/api/projects/%s/documents/%s", bad[i], w.da);
		expect_404(a, "GET", NULL, p);
		snprintf(p, sizeof(p), "/api/agents/%s", bad[i]);
		expect_404(a, "GET", NULL, p);
		expect_404(a, "PATCH", "{\"name\": \"x\"}", p);
		expect_404(a, "DELETE", NULL, p);
		snprintf(p, sizeof(p), "/api/agents/%s/conversations", bad[i]);
		expect_404(a, "GET", NULL, p);
		snprintf(p, sizeof(p), "/api/agents/%s/chat", bad[i]);
		expect_404(a, "POST", "{\"content\": \"hi\"}", p);
		snprintf(p, sizeof(p), "/api/conversations/%s", bad[i]);
		expect_404(a, "GET", NULL, p);
		expect_404(a, "DELETE", NULL, p);
	}
	/* a UUID nobody has */
	snprintf(p, sizeof(p), "/api/projects/%s", "6f1c1f3e-0b7a-4c47-9d0e-2b1f6a1d2c3e");
	expect_404(a, "GET", NULL, p);
	snprintf(p, sizeof(p), "/api/agents/%s/chat", "6f1c1f3e-0b7a-4c47-9d0e-2b1f6a1d2c3e");
	expect_404(a, "POST", "{\"content\": \"hi\"}", p);
	ck_assert_int_eq(pt_llm_chat_count(w.a.id), 1); /* the one chat of make_world */
}
END_TEST

START_TEST(without_a_token_401)
{
	struct world w;
	make_world(&w);
	char paths[][200] = {"/api/projects", "/api/agents", "/api/usage", "/api/models", "", "", "", ""};
	snprintf(paths[4], 200, "/api/projects/%s", w.pa);
	snprintf(paths[5], 200, "/api/projects/%s/documents", w.pa);
	snprintf(paths[6], 200, "/api/agents/%s/conversations", w.aa);
	snprintf(paths[7], 200, "/api/conversations/%s", w.ca);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct it_resp *r = it_get(paths[i], NULL);
		it_expect_problem(r, 401, "unauthorized");
		it_free(r);
	}
	struct it_resp *r = pt_req("POST", NULL, "{\"content\": \"hi\"}", "/api/agents/%s/chat", w.aa);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	r = pt_req("DELETE", "not.a.token", NULL, "/api/projects/%s", w.pa);
	it_expect_problem(r, 401, "unauthorized");
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM projects WHERE id = '%s'", w.pa), 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("product_ownership");
	TCase *tc = product_tcase(s, "ownership", 60);
	tcase_add_test(tc, another_users_things_are_404);
	tcase_add_test(tc, another_users_ids_in_bodies_are_422);
	tcase_add_test(tc, lists_show_only_ones_own);
	tcase_add_test(tc, ids_that_are_not_uuids_are_404);
	tcase_add_test(tc, without_a_token_401);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
