/* product_sql.c — every SQL statement of the product area. */
#include "product_sql.h"

#define PROJECT_JSON(p)                                                                               \
	"json_build_object('id', " p ".id, 'name', " p ".name, 'description', " p ".description,"     \
	" 'document_count', " p ".document_count, 'created_at', rfc3339(" p ".created_at),"           \
	" 'updated_at', rfc3339(" p ".updated_at))"
#define DOC_FIELDS(d)                                                                                 \
	"'id', " d ".id, 'project_id', " d ".project_id, 'title', " d ".title, 'size_bytes', " d         \
	".size_bytes, 'created_at', rfc3339(" d ".created_at), 'updated_at', rfc3339(" d ".updated_at)"
#define DOC_JSON(d) "json_build_object(" DOC_FIELDS(d) ", 'content', " d ".content)"
/* The first words of a document, whitespace folded, for lists. */
#define EXCERPT(d) "btrim(regexp_replace(left(" d ".content, 240), '\\s+', ' ', 'g'))"
#define AGENT_JSON(a)                                                                                 \
	"json_build_object('id', " a ".id, 'name', " a ".name, 'model', " a ".model, 'system_prompt', " \
	a ".system_prompt, 'project_id', " a ".project_id, 'created_at', rfc3339(" a ".created_at),"   \
	" 'updated_at', rfc3339(" a ".updated_at))"
#define CONV_JSON(c)                                                                                  \
	"json_build_object('id', " c ".id, 'agent_id', " c ".agent_id, 'title', " c ".title,"          \
	" 'message_count', " c ".message_count, 'created_at', rfc3339(" c ".created_at),"             \
	" 'updated_at', rfc3339(" c ".updated_at))"
/* ts_headline marks terms with \x01 … \x02 (control characters a stored text never holds): the
 * C side HTML-escapes the rest and turns them into <mark> … </mark>. It is given the text with <, >
 * and & as \x03, \x04 and \x05 (turned back, escaped, by the C side): its parser takes "<b>" for a
 * tag and "&amp;" for an entity and leaves them out of the headline, and a snippet shows the text. */
#define HEADLINE(text, q)                                                                             \
	"ts_headline('english', translate(" text ", '<>&', chr(3) || chr(4) || chr(5)), " q ","         \
	" 'StartSel=' || chr(1) || ', StopSel=' || chr(2) ||"                                          \
	" ', MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=\" … \"')"

static const char *const sql[P_STMT__COUNT] = {
	/* $1 user $2 name $3 description */
	[P_PROJECT_CREATE] =
		"INSERT INTO projects AS p (user_id, name, description) VALUES ($1, $2, $3)"
		" RETURNING " PROJECT_JSON("p") "::text",

	/* $1 user $2 limit $3 offset: total, then the page as a JSON array */
	[P_PROJECT_LIST] =
		"SELECT (SELECT count(*) FROM projects WHERE user_id = $1),"
		" coalesce((SELECT json_agg(j ORDER BY u DESC, id) FROM (SELECT " PROJECT_JSON("p") " AS j,"
		"   p.updated_at AS u, p.id FROM projects p WHERE p.user_id = $1"
		"   ORDER BY p.updated_at DESC, p.id LIMIT $2 OFFSET $3) page), '[]')::text",

	/* $1 project $2 user */
	[P_PROJECT_GET] = "SELECT " PROJECT_JSON("p") "::text FROM projects p WHERE p.id = $1 AND p.user_id = $2",

	/* $1 project $2 user $3 name or NULL $4 description or NULL (NULL keeps) */
	[P_PROJECT_UPDATE] =
		"UPDATE projects p SET name = coalesce($3, p.name), description = coalesce($4, p.description),"
		" updated_at = now() WHERE p.id = $1 AND p.user_id = $2 RETURNING " PROJECT_JSON("p") "::text",

	[P_PROJECT_DELETE] = "DELETE FROM projects WHERE id = $1 AND user_id = $2 RETURNING id",

	/* $1 project $2 user $3 title $4 content: nothing when the project is not the user's */
	[P_DOC_CREATE] =
		"INSERT INTO documents AS d (project_id, user_id, title, content)"
		" SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM projects WHERE id = $1 AND user_id = $2)"
		" RETURNING d.id, " DOC_JSON("d") "::text",

	/* $1 project $2 user $3 limit $4 offset. Column 0: whether the project is the user's. */
	[P_DOC_LIST] =
		"SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1 AND user_id = $2),"
		" (SELECT count(*) FROM documents WHERE project_id = $1 AND user_id = $2),"
		" coalesce((SELECT json_agg(j ORDER BY u DESC, id) FROM (SELECT json_build_object(" DOC_FIELDS("d")
		"   , 'excerpt', " EXCERPT("d") ") AS j, d.updated_at AS u, d.id FROM documents d"
		"   WHERE d.project_id = $1 AND d.user_id = $2 ORDER BY d.updated_at DESC, d.id LIMIT $3 OFFSET $4) page),"
		" '[]')::text",

	/* $1 project $2 user $3 query (websearch syntax) $4 limit $5 offset: documents with a matching
	 * passage, best first (the best passage's rank), each with that passage's highlighted snippet */
	[P_DOC_SEARCH] =
		"WITH q AS (SELECT websearch_to_tsquery('english', $3) AS q),"
		" hits AS (SELECT c.document_id, c.content, ts_rank_cd(c.tsv, q.q) AS rank,"
		"   row_number() OVER (PARTITION BY c.document_id ORDER BY ts_rank_cd(c.tsv, q.q) DESC, c.seq) AS n"
		"   FROM document_chunks c, q WHERE c.project_id = $1 AND c.tsv @@ q.q),"
		" best AS (SELECT h.* FROM hits h JOIN documents d ON d.id = h.document_id"
		"   WHERE h.n = 1 AND d.user_id = $2)"
		" SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1 AND user_id = $2), (SELECT count(*) FROM best),"
		" coalesce((SELECT json_agg(j ORDER BY r DESC, u DESC, id) FROM (SELECT json_build_object(" DOC_FIELDS("d")
		"   , 'excerpt', " EXCERPT("d") ", 'rank', round(b.rank::numeric, 6),"
		"   'snippet', " HEADLINE("b.content", "q.q") ") AS j, b.rank AS r, d.updated_at AS u, d.id"
		"   FROM best b JOIN documents d ON d.id = b.document_id, q"
		"   ORDER BY b.rank DESC, d.updated_at DESC, d.id LIMIT $4 OFFSET $5) page), '[]')::text",

	/* $1 document $2 project $3 user */
	[P_DOC_GET] =
		"SELECT " DOC_JSON("d") "::text FROM documents d WHERE d.id = $1 AND d.project_id = $2 AND d.user_id = $3",

	/* $1 document $2 project $3 user $4 title or NULL $5 content or NULL */
	[P_DOC_UPDATE] =
		"UPDATE documents d SET title = coalesce($4, d.title), content = coalesce($5, d.content),"
		" updated_at = now() WHERE d.id = $1 AND d.project_id = $2 AND d.user_id = $3"
		" RETURNING " DOC_JSON("d") "::text",

	[P_DOC_DELETE] = "DELETE FROM documents WHERE id = $1 AND project_id = $2 AND user_id = $3 RETURNING id",

	[P_CHUNKS_DELETE] = "DELETE FROM document_chunks WHERE document_id = $1",

	/* $1 document $2 project $3 the passages as a JSON array of strings */
	[P_CHUNKS_INSERT] =
		"INSERT INTO document_chunks (document_id, project_id, seq, content)"
		" SELECT $1, $2, (t.ord - 1)::int, t.value FROM jsonb_array_elements_text($3::jsonb) WITH ORDINALITY t (value, ord)",

	/* $1 user: the models the user's plan may use */
	[P_MODELS] =
		"SELECT coalesce(p.litellm_models, '[]')::text FROM plans p WHERE p.code = user_plan($1::uuid)",

	/* $1 user $2 name $3 model $4 system prompt $5 project (or NULL): nothing when the project is
	 * not the user's */
	[P_AGENT_CREATE] =
		"INSERT INTO agents AS a (user_id, name, model, system_prompt, project_id)"
		" SELECT $1, $2, $3, $4, $5::uuid"
		" WHERE $5::uuid IS NULL OR EXISTS (SELECT 1 FROM projects WHERE id = $5::uuid AND user_id = $1)"
		" RETURNING " AGENT_JSON("a") "::text",

	[P_AGENT_LIST] =
		"SELECT (SELECT count(*) FROM agents WHERE user_id = $1),"
		" coalesce((SELECT json_agg(j ORDER BY u DESC, id) FROM (SELECT " AGENT_JSON("a") " AS j,"
		"   a.updated_at AS u, a.id FROM agents a WHERE a.user_id = $1"
		"   ORDER BY a.updated_at DESC, a.id LIMIT $2 OFFSET $3) page), '[]')::text",

	[P_AGENT_GET] = "SELECT " AGENT_JSON("a") "::text FROM agents a WHERE a.id = $1 AND a.user_id = $2",

	/* $1 agent $2 user $3 name $4 model $5 system prompt (NULL keeps each) $6 set the project?
	 * $7 project (or NULL to unbind). Column 1: whether the project is acceptable. */
	[P_AGENT_UPDATE] =
		"WITH ok AS (SELECT NOT $6::boolean OR $7::uuid IS NULL"
		"   OR EXISTS (SELECT 1 FROM projects WHERE id = $7::uuid AND user_id = $2) AS ok)"
		" UPDATE agents a SET name = coalesce($3, a.name), model = coalesce($4, a.model),"
		" system_prompt = coalesce($5, a.system_prompt),"
		" project_id = CASE WHEN $6::boolean THEN $7::uuid ELSE a.project_id END, updated_at = now()"
		" WHERE a.id = $1 AND a.user_id = $2 AND (SELECT ok FROM ok)"
		" RETURNING " AGENT_JSON("a") "::text",

	[P_AGENT_DELETE] = "DELETE FROM agents WHERE id = $1 AND user_id = $2 RETURNING id",

	/* $1 agent $2 user $3 limit $4 offset */
	[P_CONV_LIST] =
		"SELECT EXISTS (SELECT 1 FROM agents WHERE id = $1 AND user_id = $2),"
		" (SELECT count(*) FROM conversations WHERE agent_id = $1 AND user_id = $2),"
		" coalesce((SELECT json_agg(j ORDER BY u DESC, id) FROM (SELECT " CONV_JSON("c") " AS j,"
		"   c.updated_at AS u, c.id FROM conversations c WHERE c.agent_id = $1 AND c.user_id = $2"
		"   ORDER BY c.updated_at DESC, c.id LIMIT $3 OFFSET $4) page), '[]')::text",

	/* $1 conversation $2 user: the conversation with its messages in order */
	[P_CONV_GET] =
		"SELECT (" CONV_JSON("c") "::jsonb || jsonb_build_object('messages', coalesce((SELECT"
		"   jsonb_agg(jsonb_build_object('id', m.id, 'role', m.role, 'content', m.content,"
		"   'created_at', rfc3339(m.created_at), 'sources', m.sources, 'usage', CASE WHEN m.total_tokens IS NULL"
		"   THEN NULL ELSE jsonb_build_object('prompt_tokens', m.prompt_tokens, 'completion_tokens',"
		"   m.completion_tokens, 'total_tokens', m.total_tokens) END) ORDER BY m.seq)"
		"   FROM messages m WHERE m.conversation_id = c.id), '[]')))::text"
		" FROM conversations c WHERE c.id = $1 AND c.user_id = $2",

	[P_CONV_DELETE] = "DELETE FROM conversations WHERE id = $1 AND user_id = $2 RETURNING id",

	/* $1 agent $2 user $3 conversation (or NULL): the agent, and whether the conversation is one of
	 * this agent's and user's */
	[P_CHAT_AGENT] =
		"SELECT a.model, a.system_prompt, a.project_id,"
		" $3::uuid IS NULL OR EXISTS (SELECT 1 FROM conversations c WHERE c.id = $3::uuid AND c.agent_id = a.id"
		"   AND c.user_id = $2)"
		" FROM agents a WHERE a.id = $1 AND a.user_id = $2",

	/* $1 conversation $2 how many: the latest messages, newest first (the caller keeps what fits) */
	[P_CHAT_HISTORY] =
		"SELECT role, content FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2",

	/* $1 project $2 the message $3 how many: the best-matching passages (any of the message's
	 * words), each with its document and a highlighted snippet */
	[P_CHAT_PASSAGES] =
		"WITH q AS (SELECT nullif(replace(plainto_tsquery('english', $2)::text, '&', '|'), '')::tsquery AS q)"
		" SELECT c.document_id, d.title, c.content, " HEADLINE("c.content", "q.q")
		" FROM document_chunks c JOIN documents d ON d.id = c.document_id, q"
		" WHERE q.q IS NOT NULL AND c.project_id = $1 AND c.tsv @@ q.q"
		" ORDER BY ts_rank_cd(c.tsv, q.q) DESC, c.document_id, c.seq LIMIT $3",

	/* $1 id $2 user $3 agent $4 title */
	[P_CHAT_CONV_CREATE] =
		"INSERT INTO conversations (id, user_id, agent_id, title) VALUES ($1, $2, $3, $4)",

	/* $1 id $2 conversation $3 role $4 content $5 prompt $6 completion $7 total tokens $8 sources */
	[P_CHAT_MESSAGE] =
		"INSERT INTO messages (id, conversation_id, role, content, prompt_tokens, completion_tokens,"
		" total_tokens, sources) VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8::jsonb, '[]'))"
		" RETURNING rfc3339(created_at)",

	/* $1 conversation $2 messages added */
	[P_CHAT_CONV_TOUCH] =
		"UPDATE conversations SET message_count = message_count + $2, updated_at = now() WHERE id = $1",
};

const struct db_stmts product_stmts = {"product", sql, P_STMT__COUNT};
