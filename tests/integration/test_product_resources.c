/* test_product_resources.c — projects, documents, agents and conversations as API.md's product
 * section and its Conventions describe them: the objects' exact members, 201 with the created
 * object, PATCH answering the whole object and keeping the fields not sent, DELETE 204 without a
 * body (then 404), a project's DELETE removing its documents and unbinding its agents, an agent's
 * DELETE removing its conversations, lists in the envelope newest updated first with page and
 * per_page, and GET /api/models. */
#include "accounts_helpers.h"
#include "billing_helpers.h"
#include "itest.h"
#include "product_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const PROJECT_KEYS[] = {"id", "name", "description", "document_count", "created_at",
					   "updated_at", NULL};
static const char *const DOC_KEYS[] = {"id", "project_id", "title", "content", "size_bytes", "created_at",
				       "updated_at", NULL};
static const char *const DOC_ITEM_KEYS[] = {"id", "project_id", "title", "excerpt", "size_bytes", "created_at",
					    "updated_at", NULL};
static const char *const AGENT_KEYS[] = {"id", "name", "model", "system_prompt", "project_id", "created_at",
					 "updated_at", NULL};
static const char *const CONV_KEYS[] = {"id", "agent_id", "title", "message_count", "created_at", "updated_at", NULL};

/* The id of item i of the list r. */
static const char *item_id(const struct it_resp *r, int i)
{
	char path[32];
	snprintf(path, sizeof(path), "items.%d.id", i);
	return it_str(r, path);
}

static void expect_deleted(const char *bearer, const char *path)
{
	struct it_resp *r = pt_req("DELETE", bearer, NULL, "%s", path);
	it_expect(r, 204, NULL);
	ck_assert_msg(r->body_len == 0, "204 with a body: %s", r->body);
	it_free(r);
	r = pt_req("GET", bearer, NULL, "%s", path);
	it_expect_problem(r, 404, "not_found");
	it_free(r);
	r = pt_req("DELETE", bearer, NULL, "%s", path);
	it_expect_problem(r, 404, "not_found");
	it_free(r);
}

/* ---- projects */

START_TEST(project_create_get_patch_keeps_unsent_fields)
{
	struct it_user u;
	it_register(&u, "pt-proj");
	struct it_resp *r = it_post("/api/projects", u.access, "{\"name\": \"Research\", \"description\": \"Notes on cats\"}");
	it_expect(r, 201, NULL);
	expect_json_ct(r);
	pt_expect_keys(r->json, PROJECT_KEYS);
	expect_str(r, "name", "Research");
	expect_str(r, "description", "Notes on cats");
	ck_assert_int_eq(it_int(r, "document_count"), 0);
	ck_assert(is_uuid(it_str(r, "id")));
	expect_rfc3339(r, "created_at");
	char id[64], created[32];
	copy_to(id, sizeof(id), it_str(r, "id"));
	copy_to(created, sizeof(created), it_str(r, "created_at"));
	ck_assert_str_eq(it_str(r, "updated_at"), created);
	it_free(r);

	/* a project without a description has "" */
	r = it_post("/api/projects", u.access, "{\"name\": \"Bare\"}");
	it_expect(r, 201, NULL);
	expect_str(r, "description", "");
	it_free(r);

	r = pt_req("GET", u.access, NULL, "/api/projects/%s", id);
	it_expect(r, 200, NULL);
	pt_expect_keys(r->json, PROJECT_KEYS);
	expect_str(r, "name", "Research");
	expect_str(r, "created_at", created);
	it_free(r);

	it_sleep_ms(1100); /* times are to the second: a change must show in updated_at */
	r = pt_req("PATCH", u.access, "{\"name\": \"Research 2\"}", "/api/projects/%s", id);
	it_expect(r, 200, NULL);
	pt_expect_keys(r->json, PROJECT_KEYS);
	expect_str(r, "name", "Research 2");
	expect_str(r, "description", "Notes on cats");
	expect_str(r, "created_at", created);
	ck_assert_msg(strcmp(it_str(r, "updated_at"), created) > 0, "updated_at did not move: %s", r->body);
	it_free(r);
	r = pt_req("PATCH", u.access, "{\"description\": \"Dogs too\"}", "/api/projects/%s", id);
	it_expect(r, 200, NULL);
	expect_str(r, "name", "Research 2");
	expect_str(r, "description", "Dogs too");
	it_free(r);
	r = pt_req("PATCH", u.access, "{}", "/api/projects/%s", id);
	it_expect(r, 200, NULL);
	expect_str(r, "name", "Research 2");
	expect_str(r, "description", "Dogs too");
	it_free(r);
	/* what GET shows is what PATCH answered */
	r = pt_req("GET", u.access, NULL, "/api/projects/%s", id);
	expect_str(r, "name", "Research 2");
	expect_str(r, "description", "Dogs too");
	it_free(r);
	char *path = xprintf("/api/projects/%s", id);
	expect_deleted(u.access, path);
	free(path);
}
END_TEST

START_TEST(project_list_newest_updated_first_in_pages)
{
	struct it_user u;
	it_register(&u, "pt-plist");
	struct it_resp *r = pt_list(&u, "/api/projects");
	ck_assert_int_eq(it_int(r, "total"), 0);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 0);
	it_free(r);
	char p1[64], p2[64], p3[64];
	pt_project(&u, "first", p1);
	pt_project(&u, "second", p2);
	pt_project(&u, "third", p3);
	r = pt_list(&u, "/api/projects");
	ck_assert_int_eq(it_int(r, "total"), 3);
	ck_assert_int_eq(it_int(r, "page"), 1);
	ck_assert_int_eq(it_int(r, "per_page"), 50); /* the default */
	ck_assert_str_eq(item_id(r, 0), p3);
	ck_assert_str_eq(item_id(r, 1), p2);
	ck_assert_str_eq(item_id(r, 2), p1);
	pt_expect_keys(json_object_array_get_idx(it_at(r, "items"), 0), PROJECT_KEYS);
	it_free(r);
	/* an update makes a project the newest */
	r = pt_req("PATCH", u.access, "{\"name\": \"first, renamed\"}", "/api/projects/%s", p1);
	it_expect(r, 200, NULL);
	it_free(r);
	r = pt_list(&u, "/api/projects?per_page=2");
	ck_assert_int_eq(it_int(r, "total"), 3);
	ck_assert_int_eq(it_int(r, "per_page"), 2);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 2);
	ck_assert_str_eq(item_id(r, 0), p1);
	ck_assert_str_eq(item_id(r, 1), p3);
	it_free(r);
	r = pt_list(&u, "/api/projects?per_page=2&page=2");
	ck_assert_int_eq(it_int(r, "page"), 2);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 1);
	ck_assert_str_eq(item_id(r, 0), p2);
	it_free(r);
	r = pt_list(&u, "/api/projects?per_page=2&page=3");
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 0);
	ck_assert_int_eq(it_int(r, "total"), 3);
	it_free(r);
	r = pt_list(&u, "/api/projects?per_page=200");
	ck_assert_int_eq(it_int(r, "per_page"), 200);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 3);
	it_free(r);
}
END_TEST

/* ---- documents */

START_TEST(document_crud_and_counts)
{
	struct it_user u;
	it_register(&u, "pt-doc");
	char p[64], d1[64], d2[64];
	pt_project(&u, "docs", p);
	/* "héllo wörld" is 11 characters and 13 bytes: size_bytes counts bytes */
	struct it_resp *r = pt_req("POST", u.access, "{\"title\": \"Greeting\", \"content\": \"h\\u00e9llo w\\u00f6rld\"}",
				   "/api/projects/%s/documents", p);
	it_expect(r, 201, NULL);
	pt_expect_keys(r->json, DOC_KEYS);
	expect_str(r, "project_id", p);
	expect_str(r, "title", "Greeting");
	expect_str(r, "content", "h\xc3\xa9llo w\xc3\xb6rld");
	ck_assert_int_eq(it_int(r, "size_bytes"), 13);
	expect_rfc3339(r, "created_at");
	copy_to(d1, sizeof(d1), it_str(r, "id"));
	it_free(r);
	/* content may be empty, or left out */
	r = pt_req("POST", u.access, "{\"title\": \"Empty\"}", "/api/projects/%s/documents", p);
	it_expect(r, 201, NULL);
	expect_str(r, "content", "");
	ck_assert_int_eq(it_int(r, "size_bytes"), 0);
	copy_to(d2, sizeof(d2), it_str(r, "id"));
	it_free(r);

	r = pt_req("GET", u.access, NULL, "/api/projects/%s", p);
	ck_assert_int_eq(it_int(r, "document_count"), 2);
	it_free(r);

	/* the list: no content, an excerpt, newest updated first */
	char *lp = xprintf("/api/projects/%s/documents", p);
	r = pt_list(&u, lp);
	ck_assert_int_eq(it_int(r, "total"), 2);
	ck_assert_str_eq(item_id(r, 0), d2);
	ck_assert_str_eq(item_id(r, 1), d1);
	json_object *it1 = json_object_array_get_idx(it_at(r, "items"), 1);
	pt_expect_keys(it1, DOC_ITEM_KEYS);
	ck_assert_str_eq(jstr(it1, "excerpt"), "h\xc3\xa9llo w\xc3\xb6rld");
	it_free(r);

	r = pt_req("GET", u.access, NULL, "/api/projects/%s/documents/%s", p, d1);
	it_expect(r, 200, NULL);
	pt_expect_keys(r->json, DOC_KEYS);
	expect_str(r, "content", "h\xc3\xa9llo w\xc3\xb6rld");
	it_free(r);

	/* PATCH keeps what is not sent */
	r = pt_req("PATCH", u.access, "{\"title\": \"Greeting, edited\"}", "/api/projects/%s/documents/%s", p, d1);
	it_expect(r, 200, NULL);
	pt_expect_keys(r->json, DOC_KEYS);
	expect_str(r, "title", "Greeting, edited");
	expect_str(r, "content", "h\xc3\xa9llo w\xc3\xb6rld");
	ck_assert_int_eq(it_int(r, "size_bytes"), 13);
	it_free(r);
	r = pt_req("PATCH", u.access, "{\"content\": \"bye\"}", "/api/projects/%s/documents/%s", p, d1);
	it_expect(r, 200, NULL);
	expect_str(r, "title", "Greeting, edited");
	expect_str(r, "content", "bye");
	ck_assert_int_eq(it_int(r, "size_bytes"), 3);
	it_free(r);
	r = pt_list(&u, lp);
	ck_assert_str_eq(item_id(r, 0), d1); /* updated last: first */
	it_free(r);
	free(lp);

	char *path = xprintf("/api/projects/%s/documents/%s", p, d2);
	expect_deleted(u.access, path);
	free(path);
	r = pt_req("GET", u.access, NULL, "/api/projects/%s", p);
	ck_assert_int_eq(it_int(r, "document_count"), 1);
	it_free(r);
	struct pt_metric m;
	pt_usage(&u, "documents", &m);
	ck_assert_int_eq(m.used, 1);
}
END_TEST

START_TEST(project_delete_removes_documents_and_unbinds_agents)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-pdel", NULL, -1, -1, -1, -1);
	char p[64], other[64], d1[64], d2[64], bound[64], elsewhere[64];
	pt_project(&u, "doomed", p);
	pt_project(&u, "kept", other);
	pt_document(&u, p, "one", "alpha beta gamma", d1);
	pt_document(&u, p, "two", "delta epsilon", d2);
	pt_agent(&u, "bound", p, bound);
	pt_agent(&u, "elsewhere", other, elsewhere);
	struct pt_metric before, after;
	pt_usage(&u, "documents", &before);
	ck_assert_int_eq(before.used, 2);

	struct it_resp *r = pt_req("DELETE", u.access, NULL, "/api/projects/%s", p);
	it_expect(r, 204, NULL);
	it_free(r);
	r = pt_req("GET", u.access, NULL, "/api/projects/%s/documents/%s", p, d1);
	it_expect_problem(r, 404, "not_found");
	it_free(r);
	r = pt_req("GET", u.access, NULL, "/api/projects/%s/documents", p);
	it_expect_problem(r, 404, "not_found");
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM documents WHERE id IN ('%s', '%s')", d1, d2), 0);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM document_chunks WHERE document_id IN ('%s', '%s')", d1, d2), 0);
	pt_usage(&u, "documents", &after);
	ck_assert_int_eq(after.used, 0);
	pt_usage(&u, "projects", &after);
	ck_assert_int_eq(after.used, 1);

	/* the agent stays, unbound; the other keeps its project */
	r = pt_req("GET", u.access, NULL, "/api/agents/%s", bound);
	it_expect(r, 200, NULL);
	expect_null(r, "project_id");
	expect_str(r, "name", "bound");
	it_free(r);
	r = pt_req("GET", u.access, NULL, "/api/agents/%s", elsewhere);
	expect_str(r, "project_id", other);
	it_free(r);
	/* and it still chats (without sources) */
	r = pt_chat_ok(&u, bound, "alpha beta", NULL, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "sources")), 0);
	it_free(r);
}
END_TEST

/* ---- agents */

START_TEST(agent_crud_patch_keeps_unsent_fields)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-agent", NULL, -1, -1, -1, -1);
	char p1[64], p2[64], a[64];
	pt_project(&u, "one", p1);
	pt_project(&u, "two", p2);
	struct it_resp *r = it_post("/api/agents", u.access, "{\"name\": \"Helper\", \"model\": \"" PT_MODEL "\"}");
	it_expect(r, 201, NULL);
	pt_expect_keys(r->json, AGENT_KEYS);
	expect_str(r, "name", "Helper");
	expect_str(r, "model", PT_MODEL);
	expect_str(r, "system_prompt", "");
	expect_null(r, "project_id");
	expect_rfc3339(r, "updated_at");
	copy_to(a, sizeof(a), it_str(r, "id"));
	it_free(r);

	char *body = xprintf("{\"system_prompt\": \"Be brief.\", \"project_id\": \"%s\"}", p1);
	r = pt_req("PATCH", u.access, body, "/api/agents/%s", a);
	free(body);
	it_expect(r, 200, NULL);
	pt_expect_keys(r->json, AGENT_KEYS);
	expect_str(r, "name", "Helper");
	expect_str(r, "model", PT_MODEL);
	expect_str(r, "system_prompt", "Be brief.");
	expect_str(r, "project_id", p1);
	it_free(r);
	r = pt_req("PATCH", u.access, "{\"name\": \"Helper 2\"}", "/api/agents/%s", a);
	it_expect(r, 200, NULL);
	expect_str(r, "name", "Helper 2");
	expect_str(r, "system_prompt", "Be brief.");
	expect_str(r, "project_id", p1); /* not sent: kept */
	it_free(r);
	body = xprintf("{\"project_id\": \"%s\"}", p2);
	r = pt_req("PATCH", u.access, body, "/api/agents/%s", a);
	free(body);
	expect_str(r, "project_id", p2);
	expect_str(r, "name", "Helper 2");
	it_free(r);
	r = pt_req("PATCH", u.access, "{\"project_id\": null}", "/api/agents/%s", a);
	it_expect(r, 200, NULL);
	expect_null(r, "project_id");
	expect_str(r, "system_prompt", "Be brief.");
	it_free(r);
	r = pt_req("GET", u.access, NULL, "/api/agents/%s", a);
	it_expect(r, 200, NULL);
	pt_expect_keys(r->json, AGENT_KEYS);
	expect_null(r, "project_id");
	expect_str(r, "name", "Helper 2");
	it_free(r);

	/* the list: newest updated first */
	char b[64];
	pt_agent(&u, "second", NULL, b);
	r = pt_list(&u, "/api/agents");
	ck_assert_int_eq(it_int(r, "total"), 2);
	ck_assert_str_eq(item_id(r, 0), b);
	ck_assert_str_eq(item_id(r, 1), a);
	pt_expect_keys(json_object_array_get_idx(it_at(r, "items"), 1), AGENT_KEYS);
	it_free(r);
	r = pt_req("PATCH", u.access, "{\"system_prompt\": \"\"}", "/api/agents/%s", a);
	expect_str(r, "system_prompt", "");
	it_free(r);
	r = pt_list(&u, "/api/agents");
	ck_assert_str_eq(item_id(r, 0), a);
	it_free(r);
	char *path = xprintf("/api/agents/%s", b);
	expect_deleted(u.access, path);
	free(path);
}
END_TEST

START_TEST(conversations_listed_read_and_deleted)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-conv", NULL, -1, -1, -1, -1);
	char a[64], c1[64], c2[64];
	pt_agent(&u, "talker", NULL, a);
	it_free(pt_chat_ok(&u, a, "first conversation here", NULL, c1));
	it_free(pt_chat_ok(&u, a, "second conversation here", NULL, c2));
	char *lp = xprintf("/api/agents/%s/conversations", a);
	struct it_resp *r = pt_list(&u, lp);
	ck_assert_int_eq(it_int(r, "total"), 2);
	ck_assert_str_eq(item_id(r, 0), c2);
	ck_assert_str_eq(item_id(r, 1), c1);
	json_object *it = json_object_array_get_idx(it_at(r, "items"), 1);
	pt_expect_keys(it, CONV_KEYS);
	ck_assert_str_eq(jstr(it, "agent_id"), a);
	ck_assert_str_eq(jstr(it, "title"), "first conversation here");
	ck_assert_int_eq(json_object_get_int64(jget(it, "message_count")), 2);
	it_free(r);
	/* a new message to the older conversation makes it the newest */
	it_free(pt_chat_ok(&u, a, "more", c1, NULL));
	r = pt_list(&u, lp);
	ck_assert_str_eq(item_id(r, 0), c1);
	ck_assert_int_eq(json_object_get_int64(jget(json_object_array_get_idx(it_at(r, "items"), 0), "message_count")), 4);
	it_free(r);

	r = pt_conversation(&u, c1);
	static const char *const keys[] = {"id", "agent_id", "title", "message_count", "created_at", "updated_at",
					   "messages", NULL};
	static const char *const mkeys[] = {"id", "role", "content", "created_at", "usage", "sources", NULL};
	pt_expect_keys(r->json, keys);
	json_object *msgs = it_at(r, "messages");
	ck_assert_int_eq(json_object_array_length(msgs), 4);
	static const char *const roles[] = {"user", "assistant", "user", "assistant"};
	for (int i = 0; i < 4; i++) {
		json_object *m = json_object_array_get_idx(msgs, (size_t)i);
		pt_expect_keys(m, mkeys);
		ck_assert_str_eq(jstr(m, "role"), roles[i]);
	}
	ck_assert_str_eq(jstr(json_object_array_get_idx(msgs, 2), "content"), "more");
	it_free(r);

	char *path = xprintf("/api/conversations/%s", c1);
	expect_deleted(u.access, path);
	free(path);
	r = pt_list(&u, lp);
	ck_assert_int_eq(it_int(r, "total"), 1);
	ck_assert_str_eq(item_id(r, 0), c2);
	it_free(r);

	/* deleting the agent removes its conversations and their messages */
	r = pt_req("DELETE", u.access, NULL, "/api/agents/%s", a);
	it_expect(r, 204, NULL);
	it_free(r);
	r = pt_req("GET", u.access, NULL, "/api/conversations/%s", c2);
	it_expect_problem(r, 404, "not_found");
	it_free(r);
	r = it_get(lp, u.access);
	it_expect_problem(r, 404, "not_found");
	it_free(r);
	free(lp);
	ck_assert_int_eq(pt_stored_conversations(u.id), 0);
	ck_assert_int_eq(pt_stored_messages(u.id), 0);
}
END_TEST

/* ---- models */

START_TEST(models_are_the_plans)
{
	struct it_user u;
	it_register(&u, "pt-models");
	struct it_resp *r = it_get("/api/models", u.access);
	it_expect(r, 200, NULL);
	expect_no_store(r);
	static const char *const top[] = {"items", NULL};
	pt_expect_keys(r->json, top); /* a small fixed collection: no page, per_page, total */
	char *want = sql_text("SELECT string_agg(m, ',' ORDER BY ord) FROM plans p,"
			      " jsonb_array_elements_text(p.litellm_models) WITH ORDINALITY t (m, ord) WHERE p.code = 'free'");
	ck_assert_msg(*want, "the free plan lists no model (API.md: every plan with a token allowance lists one)");
	json_object *items = it_at(r, "items");
	char got[1024] = "";
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *m = json_object_array_get_idx(items, i);
		static const char *const mk[] = {"id", "name", NULL};
		pt_expect_keys(m, mk);
		ck_assert(jstr(m, "name") && *jstr(m, "name"));
		size_t l = strlen(got);
		snprintf(got + l, sizeof(got) - l, "%s%s", i ? "," : "", jstr(m, "id"));
	}
	ck_assert_str_eq(got, want);
	free(want);
	it_free(r);

	/* a plan's own list */
	char code[40];
	pt_plan(code, -1, -1, -1, 100000, -1);
	sql_exec("UPDATE plans SET litellm_models = '[\"model-a\", \"model-b\"]' WHERE code = '%s'", code);
	pt_subscribe(&u, code);
	r = it_get("/api/models", u.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 2);
	expect_str(r, "items.0.id", "model-a");
	expect_str(r, "items.1.id", "model-b");
	it_free(r);
	r = it_post("/api/agents", u.access, "{\"name\": \"b\", \"model\": \"model-b\"}");
	it_expect(r, 201, NULL);
	expect_str(r, "model", "model-b");
	it_free(r);
	r = it_post("/api/agents", u.access, "{\"name\": \"c\", \"model\": \"" PT_MODEL "\"}");
	expect_invalid(r, "model"); /* the free plan's model, not this plan's */
	it_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("product_resources");
	TCase *tc = product_tcase(s, "projects", 60);
	tcase_add_test(tc, project_create_get_patch_keeps_unsent_fields);
	tcase_add_test(tc, project_list_newest_updated_first_in_pages);
	tcase_add_test(tc, project_delete_removes_documents_and_unbinds_agents);
	tc = product_tcase(s, "documents", 60);
	tcase_add_test(tc, document_crud_and_counts);
	tc = product_tcase(s, "agents", 60);
	tcase_add_test(tc, agent_crud_patch_keeps_unsent_fields);
	tcase_add_test(tc, conversations_listed_read_and_deleted);
	tcase_add_test(tc, models_are_the_plans);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
