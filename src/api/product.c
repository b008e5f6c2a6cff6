/* product.c — projects, documents, agents, conversations, models and usage. */
#include "handlers.h"
#include "tollgate/arena.h"
#include "tollgate/db.h"
#include "tollgate/mail.h"
#include "tollgate/product.h"
#include "tollgate/quota.h"
#include "tollgate/status.h"

#include <string.h>

void api_quota_exceeded(struct http_res *res, struct http_req *req, const struct quota_refusal *r)
{
	json_object *m = json_object_new_object();
	json_object_object_add(m, "metric", json_object_new_string(quota_metric_name(r->metric)));
	json_object_object_add(m, "used", json_object_new_int64(r->used));
	json_object_object_add(m, "limit", r->limit >= 0 ? json_object_new_int64(r->limit) : NULL);
	char *detail = r->budget ? arena_strdup(req->arena, "The model budget of your plan is spent for this period;"
							    " upgrade for more.")
				 : arena_printf(req->arena, "Your plan allows %lld %s; upgrade for more.", r->limit,
						r->metric == QUOTA_TOKENS ? "tokens this period" : quota_metric_name(r->metric));
	http_res_problem_with(res, req, 402, "quota_exceeded", detail, m);
}

struct quota_ctx api_quota(struct app *app, struct http_req *req)
{
	struct quota_ctx q = {.db = app->db, .a = req->arena, .cfg = app->cfg,
			      .user = account_recipient(req->arena, app->me)};
	return q;
}

/* Answers a create's outcome: 201 with the object, 402, or the status. */
static void created(struct http_res *res, struct http_req *req, int rc, json_object *obj,
		    const struct quota_refusal *refusal)
{
	if (rc == TG_ELIMIT)
		return api_quota_exceeded(res, req, refusal);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 201, obj);
}

static void one(struct http_res *res, struct http_req *req, int rc, json_object *obj)
{
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 200, obj);
}

static void gone(struct http_res *res, struct http_req *req, int rc)
{
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_empty(res, 204);
}

static void listed(struct http_res *res, struct http_req *req, int rc, const struct page *pg, json_object *items)
{
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	http_res_json(res, req->arena, 200, api_list(pg, items));
}

/* --- projects --- */

enum { PROJ_NAME, PROJ_DESCRIPTION };
const struct valid_field api_project_create_fields[] = {
	[PROJ_NAME] = {.name = "name", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_TRIM, .min = 1,
		       .max = PRODUCT_NAME_MAX},
	[PROJ_DESCRIPTION] = {.name = "description", .type = VALID_STRING, .flags = VALID_MULTILINE | VALID_NULLABLE,
			      .max = PRODUCT_DESCRIPTION_MAX},
	{0},
};
const struct valid_field api_project_update_fields[] = {
	[PROJ_NAME] = {.name = "name", .type = VALID_STRING, .flags = VALID_TRIM, .min = 1, .max = PRODUCT_NAME_MAX,
		       .reason = "must be 1 to 120 characters"},
	[PROJ_DESCRIPTION] = {.name = "description", .type = VALID_STRING, .flags = VALID_MULTILINE | VALID_NULLABLE,
			      .max = PRODUCT_DESCRIPTION_MAX},
	{0},
};

HANDLER(api_projects_create)
{
	const struct valid_value *v = req->values;
	struct quota_ctx q = api_quota(app, req);
	struct quota_refusal refusal;
	json_object *o = NULL;
	int rc = db_begin(app->db);
	if (rc == TG_OK) {
		rc = quota_take(&q, QUOTA_PROJECTS, &refusal);
		if (rc == TG_OK)
			rc = product_project_create(app->db, req->arena, req->user_id, v[PROJ_NAME].str,
						    v[PROJ_DESCRIPTION].str, &o);
		rc = db_finish(app->db, rc);
	}
	created(res, req, rc, o, &refusal);
}

HANDLER(api_projects_list)
{
	struct page pg;
	api_page(req, &pg);
	json_object *items = NULL;
	int rc = product_project_list(app->db, req->arena, req->user_id, &pg, &items);
	listed(res, req, rc, &pg, items);
}

HANDLER(api_project_get)
{
	json_object *o = NULL;
	int rc = product_project_get(app->db, req->arena, req->user_id, http_req_param(req, "id"), &o);
	one(res, req, rc, o);
}

HANDLER(api_project_update)
{
	const struct valid_value *v = req->values;
	if (v[PROJ_NAME].is_null)
		return api_field_error(res, req, "name", "must be 1 to 120 characters");
	json_object *o = NULL;
	int rc = product_project_update(app->db, req->arena, req->user_id, http_req_param(req, "id"), v[PROJ_NAME].str,
					v[PROJ_DESCRIPTION].is_null ? "" : v[PROJ_DESCRIPTION].str, &o);
	one(res, req, rc, o);
}

HANDLER(api_project_delete)
{
	gone(res, req, product_project_delete(app->db, req->arena, req->user_id, http_req_param(req, "id")));
}

/* --- documents --- */

enum { DOC_TITLE, DOC_CONTENT };
const struct valid_field api_document_create_fields[] = {
	[DOC_TITLE] = {.name = "title", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_TRIM, .min = 1,
		       .max = PRODUCT_TITLE_MAX},
	[DOC_CONTENT] = {.name = "content", .type = VALID_STRING, .flags = VALID_MULTILINE | VALID_NULLABLE,
			 .max_bytes = PRODUCT_CONTENT_MAX_BYTES},
	{0},
};
const struct valid_field api_document_update_fields[] = {
	[DOC_TITLE] = {.name = "title", .type = VALID_STRING, .flags = VALID_TRIM, .min = 1, .max = PRODUCT_TITLE_MAX,
		       .reason = "must be 1 to 200 characters"},
	[DOC_CONTENT] = {.name = "content", .type = VALID_STRING, .flags = VALID_MULTILINE | VALID_NULLABLE,
			 .max_bytes = PRODUCT_CONTENT_MAX_BYTES},
	{0},
};
enum { DOC_Q = API_F_LIST_NEXT };
const struct valid_field api_documents_list_fields[] = {
	API_PAGE_FIELDS,
	[DOC_Q] = {.name = "q", .type = VALID_STRING, .flags = VALID_QUERY | VALID_TRIM, .max = 500},
	{0},
};

HANDLER(api_documents_create)
{
	const struct valid_value *v = req->values;
	struct quota_ctx q = api_quota(app, req);
	struct quota_refusal refusal;
	json_object *o = NULL;
	const char *project = http_req_param(req, "id");
	/* a project that is not the user's is 404 before any quota question */
	json_object *p = NULL;
	int rc = product_project_get(app->db, req->arena, req->user_id, project, &p);
	json_object_put(p);
	if (rc == TG_OK && (rc = db_begin(app->db)) == TG_OK) {
		rc = quota_take(&q, QUOTA_DOCUMENTS, &refusal);
		if (rc == TG_OK)
			rc = product_document_create(app->db, req->arena, req->user_id, project, v[DOC_TITLE].str,
						     v[DOC_CONTENT].str ? v[DOC_CONTENT].str : "", &o);
		rc = db_finish(app->db, rc);
	}
	created(res, req, rc, o, &refusal);
}

HANDLER(api_documents_list)
{
	struct page pg;
	api_page(req, &pg);
	json_object *items = NULL;
	int rc = product_document_list(app->db, req->arena, req->user_id, http_req_param(req, "id"), req->values[DOC_Q].str,
				       &pg, &items);
	listed(res, req, rc, &pg, items);
}

HANDLER(api_document_get)
{
	json_object *o = NULL;
	int rc = product_document_get(app->db, req->arena, req->user_id, http_req_param(req, "id"),
				      http_req_param(req, "doc_id"), &o);
	one(res, req, rc, o);
}

HANDLER(api_document_update)
{
	const struct valid_value *v = req->values;
	if (v[DOC_TITLE].is_null)
		return api_field_error(res, req, "title", "must be 1 to 200 characters");
	json_object *o = NULL;
	int rc = db_begin(app->db);
	if (rc == TG_OK) {
		rc = product_document_update(app->db, req->arena, req->user_id, http_req_param(req, "id"),
					     http_req_param(req, "doc_id"), v[DOC_TITLE].str,
					     v[DOC_CONTENT].is_null ? "" : v[DOC_CONTENT].str, &o);
		rc = db_finish(app->db, rc);
	}
	one(res, req, rc, o);
}

HANDLER(api_document_delete)
{
	gone(res, req, product_document_delete(app->db, req->arena, req->user_id, http_req_param(req, "id"),
					       http_req_param(req, "doc_id")));
}

/* --- models and agents --- */

HANDLER(api_models)
{
	json_object *models;
	int rc = product_models(app->db, req->arena, req->user_id, &models);
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	json_object *items = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(models); i++) {
		json_object *m = json_object_array_get_idx(models, i);
		json_object *it = json_object_new_object();
		json_object_object_add(it, "id", json_object_get(m));
		json_object_object_add(it, "name", json_object_get(m));
		json_object_array_add(items, it);
	}
	json_object_put(models);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "items", items);
	http_res_json(res, req->arena, 200, o);
}

enum { AGENT_NAME, AGENT_MODEL, AGENT_PROMPT, AGENT_PROJECT };
const struct valid_field api_agent_create_fields[] = {
	[AGENT_NAME] = {.name = "name", .type = VALID_STRING, .flags = VALID_REQUIRED | VALID_TRIM, .min = 1,
			.max = PRODUCT_NAME_MAX},
	[AGENT_MODEL] = {.name = "model", .type = VALID_STRING, .flags = VALID_REQUIRED, .max = 200},
	[AGENT_PROMPT] = {.name = "system_prompt", .type = VALID_STRING, .flags = VALID_MULTILINE | VALID_NULLABLE,
			  .max = PRODUCT_PROMPT_MAX},
	[AGENT_PROJECT] = {.name = "project_id", .type = VALID_UUID, .flags = VALID_NULLABLE,
			   .reason = "must be one of your projects or null"},
	{0},
};
const struct valid_field api_agent_update_fields[] = {
	[AGENT_NAME] = {.name = "name", .type = VALID_STRING, .flags = VALID_TRIM, .min = 1, .max = PRODUCT_NAME_MAX,
			.reason = "must be 1 to 120 characters"},
	[AGENT_MODEL] = {.name = "model", .type = VALID_STRING, .max = 200, .reason = "must be one of /api/models"},
	[AGENT_PROMPT] = {.name = "system_prompt", .type = VALID_STRING, .flags = VALID_MULTILINE | VALID_NULLABLE,
			  .max = PRODUCT_PROMPT_MAX},
	[AGENT_PROJECT] = {.name = "project_id", .type = VALID_UUID, .flags = VALID_NULLABLE,
			   .reason = "must be one of your projects or null"},
	{0},
};

/* 422 unless model is one the user's plan may use. */
static bool model_ok(struct app *app, struct http_req *req, struct http_res *res, const char *model)
{
	json_object *models;
	int rc = product_models(app->db, req->arena, req->user_id, &models);
	if (rc != TG_OK) {
		api_fail(res, req, rc);
		return false;
	}
	bool ok = product_model_allowed(models, model);
	json_object_put(models);
	if (!ok)
		api_field_error(res, req, "model", "must be one of /api/models");
	return ok;
}

HANDLER(api_agents_create)
{
	const struct valid_value *v = req->values;
	if (!model_ok(app, req, res, v[AGENT_MODEL].str))
		return;
	struct quota_ctx q = api_quota(app, req);
	struct quota_refusal refusal;
	json_object *o = NULL;
	int rc = db_begin(app->db);
	if (rc == TG_OK) {
		/* the fields first (a project that is not yours is 422 even at the limit), then the quota:
		 * a refusal rolls the insert back */
		rc = product_agent_create(app->db, req->arena, req->user_id, v[AGENT_NAME].str, v[AGENT_MODEL].str,
					  v[AGENT_PROMPT].str, v[AGENT_PROJECT].str, &o);
		if (rc == TG_OK)
			rc = quota_take(&q, QUOTA_AGENTS, &refusal);
		rc = db_finish(app->db, rc);
		if (rc != TG_OK) {
			json_object_put(o);
			o = NULL;
		}
	}
	if (rc == TG_EINPUT)
		return api_field_error(res, req, "project_id", "must be one of your projects or null");
	created(res, req, rc, o, &refusal);
}

HANDLER(api_agents_list)
{
	struct page pg;
	api_page(req, &pg);
	json_object *items = NULL;
	int rc = product_agent_list(app->db, req->arena, req->user_id, &pg, &items);
	listed(res, req, rc, &pg, items);
}

HANDLER(api_agent_get)
{
	json_object *o = NULL;
	int rc = product_agent_get(app->db, req->arena, req->user_id, http_req_param(req, "id"), &o);
	one(res, req, rc, o);
}

HANDLER(api_agent_update)
{
	const struct valid_value *v = req->values;
	if (v[AGENT_NAME].is_null)
		return api_field_error(res, req, "name", "must be 1 to 120 characters");
	if (v[AGENT_MODEL].is_null)
		return api_field_error(res, req, "model", "must be one of /api/models");
	/* an agent that is not the user's is 404 before its fields are judged */
	json_object *o = NULL;
	const char *id = http_req_param(req, "id");
	int rc = product_agent_get(app->db, req->arena, req->user_id, id, &o);
	json_object_put(o);
	o = NULL;
	if (rc != TG_OK)
		return api_fail(res, req, rc);
	if (v[AGENT_MODEL].str && !model_ok(app, req, res, v[AGENT_MODEL].str))
		return;
	rc = product_agent_update(app->db, req->arena, req->user_id, id, v[AGENT_NAME].str, v[AGENT_MODEL].str,
				  v[AGENT_PROMPT].is_null ? "" : v[AGENT_PROMPT].str, v[AGENT_PROJECT].present,
				  v[AGENT_PROJECT].str, &o);
	if (rc == TG_EINPUT)
		return api_field_error(res, req, "project_id", "must be one of your projects or null");
	one(res, req, rc, o);
}

HANDLER(api_agent_delete)
{
	gone(res, req, product_agent_delete(app->db, req->arena, req->user_id, http_req_param(req, "id")));
}

/* --- conversations and usage --- */

HANDLER(api_conversations_list)
{
	struct page pg;
	api_page(req, &pg);
	json_object *items = NULL;
	int rc = product_conversation_list(app->db, req->arena, req->user_id, http_req_param(req, "id"), &pg, &items);
	listed(res, req, rc, &pg, items);
}

HANDLER(api_conversation_get)
{
	json_object *o = NULL;
	int rc = product_conversation_get(app->db, req->arena, req->user_id, http_req_param(req, "id"), &o);
	one(res, req, rc, o);
}

HANDLER(api_conversation_delete)
{
	gone(res, req, product_conversation_delete(app->db, req->arena, req->user_id, http_req_param(req, "id")));
}

HANDLER(api_usage)
{
	json_object *o = NULL;
	int rc = quota_usage_json(app->db, req->arena, req->user_id, &o);
	one(res, req, rc, o);
}
