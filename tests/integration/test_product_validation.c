/* test_product_validation.c — every validation rule of API.md's product section, at its edges:
 * names 1–120 characters (characters, not bytes), descriptions ≤ 2,000, titles 1–200, document content
 * ≤ 1 MiB = 1,048,576 bytes (exactly 1 MiB accepted: the document routes take 2 MiB bodies; one byte
 * more is 422; bytes, not characters), system prompts ≤ 20,000, a model not in /api/models, a
 * project_id that is not one of the caller's, chat bodies, page/per_page bounds on every list — each
 * a 422 validation_failed naming the field, with nothing changed. Also the Conventions around them:
 * 400 invalid_json, 415, 413 past the body limits, 405 with Allow. */
#include "accounts_helpers.h"
#include "billing_helpers.h"
#include "itest.h"
#include "product_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB 1048576

/* A body {"<key>": "<value>"[, extra]} (value JSON-escaped). */
static char *body_with(const char *key, const char *value, const char *extra)
{
	char *v = pt_jstr(value);
	char *b = xprintf("{\"%s\": %s%s%s}", key, v, extra ? ", " : "", extra ? extra : "");
	free(v);
	return b;
}

/* {"k1": "v1", "k2": "v2"} (values JSON-escaped). */
static char *two(const char *k1, const char *v1, const char *k2, const char *v2)
{
	char *a = pt_jstr(v1), *b = pt_jstr(v2);
	char *out = xprintf("{\"%s\": %s, \"%s\": %s}", k1, a, k2, b);
	free(a);
	free(b);
	return out;
}

static long status_of(const char *method, const struct it_user *u, const char *body, const char *path)
{
	struct it_resp *r = pt_req(method, u->access, body, "%s", path);
	long st = r->status;
	it_free(r);
	return st;
}

/* method path with body is 422 naming field. */
static void expect_field(const char *method, const struct it_user *u, const char *body, const char *path,
			 const char *field)
{
	struct it_resp *r = pt_req(method, u->access, body, "%s", path);
	if (r->status != 422)
		ck_assert_msg(0, "%s %s with %.120s…: want 422 on %s, got %ld %.300s", method, path, body, field, r->status,
			      r->body);
	expect_invalid(r, field);
	it_free(r);
}

/* "é" n times (2n bytes, n characters). */
static char *e_acutes(size_t n)
{
	return pt_fill("\xc3\xa9", 2 * n);
}

START_TEST(project_name_and_description)
{
	struct it_user u;
	it_register(&u, "pt-val-proj");
	const char *P = "/api/projects";
	char *s120 = pt_fill("n", 120), *s121 = pt_fill("n", 121), *e120 = e_acutes(120), *e121 = e_acutes(121);
	char *d2000 = pt_fill("d", 2000), *d2001 = pt_fill("d", 2001), *de2000 = e_acutes(2000);
	expect_field("POST", &u, "{}", P, "name");
	expect_field("POST", &u, "{\"name\": \"\"}", P, "name");
	expect_field("POST", &u, "{\"name\": \"   \"}", P, "name");
	expect_field("POST", &u, "{\"name\": 42}", P, "name");
	char *b = body_with("name", s121, NULL);
	expect_field("POST", &u, b, P, "name");
	free(b);
	b = body_with("name", e121, NULL);
	expect_field("POST", &u, b, P, "name");
	free(b);
	b = two("name", "ok", "description", d2001);
	expect_field("POST", &u, b, P, "description");
	free(b);
	/* every bad field at once */
	b = two("name", "", "description", d2001);
	struct it_resp *r = it_post(P, u.access, b);
	expect_invalid(r, "name");
	expect_invalid(r, "description");
	it_free(r);
	free(b);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM projects WHERE user_id = '%s'", u.id), 0);

	/* the edges themselves are accepted: 120 characters (240 bytes when each is two), 2,000 */
	char id[64];
	pt_project(&u, s120, id);
	pt_project(&u, e120, id);
	b = two("name", "edge", "description", de2000);
	r = it_post(P, u.access, b);
	it_expect(r, 201, NULL);
	ck_assert_str_eq(it_str(r, "description"), de2000);
	it_free(r);
	free(b);

	/* PATCH: the same rules, and a refused PATCH changes nothing */
	char *pp = xprintf("/api/projects/%s", id);
	expect_field("PATCH", &u, "{\"name\": \"\"}", pp, "name");
	expect_field("PATCH", &u, "{\"name\": null}", pp, "name");
	b = body_with("name", s121, NULL);
	expect_field("PATCH", &u, b, pp, "name");
	free(b);
	b = body_with("description", d2001, NULL);
	expect_field("PATCH", &u, b, pp, "description");
	free(b);
	b = body_with("description", d2000, NULL);
	ck_assert_int_eq(status_of("PATCH", &u, b, pp), 200);
	free(b);
	r = it_get(pp, u.access);
	ck_assert_str_eq(it_str(r, "name"), e120);
	ck_assert_str_eq(it_str(r, "description"), d2000);
	it_free(r);
	free(pp);
	free(s120), free(s121), free(e120), free(e121), free(d2000), free(d2001), free(de2000);
}
END_TEST

START_TEST(document_title_and_content_size)
{
	struct it_user u;
	it_register(&u, "pt-val-doc");
	char p[64], id[64];
	pt_project(&u, "sizes", p);
	char *D = xprintf("/api/projects/%s/documents", p);
	char *t200 = pt_fill("t", 200), *t201 = pt_fill("t", 201), *te200 = e_acutes(200);
	expect_field("POST", &u, "{\"content\": \"x\"}", D, "title");
	expect_field("POST", &u, "{\"title\": \"\"}", D, "title");
	char *b = body_with("title", t201, NULL);
	expect_field("POST", &u, b, D, "title");
	free(b);
	pt_document(&u, p, t200, "", id);
	pt_document(&u, p, te200, "", id);

	/* content: exactly 1 MiB is accepted (its JSON body is over the 1 MiB default limit) */
	char *mib = pt_fill("abcdefg ", MIB);
	char *big = two("title", "one mebibyte", "content", mib);
	struct it_resp *r = it_post(D, u.access, big);
	it_expect(r, 201, NULL);
	ck_assert_int_eq(it_int(r, "size_bytes"), MIB);
	copy_to(id, sizeof(id), it_str(r, "id"));
	it_free(r);
	free(big);
	r = pt_req("GET", u.access, NULL, "%s/%s", D, id);
	it_expect(r, 200, NULL);
	ck_assert_msg(it_str(r, "content") && !strcmp(it_str(r, "content"), mib), "the 1 MiB content came back changed");
	it_free(r);
	/* one byte more is 422 */
	char *over = pt_fill("abcdefg ", MIB + 1);
	char *c = pt_jstr(over);
	big = xprintf("{\"title\": \"too big\", \"content\": %s}", c);
	expect_field("POST", &u, big, D, "content");
	free(big);
	/* bytes, not characters: 524,288 two-byte characters are 1 MiB; one more byte is over */
	char *e = e_acutes(MIB / 2);
	char *ec = pt_jstr(e);
	big = xprintf("{\"title\": \"accents\", \"content\": %s}", ec);
	r = it_post(D, u.access, big);
	it_expect(r, 201, NULL);
	ck_assert_int_eq(it_int(r, "size_bytes"), MIB);
	it_free(r);
	free(big);
	ec[strlen(ec) - 1] = '\0';
	big = xprintf("{\"title\": \"accents+1\", \"content\": %sa\"}", ec);
	expect_field("POST", &u, big, D, "content");
	free(big);
	/* PATCH with too much: 422, the document unchanged */
	char *dp = xprintf("%s/%s", D, id);
	big = xprintf("{\"content\": %s}", c);
	expect_field("PATCH", &u, big, dp, "content");
	free(big);
	expect_field("PATCH", &u, "{\"title\": \"\"}", dp, "title");
	expect_field("PATCH", &u, "{\"title\": null}", dp, "title");
	r = it_get(dp, u.access);
	ck_assert_int_eq(it_int(r, "size_bytes"), MIB);
	expect_str(r, "title", "one mebibyte");
	it_free(r);
	free(dp);
	free(c);
	/* past the document routes' 2 MiB body limit: 413 payload_too_large, as problem+json */
	char *huge = pt_fill("abcdefg ", 2 * MIB + 4096);
	c = pt_jstr(huge);
	big = xprintf("{\"title\": \"huge\", \"content\": %s}", c);
	r = it_post(D, u.access, big);
	it_expect_problem(r, 413, "payload_too_large");
	it_free(r);
	free(big);
	free(c);
	free(huge);
	/* and other product routes keep the 1 MiB default */
	char *desc = pt_fill("d", MIB + 1024);
	c = pt_jstr(desc);
	big = xprintf("{\"name\": \"x\", \"description\": %s}", c);
	r = it_post("/api/projects", u.access, big);
	it_expect_problem(r, 413, "payload_too_large");
	it_free(r);
	free(big), free(c), free(desc);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM documents WHERE user_id = '%s'", u.id), 4);
	free(e), free(ec), free(over), free(mib), free(t200), free(t201), free(te200), free(D);
}
END_TEST

START_TEST(agent_fields)
{
	struct it_user u;
	pt_user_on_plan(&u, "pt-val-agent", NULL, -1, -1, -1, -1);
	const char *A = "/api/agents";
	expect_field("POST", &u, "{\"model\": \"" PT_MODEL "\"}", A, "name");
	expect_field("POST", &u, "{\"name\": \"\", \"model\": \"" PT_MODEL "\"}", A, "name");
	char *n121 = pt_fill("n", 121), *s20000 = pt_fill("s", 20000), *s20001 = pt_fill("s", 20001);
	char *se20000 = e_acutes(20000);
	char *b = body_with("name", n121, "\"model\": \"" PT_MODEL "\"");
	expect_field("POST", &u, b, A, "name");
	free(b);
	expect_field("POST", &u, "{\"name\": \"x\"}", A, "model");
	expect_field("POST", &u, "{\"name\": \"x\", \"model\": \"\"}", A, "model");
	expect_field("POST", &u, "{\"name\": \"x\", \"model\": \"gpt-unknown-9\"}", A, "model");
	expect_field("POST", &u, "{\"name\": \"x\", \"model\": \"GPT-4O-MINI\"}", A, "model");
	b = body_with("system_prompt", s20001, "\"name\": \"x\", \"model\": \"" PT_MODEL "\"");
	expect_field("POST", &u, b, A, "system_prompt");
	free(b);
	expect_field("POST", &u, "{\"name\": \"x\", \"model\": \"" PT_MODEL "\", \"project_id\": \"nope\"}", A, "project_id");
	expect_field("POST", &u,
		     "{\"name\": \"x\", \"model\": \"" PT_MODEL "\", \"project_id\": \"6f1c1f3e-0b7a-4c47-9d0e-2b1f6a1d2c3e\"}", A,
		     "project_id");
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM agents WHERE user_id = '%s'", u.id), 0);
	struct pt_metric m;
	pt_usage(&u, "agents", &m);
	ck_assert_int_eq(m.used, 0); /* refused creates take nothing from the quota */

	b = body_with("system_prompt", se20000, "\"name\": \"long prompt\", \"model\": \"" PT_MODEL "\"");
	struct it_resp *r = it_post(A, u.access, b);
	it_expect(r, 201, NULL);
	char id[64];
	copy_to(id, sizeof(id), it_str(r, "id"));
	it_free(r);
	free(b);
	char *ap = xprintf("/api/agents/%s", id);
	expect_field("PATCH", &u, "{\"model\": \"gpt-unknown-9\"}", ap, "model");
	expect_field("PATCH", &u, "{\"model\": null}", ap, "model");
	expect_field("PATCH", &u, "{\"name\": null}", ap, "name");
	expect_field("PATCH", &u, "{\"name\": \"\"}", ap, "name");
	b = body_with("system_prompt", s20001, NULL);
	expect_field("PATCH", &u, b, ap, "system_prompt");
	free(b);
	b = body_with("system_prompt", s20000, NULL);
	ck_assert_int_eq(status_of("PATCH", &u, b, ap), 200);
	free(b);
	r = it_get(ap, u.access);
	expect_str(r, "name", "long prompt");
	expect_str(r, "model", PT_MODEL);
	ck_assert_str_eq(it_str(r, "system_prompt"), s20000);
	it_free(r);
	free(ap), free(n121), free(s20000), free(s20001), free(se20000);
}
END_TEST

START_TEST(list_page_bounds)
{
	struct it_user u;
	it_register(&u, "pt-val-page");
	char p[64], a[64];
	pt_project(&u, "p", p);
	pt_agent(&u, "a", NULL, a);
	char *lists[] = {xprintf("/api/projects"), xprintf("/api/agents"), xprintf("/api/projects/%s/documents", p),
			 xprintf("/api/projects/%s/documents?q=word", p), xprintf("/api/agents/%s/conversations", a)};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		const char *sep = strchr(lists[i], '?') ? "&" : "?";
		struct { const char *q, *field; } bad[] = {{"per_page=201", "per_page"}, {"per_page=0", "per_page"},
							  {"page=0", "page"}, {"page=-1", "page"},
							  {"per_page=abc", "per_page"}, {"per_page=-5", "per_page"}};
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			char *path = xprintf("%s%s%s", lists[i], sep, bad[k].q);
			expect_field("GET", &u, NULL, path, bad[k].field);
			free(path);
		}
		char *path = xprintf("%s%sper_page=200&page=1", lists[i], sep);
		struct it_resp *r = pt_list(&u, path);
		ck_assert_int_eq(it_int(r, "per_page"), 200);
		it_free(r);
		free(path);
		path = xprintf("%s%sper_page=1&page=7", lists[i], sep);
		r = pt_list(&u, path);
		ck_assert_int_eq(it_int(r, "page"), 7);
		ck_assert_int_eq(json_object_array_length(it_at(r, "items")), 0);
		it_free(r);
		free(path);
		free(lists[i]);
	}
}
END_TEST

START_TEST(chat_body)
{
	struct it_user u;
	it_register(&u, "pt-val-chat");
	char a[64];
	pt_agent(&u, "a", NULL, a);
	char *C = xprintf("/api/agents/%s/chat", a);
	expect_field("POST", &u, "{}", C, "content");
	expect_field("POST", &u, "{\"content\": \"\"}", C, "content");
	expect_field("POST", &u, "{\"content\": 7}", C, "content");
	expect_field("POST", &u, "{\"content\": \"hi\", \"stream\": \"yes\"}", C, "stream");
	expect_field("POST", &u, "{\"content\": \"hi\", \"conversation_id\": \"nope\"}", C, "conversation_id");
	expect_field("POST", &u, "{\"content\": \"hi\", \"conversation_id\": \"6f1c1f3e-0b7a-4c47-9d0e-2b1f6a1d2c3e\"}", C,
		     "conversation_id");
	struct it_resp *r = pt_req("POST", u.access, "{\"content\": ", "%s", C);
	it_expect_problem(r, 400, "invalid_json");
	it_free(r);
	struct it_req q = {.method = "POST", .path = C, .bearer = u.access, .body = "content=hi",
			   .content_type = "application/x-www-form-urlencoded"};
	r = it_do(&q);
	it_expect_problem(r, 415, "unsupported_media_type");
	it_free(r);
	free(C);
	/* none of it reached LiteLLM, stored a message or took a token */
	ck_assert_int_eq(pt_llm_chat_count(u.id), 0);
	ck_assert_int_eq(pt_stored_conversations(u.id), 0);
	struct pt_metric m;
	pt_usage(&u, "monthly_tokens", &m);
	ck_assert_int_eq(m.used + m.reserved, 0);
}
END_TEST

START_TEST(json_media_type_and_methods)
{
	struct it_user u;
	it_register(&u, "pt-val-http");
	char p[64];
	pt_project(&u, "p", p);
	struct it_resp *r = it_post("/api/projects", u.access, "{\"name\": ");
	it_expect_problem(r, 400, "invalid_json");
	it_free(r);
	r = pt_req("PATCH", u.access, "{\"name\": 'single'}", "/api/projects/%s", p);
	it_expect_problem(r, 400, "invalid_json");
	it_free(r);
	r = pt_req("POST", u.access, "[1, 2", "/api/projects/%s/documents", p);
	it_expect_problem(r, 400, "invalid_json");
	it_free(r);
	struct it_req q = {.method = "POST", .path = "/api/projects", .bearer = u.access, .body = "name=x",
			   .content_type = "text/plain"};
	r = it_do(&q);
	it_expect_problem(r, 415, "unsupported_media_type");
	it_free(r);
	ck_assert_int_eq(it_sql_long("SELECT count(*) FROM projects WHERE user_id = '%s'", u.id), 1);
	struct { const char *method, *path, *allow[3]; } cases[] = {
		{"PUT", "/api/projects", {"GET", "POST", NULL}},
		{"POST", "/api/projects/%s", {"GET", "PATCH", "DELETE"}},
		{"GET", "/api/agents/%s/chat", {"POST", NULL, NULL}},
		{"PATCH", "/api/usage", {"GET", NULL, NULL}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = pt_req(cases[i].method, u.access, !strcmp(cases[i].method, "GET") ? NULL : "{}", cases[i].path, p);
		it_expect_problem(r, 405, "method_not_allowed");
		const char *allow = it_header(r, "Allow");
		for (int k = 0; k < 3 && cases[i].allow[k]; k++)
			ck_assert_msg(allow && strstr(allow, cases[i].allow[k]), "%s %s: Allow '%s' lacks %s", cases[i].method,
				      cases[i].path, allow ? allow : "(none)", cases[i].allow[k]);
		it_free(r);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("product_validation");
	TCase *tc = product_tcase(s, "validation", 90);
	tcase_add_test(tc, project_name_and_description);
	tcase_add_test(tc, document_title_and_content_size);
	tcase_add_test(tc, agent_fields);
	tcase_add_test(tc, list_page_bounds);
	tcase_add_test(tc, chat_body);
	tcase_add_test(tc, json_media_type_and_methods);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
