/* product.h — what users pay for: projects holding text documents (split into passages and
 * indexed for full-text search on write), agents (a model, a system prompt, optionally a project
 * whose documents they cite), conversations and their messages.
 *
 * Every function is scoped to user_id: anyone else's id is TG_ENOTFOUND, never a hint that it
 * exists. Objects come back as json-c objects in API.md's shapes (caller owns them). Creates run
 * inside the caller's transaction (with its quota_take). */
#ifndef TOLLGATE_PRODUCT_H
#define TOLLGATE_PRODUCT_H

#include <json.h>
#include <stdbool.h>
#include <stddef.h>

struct arena;
struct db;
struct page;

/* Limits of API.md. */
#define PRODUCT_NAME_MAX 120
#define PRODUCT_DESCRIPTION_MAX 2000
#define PRODUCT_TITLE_MAX 200
#define PRODUCT_CONTENT_MAX_BYTES 1048576
#define PRODUCT_PROMPT_MAX 20000
#define PRODUCT_PASSAGE_CHARS 1000 /* a document is searched and cited in passages of about this size */

/* --- projects --- */
int product_project_create(struct db *db, struct arena *a, const char *user_id, const char *name,
			   const char *description, json_object **out);
/* A page of the user's projects, newest updated first (items; pg->total set). */
int product_project_list(struct db *db, struct arena *a, const char *user_id, struct page *pg, json_object **items);
int product_project_get(struct db *db, struct arena *a, const char *user_id, const char *id, json_object **out);
/* NULL name/description: kept. */
int product_project_update(struct db *db, struct arena *a, const char *user_id, const char *id, const char *name,
			   const char *description, json_object **out);
/* Deletes it with its documents; its agents are unbound. */
int product_project_delete(struct db *db, struct arena *a, const char *user_id, const char *id);

/* --- documents --- */
/* Creates the document and its passages. TG_ENOTFOUND when the project is not the user's. */
int product_document_create(struct db *db, struct arena *a, const char *user_id, const char *project_id,
			    const char *title, const char *content, json_object **out);
/* A page of a project's documents (no content; an excerpt). With query (websearch syntax): only
 * those with a matching passage, best first, with rank and a snippet whose terms are wrapped in
 * <mark>…</mark> and the rest HTML-escaped. */
int product_document_list(struct db *db, struct arena *a, const char *user_id, const char *project_id,
			  const char *query, struct page *pg, json_object **items);
int product_document_get(struct db *db, struct arena *a, const char *user_id, const char *project_id, const char *id,
			 json_object **out);
/* NULL title/content: kept; a new content is split into passages again. */
int product_document_update(struct db *db, struct arena *a, const char *user_id, const char *project_id,
			    const char *id, const char *title, const char *content, json_object **out);
int product_document_delete(struct db *db, struct arena *a, const char *user_id, const char *project_id,
			    const char *id);

/* Splits text into passages of at most max_chars characters, cut at a paragraph, a sentence or a
 * word where one is near, never inside a UTF-8 character. Returns a JSON array of strings (caller
 * owns); empty text gives an empty array. */
json_object *product_passages(const char *text, size_t max_chars);
/* "…<mark>term</mark>…": text HTML-escaped, \x01 and \x02 (ts_headline's markers) turned into
 * <mark> and </mark>, \x03, \x04 and \x05 (<, > and & hidden from ts_headline) escaped as those.
 * Arena string. */
char *product_mark_snippet(struct arena *a, const char *headline);

/* --- models and agents --- */
/* The models the user's plan may use (a JSON array of strings, caller owns). */
int product_models(struct db *db, struct arena *a, const char *user_id, json_object **models);
/* Whether model is one of models. */
bool product_model_allowed(json_object *models, const char *model);
/* TG_EINPUT: project_id is not one of the user's projects. */
int product_agent_create(struct db *db, struct arena *a, const char *user_id, const char *name, const char *model,
			 const char *system_prompt, const char *project_id, json_object **out);
int product_agent_list(struct db *db, struct arena *a, const char *user_id, struct page *pg, json_object **items);
int product_agent_get(struct db *db, struct arena *a, const char *user_id, const char *id, json_object **out);
/* NULL name/model/prompt: kept; set_project: project_id (NULL unbinds) replaces the binding.
 * TG_EINPUT: the project is not the user's. */
int product_agent_update(struct db *db, struct arena *a, const char *user_id, const char *id, const char *name,
			 const char *model, const char *system_prompt, bool set_project, const char *project_id,
			 json_object **out);
/* Deletes it with its conversations. */
int product_agent_delete(struct db *db, struct arena *a, const char *user_id, const char *id);

/* --- conversations --- */
/* TG_ENOTFOUND when the agent is not the user's. */
int product_conversation_list(struct db *db, struct arena *a, const char *user_id, const char *agent_id,
			      struct page *pg, json_object **items);
/* The conversation with messages:[{id, role, content, created_at, usage, sources}] in order. */
int product_conversation_get(struct db *db, struct arena *a, const char *user_id, const char *id, json_object **out);
int product_conversation_delete(struct db *db, struct arena *a, const char *user_id, const char *id);

/* --- what a chat needs (chat.c) --- */
struct product_agent {
	const char *model, *system_prompt, *project_id; /* project_id NULL when unbound */
};
/* The agent for a chat. TG_ENOTFOUND when the agent, or conversation_id (when not NULL), is not
 * the user's (a conversation of another agent counts as not found). */
int product_chat_agent(struct db *db, struct arena *a, const char *user_id, const char *agent_id,
		       const char *conversation_id, struct product_agent *out);
/* The latest max messages of a conversation, newest first: a JSON array of {role, content}. */
int product_chat_history(struct db *db, struct arena *a, const char *conversation_id, int max, json_object **out);
/* The project's passages best matching message (any of its words): a JSON array of
 * {document_id, title, content, snippet}. */
int product_chat_passages(struct db *db, struct arena *a, const char *project_id, const char *message, int max,
			  json_object **out);

struct product_exchange {
	const char *conversation_id; /* new conversations: an id made by the caller */
	bool new_conversation;
	const char *user_id, *agent_id, *title;
	const char *user_message_id, *user_content;
	const char *reply_id, *reply_content;
	long long prompt_tokens, completion_tokens, total_tokens;
	json_object *sources;        /* [{document_id, title, snippet}] (not consumed) */
	const char *reply_created_at; /* filled */
};
/* Stores a question and its reply (inside the caller's transaction). */
int product_chat_save(struct db *db, struct arena *a, struct product_exchange *x);
/* The title of a new conversation: the first message's first 60 characters, cut at a word. */
char *product_conversation_title(struct arena *a, const char *message);

#endif
