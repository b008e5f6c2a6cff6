/* product.c — projects, documents, agents and conversations, scoped to their owner. */
#include "tollgate/product.h"
#include "tollgate/arena.h"
#include "tollgate/db.h"
#include "tollgate/page.h"
#include "tollgate/status.h"
#include "tollgate/uuid.h"
#include "product_sql.h"

#include <stdio.h>
#include <string.h>

/* Column col of the one-row result r, parsed as JSON (caller owns). */
static json_object *json_col(const PGresult *r, int col)
{
	const char *t = db_value(r, 0, col);
	json_object *o = t ? json_tokener_parse(t) : NULL;
	return o ? o : json_object_new_object();
}

/* Runs a statement answering one JSON object in column col; TG_ENOTFOUND when no row. */
static int one_json(struct db *db, struct arena *a, int stmt, int n, const char *const *p, int col,
		    json_object **out)
{
	PGresult *r;
	int rc = db_exec_row(db, a, &product_stmts, stmt, n, p, &r);
	if (rc == TG_OK)
		*out = json_col(r, col);
	return rc;
}

/* A list statement answering (total, items) from column first; a preceding owner column (first
 * == 1) tells "not yours" (TG_ENOTFOUND) from an empty list. */
static int list_json(struct db *db, struct arena *a, int stmt, int n, const char *const *p, int first,
		     struct page *pg, json_object **items)
{
	PGresult *r;
	int rc = db_exec_row(db, a, &product_stmts, stmt, n, p, &r);
	if (rc != TG_OK)
		return rc;
	if (first == 1 && !db_bool(r, 0, 0))
		return TG_ENOTFOUND;
	pg->total = db_int(r, 0, first);
	json_object *arr = json_tokener_parse(db_value(r, 0, first + 1));
	*items = arr && json_object_is_type(arr, json_type_array) ? arr : json_object_new_array();
	if (arr && *items != arr)
		json_object_put(arr);
	return TG_OK;
}

/* Ids from a path are checked before they reach a uuid parameter. */
#define IDS_OR_NOT_FOUND(...)                                                   \
	do {                                                                    \
		const char *ids_[] = {__VA_ARGS__};                             \
		for (size_t i_ = 0; i_ < sizeof(ids_) / sizeof(ids_[0]); i_++) \
			if (!uuid_valid(ids_[i_]))                              \
				return TG_ENOTFOUND;                            \
	} while (0)

/* --- projects --- */

int product_project_create(struct db *db, struct arena *a, const char *user_id, const char *name,
			   const char *description, json_object **out)
{
	const char *p[] = {user_id, name, description ? description : ""};
	return one_json(db, a, P_PROJECT_CREATE, 3, p, 0, out);
}

int product_project_list(struct db *db, struct arena *a, const char *user_id, struct page *pg, json_object **items)
{
	const char *p[] = {user_id, pg->limit, pg->offset};
	return list_json(db, a, P_PROJECT_LIST, 3, p, 0, pg, items);
}

int product_project_get(struct db *db, struct arena *a, const char *user_id, const char *id, json_object **out)
{
	IDS_OR_NOT_FOUND(id);
	const char *p[] = {id, user_id};
	return one_json(db, a, P_PROJECT_GET, 2, p, 0, out);
}

int product_project_update(struct db *db, struct arena *a, const char *user_id, const char *id, const char *name,
			   const char *description, json_object **out)
{
	IDS_OR_NOT_FOUND(id);
	const char *p[] = {id, user_id, name, description};
	return one_json(db, a, P_PROJECT_UPDATE, 4, p, 0, out);
}

int product_project_delete(struct db *db, struct arena *a, const char *user_id, const char *id)
{
	IDS_OR_NOT_FOUND(id);
	const char *p[] = {id, user_id};
	return db_exec_row(db, a, &product_stmts, P_PROJECT_DELETE, 2, p, NULL);
}

/* --- documents --- */

static int store_passages(struct db *db, struct arena *a, const char *doc_id, const char *project_id,
			  const char *content)
{
	json_object *chunks = product_passages(content, PRODUCT_PASSAGE_CHARS);
	const char *text = arena_strdup(a, json_object_to_json_string_ext(chunks, JSON_C_TO_STRING_PLAIN));
	json_object_put(chunks);
	const char *p[] = {doc_id, project_id, text};
	return db_exec(db, a, &product_stmts, P_CHUNKS_INSERT, 3, p, NULL);
}

int product_document_create(struct db *db, struct arena *a, const char *user_id, const char *project_id,
			    const char *title, const char *content, json_object **out)
{
	IDS_OR_NOT_FOUND(project_id);
	const char *p[] = {project_id, user_id, title, content ? content : ""};
	PGresult *r;
	int rc = db_exec_row(db, a, &product_stmts, P_DOC_CREATE, 4, p, &r);
	if (rc != TG_OK)
		return rc;
	if ((rc = store_passages(db, a, db_value(r, 0, 0), project_id, content ? content : "")) != TG_OK)
		return rc;
	*out = json_col(r, 1);
	return TG_OK;
}

/* The snippets of search results, made safe to show as HTML. */
static void mark_snippets(struct arena *a, json_object *items)
{
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i), *s;
		if (json_object_object_get_ex(it, "snippet", &s) && json_object_is_type(s, json_type_string))
			json_object_object_add(it, "snippet",
					       json_object_new_string(product_mark_snippet(a, json_object_get_string(s))));
	}
}

int product_document_list(struct db *db, struct arena *a, const char *user_id, const char *project_id,
			  const char *query, struct page *pg, json_object **items)
{
	IDS_OR_NOT_FOUND(project_id);
	if (!query || !*query) {
		const char *p[] = {project_id, user_id, pg->limit, pg->offset};
		return list_json(db, a, P_DOC_LIST, 4, p, 1, pg, items);
	}
	const char *p[] = {project_id, user_id, query, pg->limit, pg->offset};
	int rc = list_json(db, a, P_DOC_SEARCH, 5, p, 1, pg, items);
	if (rc == TG_OK)
		mark_snippets(a, *items);
	return rc;
}

int product_document_get(struct db *db, struct arena *a, const char *user_id, const char *project_id, const char *id,
			 json_object **out)
{
	IDS_OR_NOT_FOUND(project_id, id);
	const char *p[] = {id, project_id, user_id};
	return one_json(db, a, P_DOC_GET, 3, p, 0, out);
}

int product_document_update(struct db *db, struct arena *a, const char *user_id, const char *project_id,
			    const char *id, const char *title, const char *content, json_object **out)
{
	IDS_OR_NOT_FOUND(project_id, id);
	const char *p[] = {id, project_id, user_id, title, content};
	int rc = one_json(db, a, P_DOC_UPDATE, 5, p, 0, out);
	if (rc != TG_OK || !content)
		return rc;
	const char *dp[] = {id};
	if ((rc = db_exec(db, a, &product_stmts, P_CHUNKS_DELETE, 1, dp, NULL)) != TG_OK)
		return rc;
	return store_passages(db, a, id, project_id, content);
}

int product_document_delete(struct db *db, struct arena *a, const char *user_id, const char *project_id,
			    const char *id)
{
	IDS_OR_NOT_FOUND(project_id, id);
	const char *p[] = {id, project_id, user_id};
	return db_exec_row(db, a, &product_stmts, P_DOC_DELETE, 3, p, NULL);
}

/* --- models and agents --- */

int product_models(struct db *db, struct arena *a, const char *user_id, json_object **models)
{
	const char *p[] = {user_id};
	PGresult *r;
	int rc = db_exec(db, a, &product_stmts, P_MODELS, 1, p, &r);
	if (rc != TG_OK)
		return rc;
	json_object *arr = PQntuples(r) ? json_tokener_parse(db_value(r, 0, 0)) : NULL;
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		arr = json_object_new_array();
	}
	*models = arr;
	return TG_OK;
}

bool product_model_allowed(json_object *models, const char *model)
{
	for (size_t i = 0; model && i < json_object_array_length(models); i++) {
		json_object *m = json_object_array_get_idx(models, i);
		if (json_object_is_type(m, json_type_string) && !strcmp(json_object_get_string(m), model))
			return true;
	}
	return false;
}

int product_agent_create(struct db *db, struct arena *a, const char *user_id, const char *name, const char *model,
			 const char *system_prompt, const char *project_id, json_object **out)
{
	if (project_id && !uuid_valid(project_id))
		return TG_EINPUT;
	const char *p[] = {user_id, name, model, system_prompt ? system_prompt : "", project_id};
	int rc = one_json(db, a, P_AGENT_CREATE, 5, p, 0, out);
	return rc == TG_ENOTFOUND ? TG_EINPUT : rc;
}

int product_agent_list(struct db *db, struct arena *a, const char *user_id, struct page *pg, json_object **items)
{
	const char *p[] = {user_id, pg->limit, pg->offset};
	return list_json(db, a, P_AGENT_LIST, 3, p, 0, pg, items);
}

int product_agent_get(struct db *db, struct arena *a, const char *user_id, const char *id, json_object **out)
{
	IDS_OR_NOT_FOUND(id);
	const char *p[] = {id, user_id};
	return one_json(db, a, P_AGENT_GET, 2, p, 0, out);
}

int product_agent_update(struct db *db, struct arena *a, const char *user_id, const char *id, const char *name,
			 const char *model, const char *system_prompt, bool set_project, const char *project_id,
			 json_object **out)
{
	IDS_OR_NOT_FOUND(id);
	if (set_project && project_id && !uuid_valid(project_id))
		return TG_EINPUT;
	const char *p[] = {id, user_id, name, model, system_prompt, set_project ? "true" : "false", project_id};
	int rc = one_json(db, a, P_AGENT_UPDATE, 7, p, 0, out);
	if (rc == TG_ENOTFOUND && set_project && project_id) {
		/* the agent exists but the project is not the user's? */
		json_object *agent;
		if (product_agent_get(db, a, user_id, id, &agent) == TG_OK) {
			json_object_put(agent);
			return TG_EINPUT;
		}
	}
	return rc;
}

int product_agent_delete(struct db *db, struct arena *a, const char *user_id, const char *id)
{
	IDS_OR_NOT_FOUND(id);
	const char *p[] = {id, user_id};
	return db_exec_row(db, a, &product_stmts, P_AGENT_DELETE, 2, p, NULL);
}

/* --- conversations --- */

int product_conversation_list(struct db *db, struct arena *a, const char *user_id, const char *agent_id,
			      struct page *pg, json_object **items)
{
	IDS_OR_NOT_FOUND(agent_id);
	const char *p[] = {agent_id, user_id, pg->limit, pg->offset};
	return list_json(db, a, P_CONV_LIST, 4, p, 1, pg, items);
}

int product_conversation_get(struct db *db, struct arena *a, const char *user_id, const char *id, json_object **out)
{
	IDS_OR_NOT_FOUND(id);
	const char *p[] = {id, user_id};
	return one_json(db, a, P_CONV_GET, 2, p, 0, out);
}

int product_conversation_delete(struct db *db, struct arena *a, const char *user_id, const char *id)
{
	IDS_OR_NOT_FOUND(id);
	const char *p[] = {id, user_id};
	return db_exec_row(db, a, &product_stmts, P_CONV_DELETE, 2, p, NULL);
}

/* --- chat --- */

int product_chat_agent(struct db *db, struct arena *a, const char *user_id, const char *agent_id,
		       const char *conversation_id, struct product_agent *out)
{
	IDS_OR_NOT_FOUND(agent_id);
	if (conversation_id && !uuid_valid(conversation_id))
		return TG_ENOTFOUND;
	const char *p[] = {agent_id, user_id, conversation_id};
	PGresult *r;
	int rc = db_exec_row(db, a, &product_stmts, P_CHAT_AGENT, 3, p, &r);
	if (rc != TG_OK)
		return rc;
	if (!db_bool(r, 0, 3))
		return TG_ENOTFOUND;
	out->model = db_value(r, 0, 0);
	out->system_prompt = db_value(r, 0, 1);
	out->project_id = db_value(r, 0, 2);
	return TG_OK;
}

/* The rows of r as a JSON array of objects with the given column names. */
static json_object *rows_json(const PGresult *r, const char *const *names, int ncols)
{
	json_object *arr = json_object_new_array();
	for (int i = 0; i < PQntuples(r); i++) {
		json_object *o = json_object_new_object();
		for (int c = 0; c < ncols; c++) {
			const char *v = db_value(r, i, c);
			json_object_object_add(o, names[c], v ? json_object_new_string(v) : NULL);
		}
		json_object_array_add(arr, o);
	}
	return arr;
}

int product_chat_history(struct db *db, struct arena *a, const char *conversation_id, int max, json_object **out)
{
	char n[16];
	snprintf(n, sizeof(n), "%d", max);
	const char *p[] = {conversation_id, n};
	PGresult *r;
	int rc = db_exec(db, a, &product_stmts, P_CHAT_HISTORY, 2, p, &r);
	if (rc != TG_OK)
		return rc;
	static const char *const names[] = {"role", "content"};
	*out = rows_json(r, names, 2);
	return TG_OK;
}

int product_chat_passages(struct db *db, struct arena *a, const char *project_id, const char *message, int max,
			  json_object **out)
{
	char n[16];
	snprintf(n, sizeof(n), "%d", max);
	const char *p[] = {project_id, message, n};
	PGresult *r;
	int rc = db_exec(db, a, &product_stmts, P_CHAT_PASSAGES, 3, p, &r);
	if (rc != TG_OK)
		return rc;
	static const char *const names[] = {"document_id", "title", "content", "snippet"};
	*out = rows_json(r, names, 4);
	mark_snippets(a, *out);
	return TG_OK;
}

int product_chat_save(struct db *db, struct arena *a, struct product_exchange *x)
{
	int rc = TG_OK;
	if (x->new_conversation) {
		const char *p[] = {x->conversation_id, x->user_id, x->agent_id, x->title};
		if ((rc = db_exec(db, a, &product_stmts, P_CHAT_CONV_CREATE, 4, p, NULL)) != TG_OK)
			return rc;
	}
	const char *up[] = {x->user_message_id, x->conversation_id, "user", x->user_content, NULL, NULL, NULL, NULL};
	if ((rc = db_exec(db, a, &product_stmts, P_CHAT_MESSAGE, 8, up, NULL)) != TG_OK)
		return rc;
	char pt[24], ct[24], tt[24];
	snprintf(pt, sizeof(pt), "%lld", x->prompt_tokens);
	snprintf(ct, sizeof(ct), "%lld", x->completion_tokens);
	snprintf(tt, sizeof(tt), "%lld", x->total_tokens);
	const char *sources = x->sources ? json_object_to_json_string_ext(x->sources, JSON_C_TO_STRING_PLAIN) : "[]";
	const char *rp[] = {x->reply_id, x->conversation_id, "assistant", x->reply_content, pt, ct, tt, sources};
	PGresult *r;
	if ((rc = db_exec_row(db, a, &product_stmts, P_CHAT_MESSAGE, 8, rp, &r)) != TG_OK)
		return rc;
	x->reply_created_at = db_value(r, 0, 0);
	const char *tp[] = {x->conversation_id, "2"};
	return db_exec(db, a, &product_stmts, P_CHAT_CONV_TOUCH, 2, tp, NULL);
}
